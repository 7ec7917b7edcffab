"""Settings and request options declared once, as dataclass fields, and checked by msgspec.

A declaration is a field made by :func:`setting`: its type annotation, default, one-line doc, range or
choices, and whether a bad value *fails closed*. The config loader, the request parser, the shipped YAML
and the OpenAPI parameters all read these declarations; none of them repeats a range or a default.

msgspec checks the values (type, range, choices) against the type each declaration stands for
(:func:`value_type`): it imports in about a fifth of pydantic's time and with a fifth of its memory, which
matters for a service that must be ready in under a second on a Raspberry Pi.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import Annotated, Any, Literal, Mapping

import msgspec

BASE_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "tuple[str, ...]": tuple[str, ...]}


def setting(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
            choices: tuple[Any, ...] | None = None, fail_closed: bool = False,
            schema: Mapping[str, Any] | None = None) -> Any:
    """A dataclass field carrying its doc, its valid range or choices, and its failure rule.

    ``fail_closed``: a bad value of this key stops the service instead of falling back to the default,
    because the default would weaken security or widen exposure (an API key list, a host fence, a limit).
    ``schema``: JSON Schema the range and choices cannot say (checked where the value is used).
    """
    return dataclasses.field(default=default, metadata={"doc": doc, "min": min, "max": max, "choices": choices,
                                                        "fail_closed": fail_closed, "schema": schema or {}})


def declarations(cls: type) -> dict[str, Mapping[str, Any]]:
    """``{name: {"type", "default", "doc", "min", "max", "choices", "fail_closed"}}`` for a declared class."""
    return {f.name: {"type": f.type, "default": f.default, **f.metadata} for f in dataclasses.fields(cls)}


@lru_cache(maxsize=None)
def _value_type(type_name: str, min: float | None, max: float | None, choices: tuple | None) -> Any:
    if choices:
        return Literal[tuple(choices)]
    base = BASE_TYPES[type_name]
    if base in (int, float) and (min is not None or max is not None):
        return Annotated[base, msgspec.Meta(ge=min, le=max)]
    return base


def value_type(info: Mapping[str, Any]) -> Any:
    """The type a declaration stands for: ``Annotated[int, Meta(ge=.., le=..)]``, a ``Literal`` of its
    choices, or the plain type."""
    return _value_type(info["type"], info.get("min"), info.get("max"), info.get("choices"))


def check(info: Mapping[str, Any], value: Any) -> Any:
    """``value`` as the declared type (an int where a float is declared becomes a float, a list a tuple);
    ValueError saying what was expected when it does not fit."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    try:
        return msgspec.convert(value, value_type(info))
    except msgspec.ValidationError:
        raise ValueError(expected(info, value)) from None


def expected(info: Mapping[str, Any], value: Any) -> str:
    """What a value of this declaration must be, worded for a person; ``value`` is the one that failed."""
    kind = info["type"]
    if kind == "bool":
        return f"must be true or false, got {str(value)[:40]!r}"
    if info.get("choices"):
        return "must be one of " + ", ".join(map(str, info["choices"])) if isinstance(value, str) \
            else "must be a string"
    if kind == "str":
        return "must be a string"
    if kind.startswith("tuple"):
        return "must be a list of strings"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be {'an integer' if kind == 'int' else 'a number'}, got {type(value).__name__}"
    if kind == "int" and not isinstance(value, int):
        return f"must be an integer, got {value!r}"
    low, high = info.get("min"), info.get("max")
    if low is not None and high is not None:
        return f"must be between {low:g} and {high:g}, got {value:g}"
    return f"must be at least {low:g}, got {value:g}" if low is not None else f"must be at most {high:g}, got {value:g}"


def check_fields(instance: Any, prefix: str) -> None:
    """ValueError naming the first field of a declared dataclass instance whose value does not fit."""
    for name, info in declarations(type(instance)).items():
        try:
            check(info, getattr(instance, name))
        except ValueError as exc:
            raise ValueError(f"{prefix}{name} {exc}") from None
