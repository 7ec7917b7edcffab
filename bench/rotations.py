#!/usr/bin/env python3
"""Sideways photos: what ``rotations`` (none / auto / all) finds and costs.

The WIDER FACE val photos of ../shared/widerface, turned in memory by 90, 180 and 270 degrees (np.rot90,
never saved): faces found at the default threshold per turn against the upright photos' own count; WIDER AP
of each turned set with ``all``, its predictions turned back into the upright photo's frame (where the ground
truth is); engine runs and milliseconds per photo on photos with faces and on empty frames (gradient + noise).

Usage: bench/rotations.py [--limit N] [--model PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hailo_scrfd.evaluation import widerface as wf  # noqa: E402
from hailo_scrfd.options import DetectOptions, QualityOptions  # noqa: E402
from hailo_scrfd.pipeline import FacePipeline  # noqa: E402
from hailo_scrfd.pipeline.detector import DecodedImage  # noqa: E402
from hailo_scrfd.runtime.model import SCRFDModel  # noqa: E402
from hailo_scrfd.system.config import SCRFDServiceConfig  # noqa: E402
from hailo_scrfd.vision.decode import decode_image  # noqa: E402
from hailo_scrfd.vision.rotation import box_back, turned  # noqa: E402

SHARED = ROOT.parent / "shared"
TURNS = (0, 90, 180, 270)
VALUES = ("none", "auto", "all")
AP_THRESHOLD = 0.02  # as `hailo-scrfd eval`


def find(pipeline: FacePipeline, pixels: np.ndarray, options: DetectOptions) -> tuple[np.ndarray, int, float]:
    """(N, 5) xyxy + score in ``pixels``' frame, engine runs, engine ms."""
    found = pipeline.find(DecodedImage(pixels), options, QualityOptions())
    faces = found.faces
    return (np.concatenate([faces.xyxy, faces.scores[:, None]], axis=1), len(found.passes),
            sum(p["engine_ms"] for p in found.passes))


def upright_frame(pred: np.ndarray, turn: int, upright_hw: tuple[int, int]) -> np.ndarray:
    """Predictions in the photo turned by ``turn`` as boxes of the upright photo (``upright_hw``), where the
    ground truth is: the turned photo is the upright one turned, so the turned pass's own map back does it."""
    if turn == 0 or len(pred) == 0:
        return pred
    return np.concatenate([box_back(pred[:, :4], turn, upright_hw), pred[:, 4:]], axis=1)


def counts(pipeline, photos: dict[str, np.ndarray], base: DetectOptions) -> dict:
    """(turn, value) -> faces found, engine runs, engine ms, over every photo; at ``base``'s threshold."""
    out = {}
    for turn in TURNS:
        for value in VALUES:
            options = dataclasses.replace(base, rotations=value)
            n = runs = ms = 0
            for pixels in photos.values():
                pred, r, m = find(pipeline, turned(pixels, turn), options)
                n, runs, ms = n + len(pred), runs + r, ms + m
            out[turn, value] = (n, runs, ms)
    return out


def average_precision(pipeline, photos: dict[str, np.ndarray], gt: wf.GroundTruth, base: DetectOptions) -> dict:
    """(turn, value) -> easy/medium/hard AP, predictions scored in the upright frame."""
    out = {}
    for turn, value in [(0, "none"), (0, "all"), *[(t, "all") for t in TURNS[1:]], *[(t, "none") for t in TURNS[1:]]]:
        options = dataclasses.replace(base, rotations=value, threshold=AP_THRESHOLD)
        predictions = {}
        for key, pixels in photos.items():
            pred = find(pipeline, turned(pixels, turn), options)[0]
            predictions[key] = upright_frame(pred, turn, pixels.shape[:2])
        out[turn, value] = wf.evaluate(predictions, gt)
    return out


def empty_frames(n: int = 6) -> list[np.ndarray]:
    """Face-free frames: a colour gradient with noise, 1280x720 and 720x1280."""
    rng = np.random.default_rng(0)
    frames = []
    for i in range(n):
        h, w = (720, 1280) if i % 2 == 0 else (1280, 720)
        ys, xs = np.mgrid[:h, :w]
        base = np.stack([xs / w * 255, ys / h * 255, (xs + ys) / (w + h) * 255], axis=-1)
        frames.append(np.clip(base + rng.normal(0, 8 + 4 * i, base.shape), 0, 255).astype(np.uint8))
    return frames


def cost_on_empty(pipeline, base: DetectOptions) -> None:
    frames = empty_frames()
    for value in VALUES:
        options = dataclasses.replace(base, rotations=value)
        found = runs = ms = 0
        started = time.perf_counter()
        for f in frames:
            pred, r, m = find(pipeline, f, options)
            found, runs, ms = found + len(pred), runs + r, ms + m
        wall = (time.perf_counter() - started) * 1000 / len(frames)
        print(f"empty frames  {value:4s}: {runs / len(frames):.2f} engine runs, {ms / len(frames):.1f} engine ms, "
              f"{wall:.1f} ms wall per frame; false faces {found}")


def load(limit: int) -> tuple[dict[str, np.ndarray], wf.GroundTruth]:
    images = SHARED / "widerface" / "WIDER_val" / "images"
    gt = wf.load_ground_truth(SHARED / "widerface" / "ground_truth", images)
    keys = sorted(gt.keys)
    keys = keys[::max(1, len(keys) // limit)][:limit] if limit else keys  # spread over the events
    photos = {k: decode_image((images / f"{k}.jpg").read_bytes(), max_pixels=100_000_000) for k in keys}
    return photos, wf.GroundTruth({k: gt.boxes[k] for k in keys}, gt.keep)


def report(found: dict, ap: dict, n: int) -> None:
    upright = found[0, "none"][0]
    for (turn, value), (faces, runs, ms) in found.items():
        print(f"turn {turn:3d} {value:4s}: {faces:5d} faces ({100 * faces / upright:5.1f} % of upright none), "
              f"{runs / n:.2f} engine runs, {ms / n:.1f} engine ms per photo")
    for (turn, value), table in ap.items():
        print(f"AP turn {turn:3d} {value:4s}: " + ", ".join(f"{k} {v:.4f}" for k, v in table.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="N WIDER photos spread over the events (default all)")
    parser.add_argument("--model", default=str(SHARED / "models" / "scrfd_2.5g_bnkps.onnx"))
    parser.add_argument("--skip-ap", action="store_true")
    args = parser.parse_args()
    config = SCRFDServiceConfig().override(model__path=args.model, model__precision="fp32",
                                          model__auto_int8="off")
    model = SCRFDModel(config).load()
    try:
        pipeline = FacePipeline.from_config(model, config, cache=None)
        base = DetectOptions.from_config(config.detection)
        photos, gt = load(args.limit)
        print(f"model {model.name} on {model.backend.name}, {len(photos)} WIDER val photos, threshold "
              f"{base.threshold}, mode {base.mode}")
        cost_on_empty(pipeline, base)
        found = counts(pipeline, photos, base)
        ap = {} if args.skip_ap else average_precision(pipeline, photos, gt, base)
        report(found, ap, len(photos))
    finally:
        model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
