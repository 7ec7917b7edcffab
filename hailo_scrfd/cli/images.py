"""`hailo-scrfd detect` and `hailo-scrfd align`: the /v1/detect and /v1/align answers for image files."""

from __future__ import annotations

import argparse
import base64
import json
from dataclasses import replace
from pathlib import Path

from ..declared import check
from ..options import DetectOptions, declarations
from .common import EXIT_CONFIG, EXIT_FAILURE, CommandFailed, add_model_args, fail, load_config, loaded_model, \
    setup_logging

# The request options offered as flags, their choices read from the declarations; unset, the config's value holds.
CHOICE_HELP = {
    "mode": "scale coverage: fast (one pass) or full (every scale, small faces too)",
    "rotations": "sideways photos (pixels stored turned, no EXIF orientation): none (upright only), auto (the "
                 "turned image too when upright finds no strong face) or all (every turn, always)",
}


def add_choice_options(p, names: tuple[str, ...]) -> None:
    declared = declarations(DetectOptions)
    for name in names:
        p.add_argument(f"--{name}", choices=declared[name]["choices"],
                       help=f"{CHOICE_HELP[name]}; default: config detection.{name}")


def _declared(name: str):
    """An argparse type: a number checked against the declaration of DetectOptions' ``name`` (its range), so that
    a bad flag is argparse's usage error (exit 2), as a bad request parameter is a 400."""
    info = declarations(DetectOptions)[name]

    def parse(text: str):
        try:
            return check(info, float(text))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None

    return parse


def register(sub) -> None:
    p = sub.add_parser("detect", help="detect faces in image files and print the /v1/detect JSON, one line each")
    add_model_args(p)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--threshold", type=_declared("threshold"),
                   help="minimum face score, 0-1; default: config detection.threshold")
    add_choice_options(p, ("mode", "rotations"))
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("align", help="write the ArcFace-aligned crop of every face in an image")
    add_model_args(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--size", type=int, default=112, help="crop size: a multiple of 112 or 128 (default 112)")
    p.add_argument("--format", choices=("png", "jpeg"), default="png")
    add_choice_options(p, ("rotations",))
    p.set_defaults(func=cmd_align)


def _pipeline(model, config):
    from ..pipeline import FacePipeline

    # Files are decoded in full, as they always were here: a CLI run is not latency-bound.
    return FacePipeline.from_config(model, config, reduced_decode=False)


def _options(pipeline, args):
    """The config's detection defaults with the flags given; None (the defaults as they are) when none was."""
    given = {name: getattr(args, name, None) for name in ("threshold", *CHOICE_HELP)}
    given = {name: value for name, value in given.items() if value is not None}
    return replace(pipeline.defaults, **given) if given else None


def _run(pipeline, path: str, options=None, align=None) -> dict:
    """The response for one file; an unreadable file or a bad image is CommandFailed naming the file."""
    from ..errors import ServiceError

    try:
        return pipeline.run(Path(path).read_bytes(), options, align)
    except (OSError, ServiceError) as exc:
        raise CommandFailed(f"{path}: {getattr(exc, 'message', None) or exc}", EXIT_FAILURE) from None


def cmd_detect(args) -> int:
    setup_logging("WARNING")
    config = load_config(args)
    status = 0
    with loaded_model(config) as model:
        pipeline = _pipeline(model, config)
        options = _options(pipeline, args)
        for path in args.images:
            try:
                response = _run(pipeline, path, options)
            except CommandFailed as exc:
                status = fail(str(exc), exc.code)
                continue
            print(json.dumps({"file": path, **response}), flush=True)
    return status


def cmd_align(args) -> int:
    from ..options import AlignOptions
    from ..vision.align import template_for_size

    setup_logging("WARNING")
    try:
        template_for_size(args.size)
    except ValueError as exc:
        raise CommandFailed(str(exc), EXIT_CONFIG) from None
    config = load_config(args)
    with loaded_model(config) as model:
        pipeline = _pipeline(model, config)
        response = _run(pipeline, args.image, _options(pipeline, args), AlignOptions(args.size, args.format))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "png" if args.format == "png" else "jpg"
    for i, face in enumerate(response["faces"]):
        (out / f"face_{i}.{suffix}").write_bytes(base64.b64decode(face["aligned"]["image"]))
    print(json.dumps({"file": args.image, "count": response["count"], "out": str(out)}))
    return 0
