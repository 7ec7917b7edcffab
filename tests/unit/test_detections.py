"""`Detections` and the vectorised box utilities."""

import numpy as np
import pytest

from hailo_scrfd.vision.detections import Detections, box_iou, clip_boxes, nms


def faces(boxes, scores):
    boxes = np.asarray(boxes, np.float32)
    landmarks = np.repeat(boxes[:, None, :2], 5, axis=1)  # every landmark at the box's corner: easy to follow
    return Detections(boxes, np.asarray(scores, np.float32), landmarks)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="xyxy"):
        Detections(np.zeros((2, 4)), np.zeros(3), np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="landmarks"):
        Detections(np.zeros((2, 4)), np.zeros(2), np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="scores"):
        Detections(np.zeros((1, 4)), np.zeros((1, 1)), np.zeros((1, 5, 2)))
    assert len(Detections.empty()) == 0


def test_mask_and_index_selection_keep_arrays_parallel():
    d = faces([[0, 0, 10, 10], [20, 20, 40, 40], [5, 5, 6, 6]], [0.9, 0.8, 0.7])
    big = d[d.areas > 50]
    assert big.scores.tolist() == pytest.approx([0.9, 0.8]) and big.landmarks[1, 0].tolist() == [20, 20]
    assert d[2].xyxy.tolist() == [[5, 5, 6, 6]] and d[np.array([2, 0])].scores.tolist() == pytest.approx([0.7, 0.9])
    np.testing.assert_allclose(d.xywh[1], [20, 20, 20, 20])


def test_with_nms_keeps_the_best_of_each_overlapping_group():
    d = faces([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], [0.6, 0.9, 0.5, 0.95])
    kept = d.with_nms(0.4)
    assert kept.scores.tolist() == pytest.approx([0.95, 0.5])
    assert nms(d.xyxy, d.scores, 0.99).tolist() == [3, 1, 0, 2]  # nothing that similar: all kept, by score


def test_merge_and_scaled():
    a, b = faces([[0, 0, 10, 10]], [0.9]), faces([[5, 5, 15, 15]], [0.8])
    merged = Detections.merge([a, Detections.empty(), b])
    assert len(merged) == 2 and merged.scores.tolist() == pytest.approx([0.9, 0.8])
    assert len(Detections.merge([])) == 0
    moved = merged.scaled(2.0, 0.5, dx=100, dy=10)
    np.testing.assert_allclose(moved.xyxy[1], [110, 12.5, 130, 17.5])
    np.testing.assert_allclose(moved.landmarks[1, 0], [110, 12.5])


def test_box_iou_and_clip():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[5, 0, 15, 10], [0, 0, 10, 10]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(clip_boxes(np.array([[-5, -1, 120, 50]], np.float32), 100, 40), [[0, 0, 100, 40]])


def test_nms_matrix_and_row_paths_keep_the_same_boxes(monkeypatch):
    """A crowd's candidates go through one IoU matrix; past NMS_MATRIX_MAX, one row per kept box. Same answer."""
    from hailo_scrfd.vision import detections

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 300, (600, 2))
    xyxy = np.concatenate([xy, xy + rng.uniform(8, 60, (600, 2))], axis=1).astype(np.float32)
    scores = rng.uniform(0.02, 1.0, 600).astype(np.float32)
    monkeypatch.setattr(detections, "NMS_MATRIX_MAX", 1000)
    by_matrix = nms(xyxy, scores, 0.4)
    monkeypatch.setattr(detections, "NMS_MATRIX_MAX", 10)
    by_rows = nms(xyxy, scores, 0.4)
    assert 50 < len(by_matrix) < 600 and by_matrix.tolist() == by_rows.tolist()
