"""Landmark refinement, the pure half: upright face cells, their mirror images, packing them on canvases, and
mapping the landmarks found in them back to the photo.

SCRFD's landmarks lag behind in-plane rotation (a bias toward upright that grows past about 20 degrees) and
are not exactly mirror-symmetric (a mirrored face gets landmarks a pixel or two off the mirror of the
original's). Both are fixed by running the detector once more on a small cell per face: the face's
neighbourhood rotated upright by its first roll estimate and scaled to a fixed size, next to the same cell
mirrored. The cell's landmarks and the mirrored cell's (mirrored back, left and right swapped) are averaged
and mapped back through the cell's affine transform. The average of a face and its mirror image is exactly
mirror-equivariant, and the detector now sees an upright face, where its landmarks are best.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CELL = 160              # px, a multiple of 32 (the detector's largest stride)
FACE_SPAN = 72.0        # px: the face box's geometric-mean side in the cell
MIRROR_ORDER = [1, 0, 2, 4, 3]  # landmark order after a horizontal flip: eyes and mouth corners swap


@dataclass(frozen=True)
class Cell:
    """One face's upright cell: its pixels, the 2x3 affine from photo to cell pixels, whether it is mirrored."""

    pixels: np.ndarray
    matrix: np.ndarray
    mirrored: bool = False


def cell_matrix(centre: np.ndarray, roll_deg: float, scale: float, cell: int = CELL) -> np.ndarray:
    """2x3 affine from photo pixels to cell pixels: ``centre`` to the cell's centre, rotated by ``-roll`` (so an
    eye line at ``roll`` becomes horizontal), scaled by ``scale``."""
    t = np.radians(roll_deg)
    c, s = np.cos(t) * scale, np.sin(t) * scale
    rot = np.array([[c, s], [-s, c]])  # scale * R(-roll), y down
    return np.c_[rot, cell / 2.0 - rot @ np.asarray(centre, np.float64)]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine transform."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(..., 2)`` points through a 2x3 affine transform."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def face_cell(image: np.ndarray, box: np.ndarray, roll_deg: float, cell: int = CELL) -> Cell:
    """The upright cell of the face in xyxy ``box`` whose eye line lies at ``roll_deg``.

    A large face is first reduced with area averaging (a plain warp would alias), then rotated and scaled.
    """
    box = np.asarray(box, np.float64)
    centre = (box[:2] + box[2:]) / 2.0
    side = float(np.sqrt(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0)))
    scale = FACE_SPAN / side
    matrix = cell_matrix(centre, roll_deg, scale, cell)
    if scale >= 0.7:
        pixels = cv2.warpAffine(image, matrix, (cell, cell), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return Cell(pixels, matrix)
    reach = 0.75 * cell / scale  # covers the rotated cell's corners (half-diagonal 0.707 cell / scale)
    height, width = image.shape[:2]
    x0, y0 = (max(int(v - reach), 0) for v in centre)
    x1, y1 = min(int(centre[0] + reach) + 1, width), min(int(centre[1] + reach) + 1, height)
    if x1 <= x0 or y1 <= y0:
        return Cell(np.zeros((cell, cell, 3), np.uint8), matrix)
    small = cv2.resize(image[y0:y1, x0:x1], (max(round((x1 - x0) * scale), 1), max(round((y1 - y0) * scale), 1)),
                       interpolation=cv2.INTER_AREA)
    fx, fy = small.shape[1] / (x1 - x0), small.shape[0] / (y1 - y0)
    to_small = np.array([[fx, 0.0, -x0 * fx], [0.0, fy, -y0 * fy]])
    rest = cell_matrix(apply_affine(to_small, centre), roll_deg, scale / np.sqrt(fx * fy), cell)
    pixels = cv2.warpAffine(small, rest, (cell, cell), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return Cell(pixels, np.r_[rest, [[0, 0, 1]]][:2] @ np.r_[to_small, [[0, 0, 1]]])


def mirror_cell(cell: Cell) -> Cell:
    """The cell flipped left to right (its matrix stays the unflipped one: :func:`cell_landmarks` unflips)."""
    return Cell(np.ascontiguousarray(cell.pixels[:, ::-1]), cell.matrix, mirrored=True)


def mirror_points(landmarks: np.ndarray, width: float) -> np.ndarray:
    """``(..., 5, 2)`` landmarks of an image of ``width`` as they lie in its mirror image, in landmark order."""
    lm = np.asarray(landmarks, np.float64)
    out = np.stack([width - lm[..., 0], lm[..., 1]], axis=-1)
    return out[..., MIRROR_ORDER, :]


def pack(count: int, canvas_hw: tuple[int, int] | None, cell: int = CELL) -> list[tuple[tuple[int, int],
                                                                                        list[tuple[int, int]]]]:
    """Canvases for ``count`` cells: ``(canvas_hw, [(x, y) of each cell])``. On a fixed ``canvas_hw`` the cells
    fill a grid of it (more canvases when needed); with None (a dynamic input) one canvas as near square as
    the cells allow."""
    if count <= 0:
        return []
    if canvas_hw is None:
        cols = int(np.ceil(np.sqrt(count)))
        rows = int(np.ceil(count / cols))
        return [((rows * cell, cols * cell), [(i % cols * cell, i // cols * cell) for i in range(count)])]
    cols, rows = max(canvas_hw[1] // cell, 1), max(canvas_hw[0] // cell, 1)
    per = cols * rows
    return [(canvas_hw, [(i % cols * cell, i // cols * cell) for i in range(min(per, count - start))])
            for start in range(0, count, per)]


def draw(canvas_hw: tuple[int, int], cells: list[Cell], positions: list[tuple[int, int]]) -> np.ndarray:
    """One uint8 canvas with ``cells`` pasted at ``positions`` (black elsewhere)."""
    canvas = np.zeros((*canvas_hw, 3), np.uint8)
    for c, (x, y) in zip(cells, positions, strict=True):
        size = c.pixels.shape[0]
        canvas[y:y + size, x:x + size] = c.pixels
    return canvas


def cell_landmarks(cell: Cell, found: np.ndarray, origin: tuple[int, int]) -> np.ndarray | None:
    """The face's landmarks in the unflipped cell's pixels, from the ``(M, 5, 2)`` landmarks found on the
    canvas where the cell sits at ``origin``: the detection whose nose is nearest the cell's centre, within a
    quarter cell. None when there is none."""
    size = cell.pixels.shape[0]
    if not len(found):
        return None
    local = np.asarray(found, np.float64) - np.asarray(origin, np.float64)
    dist = np.linalg.norm(local[:, 2] - size / 2.0, axis=1)
    i = int(np.argmin(dist))
    if dist[i] > size / 4.0:
        return None
    return mirror_points(local[i], size) if cell.mirrored else local[i]


def refined(first: np.ndarray, upright: np.ndarray | None, mirrored: np.ndarray | None,
            matrix: np.ndarray) -> np.ndarray:
    """Photo landmarks from a face's cell landmarks: the mean of those found (upright and mirrored back),
    mapped back through ``matrix``; the ``first`` landmarks when neither was found."""
    found = [lm for lm in (upright, mirrored) if lm is not None]
    if not found:
        return np.asarray(first, np.float64)
    return apply_affine(invert_affine(matrix), np.mean(found, axis=0))
