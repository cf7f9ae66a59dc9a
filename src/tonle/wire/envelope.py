"""The envelope families of the wire.

- product (family A): ``{"code": "000", "message": ..., "message_kh": ..., "data": ...}``, business errors HTTP 200.
- security (the authorize endpoint): ``{"code": 200, "message": "", "data": ...}`` with an integer code.
"""

from __future__ import annotations

from typing import Any

from tonle.config import Compat
from tonle.wire.codes import Code
from tonle.wire.errors import TonleError
from tonle.wire.wirejson import WireJSONResponse


def product(
    code: Code,
    data: Any,
    compat: Compat,
    *,
    status: int = 200,
    text: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> WireJSONResponse:
    c, en, kh = code.render(compat)
    if text is not None:
        en, kh = text
    return WireJSONResponse(
        {"code": c, "message": en, "message_kh": kh, "data": data}, status_code=status, headers=headers
    )


def security(
    code: int, message: str, data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> WireJSONResponse:
    return WireJSONResponse({"code": code, "message": message, "data": data}, status_code=status, headers=headers)


def error(exc: TonleError, compat: Compat) -> WireJSONResponse:
    """A business error in the product envelope (one rendering for the app's handler and the idempotency layer)."""
    return product(exc.code, exc.data, compat, status=exc.status, text=exc.text, headers=exc.headers)
