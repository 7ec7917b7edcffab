"""Where the real HailoRT differs from a naive double, and what the backend must do about it (issue 15).

Each behaviour is cited from ``hailo-ai/hailort`` in the simulation's docstrings; these
tests hold both the simulation and the backend to it, on a Hailo-10H and on a Hailo-8.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from hailo_scrfd.backends.hailo import HailoBackend, explain
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.errors import ModelLoadError
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.vision.letterbox import fixed_letterbox


def load(hef, **overrides) -> SCRFDModel:
    return SCRFDModel(SCRFDServiceConfig().override(model__path=str(hef), **overrides)).load()


def pyhailort():
    from hailo_platform.pyhailort import pyhailort as module
    return module


def raw_model(hp, hef):
    """A VDevice, its configured model, output buffers and bindings holding t1-sized zeros."""
    vdevice = hp.VDevice(hp.VDevice.create_params())
    model = vdevice.create_infer_model(str(hef))
    configured = model.configure()
    buffers = {o.name: np.empty(o.shape, np.uint8) for o in model.outputs}
    return vdevice, configured, buffers, configured.create_bindings(output_buffers=buffers)


class TestPerChannelQuantization:
    def test_the_hef_reports_zero_scales(self, hp, hefs):
        hef = hp.HEF(str(hefs["2.5g-per-channel"]))
        outs = hef.get_output_vstream_infos()
        assert all(o.quant_info.qp_scale == 0 and o.quant_info.qp_zp == 0 for o in outs)  # INVALID_QUANT_INFO
        with hp.VDevice(hp.VDevice.create_params()) as vdevice:
            model = vdevice.create_infer_model(str(hefs["2.5g-per-channel"]))
            assert all(len(model.output(o.name).quant_infos) == o.shape[2] for o in outs)

    @pytest.mark.parametrize("output_format", ["quantized", "float32"])
    def test_same_faces_as_per_tensor(self, hailo_model, load_image, output_format):
        """Failed before the fix: every score dequantized with scale 0, so no face at all."""
        image = load_image("t1.jpg")
        per_tensor = hailo_model("2.5g").detect_faces(image).faces
        per_channel = hailo_model("2.5g-per-channel", hailo__output_format=output_format).detect_faces(image).faces
        assert len(per_tensor) == len(per_channel) == 6
        assert np.abs(per_tensor.xyxy - per_channel.xyxy).max() < 2.0


class TestCloseOrder:
    def test_exit_only_drops_the_reference(self, hp, hefs, sim):
        vdevice, configured, _, _ = raw_model(hp, hefs["2.5g"])
        with configured:
            pass
        assert sim.events == ["destroyed"]  # the last reference went: the native object shut down
        with pytest.raises(AttributeError):
            configured.get_async_queue_size()
        vdevice.release()

    def test_close_while_a_worker_waits_for_async_ready(self, hailo_model, load_image, sim):
        """Failed before the fix: close() released the device without shutting the model down, so the
        worker stayed blocked until its own timeout, and the native model died after its device."""
        model = hailo_model(performance__inference_timeout_s=30)
        backend = model.backend
        image = load_image("s_l.jpg")
        canvas = backend.prepare(fixed_letterbox(image.shape[:2], backend.input_spec.hw).apply(image))
        sim.stall_ready = True
        outcome: dict = {}

        def worker():
            start = time.monotonic()
            try:
                backend.infer(canvas)
            except BaseException as exc:
                outcome["error"] = exc
            outcome["s"] = time.monotonic() - start

        thread = threading.Thread(target=worker)
        thread.start()
        deadline = time.monotonic() + 10
        while sim.ready_waiters == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.ready_waiters == 1, outcome
        start = time.monotonic()
        backend.close()
        thread.join(5)
        assert time.monotonic() - start < 5 and not thread.is_alive(), "close() left a worker blocked"
        assert isinstance(outcome.get("error"), Exception)
        assert "destroyed after release" not in sim.events and "lost communication" not in sim.events, sim.events
        assert sim.events.index("shutdown") < sim.events.index("release")
        assert sim.open_vdevices == 0

    def test_close_is_idempotent_and_releases_after_a_device_loss(self, hailo_model, sim):
        model = hailo_model()
        backend = model.backend
        sim.device_ids = []
        backend.close()
        backend.close()
        assert sim.open_vdevices == 0


class TestFirstRunAsync:
    def test_warm_up_runs_before_any_worker(self, hailo_model, sim):
        hailo_model()
        assert sim.jobs_completed == 1

    def test_many_threads_make_the_first_call_together(self, hailo_model, load_image, sim):
        """Failed before the fix: two first run_async calls raced to create the callback thread."""
        model = hailo_model()
        image = load_image("s_l.jpg")
        barrier = threading.Barrier(4)
        counts = []

        def call():
            barrier.wait()
            counts.append(len(model.detect_faces(image).faces))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sim.crashed is None and counts == [2, 2, 2, 2]


class TestChipModes:
    def test_buffer_size_is_checked_at_run_async(self, hp, hefs, chip, load_image):
        vdevice, configured, _, bindings = raw_model(hp, hefs["2.5g"])
        try:
            bindings.input().set_buffer(np.zeros((640, 640, 3), np.float32))  # accepted: only contiguity is checked
            with pytest.raises(pyhailort().HailoRTInvalidOperationException):
                configured.run_async([bindings])
            bindings.input().set_buffer(np.zeros((640, 640, 3), np.uint8))
            if chip == "hailo10h":  # ConfiguredInferModelHrpcClient::run_async shuts down on a failure
                with pytest.raises(pyhailort().HailoRTException):
                    configured.run_async([bindings]).wait(5000)
            else:
                configured.run_async([bindings]).wait(5000)
        finally:
            configured.shutdown()
            vdevice.release()

    def test_full_queue(self, hp, hefs, chip, sim):
        sim.hang_next_jobs = 4
        sim.request_timeout_s = 1.0
        vdevice, configured, buffers, _ = raw_model(hp, hefs["2.5g"])
        canvas = np.zeros((640, 640, 3), np.uint8)
        try:
            for _ in range(4):
                configured.run_async([configured.create_bindings({"": canvas}, output_buffers={
                    n: np.empty_like(b) for n, b in buffers.items()})])
            extra = configured.create_bindings({"": canvas}, output_buffers=buffers)
            start = time.monotonic()
            if chip == "hailo8":
                with pytest.raises(pyhailort().HailoRTException, match=r"82 \(HAILO_QUEUE_IS_FULL\)"):
                    configured.run_async([extra])
                assert time.monotonic() - start < 0.5
            else:  # never QUEUE_IS_FULL: blocks up to the RPC request timeout
                with pytest.raises(pyhailort().HailoRTTimeout):
                    configured.run_async([extra])
                assert time.monotonic() - start >= 1.0
        finally:
            configured.shutdown()
            vdevice.release()

    def test_job_error_delivery(self, hp, hefs, chip, sim):
        sim.close_next_jobs = 1
        vdevice, configured, _, bindings = raw_model(hp, hefs["2.5g"])
        bindings.input().set_buffer(np.zeros((640, 640, 3), np.uint8))
        infos = []
        try:
            job = configured.run_async([bindings], lambda completion_info: infos.append(completion_info))
            if chip == "hailo10h":
                with pytest.raises(pyhailort().HailoCommunicationClosedException):
                    job.wait(5000)
            else:
                job.wait(5000)  # returns: the error is only in the callback's completion_info
            deadline = time.monotonic() + 5
            while not infos and time.monotonic() < deadline:
                time.sleep(0.01)
            assert infos and isinstance(infos[0].exception, pyhailort().HailoRTException)
        finally:
            configured.shutdown()
            vdevice.release()


class TestStatusCodes:
    def test_codes_are_hailort_s(self):
        m = pyhailort()
        assert str(m.status_error(82, "HAILO_QUEUE_IS_FULL")).endswith("82 (HAILO_QUEUE_IS_FULL)")
        assert isinstance(m.status_error(62, "HAILO_COMMUNICATION_CLOSED"), m.HailoCommunicationClosedException)

    @pytest.mark.parametrize("content,message", [
        (b"\0" * 64, "is not a HEF this HailoRT supports"),                    # magic: HAILO_HEF_NOT_SUPPORTED (92)
        (b'{\n "sim_hef": 1, "network": ', "is corrupted"),                     # HAILO_HEF_FILE_CORRUPTED (91)
    ])
    def test_bad_hef(self, tmp_path, content, message):
        path = tmp_path / "model.hef"
        path.write_bytes(content)
        with pytest.raises(ModelLoadError, match=message) as info:
            load(path)
        assert "\n" not in str(info.value)

    def test_hef_from_a_newer_compiler(self, tmp_path, hefs):
        spec = hefs["2.5g"].read_text().replace('"sim_hef": 1,', '"sim_hef": 1, "extensions": ["future_op"],', 1)
        path = tmp_path / "new.hef"
        path.write_text(spec)
        with pytest.raises(ModelLoadError, match="is not a HEF this HailoRT supports"):
            load(path)

    def test_device_in_use(self, hp, sim):
        sim.busy = True
        with pytest.raises(hp.HailoRTException, match="73") as info:
            hp.VDevice(device_ids=["0000:01:00.0"])
        assert "the Hailo device is busy" in explain(info.value, "x.hef")

    def test_nms_hef_is_refused_with_one_line(self, hefs, sim):
        """Failed before the fix: reading the NMS output's shape raised 'Format order has no shape'."""
        with pytest.raises(ModelLoadError, match="has on-chip NMS.*use the raw SCRFD HEF"):
            load(hefs["2.5g-nms"])
        assert sim.open_vdevices == 0


def test_backend_is_built_like_every_backend():
    """Frigate-style: ``cls(model_path, its config section, timeout)``, the same for ONNX and Hailo."""
    import inspect

    from hailo_scrfd.backends.onnx import OnnxBackend
    for cls in (HailoBackend, OnnxBackend):
        assert list(inspect.signature(cls.__init__).parameters) == ["self", "model_path", "section", "timeout_s"]
