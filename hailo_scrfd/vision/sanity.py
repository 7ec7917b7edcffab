"""Is a network's raw output believable? Checks for the deep health probe, and its synthetic image.

A device can answer every job and still return garbage: per-channel quantization read as a
zero scale turns every score into 0, a stale DMA buffer repeats one value, a broken
output gives NaN or noise. None of that raises; it only shows in the numbers. The
checks below hold for any real SCRFD output on any image (measured on the 2.5g and 500m
models on a blank canvas, a group photo and a 151-face crowd) and fail on those faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .scrfd import StrideOutput, dequantize

# Scores are sigmoids; quantized ones may land a step outside [0, 1].
SCORE_RANGE = (-0.01, 1.01)
# A box edge or landmark further than this many input sides from its anchor is no real output.
MAX_REACH_SIDES = 2.0
# At most this share of anchors may score 0.5 or more: a 151-face crowd reaches 2 %, uniform noise 50 %.
MAX_CONFIDENT_SHARE = 0.25


@dataclass(frozen=True)
class OutputSanity:
    """The verdict on one set of raw outputs: ``problems`` is empty when they are sane."""

    problems: tuple[str, ...]
    max_score: float | None  # None when the scores are not finite

    @property
    def sane(self) -> bool:
        return not self.problems

    def summary(self, shown: int = 2) -> str:
        """The first problems, and how many more there are: one line for a log or a health reason."""
        more = len(self.problems) - shown
        return "; ".join(self.problems[:shown]) + (f" (and {more} more)" if more > 0 else "")


def check_outputs(outputs: Sequence[StrideOutput], input_hw: tuple[int, int]) -> OutputSanity:
    """Check every stride's scores, boxes and landmarks: finite, in range, not constant, not saturated."""
    problems: list[str] = []
    reach = MAX_REACH_SIDES * max(input_hw)
    all_scores = []
    for out in outputs:
        q_scores, q_boxes, q_landmarks = out.quant or (None, None, None)
        kinds = {"scores": dequantize(out.scores, q_scores), "boxes": dequantize(out.boxes, q_boxes),
                 "landmarks": dequantize(out.landmarks, q_landmarks)}  # boxes and landmarks in stride units
        all_scores.append(kinds["scores"].reshape(-1))
        for kind, values in kinds.items():
            problem = _problem(kind, values, reach / out.stride)
            if problem:
                problems.append(f"stride {out.stride} {problem}")
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32)
    finite = bool(np.isfinite(scores).all()) and scores.size > 0
    if finite:
        confident = float(np.mean(scores >= 0.5))
        if confident > MAX_CONFIDENT_SHARE:
            problems.append(f"{confident:.0%} of the anchors score 0.5 or more (noise, not faces)")
    return OutputSanity(tuple(problems), float(scores.max()) if finite else None)


def _problem(kind: str, values: np.ndarray, reach: float) -> str | None:
    """What is wrong with one output tensor, or None."""
    if values.size == 0:
        return f"{kind} are empty"
    if not np.isfinite(values).all():
        return f"{kind} are not finite ({int(np.count_nonzero(~np.isfinite(values)))} NaN or infinite)"
    low, high = float(values.min()), float(values.max())
    if low == high:
        return f"{kind} are all {low:g} (constant)"
    if kind == "scores" and (low < SCORE_RANGE[0] or high > SCORE_RANGE[1]):
        return f"scores leave [0, 1] ({low:g} to {high:g})"
    if kind != "scores" and max(-low, high) > reach:
        return f"{kind} reach {max(-low, high):.0f} strides from their anchors (more than {reach:.0f})"
    return None


def synthetic_probe_image(width: int = 640, height: int = 480) -> np.ndarray:
    """A fixed RGB scene for the probe: a gradient with mild noise and two drawn faces.

    Deterministic, so every probe of one process feeds the device the same pixels. The drawn
    faces give the network structured input (real models score them 0.5 to 0.7); they are no
    photo, so the probe does not count on finding them.
    """
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, :width]
    image = np.stack([xx * 0.2 + 60, yy * 0.2 + 80, (xx + yy) * 0.1 + 100], axis=-1)
    image = np.clip(image + rng.integers(-8, 9, image.shape), 0, 255).astype(np.uint8)
    for cx, cy, r in ((width * 5 // 16, height // 2, height * 11 // 48), (width * 47 // 64, height * 11 // 24,
                                                                           height // 8)):
        _draw_face(image, cx, cy, r)
    return cv2.GaussianBlur(image, (3, 3), 0)


def _draw_face(image: np.ndarray, cx: int, cy: int, r: int) -> None:
    """A cartoon face: skin, hair, two eyes with brows, nose and mouth."""
    line = cv2.LINE_AA
    cv2.ellipse(image, (cx, cy), (int(r * 0.8), r), 0, 0, 360, (200, 160, 130), -1, line)
    cv2.ellipse(image, (cx, cy - r), (int(r * 0.85), int(r * 0.45)), 0, 180, 360, (60, 40, 30), -1, line)
    for side in (-1, 1):
        ex, ey = cx + side * int(r * 0.33), cy - int(r * 0.15)
        cv2.ellipse(image, (ex, ey), (int(r * 0.17), int(r * 0.09)), 0, 0, 360, (245, 245, 245), -1, line)
        cv2.circle(image, (ex, ey), int(r * 0.07), (50, 35, 25), -1, line)
        cv2.line(image, (ex - int(r * 0.2), ey - int(r * 0.2)), (ex + int(r * 0.2), ey - int(r * 0.22)),
                 (70, 50, 40), max(1, r // 20), line)
    nose = np.array([[cx, cy - int(r * 0.1)], [cx - int(r * 0.1), cy + int(r * 0.22)],
                     [cx + int(r * 0.1), cy + int(r * 0.22)]], dtype=np.int32)
    cv2.polylines(image, [nose], False, (150, 100, 80), max(1, r // 25), line)
    cv2.ellipse(image, (cx, cy + int(r * 0.45)), (int(r * 0.3), int(r * 0.1)), 0, 0, 180, (150, 50, 50),
                max(2, r // 15), line)
