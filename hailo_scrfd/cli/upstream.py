"""`hailo-scrfd upstream-check`: an active health check of each instance behind a load balancer.

nginx (open source) only checks passively: it marks an upstream down after failed requests. An external
monitor (cron, a systemd timer, Nagios/Icinga, Prometheus' blackbox exporter) runs this to learn about an
instance before a client does. It prints one line per instance and exits 0 when at least ``--min-healthy``
instances (default: all) answer ``GET /health`` with 200.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def register(subparsers) -> None:
    p = subparsers.add_parser("upstream-check", help="GET /health on each instance; exit 1 if too few are healthy")
    p.add_argument("urls", nargs="+", metavar="URL", help="instance base URLs, e.g. http://127.0.0.1:5002")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per instance (default 2)")
    p.add_argument("--min-healthy", type=int, help="healthy instances needed for exit 0 (default: all)")
    p.set_defaults(func=cmd_upstream_check)


def check(url: str, timeout_s: float) -> tuple[bool, str]:
    """(healthy, one-line description) for one instance."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout_s) as resp:
            body = json.loads(resp.read() or b"{}")
            status = resp.status
    except urllib.error.HTTPError as exc:
        try:
            body, status = json.loads(exc.read() or b"{}"), exc.code
        except ValueError:
            body, status = {}, exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"unreachable ({getattr(exc, 'reason', exc)})"
    ms = (time.perf_counter() - start) * 1000.0
    model = body.get("model") or {}
    what = f"{model.get('name', '?')} on {model.get('backend', '?')}" if isinstance(model, dict) else str(model)
    if status == 200:
        return True, f"{what}, {ms:.0f} ms"
    return False, f"HTTP {status} {body.get('status', '')} {body.get('reason', '')}".strip()


def cmd_upstream_check(args: argparse.Namespace) -> int:
    with ThreadPoolExecutor(max_workers=min(16, len(args.urls))) as pool:
        results = list(pool.map(lambda u: check(u, args.timeout), args.urls))
    for url, (ok, text) in zip(args.urls, results, strict=True):
        print(f"{'ok  ' if ok else 'DOWN'} {url} {text}")
    healthy = sum(ok for ok, _ in results)
    need = len(args.urls) if args.min_healthy is None else args.min_healthy
    print(f"{healthy}/{len(args.urls)} healthy (need {need})", file=sys.stderr)
    return 0 if healthy >= need else 1
