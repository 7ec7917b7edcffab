"""ONNX backend details that need no model file."""

from hailo_scrfd.backends.onnx import choose_providers


def test_cuda_first_when_the_build_has_it():
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(available) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cpu_only_build():
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_unknown_builds_keep_their_own_order():
    assert choose_providers(["OpenVINOExecutionProvider"]) == ["OpenVINOExecutionProvider"]


def _run_until_closed(backend, tensor, outcome: dict) -> None:
    try:
        for _ in range(200):
            backend.infer(tensor)
    except Exception as exc:
        outcome["error"] = exc


def test_close_ends_a_run_in_flight(shared):
    """The worker's watchdog relies on it: close() terminates a run at its next graph node (RunOptions.terminate),
    so a stuck request answers 503 instead of holding its thread; later runs fail at once."""
    import threading
    import time

    import numpy as np

    from hailo_scrfd.backends.onnx import OnnxBackend
    from hailo_scrfd.system.sections import OnnxSection

    for _ in range(3):  # a close that lands between two runs ends the loop without a terminated run: try again
        backend = OnnxBackend(str(shared / "models" / "scrfd_2.5g_bnkps.onnx"), OnnxSection(cache_optimized=False))
        outcome: dict = {}
        thread = threading.Thread(target=_run_until_closed,
                                  args=(backend, backend.prepare(np.zeros((640, 640, 3), np.uint8)), outcome))
        thread.start()
        time.sleep(0.1)
        backend.close()
        thread.join(5)
        assert not thread.is_alive()
        if "terminate" in str(outcome.get("error", "")):
            break
    else:
        raise AssertionError(f"close() never ended a run in flight: {outcome}")


def test_a_run_that_starts_while_another_is_in_flight_gets_the_busy_session():
    from hailo_scrfd.backends.onnx import _Lanes

    alone, busy = object(), object()
    lanes = _Lanes(alone, busy)
    with lanes.session() as first:
        with lanes.session() as second:
            with lanes.session() as third:
                assert (first, second, third) == (alone, busy, busy)
        with lanes.session() as again:
            assert again is busy  # the first run is still in flight
    with lanes.session() as lone:
        assert lone is alone
    with _Lanes(alone, None).session() as first, _Lanes(alone, None).session() as second:
        assert first is second is alone


def test_a_closed_lane_fails_each_run_and_frees_its_place():
    import pytest

    from hailo_scrfd.backends.onnx import _Lanes

    lanes = _Lanes(None, None)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="closed"):
            with lanes.session():
                pass
    assert lanes._running == 0


def _backend(shared, **section):
    from hailo_scrfd.backends.onnx import OnnxBackend
    from hailo_scrfd.system.sections import OnnxSection

    return OnnxBackend(str(shared / "models" / "scrfd_2.5g_bnkps.onnx"), OnnxSection(cache_optimized=False, **section))


def test_busy_session_threads_follow_the_config(shared, monkeypatch):
    from hailo_scrfd.backends import onnx

    monkeypatch.setattr(onnx, "_cores", lambda: 4)
    busy = _backend(shared, concurrency=2)._lanes._busy
    assert busy.get_session_options().intra_op_num_threads == 2  # 4 cores shared by 2 runs
    assert _backend(shared, threads=3, busy_threads=1)._lanes._busy.get_session_options().intra_op_num_threads == 1
    assert _backend(shared, threads=2, busy_threads=2)._lanes._busy is None  # the same threads: one session
    assert _backend(shared, concurrency=1)._lanes._busy is None  # no second run to give it to


def test_runs_side_by_side_find_what_a_lone_run_finds(shared, load_image):
    """Both sessions run the same graph: a run on the busy one returns the lone run's outputs, to float
    rounding, so which session a request gets never changes its faces."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from hailo_scrfd.vision.letterbox import fit_letterbox

    backend = _backend(shared, threads=2, busy_threads=1)
    assert backend._lanes._busy is not None
    image = load_image("t1.jpg")
    tensor = backend.prepare(fit_letterbox(image.shape[:2], backend.input_spec.hw).apply(image))
    lone = backend.infer(tensor)
    with ThreadPoolExecutor(3) as pool:
        side_by_side = list(pool.map(lambda _: backend.infer(tensor), range(9)))
    for outputs in side_by_side:
        for a, b in zip(lone, outputs, strict=True):
            np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
            np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
