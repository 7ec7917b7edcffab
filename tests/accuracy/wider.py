"""WIDER FACE val photos of ../shared/widerface for the accuracy tests: a spread-out subset and its ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest


def wider_subset(shared: Path, every: int):
    """(ground truth of every ``every``-th photo by name, the images dir); skips the test without the data."""
    wf = pytest.importorskip("hailo_scrfd.evaluation.widerface")
    root = shared / "widerface"
    images = root / "WIDER_val" / "images"
    if not (root / "ground_truth").is_dir():
        pytest.skip("../shared/widerface is absent")
    gt = wf.load_ground_truth(root / "ground_truth", images)
    keys = sorted(gt.keys)[::every]
    return wf.GroundTruth({k: gt.boxes[k] for k in keys}, gt.keep), images
