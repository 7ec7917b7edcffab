"""The simulated ``ConfiguredInferModel``: Python wrapper, native object and the "chip" that runs the jobs.

Three layers, as in HailoRT: :class:`ConfiguredInferModel` is pyhailort.py's wrapper (its
``__exit__`` only drops the native reference); :class:`NativeConfiguredInferModel` is
the C++ object (``ConfiguredInferModelImpl`` on a Hailo-8, ``ConfiguredInferModelHrpcClient``
on a Hailo-10H), destroyed when its last reference goes; :class:`_Chip` is the device
pipeline, one frame at a time, in order.
"""

from __future__ import annotations

import os
import queue
import threading
import time

import numpy as np

from ._common import (AsyncInferCompletionInfo, AsyncInferJob, FormatType, HailoCommunicationClosedException,
                      HailoRTDriverOperationFailedException, HailoRTException, HailoRTInvalidOperationException,
                      HailoRTNotFoundException, HailoRTStreamAborted, HailoRTTimeout, SimulatedProcessAbort,
                      status_error)
from ._sim import SIM, rpc

_DTYPES = {FormatType.UINT8: np.uint8, FormatType.UINT16: np.uint16, FormatType.FLOAT32: np.float32}
_SESSIONS: dict = {}
_SESSIONS_LOCK = threading.Lock()


def _session(onnx_path: str):
    import onnxruntime as ort
    with _SESSIONS_LOCK:
        if onnx_path not in _SESSIONS:
            _SESSIONS[onnx_path] = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        return _SESSIONS[onnx_path]


def _lost_communication() -> HailoRTException:
    SIM.event("lost communication")
    # CHECK(nullptr != client, HAILO_INTERNAL_FAILURE, "Lost communication with the server. This may happen if
    # VDevice is released while the CIM is in use.")
    return status_error(8, "HAILO_INTERNAL_FAILURE")


class _Job:
    """The native job: its status (set when the device is done) and whether the Python callback ran."""

    def __init__(self):
        self.done = threading.Event()
        self.callback_done = threading.Event()
        self.error: BaseException | None = None

    def wait(self, timeout_ms):
        if not self.done.wait(timeout_ms / 1000.0):
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
        if self.error is not None and SIM.arch == "hailo10h":
            raise type(self.error)(str(self.error))  # AsyncInferJobHrpcClient::wait returns the job's status
        if not self.callback_done.wait(timeout_ms / 1000.0):
            raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")


class _Chip:
    """The device side: runs the jobs on a thread of its own; holds no reference to the native object."""

    def __init__(self, spec: dict, out_types: dict):
        self.spec = spec
        self.out_types = out_types
        self.jobs: queue.Queue = queue.Queue()
        self.cond = threading.Condition()
        self.outstanding = 0
        self.stopped = False          # shut down: every job aborts
        self.woken = False            # and threads waiting on the model were told (not after a lost connection)
        self.lost = False             # the 10H's connection is gone: nothing completes or wakes any more
        self.error: BaseException | None = None  # "In case of an error, the pipeline will be shut down."
        threading.Thread(target=self._loop, name="sim-hailo-npu", daemon=True).start()

    def stop(self, notify: bool = True) -> None:
        """Shut the pipeline down: from now on every job aborts."""
        with self.cond:
            self.stopped = True
            if notify:
                self.woken = True
                self.cond.notify_all()

    def close(self) -> None:
        self.stop()
        self.jobs.put(None)

    def _loop(self) -> None:
        session = input_name = None  # loaded at the first job: a process may exit with the model unused
        while True:
            item = self.jobs.get()
            if item is None:
                return
            if session is None:
                session = _session(self.spec["onnx"])
                input_name = session.get_inputs()[0].name
            bindings, callback, job = item
            error = None
            SIM.sync()
            if SIM.take("hang_next_jobs"):
                while not self.stopped or SIM.server_hung:  # never completes; only a shutdown that arrives ends it
                    time.sleep(0.01)
                error = HailoRTStreamAborted("Stream was aborted")
            elif self.stopped:
                error = HailoRTStreamAborted("Stream was aborted")
            elif not SIM.device_ids or SIM.take("close_next_jobs"):
                error = (HailoCommunicationClosedException("Communication closed failure. Check server-client "
                                                           "connection") if SIM.arch == "hailo10h" else
                         HailoRTDriverOperationFailedException("Failure in hailort driver ioctl. run 'dmesg | grep "
                                                               "hailo' for more information"))
                self.error = error
            else:
                for b in bindings:
                    self._compute(session, input_name, b)
                    self._corrupt(b, SIM.garbage_outputs)
            if SIM.job_delay_s:
                time.sleep(SIM.job_delay_s)
            if self.lost:
                return  # no reply ever reaches the client
            self._complete(bindings, callback, job, error)

    def _complete(self, bindings, callback, job: _Job, error) -> None:
        with self.cond:
            self.outstanding -= len(bindings)
            self.cond.notify_all()
        if error is not None and SIM.arch == "hailo10h":
            job.error = error
            job.done.set()  # the job's status is set before the Python callback runs on its own thread
        if SIM.callback_delay_s:
            # the job is done; infer_model_api.cpp's callbacks thread runs the Python callback later, and
            # AsyncInferJob.wait then waits for it as long again (427-433)
            job.done.set()
            time.sleep(SIM.callback_delay_s)
        if callback is not None:
            callback(completion_info=AsyncInferCompletionInfo(error))
        job.error = error
        job.done.set()
        job.callback_done.set()
        with SIM.lock:
            SIM.jobs_completed += 1

    def _compute(self, session, input_name, bindings) -> None:
        h, w, c = self.spec["input"]["shape"]
        frame = bindings._input._buffer.reshape(-1).view(np.uint8)[: h * w * c].reshape(h, w, c)  # raw bytes
        x = ((frame.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]  # normalisation "on chip"
        onnx_out = [o.reshape(-1, o.shape[-1]) for o in session.run(None, {input_name: x})]
        for o in self.spec["outputs"]:
            h, w, c = o["shape"]
            values = onnx_out[o["onnx_index"]].reshape(h, w, c)  # (H*W*2, C/2) anchor-major == NHWC
            if os.environ.get("HAILO_DISABLE_PP") == "1":
                values = np.ascontiguousarray(values.transpose(0, 2, 1))  # NHCW: the hardware's order
            scale, zero_point = np.asarray(o["scale"], np.float64), np.asarray(o["zero_point"], np.float64)
            native = FormatType[o.get("type", "UINT8")]
            top = 65535 if native == FormatType.UINT16 else 255
            q = np.clip(np.rint(values / scale + zero_point), 0, top)  # what the chip computes
            wanted = self.out_types[o["name"]]
            result = ((q - zero_point) * scale).astype(np.float32) if wanted == FormatType.FLOAT32 else \
                q.astype(_DTYPES[wanted])
            out = bindings._outputs[o["name"]]._buffer
            out.reshape(-1).view(np.uint8)[:] = result.reshape(-1).view(np.uint8)  # bytes, like a DMA write


    @staticmethod
    def _corrupt(bindings, mode: str) -> None:
        """A device that answers but returns garbage: the job succeeds, its output bytes are zeros or noise."""
        if not mode:
            return
        rng = np.random.default_rng()
        for stream in bindings._outputs.values():
            raw = stream._buffer.reshape(-1).view(np.uint8)
            raw[:] = 0 if mode == "zeros" else rng.integers(0, 256, raw.size, dtype=np.uint8)


class NativeConfiguredInferModel:
    """The C++ ``ConfiguredInferModel``: lives until its last reference goes."""

    def __init__(self, model, vdevice):
        self._vdevice = vdevice
        self._model = model
        self._using_service = vdevice._using_service
        types = {name: (s.format.type if s.format.type != FormatType.AUTO else s._info.format.type)
                 for name, s in model._outputs.items()}
        self._frame_sizes = {name: s.frame_size() for name, s in model._outputs.items()}
        self._input_size = model._input.frame_size()
        self._chip = _Chip(model._hef._spec, types)
        self._callbacks_thread = None
        self._creating = 0
        self._shutdown_called = False

    def _check_connected(self) -> None:
        if SIM.arch == "hailo10h" and self._vdevice.released:
            raise _lost_communication()

    def on_vdevice_released(self) -> None:
        if SIM.arch == "hailo10h":
            self._chip.lost = True     # the client is gone: no reply, no wake-up
            self._chip.stop(notify=False)
        else:
            self._chip.stop()

    def __del__(self):
        # ~ConfiguredInferModelImpl() calls shutdown(); ~ConfiguredInferModelHrpcClient() asks the server to
        # destroy the model, which it cannot do once the VDevice (its RPC client) is gone.
        if not hasattr(self, "_chip"):
            return  # its constructor failed
        late = self._vdevice.released and not self._shutdown_called
        SIM.event("destroyed after release" if late else "destroyed")
        self._chip.close()
        if not late:
            try:
                rpc("CONFIGURED_INFER_MODEL__DESTROY")  # ~ConfiguredInferModelHrpcClient (81-100)
            except HailoRTException:
                pass  # logged, never raised

    def create_bindings(self):
        self._check_connected()
        return True

    def get_async_queue_size(self) -> int:
        self._check_connected()
        return SIM.async_queue_size

    def wait_for_async_ready(self, timeout_ms: int, frames_count: int) -> None:
        chip = self._chip
        deadline = time.monotonic() + timeout_ms / 1000.0
        with SIM.lock:
            SIM.ready_waiters += 1
        try:
            with chip.cond:
                while True:
                    if chip.woken:
                        break
                    if not SIM.stall_ready and chip.outstanding + frames_count <= SIM.async_queue_size:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
                    chip.cond.wait(min(remaining, 0.02))
        finally:
            with SIM.lock:
                SIM.ready_waiters -= 1
        if chip.stopped and SIM.arch == "hailo8":
            raise HailoRTStreamAborted("Stream was aborted")

    def _start_callback_thread(self) -> None:
        # infer_model_api.cpp run_async: `if(!m_callbacks_thread) m_callbacks_thread = make_shared<std::thread>(...)`
        # with the GIL released and no lock: two first calls at once destroy a joinable std::thread.
        with SIM.lock:
            self._creating += 1
        time.sleep(SIM.first_call_window_s)
        with SIM.lock:
            racing = self._creating > 1
            self._callbacks_thread = True
            self._creating -= 1
        if racing:
            SIM.crashed = "terminate called without an active exception (first run_async calls raced)"
            raise SimulatedProcessAbort(SIM.crashed)

    def _validate(self, bindings) -> None:
        for b in bindings:
            streams = [(b._input, self._input_size)] + [(b._outputs[n], s) for n, s in self._frame_sizes.items()]
            for stream, size in streams:
                if stream._buffer is None:
                    raise HailoRTNotFoundException("Item not found. See hailort.log for more information")
                if stream._buffer.nbytes != size:  # "Input buffer size {} is different than expected {}"
                    raise HailoRTInvalidOperationException("Invalid operation. See hailort.log for more information")

    def run_async(self, bindings, callback):
        self._check_connected()
        if self._callbacks_thread is None and not self._using_service:
            self._start_callback_thread()
        chip = self._chip
        try:
            self._validate(bindings)
            if chip.error is not None:
                raise type(chip.error)(str(chip.error))
            with chip.cond:
                if SIM.arch == "hailo8":
                    if chip.outstanding + len(bindings) > SIM.async_queue_size:
                        raise status_error(82, "HAILO_QUEUE_IS_FULL")
                elif not chip.cond.wait_for(lambda: chip.outstanding + len(bindings) <= SIM.async_queue_size
                                            or chip.stopped, SIM.request_timeout_s):
                    raise HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
                chip.outstanding += len(bindings)
                with SIM.lock:
                    SIM.max_in_flight = max(SIM.max_in_flight, chip.outstanding)
        except HailoRTException:
            if SIM.arch == "hailo10h":
                self.shutdown()  # ConfiguredInferModelHrpcClient::run_async shuts down on any failure
            raise
        if chip.stopped and SIM.arch == "hailo8":
            with chip.cond:
                chip.outstanding -= len(bindings)
            raise HailoRTStreamAborted("Stream was aborted")
        job = _Job()
        chip.jobs.put(([_Snapshot(b) for b in bindings], callback, job))
        return job

    def shutdown(self) -> None:
        self._check_connected()
        self._shutdown_called = True
        SIM.event("shutdown")
        rpc("CONFIGURED_INFER_MODEL__SHUTDOWN")
        # The 10H's shutdown() only sends a request: nothing notifies m_cv, so a thread inside
        # wait_for_async_ready stays until a reply or its own timeout (configured_infer_model_hrpc_client.cpp
        # 141-149, 186-190, 546-557). The Hailo-8's pipeline shutdown wakes it.
        self._chip.stop(notify=SIM.arch != "hailo10h")


class _Snapshot:
    """The buffers a job uses, as bound when it was launched."""

    def __init__(self, bindings):
        self._input = _Buf(bindings._input._buffer)
        self._outputs = {n: _Buf(s._buffer) for n, s in bindings._outputs.items()}


def _check_numpy_abi() -> None:
    """HailoRT 5.0.0-5.1.0 (and 4.x) build the binding with pybind11 2.10.1 (``cmake/external/pybind11.cmake`` 8),
    which predates NumPy 2 (pybind11 2.12): it reads a NumPy 2 array's dtype with NumPy 1's struct layout.
    5.1.1 moved to pybind11 2.13.6. Here the process "dies" where the real one reads garbage or crashes."""
    import hailo_platform
    version = tuple(int(p) for p in hailo_platform.__version__.split(".")[:3])
    if version < (5, 1, 1) and int(np.__version__.split(".")[0]) >= 2:
        SIM.crashed = (f"pybind11 2.10.1 (HailoRT {hailo_platform.__version__}) read a NumPy {np.__version__} "
                       "array with NumPy 1's dtype layout")
        raise SimulatedProcessAbort(SIM.crashed)


class _Buf:
    def __init__(self, buffer):
        self._buffer = buffer


class ConfiguredInferModel:
    """pyhailort.py's wrapper around the native object."""

    class Bindings:
        class InferStream:
            def __init__(self):
                self._buffer = None

            def set_buffer(self, buffer):
                if not buffer.flags.c_contiguous:
                    raise HailoRTException("Buffer must be C_CONTIGUOUS")
                # infer_model_api.cpp: MemoryView(buffer.mutable_data(), nbytes); pybind11's mutable_data()
                # refuses a read-only array with std::domain_error, which Python sees as ValueError.
                if not buffer.flags.writeable:
                    raise ValueError("array is not writeable")
                _check_numpy_abi()
                self._buffer = buffer  # MemoryView(data, nbytes): no shape or dtype check here

            def get_buffer(self, tf_format=False):
                return self._buffer

        def __init__(self, output_names):
            self._input = self.InferStream()
            self._outputs = {name: self.InferStream() for name in output_names}

        def input(self, name=""):
            return self._input

        def output(self, name=""):
            try:
                return self._outputs[name]
            except KeyError:
                raise HailoRTNotFoundException("Item not found. See hailort.log for more information") from None

    def __init__(self, native: NativeConfiguredInferModel, model):
        self._configured_infer_model = native
        self._output_names = model.output_names

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self._configured_infer_model = None  # pyhailort.py: the native object is destroyed with its last reference

    def create_bindings(self, input_buffers=None, output_buffers=None):
        self._configured_infer_model.create_bindings()
        bindings = self.Bindings(self._output_names)
        for name, buffer in (input_buffers or {}).items():
            bindings.input(name).set_buffer(buffer)
        for name, buffer in (output_buffers or {}).items():
            bindings.output(name).set_buffer(buffer)
        return bindings

    def get_async_queue_size(self):
        return self._configured_infer_model.get_async_queue_size()

    def wait_for_async_ready(self, timeout_ms=1000, frames_count=1):
        self._configured_infer_model.wait_for_async_ready(timeout_ms, frames_count)

    def run_async(self, bindings, callback=None):
        return AsyncInferJob(self._configured_infer_model.run_async(bindings, callback))

    def shutdown(self):
        return self._configured_infer_model.shutdown()
