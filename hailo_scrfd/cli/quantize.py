"""`hailo-scrfd quantize IN.onnx [OUT.onnx] --calibration DIR`: the INT8 version of an SCRFD export for the CPU."""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
from pathlib import Path

from .common import EXIT_CONFIG, fail

DEFAULT_IMAGES = 64


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "quantize", help="make the INT8 version of an ONNX model for the CPU (model.precision int8 or auto)",
        description="ONNX Runtime static quantization (QDQ, per-channel weights) of an SCRFD export, calibrated "
                    "on your photos. The result is cached in the model dir under the input file's sha256, where "
                    "model.precision int8/auto finds it; OUT, when given, gets a copy too.")
    p.add_argument("model", metavar="IN", help="FP32 SCRFD .onnx file, or a known model name (scrfd_2.5g)")
    p.add_argument("output", metavar="OUT", nargs="?", help="also write the INT8 model here")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--calibration", metavar="DIR",
                        help="photos like the ones the service will see (searched recursively; never stored)")
    source.add_argument("--synthetic", action="store_true",
                        help="no photos: calibrate on scenes drawn procedurally (what model.precision auto does "
                             "by itself); a version made from photos is kept")
    p.add_argument("--max-images", type=int, default=DEFAULT_IMAGES,
                   help="calibrate on at most this many photos, spread over the sorted list, or on this many "
                        f"synthetic scenes (default {DEFAULT_IMAGES})")
    p.add_argument("--force", action="store_true", help="quantize again even when the cache has a version")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args: argparse.Namespace) -> int:
    logging.basicConfig(level="INFO", format="%(message)s", force=True)
    # Stopped (the service that started it in the background stops): exit through the cleanup of temp files.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        return _command(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace) -> int:
    from ..backends.onnx_quantize import cache_path, quantize_lock
    from ..errors import ModelLoadError
    from ..system.models import resolve_model

    if args.max_images < 1:
        return fail("--max-images must be at least 1", EXIT_CONFIG)
    try:
        src = resolve_model(args.model)
        if not src.lower().endswith(".onnx"):
            return fail(f"{src} is not an .onnx file: only ONNX models are quantized here (a .hef is already int8)",
                        EXIT_CONFIG)
        if not Path(src).is_file():
            return fail(f"model file not found: {src}", EXIT_CONFIG)
        if args.calibration and not Path(args.calibration).is_dir():
            return fail(f"calibration directory not found: {args.calibration}", EXIT_CONFIG)
        cached = cache_path(src)
        with quantize_lock(cached):
            _quantize(args, src, cached)
    except (ModelLoadError, ValueError, FileNotFoundError, OSError) as exc:
        return fail(str(exc), EXIT_CONFIG)
    if args.output:
        shutil.copyfile(cached, args.output)
    print(args.output or cached)
    return 0


def _quantize(args: argparse.Namespace, src: str, cached: Path) -> None:
    """Quantize unless the cache has a version already; photos replace one made from synthetic scenes."""
    import functools

    from ..backends.onnx_quantize import calibration_images, calibration_of, quantize_model
    from ..backends.onnx_synthetic import synthetic_canvases

    made_by = calibration_of(cached) if cached.is_file() else None
    if made_by is not None and not args.force and (not args.calibration or made_by == "photos"):
        logging.info("%s already has an INT8 version, calibrated on %s (--force makes it again)", src, made_by)
    elif args.calibration:
        quantize_model(src, cached, calibration_images(args.calibration, args.max_images))
    else:
        quantize_model(src, cached, functools.partial(synthetic_canvases, count=args.max_images),
                       calibration="synthetic")
