"""hailo-scrfd: SCRFD face detection and ArcFace alignment over HTTP."""

__version__ = "0.3.0"
