"""Calibration scenes drawn at start-up, so that INT8 needs no photo from the user.

The export has its BatchNorm folded into the Convs, so the data-free ranges of Nagel et al. (2019), read from
BN statistics, are not there to read. Instead the activation ranges come from MinMax calibration on scenes
drawn procedurally, deterministically (one seed), in a fraction of a second each:

* a "dead leaves" background (Lee, Mumford & Huang 2001; used to train networks without photos by Baradad et
  al. 2021): opaque discs, ellipses and boxes whose sizes follow a power law, so edges, occlusions and flat
  areas have the statistics of natural photos at every scale;
* lighting: a smooth gradient, global contrast and brightness (dark, flat and over-exposed scenes);
* cartoon faces (skin, hair, eyes, brows, nose, mouth) from 8 px to half the frame, alone or in crowd
  rows, so the channels that respond to faces see the values faces give them;
* blur and sensor noise, and the letterbox's zero padding below or right of the picture, as requests have.
"""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

SEED = 20240529
SCENES = 64
ASPECTS = (4 / 3, 3 / 4, 3 / 2, 16 / 9, 1.0, 2 / 3)
SKIN = ((255, 224, 196), (234, 192, 160), (198, 144, 110), (141, 85, 60), (92, 58, 40), (230, 170, 150))


def synthetic_canvases(input_hw: tuple[int, int], count: int = SCENES, seed: int = SEED,
                       faces: bool = True) -> Iterator[np.ndarray]:
    """``count`` uint8 RGB canvases of ``input_hw``, each a scene letterboxed at the top-left."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield scene_canvas(rng, input_hw, faces)


def scene_canvas(rng: np.random.Generator, input_hw: tuple[int, int], faces: bool = True) -> np.ndarray:
    height, width = input_hw
    aspect = float(rng.choice(ASPECTS))
    w, h = (width, int(round(width / aspect))) if aspect >= width / height else (int(round(height * aspect)), height)
    image = _dead_leaves(rng, max(32, h), max(32, w))
    if rng.random() < 0.5:
        image = _texture(rng, image)
    if faces:
        _faces(rng, image)
    image = _finish(rng, image)
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[:image.shape[0], :image.shape[1]] = image
    return canvas


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour as photos have them: mostly muted (grey plus a tint), sometimes saturated."""
    grey = rng.uniform(0, 255)
    tint = rng.normal(0, 25 if rng.random() < 0.8 else 80, 3)
    return tuple(int(v) for v in np.clip(grey + tint, 0, 255))


def _dead_leaves(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Opaque shapes dropped one over the other, radius density ~ r^-2.5 between 3 px and half the frame."""
    low = np.array(_colour(rng), np.float32)
    high = np.array(_colour(rng), np.float32)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    image = np.ascontiguousarray((low * (1 - ramp) + high * ramp).repeat(w, axis=1)).astype(np.uint8)
    r_min, r_max = 3.0, max(h, w) / 2
    for _ in range(int(rng.integers(600, 1500))):
        r = (r_min ** -1.5 - rng.random() * (r_min ** -1.5 - r_max ** -1.5)) ** (-1 / 1.5)  # inverse CDF
        cx, cy, colour = int(rng.integers(0, w)), int(rng.integers(0, h)), _colour(rng)
        kind = rng.random()
        if kind < 0.5:
            cv2.circle(image, (cx, cy), int(r), colour, -1, cv2.LINE_AA)
        elif kind < 0.8:
            axes = (int(r), max(1, int(r * rng.uniform(0.2, 1.0))))
            cv2.ellipse(image, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            dx, dy = int(r * rng.uniform(0.3, 1.5)), int(r * rng.uniform(0.3, 1.5))
            cv2.rectangle(image, (cx - dx, cy - dy), (cx + dx, cy + dy), colour, -1)
    return image


def _texture(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Fine texture (grass, cloth, hair) over the scene: noise at one spatial frequency, up to +-40 levels."""
    h, w = image.shape[:2]
    cell = int(rng.integers(1, 6))
    noise = rng.normal(0, rng.uniform(8, 40), (h // cell + 1, w // cell + 1, 1)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)[:h, :w, None]
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def _faces(rng: np.random.Generator, image: np.ndarray) -> None:
    """A few faces at random sizes, and in half the scenes a crowd of small ones in rows."""
    h, w = image.shape[:2]
    for _ in range(int(rng.integers(1, 6))):
        r = int(np.exp(rng.uniform(np.log(6), np.log(min(h, w) / 3))))
        draw_face(rng, image, int(rng.integers(0, w)), int(rng.integers(0, h)), r)
    if rng.random() < 0.5:
        r = int(rng.integers(4, 16))
        for row in range(int(rng.integers(1, 5))):
            y = int(h * rng.uniform(0.3, 0.95)) - row * 3 * r
            for x in range(int(rng.integers(0, 2 * r)), w, int(2.2 * r + rng.integers(0, r))):
                dy, size = int(rng.integers(-r // 2, r // 2 + 1)), max(3, r + int(rng.integers(-2, 3)))
                draw_face(rng, image, x, y + dy, size)


def draw_face(rng: np.random.Generator, image: np.ndarray, cx: int, cy: int, r: int) -> None:
    """A cartoon face of radius ``r`` (half its height): skin, hair, eyes with brows, nose and mouth."""
    line, thick = cv2.LINE_AA, max(1, r // 12)
    skin = tuple(int(c) for c in np.clip(np.array(SKIN[int(rng.integers(len(SKIN)))]) + rng.normal(0, 12, 3), 0, 255))
    hair = _colour(rng) if rng.random() < 0.2 else tuple(int(c) for c in rng.uniform(10, 90) * np.array([1, 0.8, 0.6]))
    cv2.ellipse(image, (cx, cy), (int(r * 0.78), r), float(rng.normal(0, 8)), 0, 360, skin, -1, line)
    cv2.ellipse(image, (cx, cy - int(r * 0.55)), (int(r * 0.85), int(r * 0.55)), 0, 180, 360, hair, -1, line)
    dark = tuple(int(c * 0.55) for c in skin)
    for side in (-1, 1):
        ex, ey = cx + side * int(r * 0.33), cy - int(r * 0.12)
        cv2.ellipse(image, (ex, ey), (max(1, int(r * 0.16)), max(1, int(r * 0.08))), 0, 0, 360, (235, 235, 230), -1,
                    line)
        cv2.circle(image, (ex, ey), max(1, int(r * 0.06)), (40, 30, 25), -1, line)
        cv2.line(image, (ex - int(r * 0.18), ey - int(r * 0.18)), (ex + int(r * 0.18), ey - int(r * 0.2)),
                 hair, thick, line)
    nose = np.array([[cx, cy - int(r * 0.05)], [cx - int(r * 0.1), cy + int(r * 0.25)],
                     [cx + int(r * 0.08), cy + int(r * 0.27)]], np.int32)
    cv2.polylines(image, [nose], False, dark, thick, line)
    cv2.ellipse(image, (cx, cy + int(r * 0.52)), (max(1, int(r * 0.28)), max(1, int(r * 0.09))), 0, 0, 180,
                (160, 60, 60), max(1, r // 10), line)


def _finish(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Lighting, blur and noise: contrast 0.4-1.4, brightness -60..+60, a side light, sigma 0-1.5 blur."""
    h, w = image.shape[:2]
    out = image.astype(np.float32)
    sigma = float(rng.uniform(0, 1.5))
    if sigma > 0.3:
        out = cv2.GaussianBlur(out, (0, 0), sigma)
    light = np.linspace(rng.uniform(-40, 40), rng.uniform(-40, 40), w, dtype=np.float32)[None, :, None]
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.4, 1.4) + mean + rng.uniform(-60, 60) + light
    out += rng.normal(0, rng.uniform(0, 6), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
