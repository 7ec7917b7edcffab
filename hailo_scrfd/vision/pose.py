"""Head pose (yaw, pitch, roll in degrees) from the 5 SCRFD landmarks, vectorised over faces.

Convention (the AFLW2000-3D signs): yaw > 0 when the face turns toward the image's left (the subject's
right), pitch > 0 when the subject looks up, roll > 0 when the head tilts clockwise on screen (the eye on
the image's right is lower). The rotation is composed camera-side, roll last:
``R = Rz(roll) @ Ry(yaw) @ Rx(-pitch)`` in camera axes (x right, y down, z into the scene), so roll is
exactly the angle of the eye line and yaw and pitch do not change when the image is rotated in-plane.
AFLW2000 publishes its angles in the other order, ``Rx(-pitch) @ Ry(yaw) @ Rz(roll)``; the two agree
within a degree for small angles and :func:`to_aflw` converts exactly.

Method: roll from the eye line; the landmarks are then de-rotated and a 3-D mean face of the 5 points
(:data:`FACE_MODEL_3D`) is fitted under scaled orthographic projection (weak perspective: no focal
length, so no camera assumption and no dependence on the face's position in the photo). Under
``Ry(yaw) @ Rx(-pitch)`` the vertical image coordinates depend on pitch only, so pitch is a linear least
squares solve on the vertical coordinates and yaw then a linear solve on the horizontal ones: closed
form, no iterations. The model's shape was fitted to minimise the yaw and pitch error on 184
AFLW2000-3D photos (scripts/fit_pose_model.py), on landmarks refined as the quality path refines them
(:mod:`hailo_scrfd.pipeline.landmarks`); 5-fold cross-validation gives the same error as the in-sample fit
(see notes/quality-report.md).
"""

from __future__ import annotations

import numpy as np

# The 5 points in face axes (x to the image's right, y down, z away from the camera; units: half the
# distance between the eye centres): eyes, nose tip, mouth corners. Symmetric by construction, so a
# mirrored face gets exactly the opposite yaw and roll. Fitted on ../shared/pose (AFLW2000-3D), refined
# landmarks.
MODEL_EYE_Y = -0.8283
MODEL_NOSE_Z = -1.1280
MODEL_MOUTH_X = 0.8275
MODEL_MOUTH_Y = 0.9515
MODEL_MOUTH_Z = -0.0415
FACE_MODEL_3D = np.array([
    [-1.0, MODEL_EYE_Y, 0.0],
    [1.0, MODEL_EYE_Y, 0.0],
    [0.0, 0.0, MODEL_NOSE_Z],
    [-MODEL_MOUTH_X, MODEL_MOUTH_Y, MODEL_MOUTH_Z],
    [MODEL_MOUTH_X, MODEL_MOUTH_Y, MODEL_MOUTH_Z],
])


def _vertical_solver(model: np.ndarray) -> np.ndarray:
    """(3, 5) pseudo-inverse giving ``(s cos a, s sin a, ty)`` from the 5 vertical coordinates."""
    design = np.c_[model[:, 1], -model[:, 2], np.ones(len(model))]
    return np.linalg.pinv(design)


_VERTICAL = _vertical_solver(FACE_MODEL_3D)


def _as_landmarks(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1:] != (5, 2):
        raise ValueError(f"landmarks must have shape (N, 5, 2) or (5, 2), not {np.shape(landmarks)}")
    return lm


def eye_roll(landmarks: np.ndarray) -> np.ndarray:
    """Roll in degrees (N,): the angle of the line from the image-left eye to the image-right eye."""
    lm = _as_landmarks(landmarks)
    d = lm[:, 1] - lm[:, 0]
    return np.degrees(np.arctan2(d[:, 1], d[:, 0]))


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """``(N, 3)`` yaw, pitch, roll in degrees from ``(N, 5, 2)`` landmarks in image pixels.

    Landmark order: image-left eye, image-right eye, nose, image-left and image-right mouth corners.
    Degenerate landmarks (all on one point) give NaN.
    """
    lm = _as_landmarks(landmarks)
    model = FACE_MODEL_3D
    roll = np.radians(eye_roll(lm))
    cos_r, sin_r = np.cos(roll)[:, None], np.sin(roll)[:, None]
    centred = lm - lm.mean(axis=1, keepdims=True)
    u = cos_r * centred[..., 0] + sin_r * centred[..., 1]       # de-rotated: eye line horizontal
    v = -sin_r * centred[..., 0] + cos_r * centred[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        # v = s * (Y cos a - Z sin a) + ty, with a = -pitch
        p, q, _ = _VERTICAL @ v.T
        a = np.arctan2(q, p)
        # u = s * (X cos b + (Y sin a + Z cos a) sin b) + tx, with b = yaw: linear in (s cos b, s sin b)
        xs = model[:, 0] - model[:, 0].mean()
        ws = np.sin(a)[:, None] * model[:, 1] + np.cos(a)[:, None] * model[:, 2]
        ws = ws - ws.mean(axis=1, keepdims=True)
        sxx, sww, sxw = xs @ xs, (ws * ws).sum(1), ws @ xs
        bx, bw = u @ xs, (u * ws).sum(1)
        det = sxx * sww - sxw ** 2
        yaw = np.arctan2((sxx * bw - sxw * bx) / det, (sww * bx - sxw * bw) / det)
    degenerate = ~np.isfinite(det) | (np.abs(det) < 1e-12) | ~(np.abs(centred).sum(axis=(1, 2)) > 0)
    out = np.degrees(np.stack([yaw, -a, roll], axis=1))
    out[degenerate] = np.nan
    return out


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations by ``angle`` (radians) about camera axis 0 (x), 1 (y) or 2 (z)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


def rotation_matrix(pose: np.ndarray) -> np.ndarray:
    """(N, 3, 3) camera-axes rotations of ``(N, 3)`` yaw, pitch, roll in degrees (this module's order)."""
    yaw, pitch, roll = np.radians(np.atleast_2d(pose)).T
    return _rot(2, roll) @ _rot(1, yaw) @ _rot(0, -pitch)


def to_aflw(pose: np.ndarray) -> np.ndarray:
    """Convert ``(N, 3)`` yaw, pitch, roll to AFLW2000-3D's Euler order ``Rx(-pitch) Ry(yaw) Rz(roll)``."""
    r = rotation_matrix(pose)
    yaw = np.arcsin(np.clip(r[:, 0, 2], -1.0, 1.0))
    pitch = np.arctan2(r[:, 1, 2], r[:, 2, 2])
    roll = np.arctan2(-r[:, 0, 1], r[:, 0, 0])
    return np.degrees(np.stack([yaw, pitch, roll], axis=1))
