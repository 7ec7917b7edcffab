"""Face quality on real photos: roll under rotation, yaw under mirroring, pose against AFLW2000-3D, sharpness
under blur, and which faces an order keeps."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from hailo_scrfd.pipeline.detector import Detector
from hailo_scrfd.pipeline.landmarks import refine_landmarks
from hailo_scrfd.vision.align import estimate_transform, warp
from hailo_scrfd.vision.decode import decode_image
from hailo_scrfd.vision.detections import box_iou
from hailo_scrfd.vision.order import face_order
from hailo_scrfd.vision.pose import head_pose, to_aflw
from hailo_scrfd.vision.quality import QualitySettings, assess, crop_stats

PHOTOS = ("t1.jpg", "newton.png", "gauss.png", "s_l.jpg", "solvay_conference_1927.png")
MIN_EYES = 15.0  # px: faces big enough for their landmarks to fix an angle to a degree or two


def _faces(model, image):
    return model.detect_faces(image).faces


def _refined(model, image, limit: int = 16):
    """The faces and their landmarks refined as the quality path refines them (upright cell and its mirror)."""
    faces = _faces(model, image)
    return faces, refine_landmarks(Detector(model), image, faces, limit)[0]


def _match(lm_expected: np.ndarray, found_lm: np.ndarray) -> int | None:
    """The detection whose landmarks lie nearest the expected ones, if within a fifth of the eye distance."""
    if not len(found_lm):
        return None
    err = np.linalg.norm(found_lm - lm_expected[None], axis=2).mean(axis=1)
    i = int(np.argmin(err))
    return i if err[i] < 0.2 * np.linalg.norm(lm_expected[1] - lm_expected[0]) else None


def _big(faces) -> np.ndarray:
    return np.linalg.norm(faces.landmarks[:, 1] - faces.landmarks[:, 0], axis=1) >= MIN_EYES


def _patch(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A grey-padded square of three times the box's long side around it: the face fills the detector's input
    at every rotation, so the test measures the geometry rather than the detector's resolution."""
    side = int(3 * max(box[2] - box[0], box[3] - box[1]))
    cx, cy = (box[:2] + box[2:]) / 2
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    pad = side
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
    return padded[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]


@pytest.fixture(scope="module")
def roll_errors(model, load_image) -> dict[int, list[float]]:
    """Per rotation angle, the error of the estimated roll change on every face of the photos (eyes >= 15 px)."""
    errors: dict[int, list[float]] = {}
    for name in PHOTOS:
        image = load_image(name)
        faces = _faces(model, image)
        for box in faces.xyxy[_big(faces)]:
            patch = _patch(image, box)
            _, base = _refined(model, patch)
            centre = np.array(patch.shape[1::-1]) / 2
            i = int(np.argmin(np.linalg.norm(base[:, 2] - centre, axis=1)))
            lm, roll0 = base[i], head_pose(base[i])[0, 2]
            for angle in (-40, -30, -20, -10, 10, 20, 30, 40):
                # cv2 angles are counter-clockwise on screen; roll is clockwise-positive, so it falls by angle
                m = cv2.getRotationMatrix2D(tuple(centre), angle, 1.0)
                rotated = cv2.warpAffine(patch, m, patch.shape[1::-1], flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=(127, 127, 127))
                _, found = _refined(model, rotated)
                j = _match(lm @ m[:, :2].T + m[:, 2], found)
                if j is not None:
                    delta = (head_pose(found[j])[0, 2] - (roll0 - angle) + 180) % 360 - 180
                    errors.setdefault(angle, []).append(float(delta))
    return errors


def test_roll_follows_a_rotated_photo(roll_errors):
    """The geometry is exact (tests/unit). SCRFD's own landmarks lag behind large rotations (about 3 deg at 30,
    8 at 40 with the 2.5g model); refined on an upright cell of the face they follow it to well under 2 deg
    at every angle from -40 to 40, and the rotated faces are all found again."""
    print()
    for angle, errs in sorted(roll_errors.items()):
        e = np.abs(errs)
        print(f"rotation {angle:+d}: n={len(e)} MAE {e.mean():.2f} median {np.median(e):.2f} max {e.max():.2f} "
              f"share<=2 {np.mean(e <= 2):.2f} bias {np.mean(errs):+.2f}")
    counts = [len(roll_errors.get(a, [])) for a in (-40, -30, -20, -10, 10, 20, 30, 40)]
    assert min(counts) >= 0.9 * max(counts) and max(counts) >= 30, counts
    for angle, errs in roll_errors.items():
        e = np.abs(errs)
        assert e.mean() <= 1.0 and np.median(e) <= 1.0 and np.mean(e <= 2.0) >= 0.95 and e.max() <= 3.0, angle


def test_mirrored_photo_gives_opposite_yaw(model, load_image):
    """head_pose is exactly mirror-symmetric (tests/unit). SCRFD's landmarks on a mirrored photo are not the
    mirror of the original's (a third of the faces missed 2 deg of yaw); the refined landmarks average each
    face's cell with its mirror, so the mirrored photo's yaw and roll are the opposite within 2 deg on every
    face, and its pitch the same within 2 deg on nearly every one (the two cells are cut from slightly
    different first detections, so they are not exact mirrors)."""
    diffs = []
    for name in PHOTOS:
        image = load_image(name)
        base, base_lm = _refined(model, image, limit=1000)
        keep = _big(base)
        _, found = _refined(model, np.ascontiguousarray(image[:, ::-1]), limit=1000)
        w = image.shape[1]
        for lm, pose in zip(base_lm[keep], head_pose(base_lm[keep]), strict=True):
            i = _match(np.c_[w - lm[:, 0], lm[:, 1]][[1, 0, 2, 4, 3]], found)
            assert i is not None, f"{name}: the mirrored face was not found"
            mirrored = head_pose(found[i])[0]
            diffs.append(mirrored * [-1, 1, -1] - pose)
    d = np.abs(diffs)
    print(f"\nmirror, n={len(d)}: |yaw+yaw'| mean {d[:, 0].mean():.2f} max {d[:, 0].max():.2f}; |pitch-pitch'| "
          f"mean {d[:, 1].mean():.2f} max {d[:, 1].max():.2f} share<=2 {np.mean(d[:, 1] <= 2):.2f}; "
          f"|roll+roll'| mean {d[:, 2].mean():.2f} max {d[:, 2].max():.2f}")
    assert len(d) >= 30
    assert d[:, 0].max() <= 2.0 and d[:, 2].max() <= 2.0 and d[:, 0].mean() <= 1.0 and d[:, 2].mean() <= 1.0
    assert d[:, 1].mean() <= 1.5 and np.mean(d[:, 1] <= 2.0) >= 0.85


@pytest.fixture(scope="module")
def aflw(model, shared):
    """Estimated (AFLW Euler order) and true yaw, pitch, roll for the usable photos of ../shared/pose."""
    truth = json.loads((shared / "pose" / "pose_gt.json").read_text())
    est, gt, found = [], [], 0
    usable = {name: g for name, g in truth.items() if g["usable"]}
    for name, g in sorted(usable.items()):
        image = decode_image((shared / "pose" / "images" / name).read_bytes(), max_pixels=10_000_000)
        faces, landmarks = _refined(model, image)
        if not len(faces):
            continue
        iou = box_iou(np.array([g["bbox_xyxy"]], np.float32), faces.xyxy)[0]
        i = int(np.argmax(iou))
        if iou[i] < 0.3:
            continue
        found += 1
        est.append(to_aflw(head_pose(landmarks[i]))[0])
        gt.append([g["yaw"], g["pitch"], g["roll"]])
    return np.array(est), np.array(gt), found / len(usable)


def test_pose_accuracy_on_aflw2000(aflw):
    est, gt, share = aflw
    err = np.abs(est - gt)
    near = np.abs(gt[:, 0]) <= 30
    yaw_near, pitch_near, roll_near = err[near].mean(axis=0)
    yaw_all, pitch_all, roll_all = err.mean(axis=0)
    print(f"\nAFLW2000 usable: detected {share:.1%}; |yaw|<=30 (n={near.sum()}): yaw {yaw_near:.2f} pitch "
          f"{pitch_near:.2f} roll {roll_near:.2f}; all (n={len(err)}): yaw {yaw_all:.2f} pitch {pitch_all:.2f} "
          f"roll {roll_all:.2f}")
    assert share >= 0.95
    assert yaw_near <= 5.0 and yaw_all <= 6.5 and pitch_near <= 7.5


def _blurred_crops(image, lm, sigmas):
    """Crops of the photo blurred by ``sigma`` crop pixels (sigma / the crop's scale in photo pixels)."""
    matrix = estimate_transform(lm)
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    x1, y1 = np.floor(lm.min(axis=0) - 60 / scale).astype(int).clip(0)
    x2, y2 = np.ceil(lm.max(axis=0) + 60 / scale).astype(int)
    patch = image[y1:y2, x1:x2].astype(np.float32)   # enough margin for the kernel; float keeps tiny blurs
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ [x1, y1]
    out = []
    for sigma in sigmas:
        s = sigma / scale
        src = patch if s == 0 else cv2.GaussianBlur(patch, (2 * int(np.ceil(3 * s)) + 1,) * 2, s)
        out.append(warp(src, shifted, 112))
    return out, scale


@pytest.mark.parametrize("name", PHOTOS)
def test_sharpness_falls_with_blur_on_every_face(model, load_image, name):
    image = load_image(name)
    faces = _faces(model, image)
    for lm in faces.landmarks:
        crops, _ = _blurred_crops(image, lm, (0.0, 0.7, 1.4, 2.1))
        values = [crop_stats(c)[0] for c in crops]
        assert all(a > b for a, b in zip(values, values[1:], strict=False)), f"{name}: {np.round(values, 2)}"


def test_downscaled_then_upscaled_face_is_blurry(model, shared):
    """A face brought down to a sixth of the crop's resolution (eye distance 5.9 px) and back up is flagged on
    every photo of ../shared/pose where the face is usable before (no issue: whole, facing the camera) and at
    least crop-sized (eye distance >= 35 px); down to a quarter (8.8 px), nine in ten are. A profile's crop
    holds hair and background, whose edges survive, hence usable faces only."""
    truth = json.loads((shared / "pose" / "pose_gt.json").read_text())
    quarter = []
    for name in sorted(truth)[::2]:
        image = decode_image((shared / "pose" / "images" / name).read_bytes(), max_pixels=10_000_000)
        faces = _faces(model, image)
        q = assess(image, faces.xyxy, faces.scores, faces.landmarks)
        for i in range(len(faces)):
            if q[i].eye_distance < 35 or q[i].issues:
                continue
            for eyes_after in (35.2 / 6, 35.2 / 4):
                factor = q[i].eye_distance / eyes_after
                h, w = image.shape[:2]
                small = cv2.resize(image, (round(w / factor), round(h / factor)), interpolation=cv2.INTER_AREA)
                again = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
                after = assess(again, faces.xyxy[i:i + 1], faces.scores[i:i + 1], faces.landmarks[i:i + 1])[0]
                if eyes_after < 8:
                    assert "blurry" in after.issues, f"{name}: sharpness {after.sharpness:.1f} after down/up"
                else:
                    quarter.append("blurry" in after.issues)
    print(f"\ndown/up to a quarter: {np.mean(quarter):.1%} of {len(quarter)} flagged blurry")
    assert len(quarter) >= 50 and np.mean(quarter) >= 0.85


def test_blurry_flags_few_original_faces(model, shared):
    """The threshold (50) leaves sharp photos alone: at most 10% of whole faces of ../shared/pose with eye
    distance >= 35 px are flagged blurry as they are."""
    truth = json.loads((shared / "pose" / "pose_gt.json").read_text())
    flags = []
    for name in sorted(truth)[1::2]:
        image = decode_image((shared / "pose" / "images" / name).read_bytes(), max_pixels=10_000_000)
        faces = _faces(model, image)
        for q in assess(image, faces.xyxy, faces.scores, faces.landmarks):
            if q.eye_distance >= 35 and "cut_off" not in q.issues:
                flags.append("blurry" in q.issues)
    print(f"\nblurry among {len(flags)} original faces: {np.mean(flags):.1%}")
    assert len(flags) >= 50 and np.mean(flags) <= 0.10


def _canvas(parts, size=(1600, 1000)):
    """A grey canvas with image patches pasted at (x, y) positions."""
    canvas = np.full((size[1], size[0], 3), 127, np.uint8)
    for patch, (x, y) in parts:
        canvas[y:y + patch.shape[0], x:x + patch.shape[1]] = patch
    return canvas


def _order_pick(model, canvas, order):
    faces = _faces(model, canvas)
    q = assess(canvas, faces.xyxy, faces.scores, faces.landmarks, QualitySettings())
    idx = face_order(faces.xyxy, faces.scores, order, (canvas.shape[1], canvas.shape[0]), [f.score for f in q])
    return faces, idx


def test_order_keeps_the_largest_the_best_and_the_most_central(model, load_image):
    newton = load_image("newton.png")   # 768x432, one face
    face = newton[:, 168:600]            # 432x432 around the face
    half = cv2.resize(face, (216, 216), interpolation=cv2.INTER_AREA)
    # area: the small copy is placed first and scores at least as well; max_faces=1 must keep the large one
    faces, idx = _order_pick(model, _canvas([(half, (50, 50)), (face, (900, 400))]), "area")
    assert len(faces) == 2 and faces.xyxy[idx[0], 0] > 800
    # center: the small copy sits at the centre
    faces, idx = _order_pick(model, _canvas([(face, (40, 40)), (half, (692, 392))]), "center")
    assert len(faces) == 2 and 600 < faces.xyxy[idx[0], 0] < 1000
    # quality: the same face, sharp on the right, blurred (sigma 4 px) on the left
    blurred = cv2.GaussianBlur(face, (0, 0), 4)
    faces, idx = _order_pick(model, _canvas([(blurred, (100, 300)), (face, (1000, 300))]), "quality")
    assert len(faces) == 2 and faces.xyxy[idx[0], 0] > 900
