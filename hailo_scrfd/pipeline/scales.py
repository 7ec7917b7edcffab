"""Scale coverage in a request: ``fast`` (one pass, plus a rescue pass when it finds nothing) and ``full``
(normal, reduced and high-resolution passes or tiles, merged scale-aware). The passes are planned by
:mod:`hailo_scrfd.vision.scales` and merged by :mod:`hailo_scrfd.vision.merge`; each runs as one canvas
through :meth:`.Detector.detect_canvas`. The faces come out by score, every one found: which of them a request
keeps is :func:`.select.select`'s, after the merge."""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from ..options import DetectOptions
from ..vision.detections import Detections, clip_boxes
from ..vision.merge import merge_passes
from ..vision.scales import Pass, pass_canvas, plan_passes, rescue_pass
from .detector import DecodedImage, Detector


def run_pass(detector: Detector, image: np.ndarray, p: Pass, threshold: float,
             nms_threshold: float) -> tuple[Detections, float]:
    """Faces of one pass in image coordinates (NMS within the pass), and its engine milliseconds."""
    faces, engine_ms = detector.detect_canvas(pass_canvas(image, p), threshold, nms_threshold)
    sx, sy = p.scale_xy
    faces = faces.scaled(1.0 / sx, 1.0 / sy, *p.crop[:2])
    height, width = image.shape[:2]
    return Detections(clip_boxes(faces.xyxy, width, height), faces.scores, faces.landmarks), engine_ms


def run_passes(detector: Detector, image: np.ndarray, passes: Sequence[Pass], threshold: float,
               nms_threshold: float) -> tuple[list[tuple[Pass, Detections]], list[dict]]:
    """Every pass's faces, and what ran: name, input [width, height], crop, engine ms, face count."""
    results, info = [], []
    for p in passes:
        faces, ms = run_pass(detector, image, p, threshold, nms_threshold)
        results.append((p, faces))
        info.append({"name": p.name, "input": [p.canvas_hw[1], p.canvas_hw[0]], "crop": list(p.crop),
                     "engine_ms": round(ms, 3), "faces": len(faces)})
    return results, info


def detect_multiscale(detector: Detector, image: np.ndarray, options: DetectOptions | None = None,
                      mode: str | None = None, *, rescue: bool = True) -> tuple[Detections, list[dict]]:
    """Faces in an RGB uint8 image (its own pixels), by score, and one dict per pass that ran.

    ``fast``: one pass (sized down by ``min_face_size``), plus the rescue pass when it finds no face (unless
    ``rescue`` is False: a video frame's single pass).
    ``full``: every pass of :func:`plan_passes`, merged scale-aware. ``options``: the score floor, the NMS IoU
    and the ``min_face_size`` the passes are planned for (its faces are not filtered here).
    """
    opts = options or DetectOptions()
    mode = mode or opts.mode
    spec = detector.input_spec
    hw = image.shape[:2]
    passes = plan_passes(hw, spec.hw, spec.dynamic, mode, opts.min_face_size)
    results, info = run_passes(detector, image, passes, opts.threshold, opts.nms_threshold)
    if mode == "fast":
        faces = results[0][1]
        if len(faces) == 0 and rescue:
            rescued, rescue_info = run_passes(detector, image, [rescue_pass(hw, spec.hw, spec.dynamic)],
                                              opts.threshold, opts.nms_threshold)
            faces = rescued[0][1]
            info += rescue_info
    else:
        faces = merge_passes(results, opts.nms_threshold)
    return faces[np.argsort(-faces.scores, kind="stable")], info


def detect(detector: Detector, image: DecodedImage, options: DetectOptions, *, listed_max: int = 0
           ) -> tuple[Detections, tuple[int, int], dict, list[dict]]:
    """A request's faces in original-image coordinates, by score: (faces, (width, height), timings, passes).

    ``fast`` with no ``min_face_size`` is the single reference pass of :meth:`.Detector.detect` (its reduced
    decode, zero-copy canvas and parity kept); the rescue pass runs only when that finds no face, so it costs
    nothing otherwise. Everything else runs the planned passes on the pixels. ``listed_max``: that reference
    pass lists at most this many faces in ``passes`` (the request's ``max_faces`` when no quality decides: the
    count /v1/detect has always listed for it; 0: all it found).
    """
    pixels = image.pixels
    height, width = pixels.shape[:2]
    size = image.original_size or (width, height)
    fx, fy = size[0] / width, size[1] / height  # original pixels per decoded pixel (1 unless decoded reduced)
    started = time.perf_counter()
    if options.mode == "fast" and options.min_face_size <= 0:
        result = detector.detect(image, options.threshold, options.nms_threshold)
        in_h, in_w = result.input_hw
        passes = [{"name": "base", "input": [in_w, in_h], "crop": [0, 0, width, height],
                   "engine_ms": round(result.timings_ms["inference"], 3),
                   "faces": min(len(result.faces), listed_max or len(result.faces))}]
        if len(result.faces):
            return result.faces, result.image_size, dict(result.timings_ms), passes
        spec = detector.input_spec
        rescued, info = run_passes(detector, pixels, [rescue_pass((height, width), spec.hw, spec.dynamic)],
                                   options.threshold, options.nms_threshold)
        faces, passes = rescued[0][1], passes + info
    else:
        planned = dataclasses.replace(options, min_face_size=options.min_face_size / fx)  # in decoded pixels
        faces, passes = detect_multiscale(detector, pixels, planned, options.mode)
    engine_ms = sum(p["engine_ms"] for p in passes)
    total_ms = (time.perf_counter() - started) * 1000.0
    timings = {"inference": engine_ms, "postprocess": max(0.0, total_ms - engine_ms)}
    return faces.scaled(fx, fy), size, timings, passes
