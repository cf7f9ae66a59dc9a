"""Exact JSON in and out: numbers are never floats.

Request bodies are parsed with decimals for fractional numbers (``250.10`` stays ``Decimal('250.10')``), NaN and
Infinity are refused, so is an object with a key twice (which value counts would depend on the parser, and a proxy
or a signature check in front of Tonle could read the other one), and responses are written by a small encoder
that emits ``Decimal`` digits as they are.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from starlette.responses import Response

_str = json.JSONEncoder(ensure_ascii=False).encode


class InvalidJSON(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise InvalidJSON(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise InvalidJSON(f"the key {twice!r} appears twice in one object")
    return out


# Escapes that can make a string no database stores: \u0000 (PostgreSQL text has no NUL), and a \uD800-\uDFFF
# surrogate (fine in a pair, an emoji; alone it is not UTF-8). Strings are checked only when one appears.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


def _storable(value: Any) -> None:
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError
        if "\x00" in value:
            raise InvalidJSON("a string holds a NUL character")
    elif isinstance(value, dict):
        for k, v in value.items():
            _storable(k)
            _storable(v)
    elif isinstance(value, list):
        for v in value:
            _storable(v)


def loads(raw: bytes | str) -> Any:
    """JSON text as RFC 8259 has it between systems: UTF-8 only (Python would also guess UTF-16 and UTF-32)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_object)
        if _UNSTORABLE_ESCAPE.search(text):
            _storable(value)
        return value
    except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError
        raise InvalidJSON(str(exc)) from exc


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_str(value))
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite decimal")
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for k, v in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_str(str(k)))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    elif isinstance(value, float):
        raise TypeError("floats are not allowed on the wire; use Decimal or int")
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


class WireJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
