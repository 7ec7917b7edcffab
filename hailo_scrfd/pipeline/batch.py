"""Batches: several images of one request, pipelined through the inference worker, one result each, in order."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import ServiceError
from ..options import AlignOptions, DetectOptions, QualityOptions

if TYPE_CHECKING:
    from .face_pipeline import FacePipeline

log = logging.getLogger(__name__)


def error_entry(exc: ServiceError) -> dict[str, Any]:
    """A batch entry for an image that failed: the body a single request would have answered with."""
    return {"error": {"code": exc.code, "message": exc.message}}


def auto_in_flight(pipeline: "FacePipeline") -> int:
    """Images of a batch worked on at once: the engine's frames in flight plus two, so that the next
    images decode and pre-process while the engine runs (decoding is most of a request's CPU time)."""
    backend = pipeline.model.backend
    return (backend.max_in_flight if backend else 1) + 2


def run_batch(pipeline: "FacePipeline", images: Sequence[Callable[[], bytes]], options: DetectOptions,
              align: AlignOptions | None = None, quality: QualityOptions | None = None,
              in_flight: int = 0, scope: str = "") -> list[dict[str, Any]]:
    """One :meth:`FacePipeline.run` response per image, in order, or an ``{"error": ...}`` entry for an image
    that failed; ``in_flight`` images run at once (0: :func:`auto_in_flight`). Each image is a callable
    returning its bytes (or raising its ServiceError); each meets the result cache on its own."""

    def one(source: Callable[[], bytes]) -> dict[str, Any]:
        try:
            return pipeline.run(source(), options, align, quality, scope=scope)
        except ServiceError as exc:
            return error_entry(exc)
        except Exception:  # a bug: logged, and confined to its own entry like any other failure
            log.exception("unexpected error on a batch image")
            return {"error": {"code": "internal_error", "message": "an internal error occurred; it has been logged"}}

    if not images:
        return []
    workers = min(len(images), in_flight or auto_in_flight(pipeline))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrfd-batch") as pool:
        return list(pool.map(one, images))
