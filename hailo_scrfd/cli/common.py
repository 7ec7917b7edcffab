"""What every command shares: the model flags, logging, one-line failures, and a loaded model's lifetime."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Iterator

EXIT_FAILURE = 1
EXIT_CONFIG = 2  # bad config or model: restarting will not help


class CommandFailed(Exception):
    """Ends a command with ``hailo-scrfd: error: <message>`` and the exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE):
        super().__init__(message)
        self.code = code


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML config (default: $HAILO_SCRFD_CONFIG, else /etc/hailo/hailo-scrfd.yaml)")
    p.add_argument("--model", help="model file, .onnx or .hef (default: config model.path, else $HAILO_SCRFD_MODEL)")
    p.add_argument("--backend", choices=("auto", "onnx", "hailo"), help="inference backend (default: config)")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def fail(message: str, code: int) -> int:
    print(f"hailo-scrfd: error: {message}", file=sys.stderr)
    return code


def load_config(args, **overrides):
    """The config from ``--config`` plus the command-line overrides; ConfigError carries one line."""
    from ..system.config import SCRFDServiceConfig

    return SCRFDServiceConfig.load(args.config).override(
        model__path=args.model, model__backend=args.backend, **overrides)


@contextlib.contextmanager
def loaded_model(config, prefix: str = "") -> Iterator:
    """The loaded model, closed on the way out; a load failure is CommandFailed(EXIT_CONFIG)."""
    from ..errors import ModelLoadError
    from ..runtime.model import SCRFDModel

    try:
        model = SCRFDModel(config).load()
    except ModelLoadError as exc:
        raise CommandFailed(f"{prefix}{exc}", EXIT_CONFIG) from None
    try:
        yield model
    finally:
        model.close()
