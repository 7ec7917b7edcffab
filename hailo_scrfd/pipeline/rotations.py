"""Sideways photos: the ``rotations`` option's turned passes, merged with the upright ones.

``none``: upright only (the answer as before). ``auto``: when the upright passes (with ``fast``'s rescue)
find no face, the image turned by 90, 180 and 270 degrees as well (fewer turns when the faces found say
which: :func:`turns_for`), so a photo stored sideways without an EXIF orientation still shows its faces; a
photo with strong upright faces costs nothing more. ``all``: every turn, always, for photos where upright
and lying faces mix. Each turn runs the request's ``mode`` on the turned
pixels (:func:`.scales.detect_multiscale`: a canvas like any other, so a fixed-shape backend needs no new
model); its faces, boxes and landmarks, are mapped back into the image (:mod:`hailo_scrfd.vision.rotation`)
and merged with the upright ones by one NMS, before the one selection. The orientation whose faces weigh most
(:func:`primary`) is taken as the photo's way up and keeps all its faces; the others keep only faces scoring
:data:`OTHER_WAY_SCORE`, since a face seen the wrong way up still scores up to 0.79 (measured on 122 WIDER
photos), and those weak doubles cost 0.021 hard AP when kept. Each turned pass is listed in
``passes`` as ``rot90``, ``rot90-rescue``, ``rot180-tile``..., its crop in the image's own coordinates.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..options import DetectOptions
from ..vision.detections import Detections
from ..vision.pose import eye_roll
from ..vision.rotation import TURNS, crop_back, faces_back, pass_name, turned
from . import scales
from .detector import DecodedImage, Detector

LYING_ROLL = 45.0   # auto: most upright faces' eye lines more than this off level -> try 90 and 270
STRONG_SCORE = 0.8  # auto: no upright face scoring this -> try every turn
COUNTED_SCORE = 0.5  # a face this strong counts toward its orientation's weight (the photo's way up)
OTHER_WAY_SCORE = 0.6  # the least score a face found in any other orientation keeps


def turns_for(rotations: str, upright: Detections) -> tuple[int, ...]:
    """The quarter turns (degrees clockwise) to run besides upright, given the upright passes' faces.

    ``auto``: every turn when upright finds no face, or none scoring :data:`STRONG_SCORE` (a turned photo's few
    upright finds are weak: none of the 33 on 122 upside-down WIDER photos scored above 0.78); 90 and 270 when
    most faces it finds lie (SCRFD finds some faces of a sideways photo with their landmarks turned: rolls of
    68-119 degrees measured, against -50..19 for almost every upright face)."""
    if rotations == "all" or (rotations == "auto" and (len(upright) == 0 or upright.scores.max() < STRONG_SCORE)):
        return TURNS
    if rotations == "auto" and np.median(np.abs(eye_roll(upright.landmarks))) > LYING_ROLL:
        return (90, 270)
    return ()


def detect(detector: Detector, image: DecodedImage, options: DetectOptions, *, listed_max: int = 0
           ) -> tuple[Detections, tuple[int, int], dict, list[dict]]:
    """:func:`.scales.detect`, plus the turned passes ``options.rotations`` asks for: (faces in original-image
    coordinates by score, (width, height), timings, passes)."""
    faces, size, timings, passes = scales.detect(detector, image, options, listed_max=listed_max)
    turns = turns_for(options.rotations, faces)
    if not turns:
        return faces, size, timings, passes
    started = time.perf_counter()
    faces, more = add_turns(detector, image.pixels, faces, options, size, turns)
    engine_ms = sum(p["engine_ms"] for p in more)
    timings = {**timings, "inference": timings.get("inference", 0.0) + engine_ms}
    spent_ms = (time.perf_counter() - started) * 1000.0
    timings["postprocess"] = timings.get("postprocess", 0.0) + max(0.0, spent_ms - engine_ms)
    return faces, size, timings, passes + more


def add_turns(detector: Detector, pixels: np.ndarray, faces: Detections, options: DetectOptions,
              size: tuple[int, int], turns: tuple[int, ...], *, single: bool = False) -> tuple[Detections, list[dict]]:
    """``faces`` (upright, in ``size`` coordinates) merged with those of each turn of ``pixels`` (the decoded
    image, ``size`` being its original (width, height)), and the turned passes that ran. Each turn runs the
    request's ``mode``; ``single``: one pass each, no rescue, as a video frame's upright pass (every way up
    then has the same chance in :func:`primary`)."""
    hw = pixels.shape[:2]
    fx, fy = size[0] / hw[1], size[1] / hw[0]  # original pixels per decoded pixel
    planned = dataclasses.replace(options, min_face_size=options.min_face_size / fx)
    parts, passes = [faces], []
    for turn in turns:
        found, info = scales.detect_multiscale(detector, turned(pixels, turn), planned,
                                               "fast" if single else options.mode, rescue=not single)
        parts.append(faces_back(found, turn, hw).scaled(fx, fy))
        passes += [{**p, "name": pass_name(turn, p["name"]), "crop": crop_back(p["crop"], turn, hw)} for p in info]
    way_up = primary(parts)
    merged = Detections.merge([f if i == way_up else f[f.scores >= OTHER_WAY_SCORE] for i, f in enumerate(parts)])
    if len(merged):
        merged = merged.with_nms(options.nms_threshold)
    return merged[np.argsort(-merged.scores, kind="stable")], passes


def primary(orientations: list[Detections]) -> int:
    """The index of the orientation the photo is taken to stand in: the one whose faces scoring
    :data:`COUNTED_SCORE` or more have the largest total score; with no such face anywhere, the one with the
    best face (the first, upright, on a tie).

    On 122 WIDER val photos this picks the true way up for 120 (the other two have no upright face scoring
    0.5: their best scores are 0.47 and 0.17), and it picks the same whichever way the photo is stored.
    Breaking the tie toward the stored way instead lost 0.013 hard AP on the turned photos: with no strong
    face anywhere, it kept the wrong way's weak faces."""
    weights = [(float(f.scores[f.scores >= COUNTED_SCORE].sum()), float(f.scores.max(initial=0.0)))
               for f in orientations]
    return max(range(len(weights)), key=weights.__getitem__)
