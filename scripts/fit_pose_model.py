"""Fit the 3-D mean face of hailo_scrfd.vision.pose on ../shared/pose (AFLW2000-3D) and report 5-fold CV errors.

    .venv/bin/python scripts/fit_pose_model.py [--shared ../shared] [--model scrfd_2.5g_bnkps.onnx] [--raw]

Needs scipy (the ``test`` extra). Minimises the mean of |yaw error| + |pitch error| over the usable photos,
in AFLW's Euler order, with Nelder-Mead over the 5 free shape numbers (eye height, nose depth, mouth
half-width, height and depth; the eye half-distance is the unit). Prints the constants for pose.py.
The landmarks are refined as the quality path refines them (hailo_scrfd.pipeline.landmarks) unless --raw.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.runtime.model import SCRFDModel
from hailo_scrfd.vision.detections import box_iou
from hailo_scrfd.pipeline.detector import Detector
from hailo_scrfd.pipeline.landmarks import refine_landmarks
from hailo_scrfd.vision import pose

START = np.array([pose.MODEL_EYE_Y, pose.MODEL_NOSE_Z, pose.MODEL_MOUTH_X, pose.MODEL_MOUTH_Y, pose.MODEL_MOUTH_Z])


def landmarks(shared: Path, model_file: str, refine: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    truth = json.loads((shared / "pose" / "pose_gt.json").read_text())
    config = SCRFDServiceConfig().override(model__path=str(shared / "models" / model_file))
    model = SCRFDModel(config).load()
    lms, angles, usable = [], [], [n for n, g in sorted(truth.items()) if g["usable"]]
    try:
        for name in usable:
            image = decode_image((shared / "pose" / "images" / name).read_bytes(), max_pixels=10_000_000)
            faces = model.detect_faces(image).faces
            if not len(faces):
                continue
            found = refine_landmarks(Detector(model), image, faces)[0] if refine else faces.landmarks
            iou = box_iou(np.array([truth[name]["bbox_xyxy"]], np.float32), faces.xyxy)[0]
            if iou.max() >= 0.3:
                lms.append(found[int(np.argmax(iou))])
                angles.append([truth[name][k] for k in ("yaw", "pitch", "roll")])
    finally:
        model.close()
    return np.array(lms, np.float64), np.array(angles), len(lms) / len(usable)


def estimate(shape: np.ndarray, lms: np.ndarray) -> np.ndarray:
    ey, nz, mx, my, mz = shape
    model3d = np.array([[-1, ey, 0], [1, ey, 0], [0, 0, nz], [-mx, my, mz], [mx, my, mz]], float)
    saved = pose.FACE_MODEL_3D, pose._VERTICAL
    pose.FACE_MODEL_3D, pose._VERTICAL = model3d, pose._vertical_solver(model3d)
    try:
        return pose.to_aflw(pose.head_pose(lms))
    finally:
        pose.FACE_MODEL_3D, pose._VERTICAL = saved


def fit(lms: np.ndarray, angles: np.ndarray, start: np.ndarray) -> np.ndarray:
    def loss(shape):
        return np.abs(estimate(shape, lms)[:, :2] - angles[:, :2]).sum(axis=1).mean()
    return minimize(loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-5, "fatol": 1e-6}).x


def report(tag: str, est: np.ndarray, angles: np.ndarray) -> None:
    err, near = np.abs(est - angles), np.abs(angles[:, 0]) <= 30
    print(f"{tag}: |yaw|<=30 (n={near.sum()}) yaw {err[near, 0].mean():.2f} pitch {err[near, 1].mean():.2f} "
          f"roll {err[near, 2].mean():.2f} | all (n={len(err)}) yaw {err[:, 0].mean():.2f} "
          f"pitch {err[:, 1].mean():.2f} roll {err[:, 2].mean():.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--model", default="scrfd_2.5g_bnkps.onnx")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--raw", action="store_true", help="the detector's landmarks, not refined ones")
    args = parser.parse_args()
    lms, angles, share = landmarks(args.shared, args.model, refine=not args.raw)
    print(f"detected {share:.1%} of the usable faces")
    generic = np.array([-33.0, -28.0, 25.0, 30.0, -8.0]) / 31.0   # a textbook mean face, in the same units
    report("generic mean face", estimate(generic, lms), angles)
    folds = np.array_split(np.random.default_rng(0).permutation(len(lms)), args.folds)
    held_out = np.zeros_like(angles)
    for k, test in enumerate(folds):
        train = np.setdiff1d(np.arange(len(lms)), test)
        shape = fit(lms[train], angles[train], generic)
        held_out[test] = estimate(shape, lms[test])
        print(f"  fold {k}: {np.round(shape, 4).tolist()}")
    report(f"{args.folds}-fold held out", held_out, angles)
    shape = fit(lms, angles, generic)
    report("fitted on all (in-sample)", estimate(shape, lms), angles)
    print("constants:", dict(zip(("EYE_Y", "NOSE_Z", "MOUTH_X", "MOUTH_Y", "MOUTH_Z"), np.round(shape, 4).tolist(),
                                 strict=True)))


if __name__ == "__main__":
    main()
