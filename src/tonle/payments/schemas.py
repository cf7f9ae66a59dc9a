"""Wire shapes of the payment endpoints, and the settle-payment request parser with Bill24's texts.

The live server is ASP.NET: a value of the wrong JSON type (a date that does not parse, a string where a number
goes) fails model binding as a whole, so only "The payload field is required." and the converter's complaint come
back; otherwise the [Required] binding message comes first, then the endpoint's own messages in field order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from tonle.config import Compat
from tonle.kit.money import CURRENCIES, AmountError, to_major, to_minor
from tonle.payments.hashing import amount_text
from tonle.wire import codes
from tonle.wire.dates import parse_wire_date
from tonle.wire.errors import MissedField, TonleError
from tonle.wire.http import WIRE_DATE_PATTERN, WireAmount
from tonle.wire.validate import Checker, amount_message, provide, required_string, too_long

DUE_DATE_RULE = ("MsgDueDateMustBeGreaterThanCurrentDate", "MsgDueDateMustBeGreaterThanCurrentDate")
_NET_TYPES = {"str": "System.String", "num": "System.Decimal", "int": "System.Int32", "date": "System.DateTime"}


# ---------------------------------------------------------------- OpenAPI documentation models


class DetailIn(BaseModel):
    item_name: str | None = Field(default=None, description="`item_mame` (the docs' typo) is accepted too")
    description: str | None = None
    quantity: int | None = None
    price: WireAmount | None = None
    amount: WireAmount | None = Field(default=None, description="line total; Σ amounts must equal total_amount")
    tax_amount: WireAmount | None = None
    tax_name: str | None = None


class SettleRequest(BaseModel):
    ref_id: str = Field(
        min_length=1, max_length=100, description="bill reference, unique per merchant (a repeat answers 327)"
    )
    date: str = Field(
        max_length=40,
        pattern=WIRE_DATE_PATTERN,
        description="`2025-11-06`, `2024-06-22T02:41:55.350Z` ...; the hash uses its digits as written",
    )
    due_date: str = Field(max_length=40, pattern=WIRE_DATE_PATTERN, description="not before `date`")
    currency: Literal["KHR", "USD"] = Field(description="the wallet in this currency pays (lower case is accepted)")
    total_amount: WireAmount = Field(
        description="JSON number in the currency's major unit (KHR whole, USD at most 2 decimals); 0 is accepted"
    )
    customer_sync_code: str = Field(min_length=1, max_length=50)
    payment_to: str = Field(
        min_length=1, max_length=50, description="sub-biller code; `settlement_to` (older name) is accepted too"
    )
    hash: str = Field(
        min_length=1,
        max_length=200,
        description="Base64(HMAC-SHA512(ref_id+yyyyMMddHHmmss(date)+currency+total_amount+customer_sync_code+payment_to))",
    )
    total_tax: WireAmount | None = None
    payment_method_token: str | None = Field(default=None, description="empty: the customer's wallet in `currency`")
    description: str | None = None
    exchange_rate_khr: str | None = Field(default=None, max_length=50)
    total_amount_khr: str | WireAmount | None = Field(default=None, description="informational, stored as given")
    details: list[DetailIn] | None = None


class CustomerSyncCodeRequest(BaseModel):
    customer_sync_code: str = Field(min_length=1, max_length=50)


class ReferenceRequest(BaseModel):
    reference: str = Field(description="the bill's ref_id (or a top-up's tran_id)")


class Pagination(BaseModel):
    page_index: int = Field(default=1, ge=1, le=2**31 - 1)
    page_size: int = Field(default=30, ge=1, le=100)


class WalletHistoryRequest(BaseModel):
    customer_sync_code: str
    wallet_id: str | None = Field(default=None, description="empty: every wallet of the customer")
    pagination: Pagination | None = None
    tran_type: str | None = Field(default=None, description="wallet_payment, wallet_topup, sandbox_funding; empty: all")
    d1: str | None = Field(default=None, description="from (inclusive), Phnom Penh time")
    d2: str | None = Field(default=None, description="to (inclusive), Phnom Penh time")


# ---------------------------------------------------------------- settle payment input


@dataclass
class DetailInput:
    item_name: str = ""
    description: str = ""
    quantity: int = 0
    price: int = 0
    amount: int = 0
    tax_amount: int = 0
    tax_name: str = ""


@dataclass
class SettleInput:
    ref_id: str
    date: datetime
    due_date: datetime
    currency: str
    currency_raw: str  # as sent: the hash is over what the merchant signed
    total: int
    total_raw: int | Decimal
    customer_sync_code: str
    payment_to: str
    hash: str
    total_tax: int = 0
    payment_method_token: str = ""
    description: str = ""
    exchange_rate_khr: str = ""
    total_amount_khr: str = ""
    details: list[DetailInput] = field(default_factory=list)


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "str" or kind == "date":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _conversion_error(path: str, kind: str) -> MissedField:
    net = _NET_TYPES[kind]
    return MissedField(
        [
            ("The payload field is required.", "សូមផ្តល់ទិន្នន័យ។"),
            (
                f"The JSON value could not be converted to {net}. Path: $.{path}.",
                f"តម្លៃ JSON មិនអាចបម្លែងទៅជា {net} បានទេ។ Path: $.{path}.",
            ),
        ]
    )


_TOP = [
    ("ref_id", "str"),
    ("date", "date"),
    ("due_date", "date"),
    ("currency", "str"),
    ("total_amount", "num"),
    ("customer_sync_code", "str"),
    ("total_tax", "num"),
    ("payment_method_token", "str"),
    ("payment_to", "str"),
    ("settlement_to", "str"),
    ("description", "str"),
    ("hash", "str"),
]
_DETAIL = [
    ("item_name", "str"),
    ("item_mame", "str"),
    ("description", "str"),
    ("quantity", "int"),
    ("price", "num"),
    ("amount", "num"),
    ("tax_amount", "num"),
    ("tax_name", "str"),
]


def _check_binding(body: dict[str, Any]) -> None:
    """Model binding: the first value of the wrong type (or a date that does not parse) fails the whole payload."""
    for key, kind in _TOP:
        value = body.get(key)
        if value is None:
            continue
        if not _kind_ok(value, kind) or (kind == "date" and parse_wire_date(value) is None):
            raise _conversion_error(key, kind)
    details = body.get("details")
    if details is None:
        return
    if not isinstance(details, list):
        raise _conversion_error("details", "str")
    for i, item in enumerate(details):
        if not isinstance(item, dict):
            raise _conversion_error(f"details[{i}]", "str")
        for key, kind in _DETAIL:
            value = item.get(key)
            if value is not None and not _kind_ok(value, kind):
                raise _conversion_error(f"details[{i}].{key}", kind)


def _text(c: Checker, key: str, value: Any) -> str:
    """An informational KHR field, kept as given (a string, or a number's digits), at most 50 characters."""
    if value is None:
        return ""
    text = amount_text(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else str(value)
    if len(text) > 50:  # refused rather than cut: what is stored is what was sent
        c.fail(too_long(key, 50))
    return text


def parse_settle(body: dict[str, Any], compat: Compat) -> SettleInput:
    _check_binding(body)
    binding: list[tuple[str, str]] = []
    c = Checker(body)
    if body.get("ref_id") in (None, "") or not str(body.get("ref_id")).strip():
        binding.append(("The RefId field is required.", "The RefId field is required."))
    ref_id = c.string("ref_id", required=True, max_len=100)
    date = c.string("date", required=True, max_len=40)
    due_raw = body.get("due_date")
    if due_raw is None or not str(due_raw).strip():
        c.fail(provide("due_date"))
        c.fail(DUE_DATE_RULE)
    currency_raw = c.string("currency", required=True, max_len=10)
    currency = currency_raw.upper() if currency_raw else None
    if currency is not None and currency not in CURRENCIES:
        c.fail(("[currency] must be KHR or USD.", "[currency] ត្រូវតែជា KHR ឬ USD។"))
        currency = None
    total_raw = body.get("total_amount")
    total = None
    if total_raw is None:
        c.fail(provide("total_amount"))
    elif currency is not None:
        try:
            total = to_minor(total_raw, currency)
        except AmountError as exc:
            c.fail(amount_message("total_amount", exc, currency))
    customer = c.string("customer_sync_code", required=True, max_len=50, unit="digits")
    # payment_to (current) or settlement_to (older clients); payment_to wins when both are given.
    pay_key = (
        "payment_to"
        if body.get("payment_to") not in (None, "") or body.get("settlement_to") in (None, "")
        else "settlement_to"
    )
    payment_to = c.string(pay_key, required=True, max_len=50, label="payment_to")
    signature = c.string("hash", required=True, max_len=200)
    description = c.string("description", max_len=2000) or ""
    token = c.string("payment_method_token", max_len=100) or ""
    total_tax = 0
    if body.get("total_tax") is not None and currency is not None:
        try:
            total_tax = to_minor(body["total_tax"], currency)
        except AmountError as exc:
            c.fail(amount_message("total_tax", exc, currency))
    details = _details(c, body.get("details") or [], currency)

    exchange_rate_khr = _text(c, "exchange_rate_khr", body.get("exchange_rate_khr"))
    total_amount_khr = _text(c, "total_amount_khr", body.get("total_amount_khr"))
    date_dt = parse_wire_date(date) if date else None
    due_dt = parse_wire_date(due_raw) if isinstance(due_raw, str) and due_raw.strip() else None
    if date_dt and due_dt and due_dt < date_dt:
        c.fail(DUE_DATE_RULE)
    messages = binding + c.messages
    if messages:
        raise MissedField(messages)
    assert ref_id and date_dt and due_dt and currency and currency_raw and total is not None and customer
    assert payment_to and signature
    if details and sum(d.amount for d in details) != total:
        _total_mismatch(sum(d.amount for d in details), currency, compat)
    return SettleInput(
        ref_id=ref_id,
        date=date_dt,
        due_date=due_dt,
        currency=currency,
        currency_raw=currency_raw,
        total=total,
        total_raw=total_raw,
        customer_sync_code=customer,
        payment_to=payment_to,
        hash=signature,
        total_tax=total_tax,
        payment_method_token=token.strip(),
        description=description,
        exchange_rate_khr=exchange_rate_khr,
        total_amount_khr=total_amount_khr,
        details=details,
    )


def _details(c: Checker, raw: list[dict[str, Any]], currency: str | None) -> list[DetailInput]:
    out = []
    for i, item in enumerate(raw):
        d = DetailInput()
        name_key = "item_name" if item.get("item_name") is not None or item.get("item_mame") is None else "item_mame"
        d.item_name = c.string(name_key, source=item, label=f"details[{i}].item_name") or ""
        d.description = c.string("description", source=item, max_len=2000, label=f"details[{i}].description") or ""
        d.tax_name = c.string("tax_name", source=item, label=f"details[{i}].tax_name") or ""
        quantity = item.get("quantity") or 0
        if quantity < 0 or quantity > 10**9:
            c.fail((f"[details[{i}].quantity] is out of range.", f"[details[{i}].quantity] លើសដែនកំណត់។"))
        d.quantity = quantity
        if currency is not None:
            for key in ("price", "amount", "tax_amount"):
                if item.get(key) is None:
                    continue
                try:
                    setattr(d, key, to_minor(item[key], currency))
                except AmountError as exc:
                    c.fail(amount_message(f"details[{i}].{key}", exc, currency))
        out.append(d)
    return out


def _total_mismatch(expected_minor: int, currency: str, compat: Compat) -> None:
    x = amount_text(to_major(expected_minor, currency))
    if compat is Compat.live:
        raise MissedField(
            [(f"The [total_amount] field must be equal to {x}.", f"[total_amount] គួរតែមានតម្លៃស្មើនឹង {x}។")]
        )
    raise TonleError(
        codes.TOTAL_MISMATCH,
        None,
        text=(f"The[total_amount] field must be equal to {x}", f"[total_amount] គួរតែមានតម្លៃស្មើនឹង {x}"),
    )


def parse_customer_code(body: dict[str, Any]) -> str:
    return required_string(body, "customer_sync_code", max_len=50, unit="digits")


def parse_reference(body: dict[str, Any]) -> str:
    return required_string(body, "reference", max_len=100)
