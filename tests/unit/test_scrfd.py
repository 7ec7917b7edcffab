"""Anchor grid, distance decode, NMS, output mapping and letterbox, on synthetic data with known answers."""

import numpy as np
import pytest

from hailo_scrfd.backends.base import canonical_outputs
from hailo_scrfd.options import DetectOptions
from hailo_scrfd.pipeline.select import select
from hailo_scrfd.vision.letterbox import fixed_letterbox
from hailo_scrfd.vision.detections import Detections, nms
from hailo_scrfd.vision.scrfd import StrideOutput, anchor_centers, decode, distance2bbox, distance2kps, postprocess


class TestAnchors:
    def test_grid_is_x_then_y_with_two_anchors_per_cell(self):
        c = anchor_centers(64, 96, 32)
        # 2 rows x 3 cols x 2 anchors
        assert c.shape == (12, 2)
        np.testing.assert_array_equal(c[:6], [[0, 0], [0, 0], [32, 0], [32, 0], [64, 0], [64, 0]])
        np.testing.assert_array_equal(c[6:8], [[0, 32], [0, 32]])

    @pytest.mark.parametrize("stride,count", [(8, 12800), (16, 3200), (32, 800)])
    def test_counts_for_640(self, stride, count):
        assert len(anchor_centers(640, 640, stride)) == count

    def test_cached_and_read_only(self):
        a = anchor_centers(640, 640, 8)
        assert a is anchor_centers(640, 640, 8)
        with pytest.raises(ValueError):
            a[0, 0] = 1

    def test_single_anchor(self):
        assert anchor_centers(64, 64, 32, 1).tolist() == [[0, 0], [32, 0], [0, 32], [32, 32]]


def test_distance2bbox_and_kps():
    centers = np.array([[100.0, 50.0]], np.float32)
    np.testing.assert_allclose(distance2bbox(centers, np.array([[10, 20, 30, 40]], np.float32)), [[90, 30, 130, 90]])
    kps = distance2kps(centers, np.arange(10, dtype=np.float32)[None])
    np.testing.assert_allclose(kps[0], [[100, 51], [102, 53], [104, 55], [106, 57], [108, 59]])


class TestNMS:
    def test_suppresses_overlap_keeps_disjoint_in_score_order(self):
        boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.5]], np.float32)
        scores = np.array([0.8, 0.9, 0.7, 0.1], np.float32)
        # IoU([0,0,10,10],[1,1,11,11]) = 81/119 = 0.68
        assert nms(boxes, scores, 0.4).tolist() == [1, 2]
        assert nms(boxes, scores, 0.7).tolist() == [1, 0, 2]

    def test_iou_equal_to_threshold_is_kept(self):
        boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU = 50/150
        scores = np.array([0.9, 0.8], np.float32)
        assert nms(boxes, scores, 1 / 3 + 1e-6).tolist() == [0, 1]
        assert nms(boxes, scores, 1 / 3 - 1e-6).tolist() == [0]

    def test_empty_and_degenerate(self):
        assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.4).tolist() == []
        boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5]], np.float32)  # zero area: IoU undefined, treated as 0
        assert nms(boxes, np.array([0.5, 0.6], np.float32), 0.4).tolist() == [1, 0]


def _outputs(hw, hits):
    """Canonical outputs that are all zero except ``hits``: {(stride, index): (score, box_dist, kps)}."""
    h, w = hw
    outs = []
    for s in (8, 16, 32):
        n = (h // s) * (w // s) * 2
        scores, boxes, kps = np.zeros(n, np.float32), np.zeros((n, 4), np.float32), np.zeros((n, 10), np.float32)
        for (stride, idx), (sc, bd, kp) in hits.items():
            if stride == s:
                scores[idx], boxes[idx], kps[idx] = sc, bd, kp
        outs.append(StrideOutput(s, scores, boxes, kps))
    return outs


def test_decode_threshold_is_inclusive_and_uses_stride():
    # stride 16, cell (x=2, y=1) of a 64-wide input: cell index 1*4 + 2 = 6, second anchor -> 13
    outs = _outputs((64, 64), {(16, 13): (0.5, [1, 1, 2, 2], [0.5] * 10), (8, 0): (0.49, [1] * 4, [0] * 10)})
    faces = decode(outs, (64, 64), 0.5)
    assert len(faces) == 1
    np.testing.assert_allclose(faces.xyxy[0], [32 - 16, 16 - 16, 32 + 32, 16 + 32])
    np.testing.assert_allclose(faces.landmarks[0], [[40, 24]] * 5)


def test_postprocess_rescales_clips_and_filters():
    outs = _outputs((64, 64), {
        (8, 0): (0.9, [1, 1, 1, 1], [0] * 10),         # box (-8,-8,8,8): clipped to (0,0,8,8)
        (32, 6): (0.8, [0.5, 0.5, 1.5, 1.5], [0] * 10),  # cell (1,1) centre (32,32): box (16,16,80,80)
    })
    faces = postprocess(outs, input_hw=(64, 64), scale=(0.5, 0.5), image_size=(100, 120),
                        threshold=0.5, nms_threshold=0.4)
    assert faces.scores.tolist() == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(faces.xyxy, [[0, 0, 16, 16], [32, 32, 100, 120]])
    np.testing.assert_allclose(faces.landmarks[0], [[0, 0]] * 5)  # landmarks are not clipped
    small = select(faces, (100, 120), DetectOptions(min_face_size=20)).faces  # the request's filters: pipeline's
    assert small.scores.tolist() == pytest.approx([0.8])
    largest = select(faces, (100, 120), DetectOptions(max_faces=1)).faces
    assert largest.scores.tolist() == pytest.approx([0.8])


def test_max_faces_keeps_largest_but_returns_score_order():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 60, 60], [100, 100, 130, 130]], np.float32)
    faces = Detections(boxes, np.array([0.9, 0.8, 0.7], np.float32), np.zeros((3, 5, 2), np.float32))
    keep = np.sort(np.argsort(-faces.areas, kind="stable")[:2])
    assert faces[keep].scores.tolist() == pytest.approx([0.8, 0.7])
    np.testing.assert_allclose(faces.xywh[1], [20, 20, 40, 40])


class TestCanonicalOutputs:
    def _raw(self, hw=(640, 640)):
        h, w = hw
        raw = []
        for c in (1, 4, 10):
            for s in (8, 16, 32):
                raw.append(np.full(((h // s) * (w // s) * 2, c), s, np.float32))
        return raw

    def test_any_order_maps_by_shape(self):
        raw = self._raw()
        rng = np.random.default_rng(0)
        shuffled = [raw[i] for i in rng.permutation(len(raw))]
        outs = canonical_outputs(shuffled, (640, 640))
        assert [o.stride for o in outs] == [8, 16, 32]
        for o in outs:
            assert (o.scores == o.stride).all() and (o.boxes == o.stride).all() and (o.landmarks == o.stride).all()

    def test_rejects_models_without_landmarks(self):
        with pytest.raises(ValueError, match="no landmark outputs"):
            canonical_outputs(self._raw()[:6], (640, 640))

    def test_rejects_wrong_counts_and_shapes(self):
        raw = self._raw()
        with pytest.raises(ValueError, match="rows"):
            canonical_outputs(raw, (320, 320))
        with pytest.raises(ValueError, match="unexpected SCRFD output shape"):
            canonical_outputs(raw + [np.zeros((5, 3), np.float32)], (640, 640))


class TestLetterbox:
    def test_landscape_fills_width_and_uses_height_ratio(self):
        lb = fixed_letterbox((1150, 2048), (640, 640))
        assert lb.resized_hw == (359, 640)
        assert lb.scale == (359 / 1150, 359 / 1150)

    def test_portrait_fills_height(self):
        lb = fixed_letterbox((1305, 1024), (640, 640))
        assert lb.resized_hw == (640, 502)

    def test_extreme_aspect_keeps_one_pixel(self):
        lb = fixed_letterbox((10, 20000), (640, 640))
        assert lb.resized_hw == (1, 640)
        canvas = lb.apply(np.full((10, 20000, 3), 200, np.uint8))
        assert canvas.shape == (640, 640, 3) and canvas[0].min() == 200 and canvas[1:].max() == 0

    def test_apply_places_image_top_left_on_zeros(self):
        img = np.full((100, 200, 3), 255, np.uint8)
        canvas = fixed_letterbox((100, 200), (640, 640)).apply(img)
        assert canvas[:320, :640].min() == 255 and canvas[320:].max() == 0


def test_quantized_outputs_decode_like_their_dequantized_floats():
    rng = np.random.default_rng(3)
    quant = ((1 / 255, 0), (0.03, 2), (0.035, 128))
    outs_q, outs_f = [], []
    for s in (8, 16, 32):
        n = (64 // s) ** 2 * 2
        q = [rng.integers(0, 256, n).astype(np.uint8), rng.integers(0, 256, (n, 4)).astype(np.uint8),
             rng.integers(0, 256, (n, 10)).astype(np.uint8)]
        outs_q.append(StrideOutput(s, *q, quant=quant))
        floats = [(a.astype(np.float32) - zp) * sc for a, (sc, zp) in zip(q, quant, strict=True)]
        outs_f.append(StrideOutput(s, *floats))
    a, b = decode(outs_q, (64, 64), 0.6), decode(outs_f, (64, 64), 0.6)
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a.xyxy, b.xyxy, rtol=1e-6)
    np.testing.assert_allclose(a.landmarks, b.landmarks, rtol=1e-6)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


class TestFitLetterbox:
    def test_pads_only_to_a_multiple_of_32(self):
        from hailo_scrfd.vision.letterbox import fit_letterbox
        lb = fit_letterbox((886, 1280), (640, 640))
        assert lb.resized_hw == (443, 640) and lb.input_hw == (448, 640)
        assert lb.scale == (0.5, 443 / 886)

    def test_maps_each_axis_exactly(self):
        from hailo_scrfd.vision.letterbox import fit_letterbox
        lb = fit_letterbox((1150, 2048), (640, 640))
        assert lb.resized_hw == (359, 640) and lb.input_hw == (384, 640)
        assert lb.scale == (640 / 2048, 359 / 1150)

    def test_portrait_small_and_extreme(self):
        from hailo_scrfd.vision.letterbox import fit_letterbox
        assert fit_letterbox((1305, 1024), (640, 640)).input_hw == (640, 512)
        assert fit_letterbox((328, 400), (640, 640)).input_hw == (544, 640)  # small images are upscaled
        lb = fit_letterbox((10, 20000), (640, 640))
        assert lb.resized_hw == (1, 640) and lb.input_hw == (32, 640)
        canvas = lb.apply(np.full((10, 20000, 3), 9, np.uint8))
        assert canvas.shape == (32, 640, 3) and canvas[0].min() == 9 and canvas[1:].max() == 0


def test_box_iou_matrix():
    from hailo_scrfd.vision.detections import box_iou
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1, 1 / 3, 0], [0, 0, 0]])
