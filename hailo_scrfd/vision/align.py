"""ArcFace alignment: a least-squares similarity transform (Umeyama) to the 5-point template, then a warp."""

from __future__ import annotations

import cv2
import numpy as np

# The standard ArcFace 112x112 landmark template: left eye, right eye, nose, mouth left, mouth right.
ARCFACE_TEMPLATE = np.array([
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
], dtype=np.float64)

MAX_ALIGN_SIZE = 1024
CROP_FORMATS = ("png", "jpeg")


def template_for_size(size: int) -> np.ndarray:
    """The template for a ``size`` x ``size`` crop.

    Multiples of 112 scale the template by size/112; multiples of 128 scale by
    size/128 and shift x by 8*size/128 (InsightFace's convention). Anything else is a
    ValueError.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 0 < size <= MAX_ALIGN_SIZE:
        raise ValueError(f"size must be an integer between 112 and {MAX_ALIGN_SIZE}")
    if size % 112 == 0:
        return ARCFACE_TEMPLATE * (size / 112.0)
    if size % 128 == 0:
        ratio = size / 128.0
        return ARCFACE_TEMPLATE * ratio + np.array([8.0 * ratio, 0.0])
    raise ValueError(f"size {size} is neither a multiple of 112 nor of 128")


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The similarity transform (rotation, uniform scale, translation) that best maps ``src`` to ``dst``.

    Least squares over 2-D point pairs (Umeyama, 1991). Returns the 2x3 affine matrix.
    Reflections are excluded.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    src_var = src_c.var(axis=0).sum()
    scale = (s @ d) / src_var if src_var > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def estimate_transform(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The 2x3 matrix mapping image pixels to the aligned ``size`` crop, from 5 landmarks."""
    return umeyama(np.asarray(landmarks).reshape(5, 2), template_for_size(size))


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` crop: bilinear interpolation, black outside the image."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def encode_crop(rgb: np.ndarray, fmt: str = "png", jpeg_quality: int = 95) -> bytes:
    """PNG or JPEG bytes of an RGB crop."""
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr)
    elif fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        raise ValueError(f"unsupported crop format {fmt!r}: choose png or jpeg")
    if not ok:
        raise RuntimeError(f"could not encode the crop as {fmt}")
    return buf.tobytes()
