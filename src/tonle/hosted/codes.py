"""How Bill24 Hosted's endpoints say the service's refusals. Family H has no error shape of its own (spec §10.1):
the product envelope with a non-success code, English and Khmer, and HTTP 400 (404 for what is not there)."""

from __future__ import annotations

from typing import Any

from tonle.config import Compat
from tonle.hosted import service
from tonle.wire import codes
from tonle.wire.errors import CodeTable, TonleError


def _not_a_list(exc: Any, compat: Compat) -> TonleError:
    index = exc.facts.get("index")
    if index is None:
        return TonleError(codes.IMPORT_NOT_A_LIST, status=400)
    return TonleError(
        codes.IMPORT_NOT_A_LIST,
        {"index": index},
        status=400,
        text=(
            f"{codes.IMPORT_NOT_A_LIST.en} Row {index} is not an object.",
            f"{codes.IMPORT_NOT_A_LIST.kh} ជួរ {index} មិនមែនជា object ទេ។",
        ),
    )


def _too_many(exc: Any, compat: Compat) -> TonleError:
    rows, limit = exc.facts["rows"], exc.facts["limit"]
    return TonleError(
        codes.IMPORT_TOO_MANY_ROWS,
        {"rows": rows, "limit": limit},
        status=400,
        text=(
            f"An import takes at most {limit} invoices; this one has {rows}. Split it.",
            f"ការនាំចូលមួយទទួលវិក្កយបត្របានច្រើនបំផុត {limit}; នេះមាន {rows}។",
        ),
    )


CODES: CodeTable = {
    service.NotAList: _not_a_list,
    service.TooManyRows: _too_many,
    service.ImportNotFound: lambda exc, compat: TonleError(codes.IMPORT_NOT_FOUND, status=404),
}
