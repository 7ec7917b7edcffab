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
