"""Pass planning: pure arithmetic on sizes."""

from __future__ import annotations

import pytest

from hailo_scrfd.vision import scales
from hailo_scrfd.vision.scales import plan_passes, rescue_pass, tile_grid

FIXED, DYN = ((640, 640), False), ((640, 640), True)


def test_fast_is_one_pass_that_matches_fit_letterbox():
    from hailo_scrfd.vision.letterbox import fit_letterbox

    (p,) = plan_passes((886, 1280), *DYN, mode="fast")
    lb = fit_letterbox((886, 1280), (640, 640))
    assert p.resized_hw == lb.resized_hw and p.canvas_hw == lb.input_hw
    assert p.scale_xy == pytest.approx(lb.scale)
    (q,) = plan_passes((886, 1280), *FIXED, mode="fast")
    assert q.canvas_hw == (640, 640) and q.resized_hw == (443, 640)


def test_min_face_size_shrinks_the_input_but_keeps_faces_at_the_floor():
    (p,) = plan_passes((768, 1024), *DYN, mode="fast", min_face_size=60)
    sx, _ = p.scale_xy
    assert p.canvas_hw == (384, 480) and p.pixels < 640 * 480 * 0.65
    assert 60 * sx >= scales.MIN_FACE_INPUT_PX - 0.5
    (q,) = plan_passes((768, 1024), *DYN, mode="fast", min_face_size=5)  # never larger than the input
    assert q.canvas_hw == (480, 640)


@pytest.mark.parametrize("hw", [(768, 1024), (1365, 1024), (1024, 1024), (683, 1024), (2171, 3000), (328, 400)])
def test_full_on_fixed_is_at_most_eight_runs_of_the_fixed_input(hw):
    passes = plan_passes(hw, *FIXED, mode="full")
    assert len(passes) <= 8
    assert all(p.canvas_hw == (640, 640) for p in passes)
    assert all(p.resized_hw[0] <= 640 and p.resized_hw[1] <= 640 for p in passes)
    tiles = [p for p in passes if p.name == "tile"]
    assert tiles, "small faces need tiles on a fixed-shape backend"
    # the tiles cover the image, and overlap by more than the largest face they are trusted for
    h, w = hw
    covered = set()
    for t in tiles:
        x0, y0, x1, y1 = t.crop
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        covered |= {(x, y) for x in range(x0 // 8, -(-x1 // 8)) for y in range(y0 // 8, -(-y1 // 8))}
    assert len(covered) == -(-w // 8) * -(-h // 8)
    xs = sorted({t.crop[0] for t in tiles})
    if len(xs) > 1:
        width = tiles[0].crop[2] - tiles[0].crop[0]
        assert min(b - a for a, b in zip(xs, xs[1:], strict=False)) <= width - tiles[0].face_range[1]


def test_full_on_dynamic_is_three_passes_with_ranges_that_chain():
    base, reduced, hires = plan_passes((768, 1024), *DYN, mode="full")
    assert (base.name, reduced.name, hires.name) == ("base", "reduced", "hires")
    assert hires.scale_xy[0] == pytest.approx(base.scale_xy[0] * scales.HIRES_FACTOR, rel=0.01)
    assert reduced.pixels <= base.pixels / 3
    # every face size is trusted by at least one pass
    assert hires.face_range[0] == 0 and hires.face_range[1] > base.face_range[0]
    assert base.face_range[1] > reduced.face_range[0] and reduced.face_range[1] == float("inf")


def test_reduced_and_rescue_put_a_frame_filling_face_at_half_the_canvas():
    for dynamic in (True, False):
        p = rescue_pass((1000, 800), (640, 640), dynamic)
        rh, rw = p.resized_hw
        assert max(rh / p.canvas_hw[0], rw / p.canvas_hw[1]) <= scales.REDUCED_FILL + 0.07
    assert rescue_pass((1000, 800), (640, 640), True).pixels <= 640 * 640 / 4


def test_min_face_size_can_drop_the_high_resolution_pass():
    names = [p.name for p in plan_passes((768, 1024), *FIXED, mode="full", min_face_size=200)]
    assert "tile" not in names


def test_tile_grid():
    assert tile_grid(500, 640, 100) == [0]
    assert tile_grid(1024, 512, 100) == [0, 256, 512]
    g = tile_grid(1000, 400, 50)
    assert g[0] == 0 and g[-1] == 600 and all(b - a <= 350 for a, b in zip(g, g[1:], strict=False))


@pytest.mark.parametrize("bad", [dict(mode="best"), dict(image_hw=(0, 10))])
def test_bad_arguments_are_clear_errors(bad):
    args = dict(image_hw=(100, 100), input_hw=(640, 640), dynamic=True, mode="fast") | bad
    with pytest.raises(ValueError):
        plan_passes(**args)
