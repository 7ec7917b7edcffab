"""`hailo-scrfd check --hef [PATH]`: what HailoRT says about a HEF and the device, one plain line each.

An option on ``check`` rather than a command of its own: it is the first thing an operator runs
when a Pi misbehaves. The lines compare one to one with the simulation's and with
``hailortcli parse-hef`` / ``hailortcli fw-control identify`` (docs/troubleshooting.md).
"""

from __future__ import annotations

import argparse
from typing import Callable

from .common import EXIT_CONFIG, CommandFailed


def register(check: argparse.ArgumentParser, cmd_check: Callable[[argparse.Namespace], int]) -> None:
    """Add ``--hef`` to the ``check`` sub-parser; with it, ``check`` describes the HEF instead."""
    check.add_argument("--hef", nargs="?", const="", metavar="PATH",
                       help="print the HEF's outputs, shapes, format types and quantization, the device, firmware "
                            "and async queue size, then exit (PATH defaults to the configured model)")
    check.set_defaults(func=lambda args: cmd_check_hef(args) if args.hef is not None else cmd_check(args))


def cmd_check_hef(args: argparse.Namespace) -> int:
    from ..backends.hailo_info import describe_hef
    from ..errors import ConfigError, ModelLoadError
    from ..system.config import SCRFDServiceConfig

    try:
        config = SCRFDServiceConfig.load(args.config)
        path = args.hef or args.model or config.model_path()
        if not path:
            raise ModelLoadError("no HEF given: pass --hef PATH or --model, or set model.path")
        # The service's group: on a Hailo-10H only a VDevice of the same group opens beside it at once.
        lines = describe_hef(path, config.hailo.group_id)
    except (ConfigError, ModelLoadError) as exc:
        raise CommandFailed(str(exc), EXIT_CONFIG) from None
    print("\n".join(lines))
    return 0
