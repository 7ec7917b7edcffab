"""Sideways photos on real data: WIDER FACE val photos turned by 90, 180 and 270 degrees (in memory, never
saved) give back their faces with ``rotations: auto``, and ``all`` keeps the upright photos' AP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hailo_scrfd.options import DetectOptions, QualityOptions
from hailo_scrfd.pipeline import FacePipeline
from hailo_scrfd.pipeline.detector import DecodedImage
from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.vision.rotation import box_back, turned

from .wider import wider_subset

pytestmark = pytest.mark.accuracy

wf = pytest.importorskip("hailo_scrfd.evaluation.widerface")
pytest.importorskip("scipy.io")

EVERY = 4  # a spread-out quarter of the 122 photos keeps the test short; bench/rotations.py runs them all
AP_THRESHOLD = 0.02  # as `hailo-scrfd eval`


@pytest.fixture(scope="module")
def wider(shared):
    gt, images = wider_subset(shared, EVERY)
    return {k: decode_image((images / f"{k}.jpg").read_bytes(), max_pixels=100_000_000) for k in gt.keys}, gt


@pytest.fixture(scope="module")
def pipeline(model):
    return FacePipeline.from_config(model, model.config, cache=None)


def predict(pipeline, pixels: np.ndarray, options: DetectOptions, turn: int) -> np.ndarray:
    """(N, 5) xyxy + score of ``pixels`` turned by ``turn``, as boxes of the upright photo (the ground truth's)."""
    faces = pipeline.find(DecodedImage(turned(pixels, turn)), options, QualityOptions()).faces
    boxes = box_back(faces.xyxy, turn, pixels.shape[:2]) if turn and len(faces) else faces.xyxy
    return np.concatenate([boxes, faces.scores[:, None]], axis=1)


@pytest.fixture(scope="module")
def upright(pipeline, wider):
    photos, _ = wider
    options = replace(pipeline.defaults, rotations="none", threshold=AP_THRESHOLD)
    return {k: predict(pipeline, p, options, 0) for k, p in photos.items()}


def found(predictions: dict[str, np.ndarray], threshold: float) -> int:
    return sum(int((p[:, 4] >= threshold).sum()) for p in predictions.values())


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_auto_finds_the_faces_of_turned_photos(pipeline, wider, upright, turn):
    photos, _ = wider
    options = replace(pipeline.defaults, rotations="auto")
    turned_faces = sum(len(predict(pipeline, p, options, turn)) for p in photos.values())
    upright_faces = found(upright, pipeline.defaults.threshold)
    # at least 95 % of the upright photos' faces, and no more than a few extra (measured: 100.6 % on all 122)
    assert 0.95 * upright_faces <= turned_faces <= 1.05 * upright_faces, (turned_faces, upright_faces)


def test_all_on_turned_photos_keeps_the_upright_ap(pipeline, wider, upright):
    photos, gt = wider
    options = replace(pipeline.defaults, rotations="all", threshold=AP_THRESHOLD)
    every = {k: predict(pipeline, p, options, 90) for k, p in photos.items()}
    before, after = wf.evaluate(upright, gt), wf.evaluate(every, gt)
    for setting in ("easy", "medium", "hard"):
        assert after[setting] >= before[setting] - 0.01, (before, after)
    threshold = pipeline.defaults.threshold
    assert found(every, threshold) >= 0.95 * found(upright, threshold)
