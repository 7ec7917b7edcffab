"""Render the YAML config to JSON, validated by the service's own schema, written atomically."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .config import DEFAULT_CONFIG_PATH, DEFAULT_RENDERED_PATH, SCRFDServiceConfig, read_yaml
from ..errors import ConfigError


def render_config(source: str | os.PathLike | None = None, target: str | os.PathLike | None = None) -> Path | None:
    """Validate ``source`` and write its full, defaulted JSON to ``target`` (``-``: stdout).

    Returns the path written, or None for stdout. Invalid YAML raises ConfigError.
    """
    src = Path(source) if source else DEFAULT_CONFIG_PATH
    if not src.is_file():
        raise ConfigError(f"config file not found: {src}")
    text = SCRFDServiceConfig.from_mapping(read_yaml(src)).to_json()
    if str(target) == "-":
        sys.stdout.write(text)
        return None
    dst = Path(target) if target else DEFAULT_RENDERED_PATH
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dst)
    except OSError as exc:
        raise ConfigError(f"cannot write {dst}: {exc.strerror or exc}") from None
    return dst
