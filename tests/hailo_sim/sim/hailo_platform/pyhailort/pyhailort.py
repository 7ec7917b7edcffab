"""A simulated Hailo-10H behind the subset of HailoRT 5.x's ``hailo_platform`` API that hailo-scrfd uses.

Test double only. Class, method and exception names and signatures follow HailoRT 5.x's
``hailo_platform/pyhailort/pyhailort.py``; behaviour follows its documentation:

* the "device" runs an SCRFD ONNX model with ONNX Runtime on a uint8 RGB HxWx3 input
  (the HEF's normalisation is applied on the "chip"), and returns the HEF's nine NHWC
  outputs per frame, quantized per tensor to uint8 with the scale and zero point in
  the HEF (or dequantized to float32 when the output format type is FLOAT32);
* output names look like a real HEF's (``scrfd_2_5g/conv42``) and come in HailoRT's
  order, not the ONNX order;
* ``run_async`` needs C-contiguous buffers of the stream's shape and dtype, refuses
  more jobs than ``get_async_queue_size()``, completes jobs on a device thread and
  calls ``callback(completion_info=...)``; after an error the pipeline is shut down;
* a Hailo-10H rejects ``multi_process_service=True``.

A simulated HEF is a JSON file (see ``tests/hailo_sim/sim_hef.py``). Faults are
injected through :data:`SIM`.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace

import numpy as np


# -- exceptions (same hierarchy and messages as HailoRT 5.x) ---------------------------

class HailoRTException(Exception):
    pass


class HailoRTTimeout(HailoRTException):
    pass


class HailoRTStreamAborted(HailoRTException):
    pass


class HailoRTInvalidOperationException(HailoRTException):
    pass


class HailoRTInvalidArgumentException(HailoRTException):
    pass


class HailoRTNotFoundException(HailoRTException):
    pass


class HailoRTInvalidHEFException(HailoRTException):
    pass


class HailoRTHEFNotCompatibleWithDevice(HailoRTException):
    pass


class HailoRTDriverOperationFailedException(HailoRTException):
    pass


class HailoCommunicationClosedException(HailoRTException):
    pass


def status_error(code: int, name: str) -> HailoRTException:
    """What HailoRT raises for a status without a dedicated exception class."""
    return HailoRTException(f"libhailort failed with error: {code} ({name})")


# -- enums and small records --------------------------------------------------------------

class FormatType(Enum):
    AUTO = 0
    UINT8 = 1
    UINT16 = 2
    FLOAT32 = 3


class FormatOrder(Enum):
    NHWC = 1


class HailoSchedulingAlgorithm(Enum):
    NONE = 0
    ROUND_ROBIN = 1


@dataclass
class QuantInfo:
    qp_scale: float
    qp_zp: float
    limvals_min: float = 0.0
    limvals_max: float = 0.0


@dataclass
class VStreamInfo:
    name: str
    shape: tuple
    format: SimpleNamespace
    quant_info: QuantInfo
    network_name: str = ""


# -- simulation control --------------------------------------------------------------------

@dataclass
class SimState:
    """The simulated machine: its devices and the faults to inject next."""

    device_ids: list = field(default_factory=lambda: ["0000:01:00.0"])
    arch: str = "hailo10h"
    async_queue_size: int = 4
    vdevice_error: HailoRTException | None = None   # raised by the next VDevice()
    hang_next_jobs: int = 0                           # jobs that never complete (-> HailoRTTimeout)
    close_next_jobs: int = 0                          # jobs failing with HailoCommunicationClosedException
    vdevices_created: int = 0
    open_vdevices: int = 0
    jobs_completed: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        fresh = SimState()
        for name in ("device_ids", "arch", "async_queue_size", "vdevice_error", "hang_next_jobs", "close_next_jobs",
                     "vdevices_created", "open_vdevices", "jobs_completed", "max_in_flight"):
            setattr(self, name, getattr(fresh, name))

    def take(self, counter: str) -> bool:
        with self.lock:
            if getattr(self, counter) > 0:
                setattr(self, counter, getattr(self, counter) - 1)
                return True
            return False


SIM = SimState()
_SESSIONS: dict = {}
_SESSIONS_LOCK = threading.Lock()


def _session(onnx_path: str):
    import onnxruntime as ort
    with _SESSIONS_LOCK:
        if onnx_path not in _SESSIONS:
            _SESSIONS[onnx_path] = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        return _SESSIONS[onnx_path]


# -- HEF ----------------------------------------------------------------------------------

class HEF:
    def __init__(self, hef_source):
        if not isinstance(hef_source, str):
            raise ValueError("HEF can only be created from a file path (str) or a buffer (bytes)")
        try:
            with open(hef_source, "rb") as fh:
                spec = json.loads(fh.read())
            assert spec.get("sim_hef") == 1
        except FileNotFoundError:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information") from None
        except Exception:
            raise HailoRTInvalidHEFException("Invalid HEF. See hailort.log for more information") from None
        self._spec = spec
        self._path = hef_source

    @property
    def path(self):
        return self._path

    def get_network_group_names(self):
        return [self._spec["network"]]

    def get_input_vstream_infos(self, name=None):
        i = self._spec["input"]
        fmt = SimpleNamespace(type=FormatType.UINT8, order=FormatOrder.NHWC)
        return [VStreamInfo(i["name"], tuple(i["shape"]), fmt, QuantInfo(1.0, 0.0), self._spec["network"])]

    def get_output_vstream_infos(self, name=None):
        return [VStreamInfo(o["name"], tuple(o["shape"]),
                            SimpleNamespace(type=FormatType[o.get("type", "UINT8")], order=FormatOrder.NHWC),
                            QuantInfo(o["scale"], o["zero_point"]), self._spec["network"])
                for o in self._spec["outputs"]]


# -- devices ------------------------------------------------------------------------------

class Device:
    @classmethod
    def scan(cls):
        return list(SIM.device_ids)


class VDevice:
    def __init__(self, params=None, *, device_ids=None):
        self._params = params or VDevice.create_params()
        if getattr(self._params, "multi_process_service", False):
            # Only Hailo-8 needs the multi-process service; a Hailo-10H shares natively.
            raise status_error(6, "HAILO_INVALID_OPERATION")
        error, SIM.vdevice_error = SIM.vdevice_error, None
        if error is not None:
            raise error
        if not SIM.device_ids:
            raise status_error(74, "HAILO_OUT_OF_PHYSICAL_DEVICES")
        self._released = False
        self._models: list[ConfiguredInferModel] = []
        with SIM.lock:
            SIM.vdevices_created += 1
            SIM.open_vdevices += 1

    @staticmethod
    def create_params():
        return SimpleNamespace(scheduling_algorithm=HailoSchedulingAlgorithm.ROUND_ROBIN, group_id="UNIQUE",
                               multi_process_service=False, device_count=1)

    def get_physical_devices_ids(self):
        return list(SIM.device_ids)

    def create_infer_model(self, hef_source, name=""):
        if self._released:
            raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        hef = HEF(hef_source)
        if hef._spec["arch"] != SIM.arch:
            raise HailoRTHEFNotCompatibleWithDevice(
                "HEF file is not compatible with device. See hailort.log for more information")
        return InferModel(self, hef)

    def release(self):
        if not self._released:
            self._released = True
            for model in self._models:
                model.shutdown()
            with SIM.lock:
                SIM.open_vdevices -= 1

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.release()
        return False


# -- InferModel ---------------------------------------------------------------------------

class InferModel:
    class InferStream:
        def __init__(self, info: VStreamInfo, is_input: bool):
            self._info = info
            self._type = info.format.type
            self._is_input = is_input

        @property
        def name(self):
            return self._info.name

        @property
        def shape(self):
            return list(self._info.shape)

        @property
        def format(self):
            return SimpleNamespace(type=self._type, order=FormatOrder.NHWC)

        @property
        def quant_infos(self):
            return [self._info.quant_info]

        def set_format_type(self, type):
            if not isinstance(type, FormatType):
                raise HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")
            self._type = type

    def __init__(self, vdevice: VDevice, hef: HEF):
        self._vdevice = vdevice
        self._hef = hef
        self._batch_size = 0
        self._input = self.InferStream(hef.get_input_vstream_infos()[0], True)
        self._outputs = {i.name: self.InferStream(i, False) for i in hef.get_output_vstream_infos()}

    @property
    def hef(self):
        return self._hef

    @property
    def input_names(self):
        return [self._input.name]

    @property
    def output_names(self):
        return list(self._outputs)

    @property
    def inputs(self):
        return [self._input]

    @property
    def outputs(self):
        return list(self._outputs.values())

    def set_batch_size(self, batch_size):
        if batch_size < 1:
            raise HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")
        self._batch_size = batch_size

    def input(self, name=""):
        if name not in ("", self._input.name):
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        return self._input

    def output(self, name=""):
        if name == "" and len(self._outputs) != 1:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
        try:
            return self._outputs[name]
        except KeyError:
            raise HailoRTNotFoundException("Item not found. See hailort.log for more information") from None

    def configure(self):
        model = ConfiguredInferModel(self)
        self._vdevice._models.append(model)
        return model


_DTYPES = {FormatType.UINT8: np.uint8, FormatType.UINT16: np.uint16, FormatType.FLOAT32: np.float32}


class ConfiguredInferModel:
    class Bindings:
        class InferStream:
            def __init__(self, stream: InferModel.InferStream):
                self._stream = stream
                self._buffer = None

            def set_buffer(self, buffer):
                if not buffer.flags.c_contiguous:
                    raise HailoRTException("Buffer must be C_CONTIGUOUS")
                expected = _DTYPES[self._stream.format.type]
                if tuple(buffer.shape) != tuple(self._stream.shape) or buffer.dtype != expected:
                    raise HailoRTInvalidArgumentException(
                        f"Invalid argument. See hailort.log for more information "
                        f"(buffer {buffer.shape} {buffer.dtype}, stream {self._stream.shape} {expected.__name__})")
                self._buffer = buffer

            def get_buffer(self, tf_format=False):
                return self._buffer

        def __init__(self, model: InferModel):
            self._input = self.InferStream(model._input)
            self._outputs = {name: self.InferStream(s) for name, s in model._outputs.items()}

        def input(self, name=""):
            return self._input

        def output(self, name=""):
            return self._outputs[name]

    def __init__(self, model: InferModel):
        self._model = model
        self._jobs: queue.Queue = queue.Queue()
        self._outstanding = 0
        self._lock = threading.Condition()
        self._error: HailoRTException | None = None
        self._shutdown = threading.Event()
        self._thread = threading.Thread(target=self._device_loop, name="sim-hailo-npu", daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.shutdown()

    def create_bindings(self, input_buffers=None, output_buffers=None):
        bindings = self.Bindings(self._model)
        for name, buffer in (input_buffers or {}).items():
            bindings.input(name).set_buffer(buffer)
        for name, buffer in (output_buffers or {}).items():
            bindings.output(name).set_buffer(buffer)
        return bindings

    def get_async_queue_size(self):
        return SIM.async_queue_size

    def wait_for_async_ready(self, timeout_ms=1000, frames_count=1):
        with self._lock:
            ok = self._lock.wait_for(lambda: self._outstanding + frames_count <= SIM.async_queue_size
                                     or self._shutdown.is_set(), timeout_ms / 1000.0)
        if not ok:
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")

    def run_async(self, bindings, callback=None):
        if self._shutdown.is_set():
            raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        if self._error is not None:
            raise type(self._error)(str(self._error))
        for b in bindings:
            if b._input._buffer is None or any(o._buffer is None for o in b._outputs.values()):
                raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")
        with self._lock:
            if self._outstanding + len(bindings) > SIM.async_queue_size:
                raise status_error(62, "HAILO_QUEUE_IS_FULL")
            self._outstanding += len(bindings)
            with SIM.lock:
                SIM.max_in_flight = max(SIM.max_in_flight, self._outstanding)
        job = AsyncInferJob(threading.Event())
        self._jobs.put((bindings, callback, job))
        return job

    def shutdown(self):
        self._shutdown.set()
        self._jobs.put(None)
        with self._lock:
            self._lock.notify_all()

    # The simulated chip: one frame at a time, in order, like the NPU's pipeline.
    def _device_loop(self):
        spec = self._model._hef._spec
        session = _session(spec["onnx"])
        input_name = session.get_inputs()[0].name
        while True:
            item = self._jobs.get()
            if item is None:
                return
            bindings, callback, job = item
            error = None
            if SIM.take("hang_next_jobs"):
                self._shutdown.wait()  # the job never completes; only a shutdown ends it
                error = HailoRTStreamAborted("Stream was aborted")
            elif SIM.take("close_next_jobs"):
                error = HailoCommunicationClosedException(
                    "Communication closed failure. Check server-client connection")
                self._error = error  # "In case of an error, the pipeline will be shut down."
            else:
                for b in bindings:
                    self._compute(session, input_name, spec, b)
            with self._lock:
                self._outstanding -= len(bindings)
                self._lock.notify_all()
            if callback is not None:
                callback(completion_info=AsyncInferCompletionInfo(error))
            with SIM.lock:
                SIM.jobs_completed += 1
            job._done.set()

    def _compute(self, session, input_name, spec, bindings):
        frame = bindings._input._buffer
        x = ((frame.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]  # normalisation "on chip"
        onnx_out = [o.reshape(-1, o.shape[-1]) for o in session.run(None, {input_name: x})]
        for o in spec["outputs"]:
            h, w, c = o["shape"]
            values = onnx_out[o["onnx_index"]].reshape(h, w, c)  # (H*W*2, C/2) anchor-major == NHWC
            native = FormatType[o.get("type", "UINT8")]
            top = 65535 if native == FormatType.UINT16 else 255
            q = np.clip(np.rint(values / o["scale"] + o["zero_point"]), 0, top)  # what the chip computes
            out = bindings._outputs[o["name"]]
            wanted = out._stream.format.type
            if wanted == FormatType.FLOAT32:
                out._buffer[...] = (q - o["zero_point"]) * o["scale"]
            elif wanted == native:
                out._buffer[...] = q
            else:
                raise HailoRTInvalidArgumentException("Invalid argument. See hailort.log for more information")


class AsyncInferCompletionInfo:
    def __init__(self, exception):
        self._exception = exception

    @property
    def exception(self):
        return self._exception


class AsyncInferJob:
    def __init__(self, done: threading.Event):
        self._done = done

    def wait(self, timeout_ms):
        if not self._done.wait(timeout_ms / 1000.0):
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
