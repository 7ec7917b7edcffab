"""Request parameters, validated the same way for every input form.

The table of names, types and ranges is derived from the declarations in
:mod:`hailo_scrfd.options`; nothing here repeats a range or a default.

JSON bodies carry typed values; form fields and query strings carry text, which is
parsed here. Anything unknown, mistyped, non-finite or out of range is a 400 that
names the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from ..errors import InvalidParameter
from ..declared import check, declarations
from ..options import AlignOptions, DetectOptions, QualityOptions, RedactOptions, RenderOptions
from ..vision.align import template_for_size

BOOLEAN_TEXT = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False,
                "off": False}
PARAM_ALIASES = {"jpg": "jpeg"}  # accepted spellings of a choice


@dataclass(frozen=True)
class Param:
    """One request parameter: its declaration, and how its text form (query string, form field) is read.

    Reading the text is this class's job; checking the value (type, range, choices) is the declaration's
    (:func:`hailo_scrfd.declared.check`), the same check the config file's values get.
    """

    name: str
    info: Mapping[str, Any]

    @classmethod
    def table(cls, options: type) -> dict[str, "Param"]:
        """The parameters of an options dataclass, from its declarations."""
        return {name: cls(name, info) for name, info in declarations(options).items()}

    def parse(self, value: Any, typed: bool) -> Any:
        value = self._typed(value) if typed else self._read_text(value)
        try:
            return check(self.info, value)
        except ValueError as exc:
            raise InvalidParameter(f"'{self.name}' {exc}") from None

    def _typed(self, value: Any) -> Any:
        """A JSON value: a choice in any case or alias; a whole float where an integer is declared."""
        if isinstance(value, str) and self.info["choices"]:
            value = value.strip().lower()
            return PARAM_ALIASES.get(value, value)
        if self.info["type"] == "int" and isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def _read_text(self, value: Any) -> Any:
        kind = self.info["type"]
        if kind == "bool":
            return BOOLEAN_TEXT.get(str(value).strip().lower(), value)
        if kind == "str":
            return self._typed(value)
        try:
            return float(value) if kind == "float" else int(str(value).strip())
        except (TypeError, ValueError):
            expected = "an integer" if kind == "int" else "a number"
            raise InvalidParameter(f"'{self.name}' must be {expected}, got {str(value)[:40]!r}") from None


@dataclass(frozen=True)
class RequestOptions:
    """Everything a face request can ask for, validated."""

    detect: DetectOptions
    quality: QualityOptions = QualityOptions()
    align: AlignOptions = AlignOptions()


FRAME_PARAMS = Param.table(DetectOptions)  # a tracked frame: detection only
QUALITY_ONLY_PARAMS = Param.table(QualityOptions)
DETECT_PARAMS = {**FRAME_PARAMS, **QUALITY_ONLY_PARAMS}
ALIGN_ONLY_PARAMS = Param.table(AlignOptions)
ALIGN_PARAMS = {**DETECT_PARAMS, **ALIGN_ONLY_PARAMS}
RENDER_ONLY_PARAMS = Param.table(RenderOptions)
REDACT_ONLY_PARAMS = Param.table(RedactOptions)
DRAW_PARAMS = {**DETECT_PARAMS, **RENDER_ONLY_PARAMS}
REDACT_PARAMS = {**DRAW_PARAMS, **REDACT_ONLY_PARAMS}


def parse_values(table: Mapping[str, Param], typed: Mapping[str, Any], text: Mapping[str, str],
                 shadowed: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each named value parsed by its entry in ``table`` (the body's typed value wins); unknown names: 400.

    ``shadowed`` values (a query value a form field overrides) must be valid too, but are not used.
    """
    shadowed = shadowed or {}
    unknown = sorted(str(name) for name in (set(typed) | set(text) | set(shadowed)) - set(table))
    if unknown:
        # Names are echoed, but clipped: a client's "name" can be anything, image data included.
        names = ", ".join(repr(name[:40]) for name in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise InvalidParameter(f"unknown parameter(s) {names}; accepted: image, {', '.join(table)}")
    for name, value in shadowed.items():
        table[name].parse(value, False)
    values = {name: table[name].parse(value, False) for name, value in text.items()}
    values.update({name: table[name].parse(value, True) for name, value in typed.items()})
    return values


def parse_picture_params(typed: Mapping[str, Any], text: Mapping[str, str], *, defaults: RequestOptions,
                         redact: bool, shadowed: Mapping[str, str] | None = None
                         ) -> tuple[RequestOptions, RenderOptions, RedactOptions | None]:
    """Validated options of /v1/draw, or of /v1/redact when ``redact``: detection, output, and redaction."""
    values = parse_values(REDACT_PARAMS if redact else DRAW_PARAMS, typed, text, shadowed)
    render = RenderOptions(**{k: v for k, v in values.items() if k in RENDER_ONLY_PARAMS})
    cover = RedactOptions(**{k: v for k, v in values.items() if k in REDACT_ONLY_PARAMS})
    return _request_options(values, defaults), render, cover if redact else None


def parse_params(typed: Mapping[str, Any], text: Mapping[str, str], *, defaults: RequestOptions,
                 align: bool = False, table: Mapping[str, Param] | None = None,
                 shadowed: Mapping[str, str] | None = None) -> RequestOptions:
    """Validated options from JSON-typed and textual request values; unknown names are rejected.

    A name given both as text (query string) and typed (JSON body) takes the body's value.
    """
    values = parse_values(table or (ALIGN_PARAMS if align else DETECT_PARAMS), typed, text, shadowed)
    options = _request_options(values, defaults)
    if align:
        try:
            template_for_size(options.align.size)
        except ValueError as exc:
            raise InvalidParameter(f"'size': {exc}") from None
    return options


def _request_options(values: Mapping[str, Any], defaults: RequestOptions) -> RequestOptions:
    if not values:  # most requests name no parameter
        return defaults
    return RequestOptions(detect=_updated(defaults.detect, values, FRAME_PARAMS),
                          quality=_updated(defaults.quality, values, QUALITY_ONLY_PARAMS),
                          align=_updated(defaults.align, values, ALIGN_ONLY_PARAMS))


def _updated(options: Any, values: Mapping[str, Any], names: Mapping[str, Param]) -> Any:
    """``options`` with the ``values`` named in ``names``; the same object when none is."""
    changes = {k: v for k, v in values.items() if k in names}
    return replace(options, **changes) if changes else options
