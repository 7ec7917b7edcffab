"""The WIDER FACE evaluator against a synthetic ground truth whose AP is worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_scrfd.evaluation import widerface as wf

scipy_io = pytest.importorskip("scipy.io")

EVENT = "0--Test"
# xywh, as the official .mat files store them
GT = {
    "a": [[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]],  # F1, F2, F3
    "b": [[0, 0, 20, 20]],                                      # G1
    "c": [[0, 0, 30, 30], [50, 50, 30, 30]],                    # its image is absent: must not count
}
KEEP = {"easy": {"a": [1, 2], "b": [1], "c": [1, 2]},          # 1-based, as in the .mat files
        "medium": {"a": [1, 2, 3], "b": [1], "c": [1, 2]},
        "hard": {"a": [2, 3], "b": [1], "c": [1, 2]}}
# xyxy + raw score
PRED = {
    f"{EVENT}/a": [[0, 0, 10, 10, 0.9],      # p1: F1
                   [200, 0, 210, 10, 0.8],   # p2: F3
                   [0, 0, 10, 10, 0.7],      # p3: a duplicate on F1
                   [300, 0, 310, 10, 0.5]],  # p4: background
    f"{EVENT}/b": [[0, 0, 20, 20, 0.6],      # q1: G1
                   [500, 500, 520, 520, 0.3]],  # q2: background, the lowest score
}


def _cells(items) -> np.ndarray:
    out = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        out[i, 0] = item
    return out


def _write_gt(tmp_path, gt=GT, keep=KEEP):
    names = list(gt)
    files = _cells([_cells([np.array([n]) for n in names])])
    base = {"event_list": _cells([np.array([EVENT])]), "file_list": files}
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    bbx = _cells([_cells([np.array(gt[n], dtype=np.int32).reshape(-1, 4) for n in names])])
    scipy_io.savemat(gt_dir / "wider_face_val.mat", {**base, "face_bbx_list": bbx})
    for setting, lists in keep.items():
        gl = _cells([_cells([np.array(lists[n], dtype=np.uint8).reshape(-1, 1) for n in names])])
        scipy_io.savemat(gt_dir / f"wider_{setting}_val.mat", {**base, "face_bbx_list": bbx, "gt_list": gl})
    images = tmp_path / "images" / EVENT
    images.mkdir(parents=True)
    for n in names:
        if n != "c":
            (images / f"{n}.jpg").write_bytes(b"")
    return gt_dir, tmp_path / "images"


def test_hand_worked_ap(tmp_path):
    """Scores normalise with min 0.3 and max 0.9: p1 1.0, p2 .833, p3 .667, q1 .5, p4 .333, q2 0.
    Image c is absent from the images folder, so its two faces are not counted.

    easy (scored F1, F2, G1; F3 ignored; 3 faces), cumulative (proposals, hits) in score order:
      p1 (1, 1); p2 hits the ignored F3: (1, 1); p3 duplicate (2, 1); q1 (3, 2); p4 (4, 2); q2 (5, 2).
      Points (R, P): (1/3, 1), (1/3, 1/2), (2/3, 2/3), (2/3, 1/2), (2/3, 2/5).
      AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    medium (all of F1, F2, F3, G1; 4 faces):
      p1 (1, 1); p2 (2, 2); p3 (3, 2); q1 (4, 3); p4 (5, 3); q2 (6, 3).
      Points: (1/4, 1), (2/4, 1), (2/4, 2/3), (3/4, 3/4), (3/4, 3/5), (3/4, 1/2).  AP = 1/4 + 1/4 + 1/4 * 3/4 = 11/16.
    hard (F2, F3, G1; F1 ignored; 3 faces):
      p1 on the ignored F1 (0, 0); p2 (1, 1); p3 on F1 again, ignored (1, 1); q1 (2, 2); p4 (3, 2); q2 (4, 2).
      Points: (1/3, 1), (2/3, 1), (2/3, 2/3), (2/3, 1/2).  AP = 2/3.
    """
    gt_dir, images = _write_gt(tmp_path)
    gt = wf.load_ground_truth(gt_dir, images)
    assert sorted(gt.keys) == [f"{EVENT}/a", f"{EVENT}/b"]
    ap = wf.evaluate({k: np.array(v, float) for k, v in PRED.items()}, gt)
    assert ap["easy"] == pytest.approx(5 / 9, abs=1e-12)
    assert ap["medium"] == pytest.approx(11 / 16, abs=1e-12)
    assert ap["hard"] == pytest.approx(2 / 3, abs=1e-12)


def test_absent_images_count_when_present(tmp_path):
    """Without the images filter, image c's two faces are misses: medium recall tops at 3/6.

    medium points: (1/6, 1), (2/6, 1), (2/6, 2/3), (3/6, 3/4), ...  AP = 1/6 + 1/6 + 1/6 * 3/4 = 11/24.
    """
    gt_dir, _ = _write_gt(tmp_path)
    gt = wf.load_ground_truth(gt_dir)
    ap = wf.evaluate({k: np.array(v, float) for k, v in PRED.items()}, gt)
    assert ap["medium"] == pytest.approx(11 / 24, abs=1e-12)


def test_iou_uses_inclusive_pixel_areas(tmp_path):
    """Face (0, 0, 10, 10): the toolbox's areas are (w + 1)(h + 1) = 121.
    A box (0, 0, 10, 21) overlaps it 121 / (11 * 22) = 0.5: a hit (with plain areas it would be 100/210, a miss).
    A box (0, 0, 10, 22) gives 121 / 253 = 0.478: a miss, AP 0."""
    gt_dir, images = _write_gt(tmp_path, gt={"a": [[0, 0, 10, 10]]},
                               keep={s: {"a": [1]} for s in wf.SETTINGS})
    gt = wf.load_ground_truth(gt_dir, images)
    hit = wf.evaluate({f"{EVENT}/a": np.array([[0, 0, 10, 21, 0.9]])}, gt)
    miss = wf.evaluate({f"{EVENT}/a": np.array([[0, 0, 10, 22, 0.9]])}, gt)
    assert hit == {s: pytest.approx(1.0) for s in wf.SETTINGS}
    assert miss == {s: 0.0 for s in wf.SETTINGS}


def test_predictions_round_trip_through_txt(tmp_path):
    preds = {k: np.array(v, float) for k, v in PRED.items()}
    wf.write_predictions(preds, tmp_path / "out")
    text = (tmp_path / "out" / EVENT / "b.txt").read_text().splitlines()
    assert text[:3] == ["b", "2", "0.000 0.000 20.000 20.000 0.60000"]
    back = wf.read_predictions(tmp_path / "out")
    assert set(back) == set(preds)
    for k in preds:
        np.testing.assert_allclose(back[k], preds[k], atol=1e-3)


def test_unknown_prediction_keys_are_an_error(tmp_path):
    gt_dir, images = _write_gt(tmp_path)
    gt = wf.load_ground_truth(gt_dir, images)
    with pytest.raises(KeyError, match="not in the ground truth"):
        wf.evaluate({"0--Test/zzz": np.zeros((0, 5))}, gt)


def test_missing_ground_truth_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="wider_face_val.mat"):
        wf.load_ground_truth(tmp_path)
