"""``hailo-scrfd eval``: WIDER FACE easy / medium / hard AP of a model and mode, run in-process."""

from __future__ import annotations

import time
from pathlib import Path

from .common import EXIT_CONFIG, EXIT_FAILURE, CommandFailed, loaded_model, setup_logging

EVAL_THRESHOLD = 0.02  # the usual WIDER FACE operating point: the whole precision-recall curve counts


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="WIDER FACE evaluation (official protocol) of a model and mode")
    p.add_argument("--widerface", required=True, metavar="DIR",
                   help="folder with WIDER_val/images/<event>/<name>.jpg and ground_truth/*.mat")
    p.add_argument("--mode", choices=("fast", "full"), default="fast", help="scale coverage (default fast)")
    p.add_argument("--config", help="YAML config (default: $HAILO_SCRFD_CONFIG, else /etc/hailo/hailo-scrfd.yaml)")
    p.add_argument("--model", help="model file, .onnx or .hef (default: config model.path, else $HAILO_SCRFD_MODEL)")
    p.add_argument("--backend", choices=("auto", "onnx", "hailo"), help="inference backend (default: config)")
    p.add_argument("--input-mode", choices=("fit", "fixed"),
                   help="ONNX input: fit (any size) or fixed 640x640, as a HEF (default: config)")
    p.add_argument("--precision", choices=("auto", "int8", "fp32"),
                   help="ONNX on the CPU: the INT8 version or the file as given (default: config model.precision)")
    p.add_argument("--threshold", type=float, default=EVAL_THRESHOLD,
                   help=f"score threshold (default {EVAL_THRESHOLD})")
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images (0: all)")
    p.add_argument("--predictions-out", metavar="DIR", help="also write the per-image prediction txt files here")
    p.set_defaults(func=cmd_eval)


def _paths(root: Path) -> tuple[Path, Path]:
    images = root / "WIDER_val" / "images"
    if not images.is_dir():
        images = root / "images"
    return images, root / "ground_truth"


def cmd_eval(args) -> int:
    from dataclasses import replace

    from ..evaluation import widerface as wf
    from ..options import DetectOptions
    from ..system.config import SCRFDServiceConfig

    setup_logging("WARNING")
    images_dir, gt_dir = _paths(Path(args.widerface))
    try:
        gt = wf.load_ground_truth(gt_dir, images_dir)
    except (FileNotFoundError, RuntimeError) as exc:
        raise CommandFailed(str(exc), EXIT_CONFIG) from None
    keys = sorted(gt.keys)[: args.limit or None]
    if not keys:
        raise CommandFailed(f"no WIDER FACE val images found under {images_dir}", EXIT_CONFIG)
    config = SCRFDServiceConfig.load(args.config).override(
        model__path=args.model, model__backend=args.backend, onnx__input_mode=args.input_mode,
        model__precision=args.precision, model__auto_int8="off")  # no swap to INT8 in the middle of a run
    start = time.perf_counter()
    with loaded_model(config) as model:
        spec = model.info()
        options = replace(DetectOptions.from_config(config.detection), threshold=args.threshold, max_faces=0,
                          min_face_size=0.0, mode=args.mode)
        predictions, engine_ms, runs = _predict(model, options, images_dir, keys, config)
    sub = wf.GroundTruth({k: gt.boxes[k] for k in keys}, gt.keep)
    ap = wf.evaluate(predictions, sub)
    if args.predictions_out:
        wf.write_predictions(predictions, args.predictions_out)
    print(f"model {spec['name']} on {spec['backend']}, mode {args.mode}, {len(keys)} images, "
          f"{sum(len(sub.keep['hard'].get(k, ())) for k in keys)} hard faces")
    print(wf.format_table(ap))
    print(f"engine runs {runs} ({runs / len(keys):.2f} per image), engine time {engine_ms / len(keys):.1f} ms "
          f"per image, wall {time.perf_counter() - start:.1f} s")
    return 0


def _predict(model, options, images_dir: Path, keys: list[str], config):
    """Per image key, the (N, 5) x1, y1, x2, y2, score predictions; the total engine ms and engine runs."""
    import numpy as np

    from ..errors import ServiceError
    from ..pipeline.detector import Detector
    from ..pipeline.scales import detect_multiscale
    from ..vision.decode import decode_image

    detector = Detector(model)
    predictions, engine_ms, runs = {}, 0.0, 0
    for key in keys:
        try:
            image = decode_image((images_dir / f"{key}.jpg").read_bytes(), max_pixels=config.limits.max_image_pixels)
            faces, info = detect_multiscale(detector, image, options, options.mode)
        except (OSError, ServiceError) as exc:
            raise CommandFailed(f"{key}: {getattr(exc, 'message', None) or exc}", EXIT_FAILURE) from None
        predictions[key] = np.concatenate([faces.xyxy, faces.scores[:, None]], axis=1)
        engine_ms += sum(i["engine_ms"] for i in info)
        runs += len(info)
    return predictions, engine_ms, runs
