#!/usr/bin/env python3
"""Write the files generated from the declarations: config/hailo-scrfd.yaml, docs/configuration.md and the
request options of hailo_scrfd/http/openapi.json.

Usage: generate.py [--check]   (--check: exit 1, naming the files, when a committed file differs)
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from hailo_scrfd.http.openapi import packaged_document  # noqa: E402
from hailo_scrfd.http.openapi_options import document_text, with_declared_options  # noqa: E402
from hailo_scrfd.system.config import SCRFDServiceConfig  # noqa: E402
from hailo_scrfd.system.template import config_reference, config_template  # noqa: E402


def generated() -> dict[Path, str]:
    return {ROOT / "config" / "hailo-scrfd.yaml": config_template(SCRFDServiceConfig),
            ROOT / "docs" / "configuration.md": config_reference(SCRFDServiceConfig),
            ROOT / "hailo_scrfd" / "http" / "openapi.json": document_text(with_declared_options(packaged_document()))}


def main(argv: list[str]) -> int:
    stale = [path for path, text in generated().items() if not path.is_file() or path.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from its declarations: run scripts/generate.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated()[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
