"""The `hailo-scrfd` command: serve, detect, align, render-config. The composition root."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from . import __version__, cli_eval

log = logging.getLogger("hailo_scrfd")

EXIT_FAILURE = 1
EXIT_CONFIG = 2  # bad config or model: restarting will not help


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hailo-scrfd", description="SCRFD face detection and ArcFace alignment.")
    parser.add_argument("--version", action="version", version=f"hailo-scrfd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config",
                       help="YAML config (default: $HAILO_SCRFD_CONFIG, else /etc/hailo/hailo-scrfd.yaml)")
        p.add_argument("--model",
                       help="model file, .onnx or .hef (default: config model.path, else $HAILO_SCRFD_MODEL)")
        p.add_argument("--backend", choices=("auto", "onnx", "hailo"), help="inference backend (default: config)")

    p = sub.add_parser("serve", help="serve the HTTP API")
    model_args(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 5001)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("check", help="self-test: load the model, run one inference, report timings and temperature")
    model_args(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("detect", help="detect faces in image files and print the /v1/detect JSON, one line each")
    model_args(p)
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--threshold", type=float)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("align", help="write the ArcFace-aligned crop of every face in an image")
    model_args(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--size", type=int, default=112, help="crop size: a multiple of 112 or 128 (default 112)")
    p.add_argument("--format", choices=("png", "jpeg"), default="png")
    p.set_defaults(func=cmd_align)

    p = sub.add_parser("render-config", help="validate the YAML config and write it as JSON")
    p.add_argument("--input", help="YAML file (default /etc/hailo/hailo-scrfd.yaml)")
    p.add_argument("--output", help="JSON file (default /etc/xdg/hailo-scrfd/hailo-scrfd.json); - for stdout")
    p.set_defaults(func=cmd_render_config)
    cli_eval.register(sub)
    return parser


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def _fail(message: str, code: int) -> int:
    print(f"hailo-scrfd: error: {message}", file=sys.stderr)
    return code


def _load(args, **overrides):
    """Config and loaded model from the common flags; exceptions carry one-line messages."""
    from .config import SCRFDServiceConfig
    from .model import SCRFDModel

    config = SCRFDServiceConfig.load(args.config).override(
        model__path=args.model, model__backend=args.backend, **overrides)
    return config, SCRFDModel(config).load()


def cmd_serve(args) -> int:
    from . import systemd
    from .app import create_app
    from .errors import ConfigError, ModelLoadError
    from .security import is_loopback
    from .server import ServeError, serve
    from .tuning import tune_for_serving

    _setup_logging()
    tune_for_serving()
    systemd.notify("STATUS=loading the model")
    model = None
    try:
        config, model = _load(args, server__host=args.host, server__port=args.port)
        app = create_app(config, model)
    except (ConfigError, ModelLoadError) as exc:
        if model is not None:
            model.close()
        systemd.notify(f"STATUS=failed: {exc}")
        return _fail(str(exc), EXIT_CONFIG)
    logging.getLogger().setLevel(config.logging.level)
    if not is_loopback(config.server.host) and not app.extensions["hailo_scrfd"].keys.enabled:
        log.warning("listening on %s without API keys: anyone who can reach it can use the API; "
                    "set security.api_keys, or bind 127.0.0.1 behind a proxy", config.server.host)
    if config.debug.fault_injection:
        log.warning("debug.fault_injection is on: POST /debug/faults can break inference; never in production")
    watchdog = systemd.Watchdog(lambda: model.is_healthy(config.server.watchdog_grace_s))

    def ready(host: str, port: int) -> None:
        systemd.notify(f"READY=1\nSTATUS=serving {model.name} on {model.backend.name} at http://{host}:{port}")
        watchdog.start()

    try:
        serve(app, config, on_ready=ready,
              on_stop=lambda: systemd.notify("STOPPING=1\nSTATUS=draining in-flight requests"))
    except ServeError as exc:
        systemd.notify(f"STATUS=failed: {exc}")
        return _fail(str(exc), EXIT_FAILURE)
    finally:
        watchdog.stop()
        model.close()
    metrics = app.extensions["hailo_scrfd"].metrics
    log.info("stopped: %d requests started, %d finished, %d abandoned",
             metrics.started, metrics.finished, metrics.started - metrics.finished)
    return 0


def cmd_check(args) -> int:
    """Load the configured model, run one inference on a built-in image, report; non-zero on any failure."""
    import numpy as np

    from .errors import ConfigError, ModelLoadError, ServiceError
    from .thermal import soc_temperature_c

    _setup_logging("WARNING")
    start = time.perf_counter()
    try:
        config, model = _load(args)
    except (ConfigError, ModelLoadError) as exc:
        return _fail(f"check failed: {exc}", EXIT_CONFIG)
    load_s = time.perf_counter() - start
    backend, spec = model.backend.name, model.backend.input_spec
    # A synthetic 1280x720 scene (gradient, noise and shapes): it exercises every stage without shipping a photo.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:720, :1280]
    image = np.stack([xx * 255 // 1279, yy * 255 // 719, (xx + yy) % 256], axis=-1).astype(np.uint8)
    image = np.clip(image.astype(np.int16) + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)
    try:
        result = model.detect_faces(image)
    except ServiceError as exc:
        return _fail(f"check failed: inference: {exc.message}", EXIT_FAILURE)
    finally:
        model.close()
    temperature = soc_temperature_c()
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in result.timings_ms.items())
    print(f"model:       {model.path}")
    print(f"backend:     {backend} (input {spec.width}x{spec.height})")
    print(f"load:        {load_s:.2f} s")
    print(f"inference:   {timings}")
    print(f"faces:       {len(result.faces)} on the built-in 1280x720 test image")
    print(f"temperature: {f'{temperature:.1f} C' if temperature is not None else 'unknown'}")
    print("check passed")
    return 0


def cmd_detect(args) -> int:
    from dataclasses import replace

    from . import schemas
    from .errors import ConfigError, ModelLoadError, ServiceError
    from .imageio import decode_image

    _setup_logging("WARNING")
    try:
        config, model = _load(args)
    except (ConfigError, ModelLoadError) as exc:
        return _fail(str(exc), EXIT_CONFIG)
    options = model.defaults if args.threshold is None else replace(model.defaults, threshold=args.threshold)
    status = 0
    try:
        for path in args.images:
            try:
                start = time.perf_counter()
                image = decode_image(Path(path).read_bytes(), max_pixels=config.limits.max_image_pixels)
                decoded = time.perf_counter()
                result = model.detect_faces(image, options)
            except (OSError, ServiceError) as exc:
                status = _fail(f"{path}: {getattr(exc, 'message', None) or exc}", EXIT_FAILURE)
                continue
            timings = {"decode": (decoded - start) * 1000.0, **result.timings_ms,
                       "total": (time.perf_counter() - start) * 1000.0}
            print(json.dumps({
                "file": path,
                "faces": schemas.faces_to_json(result.faces),
                "count": len(result.faces),
                "image": {"width": result.image_size[0], "height": result.image_size[1]},
                "model": model.name,
                "backend": model.backend.name,
                "timings_ms": schemas.round_timings(timings),
            }), flush=True)
    finally:
        model.close()
    return status


def cmd_align(args) -> int:
    from .align import encode_crop, estimate_transform, template_for_size, warp
    from .errors import ConfigError, ModelLoadError, ServiceError
    from .imageio import decode_image

    _setup_logging("WARNING")
    try:
        template_for_size(args.size)
    except ValueError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        config, model = _load(args)
    except (ConfigError, ModelLoadError) as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        image = decode_image(Path(args.image).read_bytes(), max_pixels=config.limits.max_image_pixels)
        result = model.detect_faces(image)
    except (OSError, ServiceError) as exc:
        return _fail(f"{args.image}: {getattr(exc, 'message', None) or exc}", EXIT_FAILURE)
    finally:
        model.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "png" if args.format == "png" else "jpg"
    for i, landmarks in enumerate(result.faces.landmarks):
        crop = warp(image, estimate_transform(landmarks, args.size), args.size)
        (out / f"face_{i}.{suffix}").write_bytes(encode_crop(crop, args.format))
    print(json.dumps({"file": args.image, "count": len(result.faces), "out": str(out)}))
    return 0


def cmd_render_config(args) -> int:
    from .errors import ConfigError
    from .render import render_config

    _setup_logging("WARNING")
    try:
        written = render_config(args.input, args.output)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    if written:
        print(f"wrote {written}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
