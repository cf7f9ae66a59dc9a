"""How the Supplier API's endpoints say the service's refusals: family F has no error shape of its own (spec
§10.13), so the product envelope with a non-success code, English and Khmer, HTTP 400 (404 for what is not there).
The client known to use this API treats any status but 200 as a failure."""

from __future__ import annotations

from typing import Any

from tonle.config import Compat
from tonle.supplier import service
from tonle.wire import codes
from tonle.wire.errors import CodeTable, TonleError


def _no_data(exc: Any, compat: Compat) -> TonleError:
    why = exc.facts.get("why", "")
    return TonleError(
        codes.PUSH_NO_DATA,
        status=400,
        text=(f"{codes.PUSH_NO_DATA.en} Here, {why}.", f"{codes.PUSH_NO_DATA.kh} ({why})"),
    )


def _too_many(exc: Any, compat: Compat) -> TonleError:
    records, limit = exc.facts["records"], exc.facts["limit"]
    return TonleError(
        codes.PUSH_TOO_MANY,
        {"records": records, "limit": limit},
        status=400,
        text=(
            f"A push takes at most {limit} records; this one has {records}. Split it.",
            f"ការផ្ញើមួយទទួលកំណត់ត្រាបានច្រើនបំផុត {limit}; នេះមាន {records}។",
        ),
    )


CODES: CodeTable = {
    service.NoData: _no_data,
    service.TooManyRecords: _too_many,
    service.QueueNotFound: lambda exc, compat: TonleError(codes.QUEUE_NOT_FOUND, status=404),
}
