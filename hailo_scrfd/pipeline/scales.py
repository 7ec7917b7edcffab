"""Scale coverage in a request: ``fast`` (one pass, plus a rescue pass when it finds nothing) and ``full``
(normal, reduced and high-resolution passes or tiles, merged scale-aware). The passes are planned by
:mod:`hailo_scrfd.vision.scales` and merged by :mod:`hailo_scrfd.vision.merge`; each runs as one canvas
through :meth:`SCRFDModel.detect_canvas`."""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from ..options import DetectOptions
from ..runtime.model import SCRFDModel
from ..vision.detections import Detections, clip_boxes
from ..vision.merge import merge_passes
from ..vision.order import face_order
from ..vision.scales import Pass, pass_canvas, plan_passes, rescue_pass


def run_pass(model: SCRFDModel, image: np.ndarray, p: Pass, threshold: float,
             nms_threshold: float) -> tuple[Detections, float]:
    """Faces of one pass in image coordinates (NMS within the pass), and its engine milliseconds."""
    faces, engine_ms = model.detect_canvas(pass_canvas(image, p), threshold, nms_threshold)
    sx, sy = p.scale_xy
    faces = faces.scaled(1.0 / sx, 1.0 / sy, *p.crop[:2])
    height, width = image.shape[:2]
    return Detections(clip_boxes(faces.xyxy, width, height), faces.scores, faces.landmarks), engine_ms


def run_passes(model: SCRFDModel, image: np.ndarray, passes: Sequence[Pass], threshold: float,
               nms_threshold: float) -> tuple[list[tuple[Pass, Detections]], list[dict]]:
    """Every pass's faces, and what ran: name, input [width, height], crop, engine ms, face count."""
    results, info = [], []
    for p in passes:
        faces, ms = run_pass(model, image, p, threshold, nms_threshold)
        results.append((p, faces))
        info.append({"name": p.name, "input": [p.canvas_hw[1], p.canvas_hw[0]], "crop": list(p.crop),
                     "engine_ms": round(ms, 3), "faces": len(faces)})
    return results, info


def filter_faces(faces: Detections, options: DetectOptions, image_size: tuple[int, int]) -> Detections:
    """The per-request filters: ``min_face_size`` (shorter box side), then ``max_faces`` by ``order``."""
    if options.min_face_size > 0 and len(faces):
        wh = faces.xyxy[:, 2:] - faces.xyxy[:, :2]
        faces = faces[np.minimum(wh[:, 0], wh[:, 1]) >= options.min_face_size]
    if options.max_faces and len(faces) > options.max_faces:
        order = "score" if options.order == "quality" else options.order  # quality is cut by the pipeline
        first = face_order(faces.xyxy, faces.scores, order, image_size)[:options.max_faces]
        faces = faces[np.sort(first)]
    return faces


def detect_multiscale(model: SCRFDModel, image: np.ndarray, options: DetectOptions | None = None,
                      mode: str | None = None) -> tuple[Detections, list[dict]]:
    """Faces in an RGB uint8 image (its own pixels), by score, and one dict per pass that ran.

    ``fast``: one pass (sized down by ``min_face_size``), plus the rescue pass when it finds no face.
    ``full``: every pass of :func:`plan_passes`, merged scale-aware.
    """
    opts = options or model.defaults
    mode = mode or opts.mode
    spec = model.input_spec
    hw = image.shape[:2]
    passes = plan_passes(hw, spec.hw, spec.dynamic, mode, opts.min_face_size)
    results, info = run_passes(model, image, passes, opts.threshold, opts.nms_threshold)
    if mode == "fast":
        faces = results[0][1]
        if len(faces) == 0:
            rescue, rescue_info = run_passes(model, image, [rescue_pass(hw, spec.hw, spec.dynamic)],
                                             opts.threshold, opts.nms_threshold)
            faces = rescue[0][1]
            info += rescue_info
    else:
        faces = merge_passes(results, opts.nms_threshold)
    order = np.argsort(-faces.scores, kind="stable")
    return filter_faces(faces[order], opts, (hw[1], hw[0])), info


def detect(model: SCRFDModel, pixels: np.ndarray, options: DetectOptions, original_size: tuple[int, int] | None,
           canvas: np.ndarray | None = None) -> tuple[Detections, tuple[int, int], dict, list[dict]]:
    """A request's faces in original-image coordinates: (faces, (width, height), timings, passes). ``canvas``:
    the network input ``pixels`` were decoded into, if they were (see :meth:`SCRFDModel.detect_faces`).

    ``fast`` with no ``min_face_size`` is the single reference pass of :meth:`SCRFDModel.detect_faces`
    (its reduced decode and parity kept); the rescue pass runs only when that finds no face, so it costs
    nothing otherwise. Everything else runs the planned passes on ``pixels``.
    """
    height, width = pixels.shape[:2]
    size = original_size or (width, height)
    fx, fy = size[0] / width, size[1] / height  # original pixels per decoded pixel (1 unless decoded reduced)
    started = time.perf_counter()
    if options.mode == "fast" and options.min_face_size <= 0:
        result = model.detect_faces(pixels, options, original_size, canvas)
        in_h, in_w = result.input_hw
        passes = [{"name": "base", "input": [in_w, in_h], "crop": [0, 0, width, height],
                   "engine_ms": round(result.timings_ms["inference"], 3), "faces": len(result.faces)}]
        if len(result.faces):
            return result.faces, result.image_size, dict(result.timings_ms), passes
        spec = model.input_spec
        rescued, info = run_passes(model, pixels, [rescue_pass((height, width), spec.hw, spec.dynamic)],
                                   options.threshold, options.nms_threshold)
        faces, passes = filter_faces(rescued[0][1], options, (width, height)), passes + info  # no size filter
    else:
        scaled = dataclasses.replace(options, min_face_size=options.min_face_size / fx)
        faces, passes = detect_multiscale(model, pixels, scaled, options.mode)
    engine_ms = sum(p["engine_ms"] for p in passes)
    total_ms = (time.perf_counter() - started) * 1000.0
    timings = {"inference": engine_ms, "postprocess": max(0.0, total_ms - engine_ms)}
    return faces.scaled(fx, fy), size, timings, passes
