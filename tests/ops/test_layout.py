"""The package's shape: layers import only downward, modules and functions stay small (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ..conftest import ROOT

PACKAGE = ROOT / "hailo_scrfd"
# Lower ranks are lower layers. A module may import its own subpackage and any lower rank, never
# a layer of the same or a higher rank.
RANKS = {"__init__": 0, "errors": 0, "declared": 0, "options": 0, "vision": 1, "evaluation": 1, "system": 2,
         "backends": 3, "runtime": 4, "pipeline": 5, "video": 6, "http": 7, "cli": 8, "__main__": 9}
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def all_code() -> list[Path]:
    """The package, the benchmarks (their mains included), the support module and the scripts."""
    return modules() + sorted(p for d in ("bench", "support", "scripts") for p in (ROOT / d).rglob("*.py"))


def layer(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def imported_layers(path: Path) -> set[str]:
    """The top-level parts of hailo_scrfd that ``path`` imports, at any depth (function-level included)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1] if path.name != "__init__.py" \
        else path.relative_to(ROOT).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            if parts[0] != "hailo_scrfd":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # "from hailo_scrfd import x" or "from .. import x": x is a module or __version__
                found.update(alias.name if alias.name in RANKS else "__init__" for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "hailo_scrfd" and len(parts) > 1:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path):
    own = layer(path)
    for target in imported_layers(path) - {own}:
        assert RANKS[target] < RANKS[own] or RANKS[target] == 0, f"{own} must not import {target}"


@pytest.mark.parametrize("path", all_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} has {len(text.splitlines())} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{node.name} is {length} lines long"


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The layering check is not vacuous: an import from a higher layer is found."""
    bad = tmp_path / "hailo_scrfd" / "vision" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ..http import create_app\nfrom hailo_scrfd.runtime.model import SCRFDModel\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert imported_layers(bad) == {"http", "runtime"}
