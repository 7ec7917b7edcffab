"""Close-up crops made from the ../shared photos: each face's box fills 80-100 % of its crop."""

from __future__ import annotations

import numpy as np
import cv2

MIN_FACE_PX = 20
MIN_SCORE = 0.7  # a clear face: the crowd's blurred, half-hidden faces (0.5-0.7) are no selfie


def make_closeups(reference: dict, load_image, seed: int = 0, min_face_px: int = MIN_FACE_PX,
                  min_score: float = MIN_SCORE):
    """(crop, expected xyxy box in the crop) for every reference face of at least ``min_face_px``
    that the reference scored ``min_score`` or more.

    The crop is square around the face, the face's longer side 80-100 % of it, shifted at random
    within that, then resized to a phone-like 400-1000 px side (selfies and ID photos are large).
    """
    rng = np.random.default_rng(seed)
    out = []
    for name, entry in sorted(reference["scrfd_2.5g_bnkps.onnx"].items()):
        faces = entry["faces"]
        if not faces:
            continue
        image = load_image(name)
        h, w = image.shape[:2]
        for face in faces:
            x1, y1, x2, y2 = face["box"]
            size = max(x2 - x1, y2 - y1)
            if size < min_face_px or face["score"] < min_score:
                continue
            side = size / rng.uniform(0.8, 1.0)
            cx = (x1 + x2) / 2 + rng.uniform(-0.5, 0.5) * (side - (x2 - x1))
            cy = (y1 + y2) / 2 + rng.uniform(-0.5, 0.5) * (side - (y2 - y1))
            cx0, cy0 = int(round(cx - side / 2)), int(round(cy - side / 2))
            s = int(round(side))
            if cx0 < 0 or cy0 < 0 or cx0 + s > w or cy0 + s > h:
                continue  # the crop would leave the photo
            crop = image[cy0:cy0 + s, cx0:cx0 + s]
            target = int(rng.integers(400, 1001))
            k = target / s
            crop = cv2.resize(crop, (target, target), interpolation=cv2.INTER_CUBIC)
            box = (np.array([x1, y1, x2, y2]) - [cx0, cy0, cx0, cy0]) * k
            out.append((crop, box))
    return out


def found(boxes: np.ndarray, expected: np.ndarray, iou_min: float = 0.4) -> bool:
    """Whether any detected xyxy box overlaps the expected face by ``iou_min`` or more."""
    if len(boxes) == 0:
        return False
    ix = np.clip(np.minimum(boxes[:, 2], expected[2]) - np.maximum(boxes[:, 0], expected[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], expected[3]) - np.maximum(boxes[:, 1], expected[1]), 0, None)
    inter = ix * iy
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + (expected[2] - expected[0]) * (expected[3] - expected[1]) - inter
    return bool(np.any(inter / union >= iou_min))
