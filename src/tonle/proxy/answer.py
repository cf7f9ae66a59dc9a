"""Reading a biller's proxy answer (family D, spec other-apis §3.1–§3.2) and its pending bills (§3.4).

Anything Tonle cannot rely on is "biller unavailable" to the bank, with the reason: an answer is either a bill
Tonle could show a payer, one of the four refusals the biller may give (codes 1–4), or unusable. Dates are read
leniently (``2024-2-29 10:46:33``, padded, date only, ``T`` or space); amounts are JSON numbers (or decimal
strings) exact in the currency."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tonle.banks import bills
from tonle.kit.domain import DomainError
from tonle.kit.money import CURRENCIES, AmountError, to_minor
from tonle.wire import wirejson

# The codes of the Merchant Proxy "Response Code" page.
REFUSALS: dict[int, type[DomainError]] = {
    1: bills.ConsumerNotFound,
    2: bills.BillOverdue,
    3: bills.NothingToPay,
    4: bills.CurrencyNotAllowed,
}
OUTCOMES = {0: "ok", 1: "not_found", 2: "overdue", 3: "nothing_due", 4: "currency"}
REQUIRED = ("consumer_code", "consumer_name", "currency", "due_amount", "last_due_date")
TEXTS = ("consumer_name_latin", "phone", "description", "last_bill_date", "last_pay_date")
DATES = ("last_bill_date", "last_due_date", "last_pay_date")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d{1,9})?)?)?$")
# UTF-8 Khmer read as Latin-1 / cp1252 on the biller's side turns into runs like "áž" / "áŸ": the text was damaged
# before it reached us, and a payer would see it.
_MOJIBAKE = re.compile("[\u00e1][\u0178\u017e\u009e\u009f]|\ufffd")


class Unusable(Exception):
    """Why an answer cannot be used (the text goes to the log and the biller's health)."""


def parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    m = _DATE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None


def damaged_text(value: str) -> bool:
    return bool(_MOJIBAKE.search(value))


@dataclass(frozen=True)
class Reading:
    code: int
    found: bills.Found | None  # code 0 only


def envelope(status: int, content: bytes) -> dict[str, Any]:
    if status != 200:
        raise Unusable(f"HTTP {status}")
    try:
        body = wirejson.loads(content)
    except ValueError as exc:
        raise Unusable(f"the answer is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise Unusable("the answer is not a JSON object")
    code = body.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise Unusable("the answer has no integer code")
    return body


def _amount(data: dict[str, Any], key: str, currency: str, *, limit: bool = False) -> int | None:
    value = data.get(key)
    if limit and (value is None or value == -1):
        return None
    try:
        return to_minor(value, currency)
    except AmountError as exc:
        raise Unusable(f"data.{key} is not an amount in {currency} ({exc})") from None


def read(status: int, content: bytes) -> Reading:
    """The proxy's answer, or Unusable."""
    body = envelope(status, content)
    code = body["code"]
    if code in REFUSALS:
        return Reading(code, None)
    if code != 0:
        raise Unusable(f"code {code} is not one of 0-4")
    data = body.get("data")
    if not isinstance(data, dict):
        raise Unusable("code 0 without a data object")
    missing = [k for k in REQUIRED if data.get(k) is None or data.get(k) == ""]
    if missing:
        raise Unusable(f"data lacks {', '.join(missing)}")
    for key in ("consumer_code", "consumer_name", "currency", *TEXTS, "last_due_date"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise Unusable(f"data.{key} is not a string")
    currency = data["currency"].strip().upper()
    if currency not in CURRENCIES:
        raise Unusable(f"data.currency {data['currency']!r} is not KHR or USD")
    for key in DATES:
        if data.get(key) and parse_date(data[key]) is None:
            raise Unusable(f"data.{key} {data[key]!r} is not a date")
    due = _amount(data, "due_amount", currency)
    assert due is not None
    lowest = _amount(data, "min_amount", currency, limit=True) if "min_amount" in data else due
    highest = _amount(data, "max_amount", currency, limit=True) if "max_amount" in data else due
    if lowest is not None and highest is not None and lowest > highest:
        raise Unusable("data.min_amount is above data.max_amount")
    balance = _amount(data, "balance", currency) if data.get("balance") is not None else 0
    name = data["consumer_name"]
    if damaged_text(name):
        raise Unusable("data.consumer_name is damaged text (UTF-8 read as another encoding)")
    found = bills.Found(
        consumer_code=data["consumer_code"],
        consumer_name=name,
        consumer_name_latin=data.get("consumer_name_latin") or "",
        phone=data.get("phone") or "",
        currency=currency,
        due=due,
        lowest=lowest,
        highest=highest,
        balance=balance or 0,
        description=data.get("description") or "",
        last_bill_date=data.get("last_bill_date") or "",
        last_due_date=data["last_due_date"],
        last_pay_date=data.get("last_pay_date") or "",
    )
    if (highest if highest is not None else 1) <= 0:
        return Reading(3, None)  # nothing can be paid on it: as code 3
    return Reading(0, found)


def read_pending(status: int, content: bytes) -> dict[str, Any]:
    """Pending bills (§3.4) as the bank app shows them: opening balance and the bills, newest first as sent."""
    body = envelope(status, content)
    if body["code"] != 0:
        raise Unusable(f"pending bills answered code {body['code']}")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("pending_bills", []), list):
        raise Unusable("pending bills without a data object and a pending_bills list")
    rows = []
    for i, row in enumerate(data.get("pending_bills") or []):
        if not isinstance(row, dict) or not isinstance(row.get("date"), str):
            raise Unusable(f"pending_bills[{i}] has no date")
        if not re.match(r"^\d{1,2}/\d{1,2}/\d{4}$", row["date"]):
            raise Unusable(f"pending_bills[{i}].date {row['date']!r} is not dd/MM/yyyy")
        for key in ("amount", "balance"):
            if not isinstance(row.get(key), int | Decimal) or isinstance(row.get(key), bool):
                raise Unusable(f"pending_bills[{i}].{key} is not a number")
        rows.append(
            {
                "date": row["date"],
                "amount": row.get("amount"),
                "balance": row.get("balance"),
                "digital_bill_url": row.get("digital_bill_url") or "",
            }
        )
    return {"opening_balance": data.get("opening_balance"), "pending_bills": rows}
