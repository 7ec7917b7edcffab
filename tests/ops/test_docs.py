"""The docs a newcomer reads: a short README whose first screen says how to serve and test, and a docs site
whose every page is in mkdocs.yml's nav, with no editing leftovers or lab-notebook wording."""

from __future__ import annotations

import re

import pytest
import yaml

from ..conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
NOTEBOOK_WORDS = ("this round", "the issue")


def _text_without_comments(path):
    """The file's text, well-formed HTML comments removed (the generated page opens with one)."""
    return re.sub(r"<!--.*?-->", "", path.read_text(), flags=re.S)


def test_readme_is_short_and_its_first_screen_shows_both_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; the rest belongs in docs/"
    first_screen = "\n".join(lines[:25])
    assert "make serve" in first_screen and "make test" in first_screen


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: p.name)
def test_no_editing_leftovers_or_notebook_wording(path):
    text = _text_without_comments(path)
    assert "-->" not in text, f"{path.name}: a stray '-->' (an editing leftover)"
    assert "<!--" not in text, f"{path.name}: an unclosed HTML comment"
    lowered = text.lower()
    for words in NOTEBOOK_WORDS:
        assert words not in lowered, f"{path.name} says {words!r}: write what is, date the figures"


def _nav_files(entries):
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from _nav_files(value)
        else:
            yield value


def test_every_docs_page_is_in_the_nav():
    # mkdocs.yml uses no YAML tags, so the safe loader reads it.
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_files(config["nav"]))
    pages = {p.name for p in PAGES}
    assert pages - nav == set(), f"pages missing from mkdocs.yml's nav: {sorted(pages - nav)}"
    assert nav - pages == set(), f"nav entries with no page: {sorted(nav - pages)}"


def test_readme_links_to_docs_pages_that_exist():
    for target in re.findall(r"\]\((docs/[^)#]+)", README.read_text()):
        assert (ROOT / target).is_file(), f"README links to {target}, which does not exist"
    assert (DOCS / "images" / "astronaut-draw.jpg").stat().st_size < 100_000
