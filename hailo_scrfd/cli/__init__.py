"""The `hailo-scrfd` command, the composition root: one module per command, each with ``register()``."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import ConfigError
from . import check, config, eval, images, models, quantize, serve, upstream
from .common import EXIT_CONFIG, CommandFailed, fail

COMMANDS = (serve, check, images, eval, models, quantize, config, upstream)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except CommandFailed as exc:
        return fail(str(exc), exc.code)
    except ConfigError as exc:
        return fail(str(exc), EXIT_CONFIG)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hailo-scrfd", description="SCRFD face detection and ArcFace alignment.")
    parser.add_argument("--version", action="version", version=f"hailo-scrfd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


if __name__ == "__main__":
    sys.exit(main())
