"""Where ../shared (real weights, photos, reference outputs) is: found at run time, never copied."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "HAILO_SCRFD_SHARED"


def shared_dir() -> Path:
    """``$HAILO_SCRFD_SHARED``, else ``../shared`` beside the project."""
    return Path(os.environ.get(SHARED_ENV, ROOT.parent / "shared")).resolve()
