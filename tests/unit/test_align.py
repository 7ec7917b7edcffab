"""Umeyama on synthetic similarity transforms with known answers; template sizes; warp borders."""

import math

import numpy as np
import pytest

from hailo_scrfd.vision.align import ARCFACE_TEMPLATE, encode_crop, estimate_transform, template_for_size, umeyama, warp


def similarity(angle_deg, scale, tx, ty):
    a = math.radians(angle_deg)
    return np.array([[scale * math.cos(a), -scale * math.sin(a), tx], [scale * math.sin(a), scale * math.cos(a), ty]])


def apply(m, pts):
    return pts @ m[:, :2].T + m[:, 2]


@pytest.mark.parametrize("angle,scale,tx,ty", [(0, 1, 0, 0), (30, 0.5, 10, -20), (-170, 3.2, -500, 80),
                                               (90, 0.01, 1, 1)])
def test_recovers_exact_similarity(angle, scale, tx, ty):
    src = np.random.default_rng(1).uniform(0, 500, (5, 2))
    m = similarity(angle, scale, tx, ty)
    np.testing.assert_allclose(umeyama(src, apply(m, src)), m, atol=1e-9)


def test_least_squares_with_noise_beats_perturbed_transforms():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 200, (5, 2))
    dst = apply(similarity(12, 0.7, 5, 9), src) + rng.normal(0, 2, (5, 2))
    best = umeyama(src, dst)
    err = ((apply(best, src) - dst) ** 2).sum()
    for delta in (similarity(0.5, 1, 0, 0), similarity(0, 1.01, 0, 0), similarity(0, 1, 0.3, -0.3)):
        perturbed = np.hstack([delta[:, :2] @ best[:, :2], (delta[:, :2] @ best[:, 2] + delta[:, 2])[:, None]])
        assert ((apply(perturbed, src) - dst) ** 2).sum() > err


def test_never_reflects():
    src = ARCFACE_TEMPLATE.copy()
    mirrored = src * np.array([-1, 1])
    m = umeyama(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_degenerate_landmarks_do_not_crash():
    m = umeyama(np.ones((5, 2)), ARCFACE_TEMPLATE)
    assert np.isfinite(m).all()


@pytest.mark.parametrize("size,scale,shift", [(112, 1, 0), (224, 2, 0), (128, 1, 8), (256, 2, 16), (896, 8, 0)])
def test_template_sizes(size, scale, shift):
    np.testing.assert_allclose(template_for_size(size), ARCFACE_TEMPLATE * scale + [shift, 0])


@pytest.mark.parametrize("size", [0, 96, 113, 200, 1120, -112, 112.0, True])
def test_invalid_sizes(size):
    with pytest.raises(ValueError):
        template_for_size(size)


def test_template_landmarks_align_to_identity_and_warp_has_black_border():
    m = estimate_transform(ARCFACE_TEMPLATE, 112)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    img = np.full((50, 50, 3), 200, np.uint8)
    crop = warp(img, m, 112)
    assert crop.shape == (112, 112, 3) and crop[10, 10].tolist() == [200] * 3 and crop[100, 100].tolist() == [0] * 3


def test_encode_crop_round_trips_rgb():
    import cv2

    crop = np.zeros((112, 112, 3), np.uint8)
    crop[..., 0] = 255  # pure red in RGB
    decoded = cv2.imdecode(np.frombuffer(encode_crop(crop, "png"), np.uint8), cv2.IMREAD_COLOR)
    assert decoded[0, 0].tolist() == [0, 0, 255]  # BGR on disk means a true red picture
    assert encode_crop(crop, "jpeg")[:2] == b"\xff\xd8"
    with pytest.raises(ValueError):
        encode_crop(crop, "gif")
