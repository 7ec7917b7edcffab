"""The one place a request becomes faces: :class:`~.face_pipeline.FacePipeline` (re-exported here)."""

from .face_pipeline import FacePipeline

__all__ = ["FacePipeline"]
