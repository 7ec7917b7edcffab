"""`hailo-scrfd models list|pull|path`: the known models, downloading one, and where it is cached."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys

from .common import EXIT_CONFIG, fail


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list, download (pull) and locate SCRFD models")
    sub = p.add_subparsers(dest="models_command", required=True)

    s = sub.add_parser("list", help="known models: format, size, sha256, source, licence, cached or not")
    s.set_defaults(func=cmd_models_list)

    s = sub.add_parser("pull", help="download a model into the cache (sha256-verified, resumable)")
    s.add_argument("name", metavar="NAME", help="a known model (see `models list`), or any name with --url/--sha256")
    s.add_argument("--url", help="download from this URL instead (a mirror, or an air-gapped file server)")
    s.add_argument("--sha256", help="expected sha256 of the file (required with --url for an unknown name, and "
                                    "for models without a published hash)")
    s.add_argument("--dir", help="directory to write to (default: $HAILO_SCRFD_MODEL_DIR, $STATE_DIRECTORY/models "
                                 "under systemd, else $XDG_CACHE_HOME/hailo-scrfd/models)")
    s.add_argument("--no-hailo-apps", action="store_true", help="never hand HEF pulls to hailo-apps")
    s.set_defaults(func=cmd_models_pull)

    s = sub.add_parser("path", help="print the cached file of a model; exit 1 if it is not downloaded")
    s.add_argument("name", metavar="NAME")
    s.set_defaults(func=cmd_models_path)


def cmd_models_list(args: argparse.Namespace) -> int:
    from ..system.models import find, load_manifest

    manifest = load_manifest()
    rows = []
    for name, e in manifest.models.items():
        cached = find(name, manifest)
        rows.append({
            "name": name + (" (default)" if name == manifest.default else ""),
            "format": e.format,
            "size": f"{e.size / 1e6:.1f} MB" if e.size else "unknown",
            "sha256": e.sha256 or "none published: pull needs --sha256 (or hailo-apps)",
            "cached": str(cached) if cached else "-",
            "sources": [s.url for s in e.sources] or ["none known: pull needs --url and --sha256"],
            "licence": e.licence,
            "description": e.description,
        })
    if sys.stdout.isatty():
        _print_table(rows)
    else:  # one tab-separated line per model, full values, for scripts
        print("name\tformat\tsize\tsha256\tcached\tsources\tlicence")
        for r in rows:
            print("\t".join([r["name"], r["format"], r["size"], r["sha256"], r["cached"], " ".join(r["sources"]),
                             r["licence"]]))
    return 0


def _print_table(rows: list[dict]) -> None:
    width = shutil.get_terminal_size((100, 24)).columns
    bold, dim, reset = "\x1b[1m", "\x1b[2m", "\x1b[0m"
    for r in rows:
        cached = "cached: " + r["cached"] if r["cached"] != "-" else "not downloaded"
        print(f"{bold}{r['name']}{reset}  {r['format']}  {r['size']}  {cached}")
        print(f"  {r['description']}"[:width])
        print(f"  sha256   {r['sha256']}")
        for i, url in enumerate(r["sources"]):
            print(f"  {'source' if i == 0 else 'or':<8} {url}")
        print(f"  {dim}licence  {r['licence']}{reset}")


def cmd_models_pull(args: argparse.Namespace) -> int:
    from ..system.download import DownloadError, Progress
    from ..system.models import pull

    logging.basicConfig(level="INFO", format="%(message)s", force=True)
    sha256 = args.sha256.lower() if args.sha256 else None
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        return fail(f"--sha256 must be 64 hex digits, got {args.sha256!r}", EXIT_CONFIG)
    try:
        path = pull(args.name, url=args.url, sha256=sha256, dest_dir=args.dir, progress=Progress(),
                    use_hailo_apps=not args.no_hailo_apps)
    except DownloadError as exc:
        return fail(str(exc), 1)
    print(path)
    return 0


def cmd_models_path(args: argparse.Namespace) -> int:
    from ..system.models import find, load_manifest, not_downloaded, unknown

    manifest = load_manifest()
    path = find(args.name, manifest)
    if path is None:
        return fail(not_downloaded(args.name) if manifest.get(args.name) else unknown(args.name), 1)
    print(path)
    return 0
