"""`hailo-scrfd check`: load the model, run one inference on a built-in image, report; non-zero on failure."""

from __future__ import annotations

import time

import numpy as np

from . import check_hef
from .common import EXIT_CONFIG, EXIT_FAILURE, CommandFailed, add_model_args, load_config, loaded_model, setup_logging


def register(sub) -> None:
    p = sub.add_parser("check", help="self-test: load the model, run one inference, report timings and temperature")
    add_model_args(p)
    p.set_defaults(func=cmd_check)
    check_hef.register(p, cmd_check)


def test_image() -> np.ndarray:
    """A synthetic 1280x720 scene (gradient and noise): it exercises every stage without shipping a photo."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:720, :1280]
    image = np.stack([xx * 255 // 1279, yy * 255 // 719, (xx + yy) % 256], axis=-1).astype(np.uint8)
    return np.clip(image.astype(np.int16) + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)


def cmd_check(args) -> int:
    from ..errors import ConfigError, ServiceError
    from ..system.thermal import soc_temperature_c

    setup_logging("WARNING")
    start = time.perf_counter()
    try:
        config = load_config(args)
    except ConfigError as exc:
        raise CommandFailed(f"check failed: {exc}", EXIT_CONFIG) from None
    with loaded_model(config, prefix="check failed: ") as model:
        load_s = time.perf_counter() - start
        backend, spec = model.backend.name, model.input_spec
        try:
            result = model.detect_faces(test_image())
        except ServiceError as exc:
            raise CommandFailed(f"check failed: inference: {exc.message}", EXIT_FAILURE) from None
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
