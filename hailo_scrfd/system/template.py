"""The documents written from the declarations of every key: the shipped YAML config
(config/hailo-scrfd.yaml) and the configuration reference of the docs site (docs/configuration.md).

Each key's text is its declared doc, with its default, range or choices, and its rule for a bad value;
``scripts/generate.py`` writes both files and a test fails when a committed one differs.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from typing import Any, Mapping

import yaml

from ..declared import declarations

WIDTH = 110
HEADER = """\
# hailo-scrfd configuration. Installed as /etc/hailo/hailo-scrfd.yaml.
# Written by scripts/generate.py from the declaration of each key (hailo_scrfd/system/*.py): edit those, not this.
#
# Every key is optional: a missing key takes its default. Unknown keys are logged and ignored.
# A bad value (wrong type, out of range) of a tuning key is replaced by its default and logged as a warning,
# so one typo never stops the service. A key marked "fails closed" guards access or a limit: a bad value there
# stops the start (exit 2) with one line naming the key, since its default could leave the service open.
# Invalid YAML is fatal. Check a file with:  hailo-scrfd render-config --input FILE --output -
"""


def config_template(config_cls: type) -> str:
    """The documented YAML of a config class whose fields are its sections, every key at its default."""
    parts = [HEADER]
    for section in dataclasses.fields(config_cls):
        section_cls = section.default_factory
        lines = [f"{section.name}:"]
        intro = inspect.getdoc(section_cls) or ""
        if intro and not intro.startswith(section_cls.__name__ + "("):  # dataclass's own generated text
            lines += _comment(intro)
        whole = getattr(section_cls, "fail_closed", False)
        for key, info in declarations(section_cls).items():
            lines += _comment(f"{info['doc']} {_facts(info, whole)}")
            lines.append(f"  {key}: {_value(info['default'])}")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


REFERENCE_HEADER = """\
# Configuration reference

<!-- Written by scripts/generate.py from the declaration of each key (hailo_scrfd/system/*.py): edit those. -->

The service reads `/etc/hailo/hailo-scrfd.yaml` (or `--config FILE`, or `$HAILO_SCRFD_CONFIG`); every key is
optional. `hailo-scrfd render-config --input FILE --output -` checks a file. A bad value of a tuning key is
replaced by its default with a warning; a key that **fails closed** guards access or a limit, and a bad value
there stops the start with one line and exit code 2, since its default could leave the service open. An
unknown key is a warning, except inside `security`, `url_fetch` and `limits`, or when it is a near miss of a
key that fails closed.
"""


def config_reference(config_cls: type) -> str:
    """The Markdown reference of every section and key: a table a section, in declaration order."""
    parts = [REFERENCE_HEADER]
    for section in dataclasses.fields(config_cls):
        section_cls = section.default_factory
        parts.append(f"## `{section.name}`\n")
        intro = inspect.getdoc(section_cls) or ""
        if intro and not intro.startswith(section_cls.__name__ + "("):
            parts.append(" ".join(intro.split()) + "\n")
        whole = getattr(section_cls, "fail_closed", False)
        rows = ["| key | default | values | what it does |", "|---|---|---|---|"]
        for key, info in declarations(section_cls).items():
            closed = " **Fails closed.**" if info["fail_closed"] or whole else ""
            rows.append(f"| `{key}` | `{_value(info['default'])}` | {_values(info)} | "
                        f"{' '.join(info['doc'].split()).replace('|', '&#124;')}{closed} |")
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def _values(info: Mapping[str, Any]) -> str:
    if info["choices"]:
        return ", ".join(f"`{choice}`" for choice in info["choices"])
    if info["min"] is not None and info["max"] is not None:
        return f"{_number(info['min'])} to {_number(info['max'])}"
    return {"bool": "true, false", "str": "text", "tuple[str, ...]": "list of text"}.get(info["type"], "")


def _facts(info: Mapping[str, Any], whole_section: bool) -> str:
    default = info["default"]
    shown = _number(default) if isinstance(default, float) else _value(default)
    facts = f"Default {shown}"
    if info["choices"]:
        facts += "; one of " + ", ".join(map(str, info["choices"]))
    elif info["min"] is not None and info["max"] is not None:
        facts += f", range {_number(info['min'])}-{_number(info['max'])}"
    facts += "."
    if info["fail_closed"] or whole_section:
        facts += " Fails closed."
    return facts


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _value(value: Any) -> str:
    if value == "":
        return '""'
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("\n...").strip()


def _comment(text: str) -> list[str]:
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return [f"  # {line}" for p in paragraphs for line in textwrap.wrap(p, WIDTH - 4, break_on_hyphens=False)]
