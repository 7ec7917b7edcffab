"""Fit mode (any input size) and reduced-size decoding keep the same faces as the reference mode."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from hailo_scrfd.backends.onnx import OnnxBackend
from hailo_scrfd.backends.onnx import INPUT_MEAN, INPUT_STD
from hailo_scrfd.backends.onnx_rewrite import UINT8_INPUT, make_dynamic, with_uint8_input
from hailo_scrfd.vision.decode import decode_image_reduced
from hailo_scrfd.vision.letterbox import fixed_letterbox
from hailo_scrfd.vision.detections import box_iou

from ..conftest import MODEL_REFERENCE
from .test_decode_parity import IMAGES

MODELS = ["scrfd_2.5g_bnkps.onnx", "scrfd_500m_bnkps.onnx"]
CONFIDENT = 0.65  # below this, decoders' pixel differences flip borderline detections (measured on selfie.jpg)


@pytest.mark.parametrize("model_file", list(MODEL_REFERENCE))
def test_dynamic_rewrite_is_exact_at_the_export_size(shared, model_file):
    path = str(shared / "models" / model_file)
    model = onnx.load(path)
    dynamic, rewritten = make_dynamic(model)
    assert rewritten == (2 if model_file == "scrfd_2.5g_bnkps.onnx" else 0)
    fixed = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    free = ort.InferenceSession(dynamic.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 640, 640)).astype(np.float32)
    for a, b in zip(fixed.run(None, {fixed.get_inputs()[0].name: x}), free.run(None, {free.get_inputs()[0].name: x}),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    outs = free.run(None, {free.get_inputs()[0].name: np.zeros((1, 3, 448, 640), np.float32)})
    assert sorted({o.shape[1] for o in outs}) == [560, 2240, 8960]


@pytest.mark.parametrize("model_file", list(MODEL_REFERENCE))
def test_uint8_input_is_bit_identical_to_normalising_on_the_host(shared, model_file, load_image):
    """The graph's own Cast/Transpose/Sub/Mul gives exactly the float tensor the host computed before."""
    model = onnx.load(str(shared / "models" / model_file))
    original = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    uint8 = ort.InferenceSession(with_uint8_input(model, INPUT_MEAN, INPUT_STD).SerializeToString(),
                                 providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in uint8.get_inputs()] == [(UINT8_INPUT, "tensor(uint8)")]
    letterbox = fixed_letterbox(load_image("t1.jpg").shape[:2], (640, 640))
    canvas = letterbox.apply(load_image("t1.jpg"))
    host = ((canvas.astype(np.float32) - INPUT_MEAN) / INPUT_STD).transpose(2, 0, 1)[None]
    for a, b in zip(original.run(None, {original.get_inputs()[0].name: host}),
                    uint8.run(None, {UINT8_INPUT: canvas[None]}), strict=True):
        np.testing.assert_array_equal(a, b)


def test_uint8_rewrite_refuses_a_model_that_is_not_an_image_detector():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8])
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    with pytest.raises(ValueError, match="NCHW input with 3 channels"):
        with_uint8_input(onnx.helper.make_model(graph), INPUT_MEAN, INPUT_STD)


@pytest.mark.parametrize("model_file", MODELS)
def test_fit_and_fixed_find_the_same_faces(model_file, model_factory, load_image):
    """The same faces, once fixed mode's InsightFace rescale (x divided by the height ratio) is undone.

    Confident faces agree to IoU >= 0.9. Borderline ones (score < 0.65) are the same faces but
    their boxes may move a little more: the padding below the image differs between the modes
    and the stride-32 features see all of it (worst measured: IoU 0.886, 500m, score 0.59).
    """
    fit = model_factory(model_file)
    fixed = model_factory(model_file, onnx__input_mode="fixed")
    assert fit.backend.input_spec.dynamic and not fixed.backend.input_spec.dynamic
    for name in IMAGES:
        image = load_image(name)
        a, b = fixed.detect_faces(image).faces, fit.detect_faces(image).faces
        assert len(a) == len(b), name
        if not len(a):
            continue
        lb = fixed_letterbox(image.shape[:2], (640, 640))
        exact = a.xyxy * np.array([lb.scale[0] * image.shape[1] / lb.resized_hw[1], 1] * 2, np.float32)
        best = box_iou(exact, b.xyxy).max(axis=1)
        assert (best[a.scores >= CONFIDENT] >= 0.9).all(), name
        assert best.min() >= 0.8, name


@pytest.mark.parametrize("model_file", MODELS)
def test_reduced_decoding_keeps_every_confident_face(model_file, model_factory, shared, load_image):
    fit = model_factory(model_file)
    for name in IMAGES:
        data = (shared / "images" / name).read_bytes()
        full = fit.detect_faces(load_image(name)).faces
        pixels, original = decode_image_reduced(data, max_pixels=10**8, long_side=640)
        reduced = fit.detect_faces(pixels, original_size=original).faces
        if not len(full) or not len(reduced):
            assert len(full) == len(reduced), name
            continue
        iou = box_iou(full.xyxy, reduced.xyxy)
        assert (iou.max(axis=1)[full.scores >= CONFIDENT] >= 0.9).all(), name
        assert (iou.max(axis=0)[reduced.scores >= CONFIDENT] >= 0.9).all(), name


def test_a_model_that_cannot_resize_falls_back_to_fixed(shared, tmp_path, caplog):
    """Pin one output Reshape to its 640x640 row count: other sizes then fail, and the backend says so."""
    model = onnx.load(str(shared / "models" / "scrfd_2.5g_bnkps.onnx"))
    inits = {i.name: i for i in model.graph.initializer}
    node = next(n for n in model.graph.node if n.op_type == "Reshape" and n.input[1] in inits
                and -1 in numpy_helper.to_array(inits[n.input[1]]))
    # Its real output shape at 640x640, read off a run with that tensor exposed as an extra output.
    probe = onnx.ModelProto.FromString(model.SerializeToString())
    probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(node.output[0]))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, 3, 640, 640), np.float32)
    shape = session.run([node.output[0]], {session.get_inputs()[0].name: zeros})[0].shape
    # The [1, -1, C] constant is shared by the strides' Reshapes: give this one its own, pinned copy.
    model.graph.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), "pinned_shape"))
    node.input[1] = "pinned_shape"
    pinned = tmp_path / "pinned.onnx"
    onnx.save(model, str(pinned))
    with caplog.at_level(logging.WARNING):
        backend = OnnxBackend(str(pinned))
    assert not backend.input_spec.dynamic and backend.input_spec.hw == (640, 640)
    assert "cannot take other input sizes" in caplog.text and "using the fixed 640x640 input" in caplog.text


@pytest.mark.parametrize("onnx__input_mode", ["fit", "fixed"])
def test_decoding_straight_into_the_canvas_changes_no_face(model_factory, shared, onnx__input_mode, monkeypatch):
    """t1.jpg (1280 px wide) decodes at 1/2 straight into the network canvas, which the detector then runs as it
    is; the faces are bit-identical."""
    from hailo_scrfd.pipeline import FacePipeline
    from hailo_scrfd.pipeline.detector import DecodedImage
    from hailo_scrfd.vision.letterbox import Letterbox

    model = model_factory(onnx__input_mode=onnx__input_mode)
    pipeline = FacePipeline.from_config(model, model.config)
    detector = pipeline.detector
    data = (shared / "images" / "t1.jpg").read_bytes()
    image = pipeline.decode(data, full=False)
    assert image.canvas is not None and image.canvas.shape[:2] == ((448, 640) if onnx__input_mode == "fit"
                                                                   else (640, 640))
    pixels, original = decode_image_reduced(data, max_pixels=10**8, long_side=640)
    copied = model.detect_faces(pixels, original_size=original).faces
    with monkeypatch.context() as patch:
        patch.setattr(Letterbox, "apply", lambda *_: pytest.fail("the canvas was not used: the pixels were copied"))
        direct = detector.detect(image, 0.5, 0.4).faces
    # A canvas that is not the input (the backend changed since the decode, and its input size with it): not used.
    other_hw = (640, 640) if onnx__input_mode == "fit" else (448, 640)
    moved = DecodedImage(image.pixels.copy(), image.original_size, np.zeros((*other_hw, 3), np.uint8))
    stranger = detector.detect(moved, 0.5, 0.4).faces
    assert len(direct) == 6
    for other in (copied, stranger):
        for a, b in ((direct.xyxy, other.xyxy), (direct.scores, other.scores), (direct.landmarks, other.landmarks)):
            np.testing.assert_array_equal(a, b)
