"""HailoBackend on the simulated Hailo-10H: layout, parity with ONNX, concurrency, faults and recovery."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hailo_scrfd.http.app import create_app
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.errors import InferenceFailed, InferenceTimeout, ModelLoadError, ModelNotReady
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.vision.letterbox import fixed_letterbox
from hailo_scrfd.vision.detections import box_iou
from hailo_scrfd.vision.scrfd import decode

IMAGES = ["t1.jpg", "selfie.jpg", "solvay_conference_1927.png", "gauss.png", "newton.png", "s_l.jpg",
          "aligned_112_tom_hanks.png"]
EXPECTED_SHAPES = sorted((s, s, c) for s in (80, 40, 20) for c in (2, 8, 20))


def wait_for(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class TestSimulatedDeviceLayout:
    """The double must be faithful to Hailo's layout, or the tests below prove nothing."""

    def test_hef_metadata(self, hp, hefs):
        hef = hp.HEF(str(hefs["2.5g"]))
        (inp,) = hef.get_input_vstream_infos()
        assert tuple(inp.shape) == (640, 640, 3) and inp.format.type == hp.FormatType.UINT8
        outs = hef.get_output_vstream_infos()
        assert sorted(tuple(o.shape) for o in outs) == EXPECTED_SHAPES
        assert all(o.format.type == hp.FormatType.UINT8 for o in outs)
        assert all(0 < o.quant_info.qp_scale < 1 and 0 <= o.quant_info.qp_zp <= 255 for o in outs)
        # The Model Zoo HEF's layer names (hailo-apps postprocess/cpp/scrfd.cpp), per stride 8, 16, 32
        by_kind = {c: [o.name for o in sorted(outs, key=lambda o: -o.shape[0]) if o.shape[2] == c] for c in (2, 8, 20)}
        assert by_kind == {2: ["scrfd_2_5g/conv42", "scrfd_2_5g/conv49", "scrfd_2_5g/conv55"],
                           8: ["scrfd_2_5g/conv43", "scrfd_2_5g/conv50", "scrfd_2_5g/conv56"],
                           20: ["scrfd_2_5g/conv44", "scrfd_2_5g/conv51", "scrfd_2_5g/conv57"]}
        names = [o.name for o in outs]
        assert names != sorted(names) and [o.shape[2] for o in outs][:3] != [2, 2, 2]  # HailoRT's own order

    def test_raw_inference_returns_quantized_nhwc(self, hp, hefs, load_image):
        from hailo_scrfd.vision.letterbox import fixed_letterbox
        image = load_image("t1.jpg")
        canvas = fixed_letterbox(image.shape[:2], (640, 640)).apply(image)
        with hp.VDevice(hp.VDevice.create_params()) as vdevice:
            model = vdevice.create_infer_model(str(hefs["2.5g"]))
            with model.configure() as configured:
                buffers = {o.name: np.empty(o.shape, np.uint8) for o in model.outputs}
                bindings = configured.create_bindings(output_buffers=buffers)
                with pytest.raises(hp.HailoRTException):
                    bindings.input().set_buffer(canvas[:, ::-1])  # not C-contiguous
                bindings.input().set_buffer(canvas)
                configured.wait_for_async_ready(timeout_ms=1000)
                configured.run_async([bindings]).wait(5000)
        scores = [b for b in buffers.values() if b.shape[2] == 2]
        assert all(b.dtype == np.uint8 for b in buffers.values())
        assert max(int(b.max()) for b in scores) > 200  # t1's faces score ~0.9, so ~230 of 255

    def test_multi_process_service_is_rejected_on_a_10h(self, hp, chip):
        params = hp.VDevice.create_params()
        params.multi_process_service = True
        if chip == "hailo10h":  # vdevice.cpp validate_params: HAILO_INVALID_OPERATION
            with pytest.raises(hp.pyhailort.pyhailort.HailoRTInvalidOperationException):
                hp.VDevice(params)
        else:
            hp.VDevice(params).release()


LANDMARK_TOL_PX = 1.5
SCORE_STEP = 1 / 255  # one uint8 step of the sigmoid score outputs


def float_candidates(model, image):
    """The float model's pre-NMS candidates for ``image``, in original-image pixels."""
    backend = model.backend
    letterbox = fixed_letterbox(image.shape[:2], backend.input_spec.hw)
    faces = decode(backend.infer(backend.prepare(letterbox.apply(image))), letterbox.input_hw, 0.3)
    sx, sy = letterbox.scale
    return faces.xyxy / np.array([sx, sy, sx, sy]), faces.landmarks / np.array([sx, sy]), faces.scores


@pytest.mark.parametrize("variant,onnx_file", [("2.5g", "scrfd_2.5g_bnkps.onnx"), ("500m", "scrfd_500m_bnkps.onnx"),
                                               ("2.5g-16bit", "scrfd_2.5g_bnkps.onnx")])
@pytest.mark.parametrize("output_format", ["quantized", "float32"])
def test_same_faces_as_onnx(variant, onnx_file, output_format, hailo_model, model_factory, load_image):
    """Same faces (IoU >= 0.95) and landmarks within 1.5 px of the float model's.

    One legitimate exception: when two overlapping anchors score within one uint8 step of
    each other, quantization ties them and NMS may keep the other one. Such a face must
    then match that other anchor's float prediction within 1.5 px instead.
    """
    hailo = hailo_model(variant, hailo__output_format=output_format)
    assert hailo.backend.name.startswith("hailort:")
    onnx = model_factory(onnx_file, onnx__input_mode="fixed")  # the HEF's fixed 640x640 letterbox
    ties = 0
    for name in IMAGES:
        image = load_image(name)
        a, b = onnx.detect_faces(image).faces, hailo.detect_faces(image).faces
        assert len(a) == len(b), f"{name}: {len(a)} faces on ONNX, {len(b)} on the simulated NPU"
        if len(a) == 0:
            continue
        iou = box_iou(a.xyxy, b.xyxy)
        match = iou.argmax(axis=1)
        assert len(set(match.tolist())) == len(a), f"{name}: faces matched twice"
        assert iou.max(axis=1).min() >= 0.95, f"{name}: IoU {iou.max(axis=1).min():.3f}"
        errors = np.abs(a.landmarks - b.landmarks[match]).max(axis=(1, 2))
        for i in np.flatnonzero(errors > LANDMARK_TOL_PX):
            boxes, landmarks, scores = float_candidates(onnx, image)
            same_place = box_iou(b.xyxy[match[i]][None], boxes)[0] >= 0.95
            tied = same_place & (scores >= a.scores[i] - SCORE_STEP)
            closest = np.abs(landmarks[tied] - b.landmarks[match[i]]).max(axis=(1, 2)).min() if tied.any() else np.inf
            assert closest <= LANDMARK_TOL_PX, f"{name}: face {i} off by {errors[i]:.2f} px, no tie explains it"
            ties += 1
    assert ties <= 2, f"{ties} quantization ties: the simulated quantization is too coarse"


def test_no_crossed_results_with_16_threads(hailo_model, load_image, sim):
    model = hailo_model(performance__inference_timeout_s=120)  # 16 x 3 frames through one simulated chip on a busy CPU
    assert model.backend.max_in_flight == 4
    names = ["t1.jpg", "s_l.jpg", "newton.png", "gauss.png"]
    images = {n: load_image(n) for n in names}
    expected = {n: model.detect_faces(images[n]).faces for n in names}
    errors = []

    def call(i):
        name = names[i % len(names)]
        for _ in range(3):
            got = model.detect_faces(images[name]).faces
            if len(got) != len(expected[name]) or not np.allclose(got.xyxy, expected[name].xyxy, atol=1e-3):
                errors.append((i, name, len(got)))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(call, range(16)))
    assert errors == []
    assert sim.max_in_flight > 1, "frames were never pipelined on the device"


class TestFaults:
    def test_timeout_gives_503_then_recovers(self, hailo_model, load_image, sim):
        model = hailo_model(performance__inference_timeout_s=2.0)  # one simulated frame must fit, on a busy CPU
        image = load_image("t1.jpg")
        sim.hang_next_jobs = 1
        start = time.monotonic()
        with pytest.raises((InferenceFailed, InferenceTimeout)) as info:  # whichever 2 s timer fires first
            model.detect_faces(image)
        assert info.value.status == 503 and time.monotonic() - start < 6.0
        assert model.state == "degraded"  # a hung inference is a backend fault, whichever timer fired
        assert wait_for(lambda: model.state == "ok"), model.reason
        assert sim.vdevices_created == 2 and sim.open_vdevices == 1  # the VDevice was re-created, the old released
        assert len(model.detect_faces(image).faces) == 6 and model.recoveries == 1

    def test_communication_closed_mid_run(self, hailo_model, load_image, sim):
        model = hailo_model()
        image = load_image("t1.jpg")
        sim.close_next_jobs = 1
        with pytest.raises(InferenceFailed):
            model.detect_faces(image)
        assert wait_for(lambda: model.state == "ok"), model.reason
        assert len(model.detect_faces(image).faces) == 6 and sim.vdevices_created == 2

    def test_http_503_and_degraded_health_then_ok(self, hailo_model, load_image, shared, sim):
        model = hailo_model()
        client = create_app(model.config, model).test_client()
        body = (shared / "images" / "t1.jpg").read_bytes()
        sim.close_next_jobs = 1
        sim.vdevice_error = sim_busy_error()  # the first re-creation fails too: recovery must retry
        resp = client.post("/v1/detect", data=body, content_type="image/jpeg")
        assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "inference_failed"
        health = client.get("/health")
        assert health.status_code == 503 and health.get_json()["status"] == "degraded"
        assert "reason" in health.get_json()
        during = client.post("/v1/detect", data=body, content_type="image/jpeg")
        assert during.status_code in (200, 503)
        assert wait_for(lambda: client.get("/health").status_code == 200)
        ok = client.post("/v1/detect", data=body, content_type="image/jpeg").get_json()
        assert ok["count"] == 6 and ok["backend"].startswith("hailort:")

    def test_recovery_gives_up_cleanly_on_close(self, hailo_model, load_image, sim):
        model = hailo_model()
        sim.close_next_jobs = 1
        sim.device_ids = []  # the device vanished: re-creation keeps failing
        with pytest.raises(InferenceFailed):
            model.detect_faces(load_image("t1.jpg"))
        assert wait_for(lambda: "retrying" in model.reason)
        with pytest.raises(ModelNotReady):
            model.detect_faces(load_image("t1.jpg"))
        model.close()
        assert sim.open_vdevices == 0


def sim_busy_error():
    from hailo_platform.pyhailort.pyhailort import status_error
    return status_error(74, "HAILO_OUT_OF_PHYSICAL_DEVICES")


class TestStartupErrors:
    def load(self, hef, **overrides):
        return SCRFDModel(SCRFDServiceConfig().override(model__path=str(hef), **overrides)).load()

    def test_hef_for_another_chip(self, hefs):
        with pytest.raises(ModelLoadError, match="compiled for a different Hailo chip"):
            self.load(hefs["other-chip"])

    @pytest.mark.parametrize("error,message", [
        (("status", 74, "HAILO_OUT_OF_PHYSICAL_DEVICES"), "the Hailo device is busy"),
        (("status", 76, "HAILO_INVALID_DRIVER_VERSION"), "driver and the HailoRT library have different versions"),
        (("class", "HailoRTDriverOperationFailedException"), "cannot use /dev/hailo0"),
    ])
    def test_device_errors_are_one_actionable_line(self, hefs, sim, error, message):
        from hailo_platform.pyhailort import pyhailort
        if error[0] == "status":
            sim.vdevice_error = pyhailort.status_error(error[1], error[2])
        else:
            sim.vdevice_error = getattr(pyhailort, error[1])("Failure in hailort driver ioctl.")
        with pytest.raises(ModelLoadError, match=message) as info:
            self.load(hefs["2.5g"])
        assert "\n" not in str(info.value)
        assert sim.open_vdevices == 0

    def test_no_device(self, hefs, sim):
        sim.device_ids = []
        with pytest.raises(ModelLoadError, match="no Hailo device found"):
            self.load(hefs["2.5g"])

    def test_not_a_hef(self, tmp_path):
        fake = tmp_path / "fake.hef"
        fake.write_bytes(b"\0" * 64)
        with pytest.raises(ModelLoadError, match="is not a HEF this HailoRT supports"):  # HAILO_HEF_NOT_SUPPORTED
            self.load(fake)

    def test_hailo_platform_missing(self, hefs, monkeypatch):
        monkeypatch.setitem(__import__("sys").modules, "hailo_platform", None)
        with pytest.raises(ModelLoadError, match="hailo_platform is not installed.*hailo-h10-all"):
            self.load(hefs["2.5g"])

    def test_onnx_model_on_hailo_backend(self, shared):
        with pytest.raises(ModelLoadError, match="not a .hef file"):
            self.load(shared / "models" / "scrfd_2.5g_bnkps.onnx", model__backend="hailo")


class TestSelection:
    def test_auto_picks_hailo_for_hef_and_onnx_otherwise(self, hailo_model, model_factory):
        assert hailo_model().backend.kind == "hailo"
        assert model_factory().backend.kind == "onnx"

    def test_backend_in_health_and_responses(self, hailo_model, shared):
        model = hailo_model("500m")
        client = create_app(model.config, model).test_client()
        health = client.get("/health").get_json()
        assert health["model"]["backend"].startswith("hailort:") and health["model"]["name"] == "scrfd_500m"
        body = client.post("/v1/detect", data=(shared / "images" / "newton.png").read_bytes(),
                           content_type="image/png").get_json()
        assert body["backend"] == health["model"]["backend"] and body["count"] == 1


def test_close_releases_the_device(hailo_model, sim):
    model = hailo_model()
    assert sim.open_vdevices == 1
    model.close()
    assert sim.open_vdevices == 0


def test_threads_do_not_leak_across_recoveries(hailo_model, load_image, sim):
    model = hailo_model()
    before = threading.active_count()
    for _ in range(3):
        sim.close_next_jobs = 1
        with pytest.raises(InferenceFailed):
            model.detect_faces(load_image("s_l.jpg"))
        assert wait_for(lambda: model.state == "ok")
    assert threading.active_count() <= before + 2


def test_a_read_only_canvas_still_reaches_the_device(hailo_model, load_image):
    """Pillow's arrays are read-only, and HailoRT's set_buffer refuses those (the simulation too): prepare copies."""
    model = hailo_model()
    backend = model.backend
    canvas = np.zeros((*backend.input_spec.hw, 3), np.uint8)
    canvas.setflags(write=False)
    tensor = backend.prepare(canvas)
    assert tensor.flags.writeable and tensor.flags.c_contiguous
    assert len(backend.infer(tensor)) == 3
    slot = backend._slots.get()
    try:
        with pytest.raises(ValueError, match="not writeable"):
            slot.bindings.input().set_buffer(canvas)
    finally:
        backend._slots.put(slot)
