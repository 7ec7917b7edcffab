"""The per-request options, each declared once: type, default, range and a one-line doc.

The config schema (:mod:`hailo_scrfd.system.config`), the request parser
(:mod:`hailo_scrfd.http.params`) and the OpenAPI document all derive from these
declarations (a test proves that the OpenAPI file agrees).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .declared import declarations, setting

__all__ = ["ORDERS", "MODES", "DetectOptions", "QualityOptions", "AlignOptions", "RenderOptions", "RedactOptions",
           "declarations", "setting"]


ORDERS = ("area", "score", "quality", "center")  # the same as hailo_scrfd.vision.order.ORDERS (a test checks)
MODES = ("fast", "full")  # the same as hailo_scrfd.vision.scales.MODES (a test checks)


@dataclass(frozen=True)
class DetectOptions:
    """Detection knobs of one request; the service's defaults come from the config's ``detection`` section."""

    threshold: float = setting(0.5, "Minimum face score.", min=0.0, max=1.0)
    nms_threshold: float = setting(0.4, "IoU above which overlapping faces are merged.", min=0.0, max=1.0)
    max_faces: int = setting(0, "Cap on faces per image; 0 means no cap. Which faces it keeps is `order`.",
                             min=0, max=10000)
    min_face_size: float = setting(0.0, "Minimum face box side, in original-image pixels.", min=0, max=100000)
    mode: str = setting("fast", "Scale coverage: fast (one pass; a cheap rescue pass when it finds no face) or "
                        "full (normal, reduced and high-resolution passes or tiles: close-ups and crowds).",
                        choices=MODES)
    order: str = setting("area", "Which faces max_faces keeps: the largest (area), the highest-scoring (score), "
                         "the best quality (quality) or the most central (center). Faces are listed by score.",
                         choices=ORDERS)

    @classmethod
    def from_config(cls, section: Any) -> "DetectOptions":
        """The options named in ``section`` (the config's ``detection`` section, which extends this class)."""
        return cls(**{f.name: getattr(section, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class QualityOptions:
    """Whether each face gets a ``quality`` block, and the quality a face needs to be returned at all."""

    quality: bool = setting(False, "Add a quality block (pose, sharpness, size, exposure, score, issues) to each face.")
    min_quality: float = setting(0.0, "Drop faces whose overall quality score is below this (0 keeps all).",
                                 min=0.0, max=1.0)

    @property
    def needed(self) -> bool:
        return self.quality or self.min_quality > 0


@dataclass(frozen=True)
class AlignOptions:
    """How /v1/align returns each face's aligned crop."""

    size: int = setting(112, "Crop side in pixels: a multiple of 112 or 128.", min=112, max=1024)
    format: str = setting("png", "Crop encoding.", choices=("png", "jpeg"))


@dataclass(frozen=True)
class RenderOptions:
    """How /v1/draw and /v1/redact return the picture."""

    format: str = setting("jpeg", "Output encoding; without it, the Accept header chooses (image/png or "
                          "image/jpeg). JPEG is much faster to encode for large photos.", choices=("jpeg", "png"))
    max_side: int = setting(0, "Shrink the output so its longer side is at most this many pixels; 0 keeps the "
                            "original size.", min=0, max=65535)


@dataclass(frozen=True)
class RedactOptions:
    """How /v1/redact covers each face."""

    style: str = setting("blur", "How each face (plus a 30 % margin) is covered.", choices=("blur", "pixelate", "fill"))
