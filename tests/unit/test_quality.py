"""Quality core on synthetic inputs: exact size and cut_off, settings validation, JSON block, pose symmetry, order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hailo_scrfd.vision.align import ARCFACE_TEMPLATE
from hailo_scrfd.vision.order import best_face, face_order
from hailo_scrfd.vision.pose import eye_roll, head_pose, rotation_matrix, to_aflw
from hailo_scrfd.vision.quality import (ISSUES, QualitySettings, assess, assess_faces, crop_stats,
                                        is_cut_off, sharpness_norm)


def _face(scale: float, offset: tuple[float, float]) -> np.ndarray:
    return ARCFACE_TEMPLATE * scale + np.asarray(offset)


def _textured_crop(seed: int = 0, level: int = 128, amplitude: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-amplitude, amplitude + 1, size=(112, 112, 1))
    return np.clip(level + noise, 0, 255).astype(np.uint8).repeat(3, axis=2)


def test_size_is_exact_in_original_pixels():
    lm = _face(2.0, (300, 200))
    box = np.array([[290.0, 180.0, 530.0, 420.0]])
    q = assess_faces((1000, 800), box, [0.9], lm[None], [_textured_crop()])[0]
    assert q.eye_distance == pytest.approx(np.hypot(*(lm[1] - lm[0])), abs=1e-9)
    assert q.short_side == pytest.approx(240.0)
    assert "small" not in q.issues
    small = assess_faces((1000, 800), np.array([[10.0, 10.0, 49.9, 80.0]]), [0.9], _face(0.3, (10, 10))[None],
                         [_textured_crop()])[0]
    assert small.short_side == pytest.approx(39.9) and "small" in small.issues


@pytest.mark.parametrize("box,expected", [
    ([100, 100, 200, 200], False),
    ([0, 100, 100, 200], True),          # clipped at the left edge
    ([100, 0, 200, 100], True),          # top
    ([540, 100, 640, 200], True),        # right: width 640
    ([100, 380, 200, 480], True),        # bottom: height 480
    ([1.5, 1.5, 638.5, 478.5], False),   # just inside the 1 px margin
])
def test_cut_off_from_the_clipped_box(box, expected):
    lm = _face(0.5, (box[0] + 20, box[1] + 20))
    assert is_cut_off(np.array(box, float), lm, (640, 480), margin=1.0) is expected


def test_cut_off_from_landmarks_outside_the_image():
    lm = _face(1.0, (-50, 100))   # left eye off the image although the box says otherwise
    assert is_cut_off(np.array([5.0, 100, 120, 220]), lm, (640, 480), 1.0)
    q = assess_faces((640, 480), np.array([[5.0, 100, 120, 220]]), [0.9], lm[None], [_textured_crop()])[0]
    assert "cut_off" in q.issues


def test_exposure_codes_and_crop_stats():
    flat = np.full((112, 112, 3), 30, np.uint8)
    sharp, bright, contrast = crop_stats(flat)
    assert (sharp, bright, contrast) == (0.0, 30.0, 0.0)
    lm, box = _face(1.0, (100, 100)), np.array([[80.0, 80, 220, 220]])
    dark = assess_faces((640, 480), box, [0.9], lm[None], [flat])[0]
    assert {"dark", "blurry"} <= set(dark.issues) and "overexposed" not in dark.issues
    bright_q = assess_faces((640, 480), box, [0.9], lm[None], [np.full((112, 112, 3), 240, np.uint8)])[0]
    assert "overexposed" in bright_q.issues
    good = assess_faces((640, 480), box, [0.9], lm[None], [_textured_crop()])[0]
    assert good.issues == () and good.score > 0.9
    low = assess_faces((640, 480), box, [0.55], lm[None], [_textured_crop()])[0]
    assert low.issues == ("low_confidence",) and low.score < good.score


def test_crop_must_be_112():
    with pytest.raises(ValueError, match="112x112"):
        crop_stats(np.zeros((224, 224, 3), np.uint8))


@pytest.mark.parametrize("field,value", [("min_sharpness", -1), ("max_yaw", 120), ("min_brightness", 250),
                                         ("min_confidence", 2), ("edge_margin", float("nan")),
                                         ("min_face_size", "40")])
def test_settings_are_validated(field, value):
    with pytest.raises(ValueError, match="quality"):
        QualitySettings(**{field: value})


def test_to_json_block_and_degenerate_landmarks():
    lm = np.full((1, 5, 2), 50.0)
    q = assess_faces((640, 480), np.array([[40.0, 40, 60, 60]]), [0.9], lm, [_textured_crop()])[0]
    block = json.loads(json.dumps(q.to_json()))
    assert set(block) == {"pose", "sharpness", "sharpness_norm", "size", "brightness", "contrast", "score", "issues"}
    assert block["pose"] == {"yaw": None, "pitch": None, "roll": None}
    assert "turned" in block["issues"] and block["score"] == 0.0
    assert set(block["issues"]) <= set(ISSUES)


def test_sharpness_norm_mapping():
    assert sharpness_norm(0) == 0.0
    assert sharpness_norm(100) == pytest.approx(1 - np.exp(-1))
    assert 0.38 < sharpness_norm(50) < 0.40


def test_pose_of_the_template_is_near_frontal_and_mirror_exact():
    lm = _face(3.0, (200, 100))[None]
    yaw, pitch, roll = head_pose(lm)[0]
    assert abs(yaw) < 2 and abs(roll) < 0.5 and abs(pitch) < 15
    rng = np.random.default_rng(1)
    faces = _face(2.0, (100, 100))[None] + rng.normal(0, 4, (50, 5, 2))
    mirrored = faces.copy()
    mirrored[..., 0] = 640 - mirrored[..., 0]
    mirrored = mirrored[:, [1, 0, 2, 4, 3]]
    np.testing.assert_allclose(head_pose(mirrored), head_pose(faces) * [-1, 1, -1], atol=1e-9)


def test_pose_roll_follows_in_plane_rotation_exactly():
    lm = _face(2.0, (100, 100)) + np.random.default_rng(2).normal(0, 3, (5, 2))
    base = head_pose(lm)[0]
    for angle in (-40, -15, 10, 40):
        t = np.radians(angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        turned = head_pose(lm @ rot.T)[0]
        assert turned[2] == pytest.approx(base[2] + angle, abs=1e-9)
        np.testing.assert_allclose(turned[:2], base[:2], atol=1e-9)   # yaw and pitch do not move


def test_to_aflw_round_trip_and_agreement_at_small_angles():
    pose = np.array([[20.0, 0.0, 0.0], [0.0, -15.0, 0.0], [0.0, 0.0, 25.0], [10.0, 5.0, 3.0]])
    np.testing.assert_allclose(to_aflw(pose)[:3], pose[:3], atol=1e-9)
    assert np.abs(to_aflw(pose)[3] - pose[3]).max() < 1.0
    r = rotation_matrix(pose)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)


def test_eye_roll_sign():
    lm = _face(1.0, (0, 0))
    lm[1, 1] += 10  # image-right eye lower: clockwise tilt on screen, positive roll
    assert eye_roll(lm)[0] > 0


def test_pose_rejects_bad_shapes():
    with pytest.raises(ValueError, match="shape"):
        head_pose(np.zeros((3, 4, 2)))


def test_face_order_keys():
    boxes = np.array([[0, 0, 10, 10], [300, 200, 340, 240], [500, 0, 600, 100]], float)
    scores = np.array([0.9, 0.8, 0.7])
    assert face_order(boxes, scores, "score").tolist() == [0, 1, 2]
    assert face_order(boxes, scores, "area").tolist() == [2, 1, 0]
    assert face_order(boxes, scores, "center", image_size=(640, 480)).tolist()[0] == 1
    assert face_order(boxes, scores, "quality", quality_scores=[0.1, 0.9, float("nan")]).tolist() == [1, 0, 2]
    tie = face_order(np.zeros((3, 4)), np.array([0.5, 0.9, 0.5]), "area").tolist()
    assert tie == [1, 0, 2]
    assert face_order(np.zeros((0, 4)), np.zeros(0), "center", image_size=(1, 1)).tolist() == []
    with pytest.raises(ValueError, match="order must be"):
        face_order(boxes, scores, "size")
    with pytest.raises(ValueError, match="quality scores"):
        face_order(boxes, scores, "quality")


def test_best_face_skips_faces_with_issues():
    assert best_face([0.9, 0.5, 0.7], [("turned",), (), ()]) == 2
    assert best_face([0.9], [("blurry",)]) is None


def test_assess_makes_crops_from_the_image():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    lm = _face(1.5, (120, 60))[None]
    q = assess(image, np.array([[100.0, 40, 260, 230]]), [0.9], lm)[0]
    assert q.sharpness > 1000 and q.issues == ()
