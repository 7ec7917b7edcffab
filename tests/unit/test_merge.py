"""Scale-aware merging of per-pass faces: pure numpy."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_scrfd.vision.detections import Detections
from hailo_scrfd.vision.merge import merge_passes, trusted
from hailo_scrfd.vision.scales import Pass


def faces(*rows) -> Detections:
    """Faces from (x1, y1, x2, y2, score) rows; landmarks at the box centre."""
    a = np.array(rows, dtype=np.float32).reshape(-1, 5)
    centre = (a[:, :2] + a[:, 2:4]) / 2
    return Detections(a[:, :4], a[:, 4], np.repeat(centre[:, None, :], 5, axis=1))


def whole(name, face_range, scale=1.0, hw=(1000, 1000)):
    h, w = hw
    return Pass(name, (0, 0, w, h), (round(h * scale), round(w * scale)), (640, 640), face_range)


def test_each_pass_keeps_only_its_face_sizes():
    hires, base = whole("hires", (0, 60), 2.0), whole("base", (40, 800), 0.64)
    small, mid = (100, 100, 120, 120), (300, 300, 400, 400)
    merged = merge_passes([(hires, faces((*small, 0.8), (*mid, 0.3))),   # hires is poor on the mid face
                           (base, faces((*small, 0.4), (*mid, 0.9)))], nms_threshold=0.4)
    # the small face comes from hires (0.8), the mid face from base (0.9): nothing else
    assert sorted(merged.scores.tolist()) == pytest.approx([0.8, 0.9])


def test_a_face_found_only_by_the_pass_that_should_not_keep_it_is_dropped():
    hires, base = whole("hires", (0, 60), 2.0), whole("base", (40, 800), 0.64)
    merged = merge_passes([(hires, faces((0, 0, 200, 200, 0.9))), (base, Detections.empty())], 0.4)
    assert len(merged) == 0


def test_overlapping_ranges_resolve_to_one_face_by_nms():
    hires, base = whole("hires", (0, 60), 2.0), whole("base", (40, 800), 0.64)
    merged = merge_passes([(hires, faces((100, 100, 150, 150, 0.7))), (base, faces((101, 99, 151, 151, 0.8)))], 0.4)
    assert len(merged) == 1 and merged.scores[0] == pytest.approx(0.8)


def test_a_face_cut_by_a_tile_edge_comes_only_from_the_tile_that_holds_it_whole():
    # two tiles side by side, overlapping on x 400..600; a face at x 560..620 crosses the left tile's right edge
    left = Pass("tile", (0, 0, 600, 600), (640, 640), (640, 640), (0, 100), (False, False, True, False))
    right = Pass("tile", (400, 0, 1000, 600), (640, 640), (640, 640), (0, 100), (True, False, False, False))
    half = faces((560, 100, 600, 160, 0.9))       # the left tile's half-face, clipped at its edge
    whole_face = faces((560, 100, 620, 160, 0.8))  # the right tile sees it whole
    assert not trusted(half, left)[0] and trusted(whole_face, right)[0]
    merged = merge_passes([(left, half), (right, whole_face)], 0.4)
    assert len(merged) == 1
    np.testing.assert_allclose(merged.xyxy[0], [560, 100, 620, 160])
    # a face well inside the left tile, and on the image border, is kept
    inside = faces((10, 10, 50, 50, 0.9))
    assert trusted(inside, left)[0]


def test_merge_keeps_separate_faces_and_takes_no_pass():
    p = whole("base", (0, 1e9))
    d = faces((0, 0, 10, 10, 0.9), (50, 50, 60, 60, 0.8))
    np.testing.assert_allclose(merge_passes([(p, d)], 0.4).xyxy, d.xyxy)
    assert len(merge_passes([], 0.4)) == 0
