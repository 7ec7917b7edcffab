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

__all__ = ["ORDERS", "MODES", "ROTATIONS", "DetectOptions", "QualityOptions", "AlignOptions", "RenderOptions",
           "RedactOptions", "declarations", "setting"]


ORDERS = ("area", "score", "quality", "center")  # the same as hailo_scrfd.vision.order.ORDERS (a test checks)
MODES = ("fast", "full")  # the same as hailo_scrfd.vision.scales.MODES (a test checks)
ROTATIONS = ("none", "auto", "all")  # the same as hailo_scrfd.vision.rotation.ROTATIONS (a test checks)


@dataclass(frozen=True)
class DetectOptions:
    """Detection knobs of one request; the service's defaults come from the config's ``detection`` section."""

    threshold: float = setting(0.5, "Minimum face score.", min=0.0, max=1.0)
    nms_threshold: float = setting(0.4, "IoU above which a lower-scoring overlapping face is dropped.",
                                   min=0.0, max=1.0)
    max_faces: int = setting(0, "Keep at most this many faces, chosen by order (the largest by default); 0 = all.",
                             min=0, max=10000)
    min_face_size: float = setting(0.0, "Drop faces whose box is narrower or shorter than this, in pixels.",
                                   min=0, max=100000)
    mode: str = setting("fast", "Scale coverage: fast (one pass; a cheap rescue pass at about half the input when "
                        "it finds no face, so close-ups are not lost) or full (the normal pass, a reduced pass for "
                        "faces larger than the frame holds, and a larger input or overlapping 640x640 tiles for "
                        "small faces, merged): about 3-8 engine runs.", choices=MODES)
    order: str = setting("area", "Which faces max_faces keeps: area (the largest; default), score (the "
                         "highest-scoring), quality (the best overall quality; computes quality), or center "
                         "(nearest the image centre). The faces are always listed by score.", choices=ORDERS)
    rotations: str = setting("none", "Sideways photos (pixels stored turned, no EXIF orientation): none (upright "
                             "only), auto (when upright finds no face, or only weak ones (score < 0.8), the image "
                             "turned by 90, 180 and 270 degrees too, passes rot90, rot180, rot270; 90 and 270 when "
                             "most faces found lie) or all (every turn, merged: upright and lying faces mixed; about "
                             "4-8x the engine runs, as each turn may add its rescue pass). The way up whose faces "
                             "weigh most keeps all its faces; the other orientations (upright included) add only "
                             "faces scoring 0.6 or more. Faces come back in the image's own "
                             "coordinates.", choices=ROTATIONS)

    @classmethod
    def from_config(cls, section: Any) -> "DetectOptions":
        """The options named in ``section`` (the config's ``detection`` section, which extends this class)."""
        return cls(**{f.name: getattr(section, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class QualityOptions:
    """Whether each face gets a ``quality`` block, and the quality a face needs to be returned at all."""

    quality: bool = setting(False, "Add a quality block to each face: pose, sharpness, size, exposure, an overall "
                            "score and issue codes.")
    min_quality: float = setting(0.0, "Drop faces whose quality score is below this; 0 keeps every face.",
                                 min=0.0, max=1.0)

    @property
    def needed(self) -> bool:
        return self.quality or self.min_quality > 0


@dataclass(frozen=True)
class AlignOptions:
    """How /v1/align returns each face's aligned crop."""

    size: int = setting(112, "Crop side: a multiple of 112 or of 128.", min=112, max=1024,
                        schema={"anyOf": [{"multipleOf": 112}, {"multipleOf": 128}]})
    format: str = setting("png", "Crop encoding.", choices=("png", "jpeg"))


@dataclass(frozen=True)
class RenderOptions:
    """How /v1/draw and /v1/redact return the picture."""

    format: str = setting("jpeg", "Output encoding; without it the Accept header chooses (image/png or "
                          "image/jpeg), else JPEG, which is much faster to encode for large photos.",
                          choices=("jpeg", "png"))
    max_side: int = setting(0, "Shrink the output so its longer side is at most this many pixels; 0 keeps the "
                            "original size.", min=0, max=65535)


@dataclass(frozen=True)
class RedactOptions:
    """How /v1/redact covers each face."""

    style: str = setting("blur", "How each face, plus a margin of 30 % of its size on each side, is covered.",
                         choices=("blur", "pixelate", "fill"))
