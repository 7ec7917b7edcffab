#!/usr/bin/env python3
"""Render /etc/hailo/hailo-scrfd.yaml to /etc/xdg/hailo-scrfd/hailo-scrfd.json (same as `hailo-scrfd render-config`).

Usage: render_config.py [--input YAML] [--output JSON|-]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from hailo_scrfd.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["render-config", *sys.argv[1:]]))
