"""The official WIDER FACE evaluation protocol, on the images that are present.

It follows the protocol of the official toolbox (``wider_eval.m``) and its widely used
Python port: scores min-max normalised over all predictions; 1000 score thresholds;
each prediction, in descending score order, matched to the ground-truth face it overlaps
most when that IoU is >= 0.5 (areas counted with the toolbox's +1 pixel convention); a
prediction matched to a face outside the setting's keep-list is ignored, neither a hit
nor a false positive; VOC all-point average precision.

One difference from the toolbox, by design: only images present in the images folder
are scored. Absent images are left out (their faces are not counted as misses).

Predictions in memory are ``(N, 5)`` float arrays ``x1, y1, x2, y2, score`` in image pixels
(our ``Detections`` are xyxy); files use the standard per-image txt format, with
``x y w h score`` lines (:func:`write_predictions`, :func:`read_predictions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

SETTINGS = ("easy", "medium", "hard")
THRESH_NUM = 1000
IOU_THRESH = 0.5


@dataclass(frozen=True)
class GroundTruth:
    """WIDER FACE ground truth for the images in scope: key ``event/name`` (no extension)."""

    boxes: dict[str, np.ndarray]                  # (M, 4) float xyxy, x2 = x + w as the toolbox does
    keep: dict[str, dict[str, np.ndarray]]        # setting -> key -> 0-based indices of the faces it scores

    @property
    def keys(self) -> list[str]:
        return list(self.boxes)


def load_ground_truth(gt_dir: str | Path, images_dir: str | Path | None = None) -> GroundTruth:
    """Read ``wider_face_val.mat`` and the three ``wider_<setting>_val.mat`` keep-lists.

    With ``images_dir`` (WIDER layout ``<event>/<name>.jpg``), only images present there are kept.
    """
    try:
        from scipy.io import loadmat
    except ImportError:  # pragma: no cover - depends on the install
        raise RuntimeError("reading the WIDER FACE .mat files needs scipy: pip install 'hailo-scrfd[eval]'") from None
    gt_dir = Path(gt_dir)
    for name in ("wider_face_val.mat", *(f"wider_{s}_val.mat" for s in SETTINGS)):
        if not (gt_dir / name).is_file():
            raise FileNotFoundError(f"WIDER FACE ground truth file missing: {gt_dir / name}")
    full = loadmat(str(gt_dir / "wider_face_val.mat"))
    present = None if images_dir is None else _present_images(Path(images_dir))
    boxes: dict[str, np.ndarray] = {}
    for event, files, bbxs in _walk(full):
        for name, bbx in zip(files, bbxs, strict=True):
            key = f"{event}/{name}"
            if present is None or key in present:
                xywh = np.asarray(bbx, dtype=np.float64).reshape(-1, 4)
                boxes[key] = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    keep: dict[str, dict[str, np.ndarray]] = {}
    for setting in SETTINGS:
        mat = loadmat(str(gt_dir / f"wider_{setting}_val.mat"))
        keep[setting] = {}
        for i, event in enumerate(_strings(mat["event_list"])):
            files = _strings(mat["file_list"][i][0])
            for name, idx in zip(files, mat["gt_list"][i][0], strict=True):
                key = f"{event}/{name}"
                if key in boxes:
                    keep[setting][key] = np.asarray(idx[0], dtype=np.int64).reshape(-1) - 1
    return GroundTruth(boxes, keep)


def _strings(cells) -> list[str]:
    return [str(np.asarray(c[0]).reshape(-1)[0]) for c in cells]


def _walk(full: dict):
    for i, event in enumerate(_strings(full["event_list"])):
        files = _strings(full["file_list"][i][0])
        bbxs = [np.asarray(b[0]) for b in full["face_bbx_list"][i][0]]
        yield event, files, bbxs


def _present_images(images_dir: Path) -> set[str]:
    if not images_dir.is_dir():
        raise FileNotFoundError(f"WIDER FACE images folder not found: {images_dir}")
    return {f"{p.parent.name}/{p.stem}" for p in images_dir.glob("*/*.jpg")}


def _overlaps(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU (N, M) of xyxy boxes with the toolbox's inclusive (+1) pixel areas."""
    iw = np.minimum(pred[:, None, 2], gt[None, :, 2]) - np.maximum(pred[:, None, 0], gt[None, :, 0]) + 1
    ih = np.minimum(pred[:, None, 3], gt[None, :, 3]) - np.maximum(pred[:, None, 1], gt[None, :, 1]) + 1
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_p = (pred[:, 2] - pred[:, 0] + 1) * (pred[:, 3] - pred[:, 1] + 1)
    area_g = (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1)
    return inter / (area_p[:, None] + area_g[None, :] - inter)


def image_pr(pred: np.ndarray, gt: np.ndarray, scored: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per-threshold (proposals, hits) of one image; ``pred`` sorted by descending score.

    ``scored`` is a boolean mask over ``gt``: the faces in the setting's keep-list.
    """
    out = np.zeros((len(thresholds), 2))
    if len(pred) == 0 or len(gt) == 0:
        return out
    iou = _overlaps(pred[:, :4], gt)
    best, best_iou = iou.argmax(axis=1), iou.max(axis=1)
    recalled = np.zeros(len(gt), dtype=bool)
    counted = np.ones(len(pred), dtype=bool)        # a proposal that counts (not matched to an ignored face)
    hits_so_far = np.zeros(len(pred))
    for h in range(len(pred)):
        if best_iou[h] >= IOU_THRESH:
            if scored[best[h]]:
                recalled[best[h]] = True
            else:
                counted[h] = False
        hits_so_far[h] = recalled.sum()
    # For each threshold, the last prediction scoring at least it (predictions are sorted).
    last = np.searchsorted(-pred[:, 4], -thresholds, side="right") - 1
    valid = last >= 0
    cum_props = np.cumsum(counted)
    out[valid, 0] = cum_props[last[valid]]
    out[valid, 1] = hits_so_far[last[valid]]
    return out


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC all-point interpolated average precision."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def normalise_scores(predictions: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Min-max normalise the score column over every prediction; each image sorted by score."""
    arrays = {k: np.asarray(v, dtype=np.float64).reshape(-1, 5) for k, v in predictions.items()}
    scores = np.concatenate([a[:, 4] for a in arrays.values()] or [np.zeros(0)])
    lo, hi = (scores.min(), scores.max()) if scores.size else (0.0, 1.0)
    span = hi - lo
    out = {}
    for key, a in arrays.items():
        a = a.copy()
        a[:, 4] = (a[:, 4] - lo) / span if span > 0 else 1.0
        out[key] = a[np.argsort(-a[:, 4], kind="stable")]
    return out


def evaluate(predictions: Mapping[str, np.ndarray], gt: GroundTruth) -> dict[str, float]:
    """Easy, medium and hard AP of ``predictions`` (key ``event/name`` -> (N, 5) xyxy + score).

    Every ground-truth image counts; one with no predictions contributes only misses.
    Predictions for images outside the ground truth are an error (a key mismatch).
    """
    unknown = set(predictions) - set(gt.boxes)
    if unknown:
        raise KeyError(f"{len(unknown)} predicted images are not in the ground truth, e.g. {sorted(unknown)[0]}")
    preds = normalise_scores({k: predictions[k] for k in gt.boxes if k in predictions})
    thresholds = 1.0 - np.arange(1, THRESH_NUM + 1) / THRESH_NUM
    result = {}
    for setting in SETTINGS:
        curve = np.zeros((THRESH_NUM, 2))
        count = 0
        for key, boxes in gt.boxes.items():
            idx = gt.keep[setting].get(key, np.zeros(0, np.int64))
            count += len(idx)
            scored = np.zeros(len(boxes), dtype=bool)
            scored[idx] = True
            curve += image_pr(preds.get(key, np.zeros((0, 5))), boxes, scored, thresholds)
        precision = np.divide(curve[:, 1], curve[:, 0], out=np.zeros(THRESH_NUM), where=curve[:, 0] > 0)
        recall = curve[:, 1] / count if count else np.zeros(THRESH_NUM)
        result[setting] = voc_ap(recall, precision)
    return result


def write_predictions(predictions: Mapping[str, np.ndarray], out_dir: str | Path) -> None:
    """The standard per-image files ``<out>/<event>/<name>.txt``: name, count, ``x y w h score`` lines."""
    out_dir = Path(out_dir)
    for key, arr in predictions.items():
        arr = np.asarray(arr, dtype=np.float64).reshape(-1, 5)
        event, name = key.split("/")
        (out_dir / event).mkdir(parents=True, exist_ok=True)
        lines = [name, str(len(arr))]
        lines += [f"{x1:.3f} {y1:.3f} {x2 - x1:.3f} {y2 - y1:.3f} {s:.5f}" for x1, y1, x2, y2, s in arr]
        (out_dir / event / f"{name}.txt").write_text("\n".join(lines) + "\n")


def read_predictions(pred_dir: str | Path) -> dict[str, np.ndarray]:
    """Read per-image txt files (as :func:`write_predictions` writes them) back to xyxy + score."""
    out = {}
    for path in sorted(Path(pred_dir).glob("*/*.txt")):
        lines = path.read_text().splitlines()
        rows = [list(map(float, ln.split()[:5])) for ln in lines[2:] if ln.strip()]
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        arr[:, 2:4] += arr[:, :2]
        out[f"{path.parent.name}/{path.stem}"] = arr
    return out


def format_table(ap: Mapping[str, float]) -> str:
    """The easy / medium / hard AP table, as printed by ``hailo-scrfd eval``."""
    return "setting   AP\n" + "\n".join(f"{s:<8}  {ap[s]:.4f}" for s in SETTINGS if s in ap)
