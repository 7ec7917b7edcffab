"""What a HEF holds, as HailoRT reports it; where the default HEF is; and ``check --hef``'s plain lines.

Facts from HailoRT's sources (``hailo-ai/hailort``):

* a vstream with on-chip NMS (format order ``HAILO_NMS_BY_SCORE`` or
  ``HAILO_NMS_WITH_BYTE_MASK``) raises "Format order has no shape" from ``.shape``
  (``bindings/python/src/pyhailort.cpp``, ``VStreamInfo.shape``); ``HAILO_NMS_BY_CLASS``
  returns (classes, 5, boxes), which looks like a feature map but is not one;
* an output quantized per channel reads ``quant_info`` {0, 0, 0, 0}
  (``INVALID_QUANT_INFO``, ``include/hailo/hailort.h``; set in ``hef/hef.cpp``); its
  scales are only in ``InferModel.output(name).quant_infos``.

hailo-apps installs the Model Zoo HEFs as ``/usr/local/hailo/resources/models/<arch>/<name>.hef``
(``installation/download_resources.py``), by default ``scrfd_10g`` for hailo10h and hailo8
and ``scrfd_2.5g`` for hailo8l (``config/resources_config.yaml``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..errors import ModelLoadError
from ..vision.scrfd import Quant
from .hailo_compat import numpy_verdict
from .hailo_errors import chip_key, explain, import_hailo_platform

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class OutputInfo:
    """One HEF output as the backend needs it."""

    name: str
    order: str                    # FormatOrder name: NHWC, or an NMS order
    format_type: object           # the HEF's own FormatType
    shape: tuple[int, ...] | None  # (H, W, C) per frame; None for NMS outputs
    quant: Quant | None           # (scale, zero_point) per tensor; None when quantized per channel

    @property
    def is_nms(self) -> bool:
        return "NMS" in self.order

    @property
    def per_channel(self) -> bool:
        return self.quant is None


def _name(value) -> str:
    return str(getattr(value, "name", value)).rsplit(".", 1)[-1]


def read_outputs(hef) -> list[OutputInfo]:
    """The HEF's outputs, never touching ``.shape`` where HailoRT has none."""
    outputs = []
    for info in hef.get_output_vstream_infos():
        order = _name(info.format.order)
        shape = None if "NMS" in order else tuple(int(v) for v in info.shape)
        q = info.quant_info
        quant = None if float(q.qp_scale) == 0.0 else (float(q.qp_scale), float(q.qp_zp))
        outputs.append(OutputInfo(info.name, order, info.format.type, shape, quant))
    return outputs


def refuse_nms(outputs: list[OutputInfo], model_path: str) -> None:
    """A one-line ModelLoadError for a HEF compiled with on-chip NMS."""
    nms = [o for o in outputs if o.is_nms]
    if nms:
        raise ModelLoadError(f"{model_path} has on-chip NMS (output {nms[0].name}, {nms[0].order}): hailo-scrfd "
                             "decodes SCRFD itself, so use the raw SCRFD HEF with nine outputs "
                             "(the Model Zoo's scrfd_2.5g.hef or scrfd_10g.hef)")


def _shape_text(order: str, fmt: str, shape: tuple[int, ...] | None) -> str:
    # hailortcli parse-hef's form (hef.cpp get_shape_str): "UINT8, NHWC(80x80x2)"
    return f"{fmt}, {order}" + (f"({'x'.join(map(str, shape))})" if shape else "(no shape: on-chip NMS)")


def _quant_text(out: OutputInfo, channels: int | None) -> str:
    if out.quant is None:
        return "quant per-channel" + (f" ({channels} scales)" if channels else " (qp_scale 0 in the HEF)")
    return f"quant per-tensor scale={out.quant[0]:.6g} zero_point={out.quant[1]:g}"


def describe_hef(path: str, group_id: str = "UNIQUE") -> list[str]:
    """Plain lines for ``hailo-scrfd check --hef``: HailoRT, the HEF's streams, the device, the async queue.

    The HEF part needs no device; the device part says why it is missing when it is.
    Raises ModelLoadError (one line) when hailo_platform is missing or the HEF cannot be read.
    ``group_id``: the service's ``hailo.group_id``: a Hailo-10H lets this VDevice beside the service only in
    the service's own group; in ``UNIQUE`` it waits 5 s and fails busy (``hailort_server.cpp`` 62-75).
    """
    hp = import_hailo_platform()
    try:
        hef = hp.HEF(path)
        inputs, outputs = hef.get_input_vstream_infos(), read_outputs(hef)
        networks = ", ".join(hef.get_network_group_names())
    except Exception as exc:
        raise ModelLoadError(explain(exc, path)) from None
    import numpy

    version = getattr(hp, "__version__", "unknown")
    works, verdict = numpy_verdict(version, numpy.__version__)
    lines = [f"hailort: {version}", f"numpy: {verdict}" if works else f"numpy: FAILS: {verdict}",
             f"hef: {path} (network {networks})"]
    lines += [f"input: {i.name} {_shape_text(_name(i.format.order), _name(i.format.type), tuple(i.shape))}"
              for i in inputs]
    device_lines, channels = _device_lines(hp, path, group_id)
    lines += [f"output: {o.name} {_shape_text(o.order, _name(o.format_type), o.shape)}, "
              f"{_quant_text(o, channels.get(o.name))}" for o in outputs]
    return lines + device_lines


def _device_lines(hp, path: str, group_id: str) -> tuple[list[str], dict[str, int]]:
    """Device, firmware and async queue size lines, and each output's count of quant infos."""
    try:
        ids = list(hp.Device.scan())
    except Exception as exc:
        return [f"device: scan failed ({explain(exc, path)})"], {}
    if not ids:
        return ["device: none found (is the hailo1x_pci driver loaded? `lsmod | grep hailo`)"], {}
    lines, chip = [], ""
    for device_id in ids:
        try:
            device = hp.Device(device_id)
            try:
                info = device.control.identify()
            finally:
                device.release()
            chip = chip or _name(info.device_architecture).lower()
            lines.append(f"device: {device_id} {_name(info.device_architecture)} firmware {info.firmware_version}")
        except Exception as exc:
            lines.append(f"device: {device_id} (identify failed: {type(exc).__name__}: {exc})")
    channels: dict[str, int] = {}
    vdevice = None
    try:
        params = hp.VDevice.create_params()
        params.group_id = group_id
        vdevice = hp.VDevice(params)
        model = vdevice.create_infer_model(path)
        channels = {name: len(model.output(name).quant_infos) for name in model.output_names}
        with model.configure() as configured:  # shut down before the VDevice goes (see hailo.HailoBackend.close)
            try:
                lines.append(f"async queue size: {configured.get_async_queue_size()}")
            finally:
                configured.shutdown()
    except Exception as exc:
        lines.append(f"async queue size: unknown ({explain(exc, path, chip_key(chip))})")
    finally:
        if vdevice is not None:
            vdevice.release()
    lines.insert(len(lines) - 1, f"vdevice group: {group_id} (another process shares the device only on a "
                 "Hailo-10H, in the same group, not UNIQUE)")
    return lines, {k: v for k, v in channels.items() if v > 1}
