"""Plain dataclasses from TOML tables, checked by their type hints as pydantic's lax mode would.

The status line reads the config file after every message; pydantic costs it 60 ms to import
and build a validator, more than the rest of the line. The config's types are few (str, int,
float, bool, Literal, optional, list, dict, nested dataclasses), so this checks them by hand,
with pydantic's messages; a test holds it to pydantic's verdicts.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Location = tuple[str | int, ...]
_MISSING = object()
_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))


class Invalid(Exception):
    """The values that do not fit, each as (where, what is wrong)."""

    def __init__(self, problems: list[tuple[Location, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


def validate(cls: type[T], raw: Any, loc: Location = ()) -> T:
    """`raw` (parsed TOML) as an instance of the dataclass `cls`; raises Invalid with every
    problem, located by dotted key as pydantic does ("budget.0", "prices.m.input")."""
    problems: list[tuple[Location, str]] = []
    value = _value(cls, raw, loc, problems)
    if problems:
        raise Invalid(problems)
    return value


def _value(hint: Any, raw: Any, loc: Location, problems: list[tuple[Location, str]]) -> Any:
    """`raw` as `hint`, or None after adding what is wrong to `problems`."""
    if dataclasses.is_dataclass(hint):
        return _dataclass(hint, raw, loc, problems)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if raw is None and type(None) in args:
            return None
        (inner,) = (arg for arg in args if arg is not type(None))  # only X | None is used
        return _value(inner, raw, loc, problems)
    if origin is Literal:
        if raw in args and type(raw) in {type(arg) for arg in args}:
            return raw
        *most, last = (repr(arg) for arg in args)
        return _fail(
            problems, loc, f"Input should be {', '.join(most)} or {last}" if most else last
        )
    if origin is list:
        if not isinstance(raw, list | tuple):
            return _fail(problems, loc, "Input should be a valid list")
        return [_value(args[0], item, (*loc, i), problems) for i, item in enumerate(raw)]
    if origin in (dict, Mapping):
        if not isinstance(raw, dict):
            return _fail(problems, loc, "Input should be a valid dictionary")
        return {key: _value(args[1], item, (*loc, key), problems) for key, item in raw.items()}
    if hint is Any:
        return raw
    check = _SCALARS.get(hint)
    if check is None:
        raise TypeError(f"no check for {hint!r}")
    value, problem = check(raw)
    return _fail(problems, loc, problem) if problem else value


def _dataclass(cls: type, raw: Any, loc: Location, problems: list[tuple[Location, str]]) -> Any:
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        return _fail(
            problems, loc, f"Input should be a dictionary or an instance of {cls.__name__}"
        )
    before, hints, values = len(problems), _hints(cls), {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        given = raw.get(item.name, _MISSING)
        if given is not _MISSING:
            values[item.name] = _value(hints[item.name], given, (*loc, item.name), problems)
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            problems.append(((*loc, item.name), "Field required"))
    if len(problems) > before:
        return None
    try:
        return cls(**values)
    except ValueError as error:  # __post_init__'s own checks
        return _fail(problems, loc, f"Value error, {error}")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _fail(problems: list[tuple[Location, str]], loc: Location, message: str) -> None:
    problems.append((loc, message))
    return None


def _str(raw: Any) -> tuple[Any, str | None]:
    return (raw, None) if isinstance(raw, str) else (None, "Input should be a valid string")


def _int(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, int):
        return int(raw), None
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw), None
        return None, "Input should be a valid integer, got a number with a fractional part"
    if isinstance(raw, str):
        try:
            return int(raw.strip()), None
        except ValueError:
            try:
                number = float(raw.strip())
            except ValueError:
                number = None
            if number is not None and number.is_integer():
                return int(number), None
            return None, "Input should be a valid integer, unable to parse string as an integer"
    return None, "Input should be a valid integer"


def _float(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, int | float):
        return float(raw), None
    if isinstance(raw, str):
        try:
            return float(raw.strip()), None
        except ValueError:
            return None, "Input should be a valid number, unable to parse string as a number"
    return None, "Input should be a valid number"


def _bool(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw), None
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE, None
    return None, "Input should be a valid boolean, unable to interpret input"


_SCALARS = {str: _str, int: _int, float: _float, bool: _bool}
