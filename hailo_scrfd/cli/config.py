"""`hailo-scrfd render-config`: validate the YAML config and write it as JSON."""

from __future__ import annotations

import sys

from .common import setup_logging


def register(sub) -> None:
    p = sub.add_parser("render-config", help="validate the YAML config and write it as JSON")
    p.add_argument("--input", help="YAML file (default /etc/hailo/hailo-scrfd.yaml)")
    p.add_argument("--output", help="JSON file (default /etc/xdg/hailo-scrfd/hailo-scrfd.json); - for stdout")
    p.set_defaults(func=cmd_render_config)


def cmd_render_config(args) -> int:
    from ..system.render import render_config

    setup_logging("WARNING")
    written = render_config(args.input, args.output)  # a ConfigError ends the command with exit 2
    if written:
        print(f"wrote {written}", file=sys.stderr)
    return 0
