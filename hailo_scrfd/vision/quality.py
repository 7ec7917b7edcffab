"""Face quality from the aligned 112x112 crop and the landmarks: pose, sharpness, size, exposure, score, issues.

Everything is measured where it does not depend on the face's size in the photo: sharpness, brightness and
contrast on the ArcFace-aligned 112x112 crop (the crop the embedding model sees), inside :data:`FACE_REGION`,
the part of the crop between the brows and the chin, so background and the black fill of a crop that
leaves the image weigh little. Size is reported in original-image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..declared import check_fields, setting
from .align import estimate_transform, warp
from .pose import head_pose

CROP_SIZE = 112
FACE_REGION = (slice(28, 100), slice(24, 88))  # rows, columns of the 112 crop: brows to chin, cheek to cheek
SHARPNESS_SCALE = 100.0   # sharpness_norm = 1 - exp(-sharpness / SHARPNESS_SCALE)
FULL_EYE_DISTANCE = 35.2  # the template's eye distance: from here on the crop is not upsampled
EXPOSURE_SPAN = 64.0      # grey levels from black or white over which the exposure factor rises to 1
ISSUES = ("small", "blurry", "turned", "dark", "overexposed", "low_confidence", "cut_off")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds for the issue codes (config keys ``quality.*``)."""

    min_face_size: float = setting(40.0, "A face whose box's short side (original pixels) is below this is "
                                   "\"small\".", min=0, max=100000)
    min_sharpness: float = setting(50.0, "Laplacian variance of the grey aligned crop below which a face is "
                                   "\"blurry\".", min=0, max=100000)
    max_yaw: float = setting(35.0, "|yaw| above this (degrees) makes a face \"turned\".", min=0, max=90)
    max_pitch: float = setting(25.0, "|pitch| above this (degrees) makes a face \"turned\".", min=0, max=90)
    min_brightness: float = setting(50.0, "Mean grey level (0-255) of the face below which it is \"dark\".",
                                    min=0, max=255)
    max_brightness: float = setting(200.0, "Mean grey level above which a face is \"overexposed\"; must be above "
                                    "min_brightness.", min=0, max=255)
    min_confidence: float = setting(0.6, "Detection score below which a face is \"low_confidence\".",
                                    min=0, max=1)
    edge_margin: float = setting(1.0, "A face box within this many pixels of an image edge is \"cut_off\".",
                                 min=0, max=1000)

    def __post_init__(self) -> None:
        check_fields(self, "quality.")
        if self.min_brightness >= self.max_brightness:
            raise ValueError("quality.min_brightness must be below quality.max_brightness")


@dataclass(frozen=True)
class FaceQuality:
    """The quality of one face; :meth:`to_json` gives the response block."""

    yaw: float
    pitch: float
    roll: float
    sharpness: float
    sharpness_norm: float
    eye_distance: float
    short_side: float
    brightness: float
    contrast: float
    score: float
    issues: tuple[str, ...]

    def to_json(self) -> dict:
        return {
            "pose": {"yaw": _round(self.yaw, 1), "pitch": _round(self.pitch, 1), "roll": _round(self.roll, 1)},
            "sharpness": _round(self.sharpness, 1),
            "sharpness_norm": _round(self.sharpness_norm, 3),
            "size": {"eye_distance": _round(self.eye_distance, 1), "short_side": _round(self.short_side, 1)},
            "brightness": _round(self.brightness, 1),
            "contrast": _round(self.contrast, 1),
            "score": _round(self.score, 3),
            "issues": list(self.issues),
        }


def _round(value: float, digits: int) -> float | None:
    """Rounded for JSON; None where it could not be measured (degenerate landmarks)."""
    return round(float(value), digits) if math.isfinite(value) else None


def face_crops(image: np.ndarray, landmarks: np.ndarray) -> list[np.ndarray]:
    """The ArcFace-aligned 112x112 crops of ``(N, 5, 2)`` landmarks (the ones ``/v1/align`` returns at 112)."""
    return [warp(image, estimate_transform(lm, CROP_SIZE), CROP_SIZE) for lm in np.asarray(landmarks)]


def crop_stats(crop: np.ndarray) -> tuple[float, float, float]:
    """``(sharpness, brightness, contrast)`` of one aligned 112x112 crop (RGB or grey, uint8 or float 0-255).

    sharpness: variance of the 3x3 Laplacian of the grey crop; brightness: mean grey level; contrast:
    standard deviation of the grey levels (RMS contrast). All inside :data:`FACE_REGION`.
    """
    crop = np.asarray(crop)
    if crop.shape[:2] != (CROP_SIZE, CROP_SIZE) or crop.ndim not in (2, 3) \
            or (crop.ndim == 3 and crop.shape[2] not in (1, 3)):
        raise ValueError(f"a quality crop is {CROP_SIZE}x{CROP_SIZE} RGB or grey, not {crop.shape}")
    if crop.dtype != np.uint8:
        crop = crop.astype(np.float32)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 and crop.shape[2] == 3 else crop.reshape(
        CROP_SIZE, CROP_SIZE)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[FACE_REGION]
    mean, std = cv2.meanStdDev(grey[FACE_REGION])
    _, lap_std = cv2.meanStdDev(lap)
    return float(lap_std[0, 0]) ** 2, float(mean[0, 0]), float(std[0, 0])


def sharpness_norm(sharpness: float) -> float:
    """0-1 form of the Laplacian variance: ``1 - exp(-sharpness / 100)`` (50 -> 0.39, 100 -> 0.63, 300 -> 0.95)."""
    return 1.0 - math.exp(-max(sharpness, 0.0) / SHARPNESS_SCALE)


def is_cut_off(box: np.ndarray, landmarks: np.ndarray, image_size: tuple[int, int], margin: float) -> bool:
    """The face crosses the image edge: its (clipped) box reaches an edge, or a landmark lies outside."""
    width, height = image_size
    x1, y1, x2, y2 = (float(v) for v in box)
    lm = np.asarray(landmarks, dtype=np.float64)
    return bool(x1 <= margin or y1 <= margin or x2 >= width - margin or y2 >= height - margin
                or (lm[:, 0] < 0).any() or (lm[:, 1] < 0).any()
                or (lm[:, 0] > width).any() or (lm[:, 1] > height).any())


def quality_score(*, sharpness: float, eye_distance: float, yaw: float, pitch: float, brightness: float,
                  confidence: float, cut_off: bool) -> float:
    """Overall 0-1 quality: the product of per-aspect factors, each 1 when that aspect is good.

    sharpness_norm; size min(1, eye_distance / 35.2) (35.2 px: the crop's own eye distance); pose
    max(0, cos yaw * cos pitch); exposure min(1, min(brightness, 255 - brightness) / 64); confidence
    min(1, score / 0.8); and 0.5 when the face is cut off by the image edge.
    """
    if not all(math.isfinite(v) for v in (yaw, pitch)):
        return 0.0
    factors = (
        sharpness_norm(sharpness),
        min(1.0, eye_distance / FULL_EYE_DISTANCE),
        max(0.0, math.cos(math.radians(yaw)) * math.cos(math.radians(pitch))),
        min(1.0, max(0.0, min(brightness, 255.0 - brightness)) / EXPOSURE_SPAN),
        min(1.0, max(0.0, confidence) / 0.8),
        0.5 if cut_off else 1.0,
    )
    return float(np.prod(factors))


def assess_faces(image_size: tuple[int, int], boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray,
                 crops: Sequence[np.ndarray], settings: QualitySettings = QualitySettings(),
                 poses: np.ndarray | None = None) -> list[FaceQuality]:
    """The quality of N faces: xyxy ``boxes (N, 4)``, detection ``scores (N,)``, ``landmarks (N, 5, 2)`` in
    original-image pixels of an image of ``image_size`` (width, height), and their 112x112 aligned crops.
    ``poses (N, 3)``: yaw, pitch, roll already estimated (from refined landmarks); else from ``landmarks``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    if not len(boxes) == len(scores) == len(landmarks) == len(crops):
        raise ValueError("boxes, scores, landmarks and crops must describe the same faces")
    if not len(boxes):
        return []
    poses = head_pose(landmarks) if poses is None else np.asarray(poses, np.float64).reshape(-1, 3)
    eye_distance = np.linalg.norm(landmarks[:, 1] - landmarks[:, 0], axis=1)
    short_side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    out = []
    for i, crop in enumerate(crops):
        sharp, bright, contrast = crop_stats(crop)
        yaw, pitch, roll = (float(v) for v in poses[i])
        cut = is_cut_off(boxes[i], landmarks[i], image_size, settings.edge_margin)
        issues = _issues(settings, short_side[i], sharp, yaw, pitch, bright, float(scores[i]), cut)
        score = quality_score(sharpness=sharp, eye_distance=float(eye_distance[i]), yaw=yaw, pitch=pitch,
                              brightness=bright, confidence=float(scores[i]), cut_off=cut)
        out.append(FaceQuality(yaw, pitch, roll, sharp, sharpness_norm(sharp), float(eye_distance[i]),
                               float(short_side[i]), bright, contrast, score, issues))
    return out


def _issues(s: QualitySettings, short_side: float, sharp: float, yaw: float, pitch: float, bright: float,
            confidence: float, cut: bool) -> tuple[str, ...]:
    flags = {
        "small": short_side < s.min_face_size,
        "blurry": sharp < s.min_sharpness,
        # NaN pose (degenerate landmarks) counts as turned: nothing usable can be said about it
        "turned": not (abs(yaw) <= s.max_yaw and abs(pitch) <= s.max_pitch),
        "dark": bright < s.min_brightness,
        "overexposed": bright > s.max_brightness,
        "low_confidence": confidence < s.min_confidence,
        "cut_off": cut,
    }
    return tuple(code for code in ISSUES if flags[code])


def assess(image: np.ndarray, boxes: np.ndarray, scores: np.ndarray, landmarks: np.ndarray,
           settings: QualitySettings = QualitySettings(),
           crops: Sequence[np.ndarray] | None = None) -> list[FaceQuality]:
    """:func:`assess_faces` on an RGB image, making the 112 crops unless given (pass them when already made)."""
    height, width = image.shape[:2]
    if crops is None:
        crops = face_crops(image, landmarks)
    return assess_faces((width, height), boxes, scores, landmarks, crops, settings)
