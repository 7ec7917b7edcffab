"""Scale coverage on the simulated Hailo device, a fixed 640x640 backend: full mode runs as tiles there."""

from __future__ import annotations

import pytest

from ..accuracy.test_scale_coverage import _predict
from ..accuracy.wider import wider_subset


@pytest.mark.parametrize("chip", ["hailo10h"], indirect=True)  # the tiling is the same on both chips
def test_full_with_tiles_on_the_hailo_sim_matches_onnx_full(hailo_model, model, shared):
    """Issue 11: on the simulated HEF, full mode (640x640 tiles) reaches a hard AP within 0.02 of ONNX full
    (one larger input) on the same WIDER FACE photos, in at most 8 engine runs a photo."""
    gt, images = wider_subset(shared, every=6)
    hailo = hailo_model("2.5g", performance__inference_timeout_s=60)
    assert not hailo.input_spec.dynamic and hailo.input_spec.hw == (640, 640)
    on_npu, _, runs = _predict(hailo, gt, images, "full")
    on_cpu, _, _ = _predict(model, gt, images, "full")
    assert max(runs) <= 8
    # "Reaches": no more than 0.02 below. Tiles at 2x usually score higher than ONNX's one 1.5x input (0.90 vs 0.87
    # hard on this subset), since they see small faces larger, at more engine runs.
    assert on_npu["hard"] >= on_cpu["hard"] - 0.02, (on_npu, on_cpu)
    assert on_npu["easy"] >= on_cpu["easy"] - 0.02, (on_npu, on_cpu)
