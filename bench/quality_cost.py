"""Cost of face quality per face on real photos: the 112 crops, quality given the crops, both together, and the
landmark refinement (the detector on two 160px cells per face, at most 16 faces), next to the detection itself.

    .venv/bin/python -m bench.quality_cost [--shared ../shared]

Prints milliseconds per face (median of 5 rounds) for each photo, with the warp (what /v1/align already
pays) and the detection of the whole photo measured in the same rounds, so that the ratios hold on a busy
machine. Refinement and detection are per refined face (the 16 largest) and per photo.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.pipeline.detector import Detector
from hailo_scrfd.pipeline.landmarks import MAX_REFINED, refine_landmarks
from hailo_scrfd.vision.pose import head_pose
from hailo_scrfd.vision.quality import assess_faces, face_crops


def per_face_ms(fn, n: int, budget: int = 400) -> float:
    reps = max(1, budget // n)
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps / n * 1e3


def _cases(model: SCRFDModel, image: np.ndarray, f) -> dict:
    """name -> (function, the count its time is divided by)."""
    size = (image.shape[1], image.shape[0])
    crops = face_crops(image, f.landmarks)
    n, refined = len(f), min(len(f), MAX_REFINED)
    return {
        "crops (warp)": (lambda: face_crops(image, f.landmarks), n),
        "quality, crops given": (lambda: assess_faces(size, f.xyxy, f.scores, f.landmarks, crops), n),
        "quality with crops": (lambda: assess_faces(size, f.xyxy, f.scores, f.landmarks,
                                                    face_crops(image, f.landmarks)), n),
        "pose only": (lambda: head_pose(f.landmarks), n),
        "refinement per refined face": (lambda: refine_landmarks(Detector(model), image, f), refined),
        "detection per photo": (lambda: model.detect_faces(image), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--photos", nargs="+", default=["t1.jpg", "newton.png", "selfie.jpg"])
    args = parser.parse_args()
    config = SCRFDServiceConfig().override(model__path=str(args.shared / "models" / "scrfd_2.5g_bnkps.onnx"))
    model = SCRFDModel(config).load()
    try:
        for name in args.photos:
            image = decode_image((args.shared / "images" / name).read_bytes(), max_pixels=100_000_000)
            f = model.detect_faces(image).faces
            n = len(f)
            cases = _cases(model, image, f)
            rounds: dict[str, list[float]] = {k: [] for k in cases}
            for _ in range(5):
                for k, (fn, count) in cases.items():
                    rounds[k].append(per_face_ms(fn, count, budget=400 if count > 1 else 20))
            print(f"{name}: {n} faces, ms per face: "
                  + ", ".join(f"{k} {np.median(v):.3f}" for k, v in rounds.items()))
    finally:
        model.close()


if __name__ == "__main__":
    main()
