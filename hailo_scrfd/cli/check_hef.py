"""`hailo-scrfd check --hef [PATH]`: what HailoRT says about a HEF and the device, one plain line each.

An option on ``check`` rather than a command of its own: it is the first thing an operator runs
when a Pi misbehaves. The lines compare one to one with the simulation's and with
``hailortcli parse-hef`` / ``hailortcli fw-control identify`` (docs/troubleshooting.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
    print("\n".join(lines + host_lines() + [timed_inference(path, config)]), flush=True)
    return 0


def host_lines() -> list[str]:
    """The PCIe driver's version and the SoC's temperature: what a Pi owner is asked first."""
    from ..system.thermal import soc_temperature_c

    modules = sorted(Path("/sys/module").glob("hailo*_pci/version"))
    versions = [f"{p.parent.name} {p.read_text().strip()}" for p in modules]
    temperature = soc_temperature_c()
    return [f"driver: {', '.join(versions)}" if versions else
            "driver: FAILS: no hailo PCIe driver loaded: `sudo modprobe hailo1x_pci` (Hailo-10H) or `hailo_pci` "
            "(Hailo-8), from the hailo-h10-all or hailo-all package",
            f"soc temperature: {temperature:.1f} C" if temperature is not None else "soc temperature: unknown"]


def timed_inference(path: str, config) -> str:
    """One inference on a blank canvas through the service's own backend, in the service's group, timed."""
    import time

    import numpy as np

    from ..backends.hailo import HailoBackend

    try:
        backend = HailoBackend(path, config.hailo, config.performance.inference_timeout_s)
    except Exception as exc:
        return f"one inference: FAILS: {exc}: fix the lines above first"
    try:
        tensor = backend.prepare(np.zeros((*backend.input_spec.hw, 3), np.uint8))
        started = time.perf_counter()
        backend.infer(tensor)
        return f"one inference: {(time.perf_counter() - started) * 1000:.1f} ms on {backend.name}"
    except Exception as exc:
        return f"one inference: FAILS: {type(exc).__name__}: {exc}: run `hailortcli run {path}` to compare"
    finally:
        backend.close()
