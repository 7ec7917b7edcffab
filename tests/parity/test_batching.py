"""Dynamic batching: the batch rewrite, padded batches mapped back per image, and the worker's gathering."""

from __future__ import annotations

import threading
import time

import numpy as np
import onnx
import onnxruntime as ort

from hailo_scrfd.backends.onnx import INPUT_MEAN, INPUT_STD, OnnxBackend
from hailo_scrfd.backends.onnx_rewrite import UINT8_INPUT, make_dynamic, with_batch, with_uint8_input
from hailo_scrfd.runtime.worker import InferenceWorker
from hailo_scrfd.system.sections import OnnxSection
from hailo_scrfd.vision.detections import box_iou
from hailo_scrfd.vision.letterbox import fit_letterbox
from hailo_scrfd.vision.scrfd import postprocess

from ..conftest import DEFAULT_MODEL

CONFIDENT = 0.65


class RecordingBackend(OnnxBackend):
    """The real ONNX backend, noting the size of every run the worker hands it."""

    runs: list[int]  # reset after loading: the load's own check runs are not the worker's


    def infer(self, tensor):
        getattr(self, "runs", []).append(1)
        return super().infer(tensor)

    def infer_batch(self, tensors):
        getattr(self, "runs", []).append(len(tensors))
        return super().infer_batch(tensors)


def _canvas(image, hw=(640, 640)):
    letterbox = fit_letterbox(image.shape[:2], hw)
    return letterbox, letterbox.apply(image)[None]


def test_batch_rewrite_keeps_images_apart(shared):
    model = with_batch(make_dynamic(onnx.load(str(shared / "models" / DEFAULT_MODEL)))[0])
    session = ort.InferenceSession(with_uint8_input(model, INPUT_MEAN, INPUT_STD).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).integers(0, 256, (3, 448, 640, 3), np.uint8)
    batched = session.run(None, {UINT8_INPUT: x})
    assert {o.shape[0] for o in batched} == {3} and sorted({o.shape[1] for o in batched}) == [560, 2240, 8960]
    for i in range(3):
        for whole, alone in zip(batched, session.run(None, {UINT8_INPUT: x[i:i + 1]}), strict=True):
            np.testing.assert_allclose(whole[i], alone[0], atol=1e-4)


def test_a_padded_batch_finds_each_images_faces(shared, load_image):
    backend = OnnxBackend(str(shared / "models" / DEFAULT_MODEL), OnnxSection(batch_max=4))
    assert backend.max_batch == 4
    images = [load_image(n) for n in ("t1.jpg", "gauss.png", "newton.png")]  # 640x448, 512x640, 640x384
    boxes = [_canvas(image) for image in images]
    batched = backend.infer_batch([tensor for _, tensor in boxes])
    for image, (letterbox, tensor), outputs in zip(images, boxes, batched, strict=True):
        alone = backend.infer(tensor)
        assert [len(o.scores) for o in outputs] == [len(o.scores) for o in alone]
        faces = [postprocess(o, input_hw=letterbox.input_hw, scale=letterbox.scale,
                             image_size=(image.shape[1], image.shape[0]), threshold=0.5, nms_threshold=0.4)
                 for o in (alone, outputs)]
        assert len(faces[0]) == len(faces[1]) >= 1
        iou = box_iou(faces[0].xyxy, faces[1].xyxy).max(axis=1)
        assert (iou[faces[0].scores >= CONFIDENT] >= 0.9).all()


def test_worker_batches_waiting_jobs_but_never_holds_a_lone_one(shared, load_image):
    backend = RecordingBackend(str(shared / "models" / DEFAULT_MODEL), OnnxSection(batch_max=4, concurrency=1))
    backend.runs = []
    worker = InferenceWorker(backend, 32, batch_wait_s=4.0)
    _, tensor = _canvas(load_image("t1.jpg"))
    start = time.monotonic()
    worker.infer(tensor, timeout_s=30)
    assert backend.runs == [1] and time.monotonic() - start < 3.5  # the engine was idle: no 4 s wait
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(worker.infer(tensor, timeout_s=60)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    worker.close()
    assert len(results) == 8 and max(backend.runs[1:]) > 1 and sum(backend.runs[1:]) == 8
    assert all(len(outputs[0].scores) == 8960 for outputs, _ in results)
