"""ONNX backend details that need no model file."""

from hailo_scrfd.backends.onnx import choose_providers


def test_cuda_first_when_the_build_has_it():
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers(available) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cpu_only_build():
    assert choose_providers(["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_unknown_builds_keep_their_own_order():
    assert choose_providers(["OpenVINOExecutionProvider"]) == ["OpenVINOExecutionProvider"]
