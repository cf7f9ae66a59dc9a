"""Domain errors: each carries a catalogue code; one handler renders them at the wire edge."""

from __future__ import annotations

from typing import Any

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

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        self.messages = messages
        super().__init__(
            MISSED_FIELD, None, text=(", ".join(m[0] for m in messages), ", ".join(m[1] for m in messages))
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
