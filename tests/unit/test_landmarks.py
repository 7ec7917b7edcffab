"""The pure half of landmark refinement: upright cells, their mirrors, packing, mapping back."""

from __future__ import annotations

import numpy as np
import pytest

from hailo_scrfd.vision.align import ARCFACE_TEMPLATE
from hailo_scrfd.vision.landmarks import (CELL, FACE_SPAN, MIRROR_ORDER, Cell, apply_affine, cell_landmarks,
                                          cell_matrix, draw, face_cell, invert_affine, mirror_cell,
                                          mirror_points, pack, refined)
from hailo_scrfd.vision.pose import eye_roll


def _dot_image(size: tuple[int, int], at: tuple[int, int], radius: int) -> np.ndarray:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    yy, xx = np.mgrid[:size[1], :size[0]]
    image[(xx - at[0]) ** 2 + (yy - at[1]) ** 2 <= radius ** 2] = 255
    return image


def _centroid(pixels: np.ndarray) -> np.ndarray:
    weight = pixels[..., 0].astype(np.float64)
    yy, xx = np.mgrid[:pixels.shape[0], :pixels.shape[1]]
    return np.array([(xx * weight).sum(), (yy * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("box_side", [60.0, 600.0])  # a plain warp, and a large face reduced first
@pytest.mark.parametrize("roll", [-35.0, 0.0, 25.0])
def test_cell_matrix_says_where_photo_pixels_land(box_side, roll):
    centre = np.array([400.0, 300.0])
    dot = (int(centre[0] + 0.2 * box_side), int(centre[1] - 0.15 * box_side))
    image = _dot_image((800, 700), dot, radius=max(int(box_side / 20), 2))
    box = np.r_[centre - box_side / 2, centre + box_side / 2]
    cell = face_cell(image, box, roll)
    assert cell.pixels.shape == (CELL, CELL, 3)
    expected = apply_affine(cell.matrix, np.array(dot, np.float64) + 0.5) - 0.5  # pixel centres
    assert np.linalg.norm(_centroid(cell.pixels) - expected) < 0.6
    scale = np.hypot(*cell.matrix[0, :2])
    assert scale == pytest.approx(FACE_SPAN / box_side, rel=0.02)


def test_cell_puts_the_eye_line_level_and_maps_back_exactly():
    lm = ARCFACE_TEMPLATE * 3 + [200, 150]
    for roll in (-40.0, -12.0, 33.0):
        t = np.radians(roll)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        tilted = (lm - lm.mean(0)) @ rot.T + lm.mean(0)
        m = cell_matrix(tilted.mean(0), float(eye_roll(tilted)[0]), 0.5)
        in_cell = apply_affine(m, tilted)
        assert eye_roll(in_cell)[0] == pytest.approx(0.0, abs=1e-9)
        assert np.allclose(apply_affine(invert_affine(m), in_cell), tilted, atol=1e-9)
        assert np.allclose(refined(tilted + 5, in_cell, in_cell, m), tilted, atol=1e-9)


def test_mirroring_swaps_sides_and_undoes_itself():
    lm = ARCFACE_TEMPLATE.astype(np.float64)
    once = mirror_points(lm, 112)
    assert np.allclose(mirror_points(once, 112), lm)
    assert np.allclose(once[0], [112 - lm[1, 0], lm[1, 1]]) and MIRROR_ORDER == [1, 0, 2, 4, 3]
    # a detection in a mirrored cell comes back unflipped, in the cell's own pixels
    cell = Cell(np.zeros((CELL, CELL, 3), np.uint8), cell_matrix((0, 0), 0, 1))
    centred = lm - lm.mean(0) + CELL / 2
    found = mirror_points(centred, CELL)[None] + [320, 160]
    assert np.allclose(cell_landmarks(mirror_cell(cell), found, (320, 160)), centred)
    assert np.allclose(cell_landmarks(cell, found, (320, 160)), found[0] - [320, 160])


def test_a_cell_takes_only_the_detection_at_its_centre():
    cell = Cell(np.zeros((CELL, CELL, 3), np.uint8), cell_matrix((0, 0), 0, 1))
    lm = ARCFACE_TEMPLATE - ARCFACE_TEMPLATE[2] + CELL / 2
    elsewhere = lm + [CELL / 2, 0]
    assert np.allclose(cell_landmarks(cell, np.stack([elsewhere, lm]), (0, 0)), lm)
    assert cell_landmarks(cell, elsewhere[None], (0, 0)) is None
    assert cell_landmarks(cell, np.zeros((0, 5, 2)), (0, 0)) is None
    first = lm + 7
    assert np.allclose(refined(first, None, None, cell.matrix), first)


@pytest.mark.parametrize("count", [1, 2, 5, 16, 33])
def test_cells_pack_without_overlap(count):
    for canvas_hw in (None, (640, 640)):
        canvases = pack(count, canvas_hw)
        assert sum(len(p) for _, p in canvases) == count
        for hw, positions in canvases:
            assert hw[0] % 32 == 0 and hw[1] % 32 == 0
            assert len(set(positions)) == len(positions)
            assert all(0 <= x <= hw[1] - CELL and 0 <= y <= hw[0] - CELL for x, y in positions)
        if canvas_hw is None:
            assert len(canvases) == 1
        else:
            assert all(hw == canvas_hw for hw, _ in canvases) and len(canvases) == -(-count // 16)
    assert pack(0, None) == []


def test_draw_pastes_each_cell_where_packed():
    cells = [Cell(np.full((CELL, CELL, 3), v, np.uint8), np.eye(2, 3)) for v in (10, 20, 30)]
    (hw, positions), = pack(3, None)
    canvas = draw(hw, cells, positions)
    for (x, y), value in zip(positions, (10, 20, 30), strict=True):
        assert (canvas[y:y + CELL, x:x + CELL] == value).all()
    assert (canvas == 0).sum() == canvas.size - 3 * CELL * CELL * 3
