"""Scale coverage: which passes (scales, crops, tiles) to run on an image. Pure arithmetic.

SCRFD sees faces from about 10 px to about 70 % of its input. One pass therefore misses
both ends: close-ups (a selfie, an ID photo, a face crop) and the small faces of a crowd.
:func:`plan_passes` lists the passes that cover a mode's range; each :class:`Pass` says
which image region it crops, at what scale, on what canvas, and for which face sizes its
detections are trusted, so that :mod:`hailo_scrfd.vision.merge` keeps each face from the
pass that sees it best.

Face size is the longer side of the box, in original-image pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .letterbox import top_left_canvas

MODES = ("fast", "full")
STRIDE = 32
REDUCED_FILL = 0.4       # the reduced pass puts the image in 40 % of the canvas: a frame-filling face is 32-40 %
MIN_FACE_INPUT_PX = 28   # min_face_size keeps faces this big in the input (20 px lost 4 % of 60 px faces, 28 px 2 %)
SMALL_FACE_INPUT_PX = 40  # below this size in the normal pass, a face is the high-resolution pass's
HIRES_FACTOR = 1.5       # dynamic backends: the one larger input's scale, relative to the normal pass
TILE_FACTOR = 2.0        # fixed-shape backends: the tiles' scale, relative to the normal pass
MAX_TILES = 6            # fixed-shape backends: at most this many tiles (+ normal + reduced = 8 engine runs)
TILE_EDGE_PX = 4         # a tile's face this close to an inner tile edge is cut by it: another tile has it whole
RANGE_MARGIN = 1.5       # neighbouring passes' trusted ranges overlap by this factor; NMS settles the overlap
MIN_SCALE = 1e-3
INF = float("inf")


@dataclass(frozen=True)
class Pass:
    """One engine run: ``crop`` (x0, y0, x1, y1) of the image, resized to ``resized_hw`` and placed at the
    top-left of a ``canvas_hw`` input. Its faces count when their size is within ``face_range``
    (image pixels); ``inner_edges`` (left, top, right, bottom) mark crop sides inside the image,
    where a face may be cut."""

    name: str
    crop: tuple[int, int, int, int]
    resized_hw: tuple[int, int]
    canvas_hw: tuple[int, int]
    face_range: tuple[float, float] = (0.0, INF)
    inner_edges: tuple[bool, bool, bool, bool] = (False, False, False, False)

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Input pixels per image pixel, along x and y."""
        x0, y0, x1, y1 = self.crop
        return self.resized_hw[1] / (x1 - x0), self.resized_hw[0] / (y1 - y0)

    @property
    def pixels(self) -> int:
        """Canvas pixels: the engine's cost is about proportional to them on dynamic backends."""
        return self.canvas_hw[0] * self.canvas_hw[1]


def _ceil32(v: float) -> int:
    return max(STRIDE, math.ceil(v / STRIDE) * STRIDE)


def _whole(name: str, image_hw: tuple[int, int], scale: float, canvas_hw: tuple[int, int] | None,
           face_range: tuple[float, float] = (0.0, INF)) -> Pass:
    """The whole image at ``scale``; on ``canvas_hw``, else on the smallest multiple of 32 that holds it."""
    h, w = image_hw
    resized = (max(1, round(h * scale)), max(1, round(w * scale)))
    canvas = canvas_hw or (_ceil32(resized[0]), _ceil32(resized[1]))
    return Pass(name, (0, 0, w, h), resized, canvas, face_range)


def base_scale(image_hw: tuple[int, int], input_hw: tuple[int, int], min_face_size: float = 0.0) -> float:
    """The normal pass's scale: the image fits the input; with ``min_face_size``, no larger than
    keeps such faces at :data:`MIN_FACE_INPUT_PX` (a smaller, faster input finds them as well)."""
    h, w = image_hw
    scale = min(input_hw[0] / h, input_hw[1] / w)
    if min_face_size > 0:
        scale = min(scale, MIN_FACE_INPUT_PX / min_face_size)
    return max(scale, MIN_SCALE)


def reduced_pass(image_hw: tuple[int, int], input_hw: tuple[int, int], dynamic: bool,
                 name: str = "reduced", face_range: tuple[float, float] = (0.0, INF)) -> Pass:
    """The image at :data:`REDUCED_FILL` of the canvas, so a face as large as the frame is detectable.

    On a dynamic backend the canvas is half the input (about a quarter of the cost); on a
    fixed one it is the input itself.
    """
    h, w = image_hw
    side_hw = (input_hw[0] // 2, input_hw[1] // 2) if dynamic else input_hw
    scale = REDUCED_FILL * min(side_hw[0] / h, side_hw[1] / w)
    p = _whole(name, image_hw, scale, None if dynamic else input_hw, face_range)
    if dynamic:  # pad to twice the image, so the face sits in a frame the network was trained on
        rh, rw = p.resized_hw
        p = Pass(name, p.crop, p.resized_hw, (_ceil32(rh / REDUCED_FILL), _ceil32(rw / REDUCED_FILL)), face_range)
    return p


def rescue_pass(image_hw: tuple[int, int], input_hw: tuple[int, int], dynamic: bool) -> Pass:
    """``fast`` mode's second pass, run only when the first found no face: the reduced pass."""
    return reduced_pass(image_hw, input_hw, dynamic, name="rescue")


def tile_grid(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` pixels covering ``length``, overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def tile_passes(image_hw: tuple[int, int], input_hw: tuple[int, int], scale: float, overlap: float,
                face_range: tuple[float, float], max_tiles: int = MAX_TILES) -> list[Pass]:
    """Overlapping crops that, at ``scale`` (lowered until at most ``max_tiles`` fit), fill ``input_hw``.

    ``overlap`` (image pixels) must exceed the largest face the tiles are trusted for, so that a
    face cut by one tile's edge lies whole inside its neighbour.
    """
    h, w = image_hw
    while True:
        ch, cw = min(h, int(input_hw[0] / scale)), min(w, int(input_hw[1] / scale))
        ov = min(int(math.ceil(overlap)), ch - 1, cw - 1)
        ys, xs = tile_grid(h, ch, ov), tile_grid(w, cw, ov)
        if len(ys) * len(xs) <= max_tiles or scale <= MIN_SCALE:
            break
        scale *= 0.95
    passes = []
    for y in ys:
        for x in xs:
            crop = (x, y, x + cw, y + ch)
            resized = (min(input_hw[0], round(ch * scale)), min(input_hw[1], round(cw * scale)))
            inner = (x > 0, y > 0, x + cw < w, y + ch < h)
            passes.append(Pass("tile", crop, resized, input_hw, face_range, inner))
    return passes


def plan_passes(image_hw: tuple[int, int], input_hw: tuple[int, int], dynamic: bool, mode: str = "fast",
                min_face_size: float = 0.0) -> list[Pass]:
    """The passes for ``mode`` on an image of ``image_hw`` (height, width).

    ``input_hw`` is the backend's input (a dynamic backend's usual size, e.g. 640x640).
    ``fast``: the normal pass (see :func:`rescue_pass` for its fallback). ``full``: the normal
    pass, a reduced pass for faces larger than the normal one can hold, and high-resolution
    coverage for small faces: one larger input on a dynamic backend, 640x640 tiles on a fixed one.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if image_hw[0] < 1 or image_hw[1] < 1:
        raise ValueError(f"empty image {image_hw}")
    s = base_scale(image_hw, input_hw, min_face_size)
    if mode == "fast":
        return [_whole("base", image_hw, s, None if dynamic else input_hw)]
    # Boundaries between passes, in image pixels (face's longer side).
    large = 0.5 * min(input_hw) / s                          # base -> reduced
    reduced = reduced_pass(image_hw, input_hw, dynamic, face_range=(large / RANGE_MARGIN, INF))
    if min_face_size > 0 and min_face_size * s >= MIN_FACE_INPUT_PX * 0.999:
        # Every face the caller wants is already big enough in the normal pass: no high resolution.
        return [_whole("base", image_hw, s, None if dynamic else input_hw, (0.0, large * RANGE_MARGIN)), reduced]
    small = SMALL_FACE_INPUT_PX / s                          # base -> high resolution
    base = _whole("base", image_hw, s, None if dynamic else input_hw, (small / RANGE_MARGIN, large * RANGE_MARGIN))
    hires_range = (0.0, small * RANGE_MARGIN)
    if dynamic:
        return [base, reduced, _whole("hires", image_hw, s * HIRES_FACTOR, None, hires_range)]
    hs = s * TILE_FACTOR
    overlap = hires_range[1] + 2 * TILE_EDGE_PX / hs
    return [base, reduced, *tile_passes(image_hw, input_hw, hs, overlap, hires_range)]


def pass_canvas(image: np.ndarray, p: Pass) -> np.ndarray:
    """The uint8 input canvas of pass ``p``: its crop, resized, at the top-left, zeros elsewhere."""
    x0, y0, x1, y1 = p.crop
    # Bilinear, as the reference (InsightFace) and Letterbox.apply: fast mode stays bit-identical to today.
    # INTER_AREA for downscaling measured +0.002 / +0.003 / +0.002 AP on WIDER, at the cost of that parity.
    return top_left_canvas(image[y0:y1, x0:x1], p.canvas_hw, p.resized_hw)
