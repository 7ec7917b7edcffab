"""Annotate and redact faces on an RGB image, and encode the result with no metadata.

Pure numpy/OpenCV: boxes are ``(N, 4)`` xyxy, scores ``(N,)``, landmarks ``(N, 5, 2)``, all in the
image's pixel coordinates (the EXIF-upright frame the decoder returns). Nothing here mutates its input.
"""

from __future__ import annotations

import cv2
import numpy as np

# SCRFD's keypoint order; "left" is the image's left. The web page uses the same names and colours.
LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
# Okabe-Ito colours (RGB), distinguishable with the common colour-vision deficiencies.
LANDMARK_COLORS = ((0, 114, 178), (213, 94, 0), (240, 228, 66), (0, 158, 115), (204, 121, 167))
BOX_COLOR = (86, 180, 233)
OUTLINE_COLOR = (0, 0, 0)
LABEL_TEXT_COLOR = (255, 255, 255)
REDACT_STYLES = ("blur", "pixelate", "fill")
IMAGE_FORMATS = ("jpeg", "png")
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}

_SHIFT = 4                      # OpenCV fixed-point bits: draw at 1/16 px, so resized coordinates stay exact
_ONE = 1 << _SHIFT
_FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_LABEL_SCALE = 0.35  # the smallest score label still readable; wider than the smallest faces
# A redacted region keeps at most this many cells across its longer side, and no cell is under 3 px, so
# small faces are covered too. Measured on WIDER FACE val and ../shared photos (399 faces): SCRFD still
# finds a "face" in 5-8 cell blurs and 4-8 cell mosaics at scores up to 0.75, while with these counts
# and a 0.3 margin it scores every redacted face below 0.45.
_CELLS = {"blur": 4, "pixelate": 3}
_MIN_CELL_PX = 3


def fit_max_side(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """The image shrunk (never enlarged) so its longer side is at most ``max_side``, and the scale applied."""
    height, width = image.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return image, 1.0
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Coordinates scale by the exact per-axis ratio of the rounded size, not by ``scale``.
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized, size[0] / width


def annotate(image: np.ndarray, boxes: np.ndarray, scores: np.ndarray | None = None,
             landmarks: np.ndarray | None = None, *, max_side: int | None = None,
             inplace: bool = False) -> np.ndarray:
    """A copy of the RGB image with boxes, the five landmarks and the scores drawn, sized for the image.

    ``max_side`` shrinks the output first (coordinates scaled with it), so the lines keep their
    intended weight on the picture the client receives. ``inplace``: draw on ``image`` itself when it is
    the output (RGB, not shrunk), sparing a copy of a large photo.
    """
    boxes, scores, landmarks = _check_faces(boxes, scores, landmarks)
    canvas, scale = fit_max_side(_as_rgb(image), max_side)
    if not (inplace and canvas is image and _writable(image)):
        canvas = canvas.copy()
    height, width = canvas.shape[:2]
    unit = max(height, width) / 1000.0            # ~1 px per 1000 px of image side
    thickness = max(1, round(2 * unit))
    sides = (boxes[:, 2:] - boxes[:, :2]).min(axis=1) * scale
    # Axis-aligned lines on whole pixels (within half a pixel) stay crisp; antialiasing would only blur them.
    boxes_px = np.round(boxes * scale).astype(np.int64)
    # Lines and dots follow the image's size, but stay small against a small face.
    for box, side in zip(boxes_px, sides, strict=True):
        p1, p2 = (int(box[0]), int(box[1])), (int(box[2]), int(box[3]))
        weight = int(min(thickness, max(1, side // 16)))
        cv2.rectangle(canvas, p1, p2, OUTLINE_COLOR, weight + 2, cv2.LINE_8)
        cv2.rectangle(canvas, p1, p2, BOX_COLOR, weight, cv2.LINE_8)
    if landmarks is not None:
        radii = np.clip(sides / 25.0, 0.75, max(1.5, 3.0 * unit))
        points = np.round(landmarks * scale * _ONE).astype(np.int64)
        for face_points, radius in zip(points, radii, strict=True):
            r = int(round(radius * _ONE))
            ring = max(_ONE // 2, r // 3)
            for (x, y), color in zip(face_points, LANDMARK_COLORS, strict=True):
                cv2.circle(canvas, (int(x), int(y)), r + ring, OUTLINE_COLOR, -1, cv2.LINE_AA, _SHIFT)
                cv2.circle(canvas, (int(x), int(y)), r, color, -1, cv2.LINE_AA, _SHIFT)
    if scores is not None:
        for box, side, score in zip(boxes * scale, sides, scores, strict=True):
            _label(canvas, f"{score:.2f}", box, side, unit, thickness // 2 + 2)
    return canvas


def _label(canvas: np.ndarray, text: str, box: np.ndarray, side: float, unit: float, gap: int) -> None:
    """The score on a dark tab just above the box's line (inside the box when it touches the top edge)."""
    (w1, h1), _ = cv2.getTextSize(text, _FONT, 1.0, 1)
    # As large as the image suggests, but narrower than the face unless that would be unreadable.
    font_scale = float(np.clip(0.7 * side / w1, MIN_LABEL_SCALE, max(MIN_LABEL_SCALE, 0.6 * unit)))
    weight = max(1, round(font_scale * 1.5))
    (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, weight)
    pad = max(1, round(th * 0.25))
    x = int(np.clip(round(box[0]), 0, max(0, canvas.shape[1] - tw - 2 * pad)))
    top = int(round(box[1])) - gap - th - base - 2 * pad
    if top < 0:
        top = max(0, int(round(box[1])) + gap)
    cv2.rectangle(canvas, (x, top), (x + tw + 2 * pad, top + th + base + 2 * pad), OUTLINE_COLOR, -1)
    cv2.putText(canvas, text, (x + pad, top + pad + th), _FONT, font_scale, LABEL_TEXT_COLOR, weight, cv2.LINE_AA)


def redaction_regions(boxes: np.ndarray, image_size: tuple[int, int], margin: float = 0.3) -> np.ndarray:
    """Integer ``(N, 4)`` xyxy regions (end exclusive) covering each box plus ``margin`` of its size per side.

    The region grows outward to whole pixels and by at least one pixel, then is clipped to the image
    ``(width, height)``; an empty region (a box wholly outside the image) has x1 == x2 or y1 == y2.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    wh = boxes[:, 2:] - boxes[:, :2]
    grow = np.maximum(wh * margin, 1.0)
    lo = np.floor(boxes[:, :2] - grow)
    hi = np.ceil(boxes[:, 2:] + grow)
    limits = np.array(image_size, dtype=np.float64)
    regions = np.concatenate([np.clip(lo, 0, limits), np.clip(hi, 0, limits)], axis=1).astype(np.int64)
    regions[:, 2:] = np.maximum(regions[:, 2:], regions[:, :2])
    return regions


def redact(image: np.ndarray, boxes: np.ndarray, *, style: str = "blur", margin: float = 0.3,
           color: tuple[int, int, int] = (0, 0, 0), inplace: bool = False) -> np.ndarray:
    """A copy of the RGB image with every box (plus margin) blurred, pixelated or filled; nothing else changes.
    ``inplace``: cover the faces in ``image`` itself when it is RGB, sparing a copy of a large photo.

    ``margin`` is the share of the box's width and height added on each side (hair, ears, chin). Blur
    keeps at most 4 smoothed cells across a region and pixelate 3 blocks, none under 3 px, which leaves
    nothing a face detector recognises at any face size; overlapping regions are processed in turn.
    """
    if style not in REDACT_STYLES:
        raise ValueError(f"unknown redaction style {style!r}: choose {', '.join(REDACT_STYLES)}")
    out = _as_rgb(image)
    if not (inplace and out is image and _writable(image)):
        out = out.copy()
    height, width = out.shape[:2]
    for x1, y1, x2, y2 in redaction_regions(boxes, (width, height), margin):
        if x2 <= x1 or y2 <= y1:
            continue
        roi = out[y1:y2, x1:x2]
        if style == "fill":
            roi[...] = color
        else:
            roi[...] = _obscure(roi, _CELLS[style], pixelate=style == "pixelate")
    return out


def _obscure(roi: np.ndarray, max_cells: int, *, pixelate: bool) -> np.ndarray:
    """The region reduced to a few cells (area average), then blown up blocky or smoothed back."""
    h, w = roi.shape[:2]
    cells = max(1, min(max_cells, max(h, w) // _MIN_CELL_PX))
    small_w = max(1, round(w * cells / max(h, w)))
    small_h = max(1, round(h * cells / max(h, w)))
    small = cv2.resize(roi, (small_w, small_h), interpolation=cv2.INTER_AREA)
    if pixelate:
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    # Blur: smooth the cells into each other, so no block edge carries structure.
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=0.8, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def encode_image(image: np.ndarray, fmt: str = "jpeg", *, quality: int = 90, consume: bool = False) -> bytes:
    """JPEG or PNG bytes of an RGB (or greyscale) image, with no EXIF, ICC, XMP or text metadata.

    The file is written from the pixels alone, so nothing of the uploaded file's metadata can survive:
    a JPEG holds only the JFIF header, a PNG only IHDR, IDAT and IEND. ``consume``: the caller has no further
    use for ``image``, so its channels are swapped to OpenCV's order in place instead of in a copy.
    """
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {fmt!r}: choose {', '.join(IMAGE_FORMATS)}")
    if image.ndim == 2:
        pixels = image
    elif consume and image.flags.c_contiguous and image.flags.writeable:
        pixels = _to_bgr_in_place(image)
    else:
        pixels = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        # Level 1: a photo barely compresses further at higher levels, which take several times as long.
        ok, buf = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"could not encode the image as {fmt}")
    return buf.tobytes()


def _to_bgr_in_place(image: np.ndarray, rows: int = 256) -> np.ndarray:
    """``image`` with its channels swapped to BGR in place, a stripe at a time: OpenCV copies a whole image
    it converts onto itself, a stripe costs only its own size."""
    for top in range(0, image.shape[0], rows):
        stripe = image[top:top + rows]
        cv2.cvtColor(stripe, cv2.COLOR_RGB2BGR, dst=stripe)
    return image


def _writable(image: np.ndarray) -> bool:
    """Whether OpenCV may draw on ``image`` itself (Pillow's decodes are read-only views)."""
    return image.flags.writeable and image.flags.c_contiguous


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB or (H, W) grey image, got shape {image.shape}")
    return image


def _check_faces(boxes, scores, landmarks) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(boxes)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(scores) != n:
            raise ValueError(f"{n} boxes but {len(scores)} scores")
    if landmarks is not None:
        landmarks = np.asarray(landmarks, dtype=np.float64)
        if landmarks.shape != (n, 5, 2):
            raise ValueError(f"landmarks must have shape ({n}, 5, 2), got {landmarks.shape}")
    return boxes, scores, landmarks
