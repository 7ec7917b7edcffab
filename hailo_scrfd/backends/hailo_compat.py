"""Checks at HEF load that HailoRT's own behaviour calls for, and the time budgets of a request and a teardown.

Facts from HailoRT's sources (``hailo-ai/hailort``), cited by tag, file and line:

* NumPy 2: HailoRT 4.x and 5.0.0-5.1.0 build the binding with pybind11 2.10.1
  (``hailort/cmake/external/pybind11.cmake`` 8), older than pybind11 2.12, the first to support NumPy 2;
  5.1.1 uses 2.13.6. Their ``setup.py`` asks ``numpy<2`` (5.1.0: line 250; 5.1.1: line 245, only for
  Python < 3.13).
* Output order: with HailoRT's post-processing disabled (``HAILO_DISABLE_PP``, ``common/utils.hpp`` 370) an
  output keeps its hardware order and shape (``hef/layer_info.hpp`` 322-323, ``hef/hef.cpp`` 2135-2136):
  NHCW or another order, not the NHWC the decoder reads, and nothing fails.
* ``AsyncInferJob.wait(t)`` waits for the job, then for its Python callback, ``t`` each
  (``bindings/python/src/infer_model_api.cpp`` 427-433): up to ``2 t``.
* On a Hailo-10H ``shutdown()`` wakes no thread inside ``wait_for_async_ready``: only a reply does
  (``net_flow/pipeline/configured_infer_model_hrpc_client.cpp`` 141-149, 186-190, 546-557), and every
  teardown request waits up to the RPC timeout, 10 s (``hrpc/client.hpp`` 24) when the device does not answer.
"""

from __future__ import annotations

from ..errors import ModelLoadError

NUMPY2_BINDING = (5, 1, 1)   # the first HailoRT whose binding is built with a pybind11 that supports NumPy 2
READY_SLICE_MS = 200         # wait_for_async_ready in slices, so a close wakes a waiting thread (10H)
RPC_TIMEOUT_S = 10.0         # HailoRT's REQUEST_TIMEOUT on a Hailo-10H


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in str(text).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def numpy_verdict(hailort_version: str, numpy_version: str) -> tuple[bool, str]:
    """(works, one line) for this HailoRT binding beside this NumPy."""
    if version_tuple(numpy_version)[0] < 2:
        return True, f"NumPy {numpy_version} with HailoRT {hailort_version}: ok"
    if version_tuple(hailort_version) >= NUMPY2_BINDING:
        return True, (f"NumPy {numpy_version} with HailoRT {hailort_version}: ok (its binding's pybind11 2.13.6 "
                      "supports NumPy 2)")
    return False, (f"HailoRT {hailort_version}'s Python binding predates NumPy 2 but NumPy {numpy_version} is "
                   "imported: update hailo-h10-all to HailoRT 5.1.1 or later, or install numpy<2 in the service's "
                   "venv (`pip install 'numpy<2'`)")


def check_numpy(hp) -> None:
    """A one-line ModelLoadError when the binding cannot read NumPy's arrays."""
    import numpy

    works, line = numpy_verdict(getattr(hp, "__version__", "0"), numpy.__version__)
    if not works:
        raise ModelLoadError(line)


def refuse_hardware_order(outputs, model_path: str) -> None:
    """A one-line ModelLoadError when an output is not NHWC (HailoRT's post-processing disabled)."""
    odd = [o for o in outputs if not o.is_nms and o.order != "NHWC"]
    if odd:
        raise ModelLoadError(f"{model_path}: output {odd[0].name} comes in {odd[0].order} order, not NHWC "
                             "(HailoRT's post-processing is disabled): unset HAILO_DISABLE_PP in the service's "
                             "environment")

