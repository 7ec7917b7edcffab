"""Every failure message the code prints is quoted, word for word, in docs/troubleshooting.md."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hailo_scrfd.backends.base import Backend, InputSpec, check_model_file
from hailo_scrfd.backends.hailo import check_device_nodes, explain
from hailo_scrfd.errors import ModelLoadError, QueueFull
from hailo_scrfd.pipeline.budget import MemoryBudget
from hailo_scrfd.runtime.worker import InferenceWorker

from ..conftest import ROOT

DOC = (ROOT / "docs" / "troubleshooting.md").read_text()
HEF = "/path/scrfd_2.5g.hef"


def named(name: str, text: str = "") -> Exception:
    return type(name, (Exception,), {})(text)


@pytest.mark.parametrize("exc", [
    named("HailoRTHEFNotCompatibleWithDevice"),
    named("HailoRTInvalidHEFException"),
    named("HailoRTException", "libhailort failed with error: 74 (HAILO_OUT_OF_PHYSICAL_DEVICES)"),
    named("HailoRTException", "libhailort failed with error: 76 (HAILO_INVALID_DRIVER_VERSION)"),
    named("HailoRTDriverOperationFailedException"),
])
@pytest.mark.parametrize("chip", ["", "hailo10h", "hailo8"])
def test_hailo_startup_messages_are_documented(exc, chip):
    message = explain(exc, HEF, chip).replace(HEF, "/path/scrfd_2.5g.hef")
    assert f"hailo-scrfd: error: {message}" in DOC.replace("/path/model.hef", HEF)


def test_pi_readiness_messages_are_documented():
    from hailo_scrfd.backends.hailo_compat import numpy_verdict, refuse_hardware_order
    from hailo_scrfd.backends.hailo_info import OutputInfo

    assert f"hailo-scrfd: error: {numpy_verdict('5.1.0', '2.2.6')[1]}" in DOC
    with pytest.raises(ModelLoadError) as info:
        refuse_hardware_order([OutputInfo("scrfd_2_5g/conv42", "NHCW", None, (80, 80, 2), None)], HEF)
    assert f"hailo-scrfd: error: {info.value}" in DOC
    assert "closing the Hailo device: no answer within 12 s; leaving its teardown" in DOC


def test_permission_message_is_documented(tmp_path, monkeypatch):
    node = tmp_path / "hailo0"
    node.write_text("")
    monkeypatch.setattr("os.access", lambda *_: False)  # tests run as root, for whom access() always succeeds
    with pytest.raises(ModelLoadError) as info:
        check_device_nodes(str(tmp_path / "hailo*"))
    assert f"hailo-scrfd: error: {str(info.value).replace(str(node), '/dev/hailo0')}" in DOC


def test_model_file_messages_are_documented(tmp_path):
    with pytest.raises(ModelLoadError) as info:
        check_model_file("/path/to/scrfd_2.5g_bnkps.onnx", (".onnx",))
    assert f"hailo-scrfd: error: {info.value}" in DOC
    wrong = tmp_path / "model.pt"
    wrong.write_bytes(b"\0")
    with pytest.raises(ModelLoadError) as info:
        check_model_file(str(wrong), (".onnx",))
    assert f"hailo-scrfd: error: {str(info.value).replace(str(wrong), '/path/model.pt')}" in DOC


def test_not_an_image_model_message_is_documented(tmp_path):
    import onnx

    from hailo_scrfd.backends.onnx import OnnxBackend

    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8])
    path = tmp_path / "model.onnx"
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])],
                                                            "g", [x], [y])), str(path))
    with pytest.raises(ModelLoadError) as info:
        OnnxBackend(str(path))
    assert f"hailo-scrfd: error: {str(info.value).replace(str(path), '/path/model.onnx')}" in DOC


def test_queue_full_message_is_documented():
    release = threading.Event()

    class Stuck(Backend):
        kind, name, input_spec = "stuck", "stuck", InputSpec(32, 32)

        def prepare(self, canvas):
            return canvas

        def infer(self, tensor):
            release.wait(5)
            return []

    worker = InferenceWorker(Stuck(), max_queue_size=32)
    try:
        blockers = [threading.Thread(target=worker.infer, args=(np.zeros(1), 5)) for _ in range(33)]
        for t in blockers:
            t.start()
        for _ in range(100):
            if worker.queue_depth == 32:
                break
            threading.Event().wait(0.01)
        with pytest.raises(QueueFull) as info:
            worker.infer(np.zeros(1), 5)
        assert info.value.headers["Retry-After"] == "1"
        assert f'"message": "{info.value.message}"' in DOC
    finally:
        release.set()
        worker.close()


def test_memory_budget_message_is_documented():
    budget = MemoryBudget(1, max_waiting=0, wait_s=0)
    with budget.reserve(1), pytest.raises(QueueFull) as info:
        with budget.reserve(1):
            pass
    assert info.value.headers["Retry-After"] == "2"
    assert f'"message": "{info.value.message}"' in DOC


def test_port_in_use_message_is_documented():
    assert "hailo-scrfd: error: cannot listen on 127.0.0.1:5001: address already in use" in DOC


def test_image_format_messages_are_documented():
    """The 415's list of formats, and what a broken HEIC or AVIF container gets, word for word."""
    from hailo_scrfd.errors import InvalidImage
    from hailo_scrfd.http.payload import SUPPORTED
    from hailo_scrfd.vision.decode import SUPPORTED_FORMATS, decode_image

    assert f"Content-Type 'text/plain' is not supported; send {SUPPORTED}\"" in DOC
    assert f"the body is not a decodable image (supported: {SUPPORTED_FORMATS})" in DOC
    ftyp = {"AVIF": b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", "HEIC/HEIF": b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"}
    for name, head in ftyp.items():
        with pytest.raises(InvalidImage) as info:
            decode_image(head + b"\0" * 64, max_pixels=10**6)
        prefix = info.value.message.split(" (")[0]
        assert prefix.startswith(f"the {name} image cannot be read") and f'"message": "{prefix} (' in DOC
    assert "AVIF images are not supported: this Pillow was built without libavif" in DOC
