"""SCRFD on a Hailo NPU through HailoRT's InferModel API.

HailoRT 5.x is the only HailoRT that drives a Hailo-10H, and there only InferModel
works; HailoRT 4.x offers the same calls for Hailo-8/8L. ``hailo_platform`` comes
from Hailo's apt packages and is imported here only, when this backend is chosen.

The HEF (Hailo Model Zoo ``scrfd_*.hef``) takes 640x640x3 uint8 RGB, with the
normalisation compiled in, and has nine NHWC outputs, three per stride: boxes (8
channels), sigmoid scores (2) and landmarks (20), two anchors per cell, anchor-major.
They are told apart by shape, never by name.

HailoRT calls used, all public ``hailo_platform`` API:
``HEF(path).get_input_vstream_infos()/get_output_vstream_infos()``, ``Device.scan()``,
``VDevice.create_params()``, ``VDevice(params)``, ``VDevice.create_infer_model()``,
``VDevice.get_physical_devices_ids()``, ``VDevice.release()``,
``InferModel.set_batch_size()/input()/output(name)/configure()``,
``InferStream.set_format_type()``, ``ConfiguredInferModel.get_async_queue_size()/
create_bindings(output_buffers=)/wait_for_async_ready()/run_async()``,
``Bindings.input().set_buffer()``, ``AsyncInferJob.wait()``.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import queue
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import ModelLoadError
from ..system.sections import HailoSection
from ..vision.scrfd import Quant, StrideOutput
from .base import BOX_C, KPS_C, SCORE_C, Backend, InputSpec, canonical_outputs, check_model_file

log = logging.getLogger(__name__)

DEVICE_NODES = "/dev/hailo*"
# HEF output channels per cell (2 anchors) -> canonical channels per anchor.
HEF_CHANNELS = {2 * SCORE_C: SCORE_C, 2 * BOX_C: BOX_C, 2 * KPS_C: KPS_C}


def import_hailo_platform():
    """The HailoRT Python binding, or a one-line ModelLoadError saying how to get it."""
    try:
        import hailo_platform
    except ImportError as exc:
        if "does not match" in str(exc):  # hailo_platform's own _pyhailort/pyhailort version check
            raise ModelLoadError(f"HailoRT Python binding is inconsistent ({exc}): reinstall hailo-h10-all") from None
        raise ModelLoadError("hailo_platform is not installed: on the Pi install Hailo's apt package "
                             "hailo-h10-all and create the venv with --system-site-packages") from None
    return hailo_platform


def explain(exc: BaseException, model_path: str) -> str:
    """One actionable line for a HailoRT failure at start-up."""
    name, text = type(exc).__name__, str(exc)
    if name == "HailoRTHEFNotCompatibleWithDevice":
        return (f"{model_path} was compiled for a different Hailo chip than the one installed: "
                "use the HEF built for hailo10h "
                "(hailo-apps installs it under /usr/local/hailo/resources/models/hailo10h/)")
    if name == "HailoRTInvalidHEFException":
        return (f"{model_path} is not a valid HEF for this HailoRT (corrupt, or compiled by a Dataflow Compiler "
                "newer than the installed HailoRT): download it again or update hailo-h10-all")
    if "HAILO_OUT_OF_PHYSICAL_DEVICES" in text:
        return ("the Hailo device is busy: another process holds it outside this scheduler group "
                "(find it with `lsof /dev/hailo0`; stop it, or give both the same hailo.group_id)")
    if "HAILO_INVALID_DRIVER_VERSION" in text or "different from library version" in text:
        return ("the hailo1x_pci kernel driver and the HailoRT library have different versions: install matching "
                "versions (`sudo apt install --reinstall hailo-h10-all`) and reboot")
    if name in ("HailoRTDriverOperationFailedException", "HailoRTPCIeDriverException") or "PERMISSION" in text.upper():
        return ("cannot use /dev/hailo0 (driver operation failed; often a permission problem): run the service as a "
                "user in the group that owns /dev/hailo0, and check `dmesg | grep hailo`")
    if name == "HailoCommunicationClosedException":
        return "the Hailo device closed the connection: check `dmesg | grep hailo`; the service retries automatically"
    if name == "HailoRTTimeout":
        return "the Hailo device did not answer in time: check `dmesg | grep hailo`"
    return f"HailoRT failed: {name}: {text}"


def check_device_nodes(pattern: str = DEVICE_NODES) -> None:
    """Fail early, and clearly, when the device nodes exist but this user may not open them."""
    for node in sorted(glob.glob(pattern)):
        if not os.access(node, os.R_OK | os.W_OK):
            raise ModelLoadError(f"no permission on {node}: run the service as a user in the group that owns it "
                                 f"(`ls -l {node}`), e.g. `sudo usermod -aG $(stat -c %G {node}) hailo-scrfd`")


@dataclass(frozen=True)
class _Output:
    name: str
    shape: tuple[int, int, int]   # (H, W, C) NHWC, per frame
    quant: Quant
    format_type: object           # the HEF's own FormatType: UINT8, or UINT16 for 16-bit outputs


@dataclass
class _Slot:
    """One in-flight frame's bindings and the output buffers they write into."""

    bindings: object
    outputs: dict[str, np.ndarray]


class HailoBackend(Backend):
    kind = "hailo"

    def __init__(self, model_path: str, section: HailoSection | None = None, timeout_s: float = 10.0):
        """``section``: the config's ``hailo`` section (defaults when None); ``timeout_s``: how long one
        frame may take on the device."""
        check_model_file(model_path, (".hef",))
        hp = import_hailo_platform()
        section = section or HailoSection()
        self.model_path = model_path
        self._hp = hp
        self._timeout_ms = max(1, int(timeout_s * 1000))
        self._float_outputs = section.output_format == "float32"
        self._stack = contextlib.ExitStack()
        self._vdevice = None
        self._broken = threading.Event()
        try:
            self._open(section)
        except ModelLoadError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ModelLoadError(explain(exc, model_path)) from None

    def _open(self, settings) -> None:
        hp = self._hp
        hef = hp.HEF(self.model_path)
        inputs = hef.get_input_vstream_infos()
        if len(inputs) != 1 or len(inputs[0].shape) != 3 or inputs[0].shape[2] != 3:
            raise ModelLoadError(f"{self.model_path} is not an SCRFD HEF: expected one HxWx3 input")
        height, width, _ = inputs[0].shape
        self.input_spec = InputSpec(int(height), int(width))
        self._outputs = [_Output(info.name, tuple(int(v) for v in info.shape),
                                 (float(info.quant_info.qp_scale), float(info.quant_info.qp_zp)), info.format.type)
                         for info in hef.get_output_vstream_infos()]
        if len(self._outputs) != 9 or any(len(o.shape) != 3 or o.shape[2] not in HEF_CHANNELS for o in self._outputs):
            shapes = ", ".join(f"{o.name}{list(o.shape)}" for o in self._outputs)
            raise ModelLoadError(f"{self.model_path} is not an SCRFD HEF with landmarks: outputs are {shapes}")

        if not hp.Device.scan():
            raise ModelLoadError("no Hailo device found: is the hailo1x_pci driver loaded? (`lsmod | grep hailo`)")
        check_device_nodes()
        params = hp.VDevice.create_params()
        params.scheduling_algorithm = hp.HailoSchedulingAlgorithm.ROUND_ROBIN
        params.group_id = settings.group_id
        self._vdevice = hp.VDevice(params)

        infer_model = self._vdevice.create_infer_model(self.model_path)
        infer_model.set_batch_size(settings.batch_size)
        infer_model.input().set_format_type(hp.FormatType.UINT8)
        dtypes = {}
        numpy_type = {hp.FormatType.UINT8: np.uint8, hp.FormatType.UINT16: np.uint16, hp.FormatType.FLOAT32: np.float32}
        for out in self._outputs:
            out_type = hp.FormatType.FLOAT32 if self._float_outputs else out.format_type
            if out_type not in numpy_type:
                out_type = hp.FormatType.UINT8  # AUTO: the device's own 8-bit values
            infer_model.output(out.name).set_format_type(out_type)
            dtypes[out.name] = numpy_type[out_type]
        self._configured = self._stack.enter_context(infer_model.configure())

        self.max_in_flight = max(1, min(settings.max_in_flight, int(self._configured.get_async_queue_size())))
        self._slots: queue.Queue[_Slot] = queue.Queue()
        for _ in range(self.max_in_flight):
            buffers = {o.name: np.empty(o.shape, dtype=dtypes[o.name]) for o in self._outputs}
            self._slots.put(_Slot(self._configured.create_bindings(output_buffers=buffers), buffers))
        device_ids = self._vdevice.get_physical_devices_ids()
        self.name = f"hailort:{device_ids[0] if device_ids else 'vdevice'}"
        log.info("loaded %s on %s: input %dx%d, %d outputs, %d frames in flight, %s outputs",
                 self.model_path, self.name, width, height, len(self._outputs), self.max_in_flight,
                 "float32" if self._float_outputs else "quantized")

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        # The HEF normalises on the chip: it takes the raw uint8 RGB canvas.
        return np.ascontiguousarray(canvas, dtype=np.uint8)

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        if self._broken.is_set():
            raise self._hp.HailoRTException("the Hailo pipeline was shut down by an earlier error")
        slot = self._slots.get()
        completed: dict[str, BaseException | None] = {}

        def on_done(completion_info) -> None:
            completed["exception"] = completion_info.exception

        try:
            slot.bindings.input().set_buffer(tensor)
            self._configured.wait_for_async_ready(timeout_ms=self._timeout_ms)
            job = self._configured.run_async([slot.bindings], on_done)
            job.wait(self._timeout_ms)
            if completed.get("exception") is not None:
                raise completed["exception"]
            outputs = self._to_canonical(slot.outputs)
        except BaseException:
            # The device may still write into this slot's buffers: never reuse it.
            # HailoRT also shuts the pipeline down after an error, so mark the backend
            # broken; the model re-creates it.
            self._broken.set()
            raise
        self._slots.put(slot)
        return outputs

    def _to_canonical(self, buffers: dict[str, np.ndarray]) -> list[StrideOutput]:
        # Copy: the slot's buffers are reused by the next frame once this returns.
        tensors = [buffers[o.name].reshape(-1, HEF_CHANNELS[o.shape[2]]).copy() for o in self._outputs]
        quant = None if self._float_outputs else [o.quant for o in self._outputs]
        return canonical_outputs(tensors, self.input_spec.hw, quant=quant)

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            if self._vdevice is not None:
                self._vdevice.release()
                self._vdevice = None
