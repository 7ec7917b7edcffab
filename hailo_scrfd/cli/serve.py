"""`hailo-scrfd serve`: load the model, then serve the HTTP API until SIGTERM (systemd-aware)."""

from __future__ import annotations

import logging

from .common import EXIT_CONFIG, EXIT_FAILURE, CommandFailed, add_model_args, load_config, setup_logging

log = logging.getLogger("hailo_scrfd")


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API")
    add_model_args(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 5001)")
    p.add_argument("--instance", type=int, help="instance N of several: port server.port+N, threads from affinity")
    p.add_argument("--drain-s", type=float, metavar="SECONDS",
                   help="seconds still serving after SIGTERM (server.drain_s; -1: auto)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from ..system import systemd
    from ..system.tuning import tune_for_serving

    setup_logging()
    tune_for_serving()
    systemd.notify("STATUS=loading the model")
    try:
        config, model, app = _start(args)
    except CommandFailed as exc:
        systemd.notify(f"STATUS=failed: {exc}")
        raise
    logging.getLogger().setLevel(config.logging.level)
    _warn_exposure(config, app)
    try:
        return _serve(config, model, app)
    finally:
        model.close()


def _start(args):
    """Config, loaded model and app; any failure is CommandFailed(EXIT_CONFIG), with the model closed."""
    from ..errors import ConfigError, ModelLoadError
    from ..http import create_app
    from ..runtime.model import SCRFDModel

    model = None
    try:
        config = load_config(args, server__host=args.host, server__port=args.port, server__drain_s=args.drain_s)
        if args.instance is not None:
            config = _instance(config, args.instance)
        model = SCRFDModel(config).load()
        return config, model, create_app(config, model)
    except (ConfigError, ModelLoadError) as exc:
        if model is not None:
            model.close()
        raise CommandFailed(str(exc), EXIT_CONFIG) from None


def _instance(config, instance: int):
    """The config of instance ``instance`` of several sharing one file (hailo-scrfd@N.service)."""
    from ..errors import ConfigError
    from ..system.instances import instance_overrides

    try:
        return config.override(**instance_overrides(config.server.port, config.onnx.threads, instance))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _warn_exposure(config, app) -> None:
    from ..http.security import is_loopback

    if not is_loopback(config.server.host) and not app.extensions["hailo_scrfd"].keys.enabled:
        log.warning("listening on %s without API keys: anyone who can reach it can use the API; "
                    "set security.api_keys, or bind 127.0.0.1 behind a proxy", config.server.host)
    if config.debug.fault_injection:
        log.warning("debug.fault_injection is on: POST /debug/faults can break inference; never in production")


def _serve(config, model, app) -> int:
    from ..http.server import ServeError, serve
    from ..system import systemd

    watchdog = systemd.Watchdog(lambda: model.is_healthy(config.server.watchdog_grace_s))

    def ready(host: str, port: int) -> None:
        systemd.notify(f"READY=1\nSTATUS=serving {model.name} on {model.backend.name} at http://{host}:{port}")
        watchdog.start()

    def stopping() -> None:
        systemd.notify("STOPPING=1\nSTATUS=draining: /health answers 503, then in-flight requests finish")
        app.extensions["hailo_scrfd"].draining.set()
        app.extensions["hailo_scrfd"].streams.shutdown()  # ends streams, so their event clients finish

    try:
        serve(app, config, on_ready=ready, on_stop=stopping)
    except ServeError as exc:
        systemd.notify(f"STATUS=failed: {exc}")
        raise CommandFailed(str(exc), EXIT_FAILURE) from None
    finally:
        watchdog.stop()
    metrics = app.extensions["hailo_scrfd"].metrics
    log.info("stopped: %d requests started, %d finished, %d abandoned",
             metrics.started, metrics.finished, metrics.started - metrics.finished)
    return 0
