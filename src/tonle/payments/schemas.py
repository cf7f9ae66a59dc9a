"""Wire shapes of the payment endpoints, and the settle-payment request parser with Bill24's texts.

The live server is ASP.NET: a value of the wrong JSON type (a date that does not parse, a string where a number
goes) fails model binding as a whole, so only "The payload field is required." and the converter's complaint come
back; otherwise the [Required] binding message comes first, then the endpoint's own messages in field order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tonle.config import Compat
from tonle.kit.money import CURRENCIES, to_major
from tonle.payments.hashing import amount_text
from tonle.wire import codes
from tonle.wire.body import Amount, Custom, Date, Each, Pass, Text, Url, WireBody, parse
from tonle.wire.dates import parse_wire_date
from tonle.wire.errors import MissedField, TonleError
from tonle.wire.http import WIRE_DATE_PATTERN, WireAmount
from tonle.wire.validate import provide, too_long, wrong_type

DUE_DATE_RULE = ("MsgDueDateMustBeGreaterThanCurrentDate", "MsgDueDateMustBeGreaterThanCurrentDate")
_NET_TYPES = {"str": "System.String", "num": "System.Decimal", "int": "System.Int32", "date": "System.DateTime"}


# ---------------------------------------------------------------- OpenAPI documentation models


def _quantity(p: Pass, key: str) -> int:
    quantity = p.src.get(key) or 0  # binding has made it an integer
    if quantity < 0 or quantity > 10**9:
        name = p.name(key)
        p.fail((f"[{name}] is out of range.", f"[{name}] លើសដែនកំណត់។"))
    return quantity


def _due_date(p: Pass, key: str) -> Any:
    raw = p.src.get(key)
    if raw is None or not str(raw).strip():
        p.fail(provide(key))
        p.fail(DUE_DATE_RULE)
        return None
    return raw


def _informational(p: Pass, key: str) -> str:
    """An informational KHR field, kept as given (a string, or a number's digits), at most 50 characters."""
    value = p.src.get(key)
    if value is None:
        return ""
    text = amount_text(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else str(value)
    if len(text) > 50:  # refused rather than cut: what is stored is what was sent
        p.fail(too_long(key, 50))
    return text


class DetailIn(WireBody):
    item_name: Annotated[str | None, Text(label="item_name", alias="item_mame", alias_on_blank=False)] = Field(
        default=None, description="`item_mame` (the docs' typo) is accepted too"
    )
    description: Annotated[str | None, Text(max_len=2000)] = None
    tax_name: Annotated[str | None, Text()] = None
    quantity: Annotated[int | None, Custom(_quantity)] = Field(default=None, ge=0, le=10**9)
    price: Annotated[WireAmount | None, Amount()] = None
    amount: Annotated[WireAmount | None, Amount()] = Field(
        default=None, description="line total; Σ amounts must equal total_amount"
    )
    tax_amount: Annotated[WireAmount | None, Amount()] = None


class SettleRequest(WireBody):
    """Fields in the order the live server names their problems."""

    ref_id: Annotated[str, Text(required=True, max_len=100)] = Field(
        description="bill reference, unique per merchant (a repeat answers 327)"
    )
    date: Annotated[str, Text(required=True, max_len=40)] = Field(
        pattern=WIRE_DATE_PATTERN,
        description="`2025-11-06`, `2024-06-22T02:41:55.350Z` ...; the hash uses its digits as written",
    )
    due_date: Annotated[str, Custom(_due_date)] = Field(
        max_length=40, pattern=WIRE_DATE_PATTERN, description="not before `date`"
    )
    currency: Annotated[Literal["KHR", "USD"], Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)] = (
        Field(description="the wallet in this currency pays (lower case is accepted)")
    )
    total_amount: Annotated[WireAmount, Amount(required=True)] = Field(
        description="JSON number in the currency's major unit (KHR whole, USD at most 2 decimals); 0 is accepted"
    )
    customer_sync_code: Annotated[str, Text(required=True, max_len=50, unit="digits")]
    # payment_to (current) or settlement_to (older clients); payment_to wins when both are given.
    payment_to: Annotated[str, Text(required=True, max_len=50, label="payment_to", alias="settlement_to")] = Field(
        description="sub-biller code; `settlement_to` (older name) is accepted too"
    )
    hash: Annotated[str, Text(required=True, max_len=200)] = Field(
        description="Base64(HMAC-SHA512(ref_id+yyyyMMddHHmmss(date)+currency+total_amount+customer_sync_code+payment_to))",
    )
    description: Annotated[str | None, Text(max_len=2000)] = None
    payment_method_token: Annotated[str | None, Text(max_len=100)] = Field(
        default=None, description="empty: the customer's wallet in `currency`"
    )
    total_tax: Annotated[WireAmount | None, Amount()] = None
    details: Annotated[list[DetailIn] | None, Each(DetailIn)] = None
    exchange_rate_khr: Annotated[str | None, Custom(_informational)] = Field(default=None, max_length=50)
    total_amount_khr: Annotated[str | WireAmount | None, Custom(_informational)] = Field(
        default=None, description="informational, stored as given (at most 50 characters)"
    )

    @classmethod
    def screen(cls, body: dict[str, Any]) -> None:
        _check_binding(body)

    @classmethod
    def refine(cls, p: Pass) -> None:
        v = p.values
        date = parse_wire_date(v["date"]) if v["date"] else None
        due = v["due_date"]
        due = parse_wire_date(due) if isinstance(due, str) else None
        if date and due and due < date:
            p.fail(DUE_DATE_RULE)
        if _blank(p.src.get("ref_id")):
            # The [Required] binding message comes before the endpoint's own.
            p.c.messages.insert(0, ("The RefId field is required.", "The RefId field is required."))


def _blank(value: Any) -> bool:
    return value in (None, "") or not str(value).strip()


class CustomerSyncCodeRequest(WireBody):
    customer_sync_code: Annotated[str, Text(required=True, max_len=50, unit="digits")]


class MethodLinkRequest(WireBody):
    """Tonle's extension: a page for the customer to put a card or a bank account on file."""

    customer_sync_code: Annotated[str, Text(required=True, max_len=50, unit="digits")]
    type: Annotated[str | None, Text(max_len=20, choices=("card", "bank_account"), fold="lower")] = Field(
        default=None, description="card | bank_account; absent: the customer picks on the page"
    )
    web_url: Annotated[str | None, Url()] = Field(
        default=None, description="where the page returns, with ?status=success|cancelled|<reason>"
    )


class MethodTokenRequest(WireBody):
    customer_sync_code: Annotated[str, Text(required=True, max_len=50, unit="digits")]
    payment_method_token: Annotated[str, Text(required=True, max_len=64)]


class ReferenceRequest(WireBody):
    reference: Annotated[str, Text(required=True, max_len=100)] = Field(
        description="the bill's ref_id (or a top-up's tran_id)"
    )


INT32_MAX = 2**31 - 1


class Pagination(BaseModel):
    page_index: int = Field(default=1, ge=1, le=INT32_MAX)
    page_size: int = Field(default=30, ge=1, le=INT32_MAX, description="more than 100 reads as 100")


def _pagination(p: Pass, key: str) -> Pagination:
    page = p.src.get(key) or {}
    if not isinstance(page, dict):
        p.fail(wrong_type(key, "object"))
        page = {}
    index, size = page.get("page_index", 1), page.get("page_size", 30)
    for name, value in (("page_index", index), ("page_size", size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            p.fail((f"[{key}.{name}] must be a whole number of at least 1.", f"[{key}.{name}] ត្រូវតែជាចំនួនគត់ ≥ 1។"))
        elif value > INT32_MAX:  # the live server binds an Int32; a bigger page would overflow the query's offset
            p.fail((f"[{key}.{name}] is out of range.", f"[{key}.{name}] លើសដែនកំណត់។"))
    return Pagination.model_construct(page_index=index, page_size=size)


class WalletHistoryRequest(WireBody):
    customer_sync_code: Annotated[str, Text(required=True, max_len=50, unit="digits")]
    wallet_id: Annotated[str | None, Text(max_len=36)] = Field(
        default=None, description="empty: every wallet of the customer"
    )
    tran_type: Annotated[str | None, Text(max_len=40)] = Field(
        default=None, description="wallet_payment, wallet_topup, sandbox_funding; empty: all"
    )
    d1: Annotated[str | None, Date()] = Field(default=None, description="from (inclusive), Phnom Penh time")
    d2: Annotated[str | None, Date()] = Field(default=None, description="to (inclusive), Phnom Penh time")
    pagination: Annotated[Pagination | None, Custom(_pagination)] = None


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


def parse_settle(body: dict[str, Any], compat: Compat) -> SettleInput:
    m = parse(SettleRequest, body)
    date, due = parse_wire_date(m.date), parse_wire_date(m.due_date)
    assert date and due and m.currency and m.total_amount is not None
    details = [
        DetailInput(
            item_name=d.item_name or "",
            description=d.description or "",
            quantity=d.quantity or 0,
            price=d.price or 0,
            amount=d.amount or 0,
            tax_amount=d.tax_amount or 0,
            tax_name=d.tax_name or "",
        )
        for d in m.details or []
    ]
    if details and sum(d.amount for d in details) != m.total_amount:
        _total_mismatch(sum(d.amount for d in details), m.currency, compat)
    return SettleInput(
        ref_id=m.ref_id,
        date=date,
        due_date=due,
        currency=m.currency,
        currency_raw=body["currency"],
        total=int(m.total_amount),
        total_raw=body["total_amount"],
        customer_sync_code=m.customer_sync_code,
        payment_to=m.payment_to,
        hash=m.hash,
        total_tax=int(m.total_tax or 0),
        payment_method_token=(m.payment_method_token or "").strip(),
        description=m.description or "",
        exchange_rate_khr=m.exchange_rate_khr or "",
        total_amount_khr=str(m.total_amount_khr or ""),
        details=details,
    )


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
    return parse(CustomerSyncCodeRequest, body).customer_sync_code


def parse_reference(body: dict[str, Any]) -> str:
    return parse(ReferenceRequest, body).reference
