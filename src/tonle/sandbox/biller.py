"""A fake biller for the sandbox and the tests (`tonle sandbox biller --fixture FILE`): it serves the Merchant
Proxy look-up (``POST /proxy``), pending bills (``POST /pending_bills``), Auto Direct Debit's consumer validate and
debt inquiry (``POST /consumer/validate``, ``/consumer/inquiry``: the consumer's ``due_amount``, paid down by each
Direct Debit webhook it receives; ``POST /debts`` sets or adds to it) and a webhook receiver (``POST /webhook``,
``GET /webhooks``), answered from a small JSON file of consumers. Its faults make it a broken biller on purpose
(slow, garbage, HTTP 500, ...), so that Tonle's handling and `tonle proxy check` can be seen at work.

The file (docs/merchant-proxy.md has it whole; fixtures/biller.json is an example):

    {"token": "1603aa00dcc4426ba83298341bab126b",     # optional: calls without this `token:` get HTTP 401
     "faults": [],                                     # for every consumer (see FAULTS)
     "delay_seconds": 6,                               # how slow "slow" is
     "consumers": [{"consumer_code": "CU003035", "consumer_name": "ញ៉េប នីម", "currency": "USD",
                    "due_amount": 10, "last_due_date": "2024-3-30 10:46:33", ...,
                    "code": 0,                         # optional: answer 2, 3 or 4 for this consumer instead
                    "faults": [],                      # optional: faults of this consumer only
                    "pending_bills": {"opening_balance": 20000, "pending_bills": [...]}}]}
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tonle.wire import wirejson

MESSAGES = {
    0: ("Success", ""),
    1: ("Error Not Found", "រកមិនឃើញ"),
    2: ("Error Bill Over Due", "វិក្កយបត្រហួសកាលកំណត់"),
    3: ("Error No Amount To Pay", "គ្មានទឹកប្រាក់ត្រូវបង់"),
    4: ("Error Currency Not Allow", "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត"),
}
FAULTS = {
    "slow": "answers after delay_seconds (6 by default)",
    "garbage": "answers HTTP 200 with a body that is not JSON",
    "http500": "answers HTTP 500",
    "bad_code": "answers code 7",
    "missing_field": "leaves out data.last_due_date",
    "bad_date": "answers last_due_date as 30/03/2024",
    "bad_currency": "answers currency EUR",
    "bad_amount": "answers due_amount as a word",
    "mojibake": "sends the Khmer name as UTF-8 read as Latin-1",
    "min_over_max": "answers min_amount above max_amount",
    "unknown_found": "answers code 0 for a consumer it does not know (server-wide only)",
}
_BILL_KEYS = (
    "consumer_code",
    "consumer_name",
    "consumer_name_latin",
    "phone",
    "currency",
    "due_amount",
    "min_amount",
    "max_amount",
    "balance",
    "description",
    "last_bill_date",
    "last_due_date",
    "last_pay_date",
)


def load(path: Path) -> dict[str, Any]:
    spec = json.loads(path.read_text(encoding="utf-8"))
    check(spec)
    return spec


def check(spec: Any) -> None:
    if not isinstance(spec, dict) or not isinstance(spec.get("consumers", []), list):
        raise ValueError("a biller file is an object with a list of consumers")
    for where, faults in [("faults", spec.get("faults", []))] + [
        (f"consumers[{i}].faults", c.get("faults", [])) for i, c in enumerate(spec.get("consumers", []))
    ]:
        unknown = sorted(set(faults) - set(FAULTS))
        if unknown:
            raise ValueError(f"{where}: unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")
    for i, c in enumerate(spec.get("consumers", [])):
        if not isinstance(c, dict) or not isinstance(c.get("consumer_code"), str):
            raise ValueError(f"consumers[{i}] needs a consumer_code")


def create_app(spec: dict[str, Any]) -> Starlette:
    check(spec)
    consumers = {c["consumer_code"]: c for c in spec.get("consumers", [])}
    received: list[dict[str, Any]] = []
    seen: set[str] = set()

    def family_d(code: int, data: Any = None) -> JSONResponse:
        en, kh = MESSAGES[code]
        return JSONResponse({"code": code, "message": en, "message_kh": kh, "data": data})

    async def consumer_of(request: Request) -> tuple[dict[str, Any] | None, set[str], Response | None]:
        if spec.get("token") and request.headers.get("token") != spec["token"]:
            return None, set(), JSONResponse({"message": "invalid token"}, status_code=401)
        try:
            body = json.loads(await request.body())
            code = body["consumer_code"]
        except (ValueError, KeyError, TypeError):
            return None, set(), JSONResponse({"message": "Invalid input"}, status_code=400)
        found = consumers.get(code)
        if found is None and "unknown_found" in spec.get("faults", []) and consumers:
            found = {**next(iter(consumers.values())), "consumer_code": code}
        faults = set(spec.get("faults", [])) | set((found or {}).get("faults", []))
        if "slow" in faults:
            await asyncio.sleep(float(spec.get("delay_seconds", 6)))
        if "garbage" in faults:
            return None, faults, Response(b"<html>Service Unavailable</html>", media_type="text/html")
        if "http500" in faults:
            return None, faults, JSONResponse({"message": "Internal Server Error"}, status_code=500)
        return found, faults, None

    async def proxy(request: Request) -> Response:
        found, faults, early = await consumer_of(request)
        if early is not None:
            return early
        if found is None:
            return family_d(1)
        if "bad_code" in faults:
            return JSONResponse({"code": 7, "message": "Unexpected", "message_kh": "", "data": None})
        if found.get("code", 0) != 0:
            return family_d(int(found["code"]))
        data = {k: found[k] for k in _BILL_KEYS if k in found}
        if "missing_field" in faults:
            data.pop("last_due_date", None)
        if "bad_date" in faults:
            data["last_due_date"] = "30/03/2024"
        if "bad_currency" in faults:
            data["currency"] = "EUR"
        if "bad_amount" in faults:
            data["due_amount"] = "ten"
        if "min_over_max" in faults:
            data["min_amount"], data["max_amount"] = 100, 1
        if "mojibake" in faults:
            data["consumer_name"] = str(data.get("consumer_name", "")).encode("utf-8").decode("latin-1")
        return family_d(0, data)

    async def pending_bills(request: Request) -> Response:
        found, _faults, early = await consumer_of(request)
        if early is not None:
            return early
        if found is None:
            return family_d(1)
        return family_d(0, found.get("pending_bills") or {"opening_balance": 0, "pending_bills": []})

    def family_c(data: Any, message: str = "Request was successful", kh: str = "ការស្នើសុំបានជោគជ័យ") -> JSONResponse:
        return JSONResponse({"code": "000", "message": message, "message_kh": kh, "data": data})

    async def direct_debit_call(request: Request) -> tuple[Any, Response | None]:
        """Direct debit's calls (§6.4, §6.6): the token, the server-wide faults, then the body."""
        if spec.get("token") and request.headers.get("token") != spec["token"]:
            return None, JSONResponse({"message": "invalid token"}, status_code=401)
        faults = set(spec.get("faults", []))
        if "slow" in faults:
            await asyncio.sleep(float(spec.get("delay_seconds", 6)))
        if "garbage" in faults:
            return None, Response(b"<html>Service Unavailable</html>", media_type="text/html")
        if "http500" in faults:
            return None, JSONResponse({"message": "Internal Server Error"}, status_code=500)
        try:
            return json.loads(await request.body()), None
        except ValueError:
            return None, JSONResponse({"message": "Invalid input"}, status_code=400)

    async def consumer_validate(request: Request) -> Response:
        body, early = await direct_debit_call(request)
        if early is not None:
            return early
        found = consumers.get(body.get("consumer_code")) if isinstance(body, dict) else None
        if found is None:
            return JSONResponse({"code": "001", "message": "Consumer not found", "message_kh": "រកមិនឃើញ", "data": None})
        return family_c(
            {
                "consumer_code": found["consumer_code"],
                "consumer_name": found.get("consumer_name", ""),
                "consumer_name_latin": found.get("consumer_name_latin", ""),
                "additional_information": found.get("additional_information", found.get("description", "")),
            },
            "",
            "",
        )

    async def consumer_inquiry(request: Request) -> Response:
        """Each known consumer's debt: its ``due_amount`` (reduced by the Direct Debit webhooks received)."""
        body, early = await direct_debit_call(request)
        if early is not None:
            return early
        codes = body.get("consumer_codes") if isinstance(body, dict) else None
        faults = set(spec.get("faults", []))
        data = []
        for code in codes if isinstance(codes, list) else []:
            found = consumers.get(code)
            if found is None:
                continue
            item = {
                "consumer_code": code,
                "consumer_name": found.get("consumer_name", ""),
                "consumer_name_latin": found.get("consumer_name_latin", ""),
                "amount": Decimal(str(found.get("due_amount", 0))),
                "currency": "EUR" if "bad_currency" in faults else found.get("currency", "USD"),
            }
            if "bad_amount" in faults:
                item["amount"] = "ten"
            data.append(item)
        answer = {"code": "000", "message": "Request was successful", "message_kh": "ការស្នើសុំបានជោគជ័យ", "data": data}
        return Response(wirejson.dumps(answer), media_type="application/json")

    async def set_debt(request: Request) -> Response:
        """The biller's side moving on (tests, walk-throughs): ``{"consumer_code", "due_amount"[, "currency"]}``
        sets what the consumer owes; ``{"consumer_code", "add": n}`` adds to it."""
        body = json.loads(await request.body())
        found = consumers.setdefault(body["consumer_code"], {"consumer_code": body["consumer_code"], "due_amount": 0})
        if "add" in body:
            found["due_amount"] = Decimal(str(found.get("due_amount", 0))) + Decimal(str(body["add"]))
        if "due_amount" in body:
            found["due_amount"] = Decimal(str(body["due_amount"]))
        if "currency" in body:
            found["currency"] = body["currency"]
        return JSONResponse({"consumer_code": body["consumer_code"], "due_amount": str(found["due_amount"])})

    async def webhook(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"status": "Error", "message": "Invalid input"}, status_code=400)
        received.append({"headers": dict(request.headers), "body": body})
        key = str(body.get("tran_id")) if isinstance(body, dict) else ""
        if key in seen:  # the same webhook data twice: Bill24's "Error" reply (spec other-apis §3.2)
            return JSONResponse({"status": "Error", "message": "Error"})
        seen.add(key)
        paid = isinstance(body, dict) and body.get("status") == "success"
        if paid and body.get("payment_service_type") == "Direct Debit":
            owed = consumers.get(body.get("identity_code"))
            if owed is not None:  # the debt is paid down by what was debited, as a biller's books would be
                owed["due_amount"] = Decimal(str(owed.get("due_amount", 0))) - Decimal(str(body["tran_amount"]))
        return JSONResponse({"status": "Success", "message": "SUCCESS"})

    async def webhooks(request: Request) -> Response:
        return JSONResponse([r["body"] for r in received])

    app = Starlette(
        routes=[
            Route("/proxy", proxy, methods=["POST"]),
            Route("/pending_bills", pending_bills, methods=["POST"]),
            Route("/consumer/validate", consumer_validate, methods=["POST"]),
            Route("/consumer/inquiry", consumer_inquiry, methods=["POST"]),
            Route("/debts", set_debt, methods=["POST"]),
            Route("/webhook", webhook, methods=["POST"]),
            Route("/webhooks", webhooks, methods=["GET"]),
        ]
    )
    app.state.received = received
    return app
