"""SCRFD on a Hailo NPU through HailoRT's InferModel API.

HailoRT 5.x is the only HailoRT that drives a Hailo-10H, and there only InferModel
works; HailoRT 4.x offers the same calls for Hailo-8/8L. ``hailo_platform`` comes
from Hailo's apt packages and is imported here only, when this backend is chosen.

The HEF (Hailo Model Zoo ``scrfd_*.hef``) takes 640x640x3 uint8 RGB, with the
normalisation compiled in, and has nine NHWC outputs, three per stride: boxes (8
channels), sigmoid scores (2) and landmarks (20), two anchors per cell, anchor-major.
They are told apart by shape, never by name.

Behaviour of the real HailoRT this backend allows for (sources cited in ``hailo_info`` and
the simulation, ``tests/hailo_sim/sim``): outputs quantized per channel report scale 0 and
are read as FLOAT32 instead; a HEF with on-chip NMS is refused; the binding creates its
callback thread on the first ``run_async`` without a lock, so one warm-up inference runs
before any worker; ``ConfiguredInferModel.__exit__`` only drops a reference, so ``close``
shuts the model down itself before releasing the device; on a Hailo-10H ``job.wait()``
raises the job's error, on a Hailo-8 only the callback's ``completion_info`` has it.

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
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ModelLoadError
from ..system.sections import HailoSection
from ..vision.scrfd import StrideOutput
from .base import BOX_C, KPS_C, SCORE_C, Backend, InputSpec, canonical_outputs, check_model_file
from .hailo_compat import READY_SLICE_MS, RPC_TIMEOUT_S, check_numpy, refuse_hardware_order
from .hailo_errors import DEVICE_NODES, check_device_nodes, chip_key, explain, import_hailo_platform  # noqa: F401
from .hailo_teardown import close_within
from .hailo_info import OutputInfo, read_outputs, refuse_nms

log = logging.getLogger(__name__)

# HEF output channels per cell (2 anchors) -> canonical channels per anchor.
HEF_CHANNELS = {2 * SCORE_C: SCORE_C, 2 * BOX_C: BOX_C, 2 * KPS_C: KPS_C}
WARM_UP_TIMEOUT_MS = 10_000  # the first inference allocates on the device: give it more than a request gets
CLOSE_GRACE_S = 2.0  # after shutdown(), how long close() waits for calls inside HailoRT to return
CLOSE_BUDGET_S = RPC_TIMEOUT_S + CLOSE_GRACE_S  # the whole teardown; a hung 10H takes ~40 s unbounded


@dataclass
class _Slot:
    """One in-flight frame's bindings and the output buffers they write into."""

    bindings: object
    outputs: dict[str, np.ndarray]


class HailoBackend(Backend):
    kind = "hailo"

    def __init__(self, model_path: str, section: HailoSection | None = None, timeout_s: float = 10.0):
        """``section``: the config's ``hailo`` section (defaults when None); ``timeout_s``: how long one
        frame may take on the device, its wait for a slot, its run and its wait for the result together (a
        call that outlives it raises, and the backend is broken: the model re-opens it)."""
        check_model_file(model_path, (".hef",))
        hp = import_hailo_platform()
        section = section or HailoSection()
        self.model_path = model_path
        self._hp = hp
        self._timeout_ms = max(1, int(timeout_s * 1000))  # a whole frame's budget: ready, run and wait
        self._chip = ""
        self._float_outputs = section.output_format == "float32"
        self._stack = contextlib.ExitStack()
        self._vdevice = None
        self._configured = None
        self._broken = threading.Event()
        self._active = 0  # infer() calls inside HailoRT now
        self._idle = threading.Condition()
        try:
            check_numpy(hp)
            self._open(section)
            self._warm_up()
        except ModelLoadError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ModelLoadError(explain(exc, model_path, self._chip)) from None

    def _read_hef(self) -> None:
        hef = self._hp.HEF(self.model_path)
        inputs = hef.get_input_vstream_infos()
        if len(inputs) != 1 or len(inputs[0].shape) != 3 or inputs[0].shape[2] != 3:
            raise ModelLoadError(f"{self.model_path} is not an SCRFD HEF: expected one HxWx3 input")
        height, width, _ = inputs[0].shape
        self.input_spec = InputSpec(int(height), int(width))
        outputs = read_outputs(hef)
        refuse_nms(outputs, self.model_path)
        refuse_hardware_order(outputs, self.model_path)
        if len(outputs) != 9 or any(len(o.shape) != 3 or o.shape[2] not in HEF_CHANNELS for o in outputs):
            shapes = ", ".join(f"{o.name}{list(o.shape)}" for o in outputs)
            raise ModelLoadError(f"{self.model_path} is not an SCRFD HEF with landmarks: outputs are {shapes}")
        self._outputs: list[OutputInfo] = outputs
        per_channel = [o.name for o in outputs if o.per_channel]
        if per_channel and not self._float_outputs:
            log.warning("%s: outputs %s are quantized per channel (HailoRT reports scale 0): HailoRT dequantizes "
                        "them to float32", self.model_path, ", ".join(per_channel))
        self._float = {o.name for o in outputs if self._float_outputs or o.per_channel}

    def _open(self, settings) -> None:
        hp = self._hp
        self._read_hef()
        if not hp.Device.scan():
            raise ModelLoadError("no Hailo device found: is the hailo1x_pci driver loaded? (`lsmod | grep hailo`)")
        check_device_nodes()
        self._chip = device_chip(hp)
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
            out_type = hp.FormatType.FLOAT32 if out.name in self._float else out.format_type
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
                 self.model_path, self.name, self.input_spec.width, self.input_spec.height, len(self._outputs),
                 self.max_in_flight, "float32" if self._float_outputs else
                 "quantized" if not self._float else f"quantized ({len(self._float)} float32)")

    def _warm_up(self) -> None:
        """One inference before any worker starts: the binding's first run_async is not thread-safe, and
        this also proves the outputs map onto SCRFD's layout."""
        try:
            self._call(np.zeros((*self.input_spec.hw, 3), np.uint8), max(self._timeout_ms, WARM_UP_TIMEOUT_MS))
        except ValueError as exc:
            raise ModelLoadError(f"{self.model_path}: its outputs do not map onto SCRFD's layout ({exc})") from None

    def prepare(self, canvas: np.ndarray) -> np.ndarray:
        # The HEF normalises on the chip: it takes the raw uint8 RGB canvas, contiguous and writable
        # (set_buffer takes pybind11's mutable_data(), which refuses a read-only array).
        return np.require(canvas, np.uint8, ("C", "W"))

    def infer(self, tensor: np.ndarray) -> list[StrideOutput]:
        return self._call(tensor, self._timeout_ms)

    def _call(self, tensor: np.ndarray, timeout_ms: int) -> list[StrideOutput]:
        with self._idle:
            configured = self._configured
            if configured is None or self._broken.is_set():
                raise self._hp.HailoRTException("the Hailo pipeline was shut down (closed, or an earlier error)")
            self._active += 1
        try:
            return self._infer(configured, tensor, timeout_ms)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _infer(self, configured, tensor: np.ndarray, timeout_ms: int) -> list[StrideOutput]:
        slot = self._slots.get()
        completed: dict[str, BaseException | None] = {}

        def on_done(completion_info) -> None:
            completed["exception"] = completion_info.exception

        deadline = time.monotonic() + timeout_ms / 1000.0
        try:
            slot.bindings.input().set_buffer(tensor)
            self._wait_ready(configured, deadline)
            job = configured.run_async([slot.bindings], on_done)
            # wait(t) waits for the job, then for its callback, t each: half of what is left keeps it in time
            job.wait(max(1, int((deadline - time.monotonic()) * 1000 / 2)))  # a Hailo-10H raises the job's error
            if completed.get("exception") is not None:  # a Hailo-8 only reports it to the callback
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

    def _wait_ready(self, configured, deadline: float) -> None:
        """wait_for_async_ready in slices: on a Hailo-10H shutdown() wakes no waiting thread, so a slice
        ends and the next one sees that the backend closed."""
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            try:
                configured.wait_for_async_ready(timeout_ms=max(1, min(READY_SLICE_MS, remaining_ms)))
                return
            except Exception as exc:
                if type(exc).__name__ != "HailoRTTimeout" or remaining_ms <= READY_SLICE_MS:
                    raise
            if self._broken.is_set():
                raise self._hp.HailoRTException("the Hailo pipeline was shut down (closed, or an earlier error)")

    def _to_canonical(self, buffers: dict[str, np.ndarray]) -> list[StrideOutput]:
        # Copy: the slot's buffers are reused by the next frame once this returns.
        tensors = [buffers[o.name].reshape(-1, HEF_CHANNELS[o.shape[2]]).copy() for o in self._outputs]
        quant = None if len(self._float) == len(self._outputs) else \
            [None if o.name in self._float else o.quant for o in self._outputs]
        return canonical_outputs(tensors, self.input_spec.hw, quant=quant)

    def close(self) -> None:
        """Shut the model down, then leave its context, then release the device, within ``CLOSE_BUDGET_S``.

        ``ConfiguredInferModel.__exit__`` only drops a reference; the native model shuts down
        when the last one goes, which a worker still inside ``wait_for_async_ready`` holds.
        Left to that, it shuts down after ``VDevice.release()`` (a Hailo-10H then reports lost
        communication). After the shutdown, the calls still inside HailoRT get a moment to leave
        (they wait in slices) before the device goes. On a Hailo-10H that no longer answers, each
        of these steps waits for HailoRT's 10 s RPC timeout: past the budget the teardown goes on
        in the background and close() returns, so a stop or a recovery is not held for ~40 s.
        """
        with self._idle:
            self._broken.set()
            configured, self._configured = self._configured, None
            vdevice, self._vdevice = self._vdevice, None
        close_within(CLOSE_BUDGET_S, lambda: self._teardown(configured, vdevice))

    def _teardown(self, configured, vdevice) -> None:
        try:
            if configured is not None:
                try:
                    configured.shutdown()  # aborts jobs in flight (and wakes waiting threads on a Hailo-8)
                except Exception as exc:  # a lost device may refuse; the release below must still run
                    log.warning("shutting the Hailo model down: %s: %s", type(exc).__name__, exc)
                with self._idle:
                    if not self._idle.wait_for(lambda: self._active == 0, CLOSE_GRACE_S):
                        log.warning("closing the Hailo model: %d inference calls did not return", self._active)
            self._stack.close()
        finally:
            if vdevice is not None:
                vdevice.release()


def device_chip(hp) -> str:
    """"hailo10h", "hailo8" (also 8L) or "" when the device does not say: the advice on a busy device differs."""
    try:
        device = hp.Device()
        try:
            arch = str(getattr(device.control.identify().device_architecture, "name", ""))
        finally:
            device.release()
    except Exception:
        return ""
    return chip_key(arch)
