"""Errors at the wire edge: ``TonleError`` carries a catalogue code and is rendered by one handler; a service's
``DomainError`` becomes one through the code table of the product whose endpoint was called."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi.routing import APIRoute

from tonle.config import Compat
from tonle.kit.domain import DomainError
from tonle.wire.codes import MISSED_FIELD, Code


class TonleError(Exception):
    """A business error, answered in the product envelope (HTTP 200 unless the spec says otherwise)."""

    def __init__(
        self,
        code: Code,
        data: Any = None,
        *,
        status: int = 200,
        text: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(text[0] if text else code.en)
        self.code = code
        self.data = data
        self.status = status
        self.text = text  # (en, kh) replacing the catalogue text, for messages built from the request
        self.headers = headers or {}


class MissedField(TonleError):
    """``ERR_MISSED_FIELD``: one or more validation messages, joined with ", " as the live server does."""

    def __init__(self, messages: list[tuple[str, str]], *, status: int = 200) -> None:
        self.messages = messages
        super().__init__(
            MISSED_FIELD,
            None,
            status=status,
            text=(", ".join(m[0] for m in messages), ", ".join(m[1] for m in messages)),
        )


class AuthError(Exception):
    """Authentication failure: HTTP 401 (or 429 when rate-limited) with a JSON body that says why."""

    def __init__(
        self, reason: str, *, status: int = 401, retry_after: int | None = None, family: str = "bearer"
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.family = family  # "bearer" (product envelope) or "security" (the authorize endpoint's envelope)


# How a product says a domain error: a catalogue code, or a function of the error and the compat profile that
# builds the whole TonleError (its data shape, a text built from the error's facts, a code that depends on the
# profile).
Saying = Code | Callable[[Any, Compat], TonleError]
CodeTable = Mapping[type[DomainError], Saying]


class Unspoken(Exception):
    """A service raised a domain error that the endpoint's product has no words for: a gap in its code table."""


def translate(exc: DomainError, table: CodeTable, compat: Compat) -> TonleError:
    for cls in type(exc).__mro__:
        saying = table.get(cls)  # type: ignore[arg-type]
        if saying is None:
            continue
        if isinstance(saying, Code):
            return TonleError(saying)
        return saying(exc, compat)
    raise Unspoken(f"{type(exc).__name__} has no code in this product's table") from exc


def speaking(table: CodeTable) -> type[APIRoute]:
    """The route class of a product's router: its routes carry the product's code table, which the app's handler
    (and the Idempotency-Key layer) read to answer a domain error."""
    return type("SpeakingRoute", (APIRoute,), {"codes": table})


def table_of(route: object) -> CodeTable:
    return getattr(route, "codes", {})
