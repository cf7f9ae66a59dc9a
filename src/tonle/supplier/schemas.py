"""The wire shapes of the Supplier API (spec other-apis §5): the records of ``{"data": [...]}`` pushes, checked
field by field with the house's messages, and the documented answers (the queue object, family F)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from tonle.hosted.schemas import CURRENCIES, decimal_text
from tonle.wire.body import Amount, Custom, Each, Email, Instant, Pass, Text, WireBody, parse
from tonle.wire.errors import MissedField
from tonle.wire.validate import provide, too_long, wrong_type

MAX_BILLS = 100  # bills one pushed payment may name


def _code(p: Pass, key: str, *, required: bool) -> str | None:
    """A sync code: a string, or an integer (a biller's database id sent as it is); at most 100 characters."""
    raw = p.src.get(key)
    name = p.name(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            p.fail(provide(name))
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        p.fail(wrong_type(name, "string"))
        return None
    value = str(raw)
    if len(value) > 100:
        p.fail(too_long(name, 100))
        return None
    return value


def _required_code(p: Pass, key: str) -> str | None:
    return _code(p, key, required=True)


def _optional_code(p: Pass, key: str) -> str | None:
    return _code(p, key, required=False)


def _flag(p: Pass, key: str) -> bool:
    """``is_active``: a JSON boolean (``"true"``/``"false"`` and 1/0 are read too); absent means true."""
    raw = p.src.get(key)
    if raw is None:
        return True
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    p.fail(wrong_type(p.name(key), "boolean"))
    return True


def _bill_type(p: Pass, key: str) -> int:
    """1 Quick Bill, 2 Sale Bill (the default), 3 Purchase Bill, 4 Recurring Bill; ``2`` and ``"2"`` alike."""
    raw = p.src.get(key)
    if raw is None or raw == "":
        return 2
    try:
        value = int(raw) if not isinstance(raw, bool) and str(raw).strip().isdigit() else 0
    except ValueError:
        value = 0
    if value not in (1, 2, 3, 4):
        name = p.name(key)
        p.fail((f"[{name}] must be 1, 2, 3 or 4.", f"[{name}] ត្រូវតែជា 1, 2, 3 ឬ 4។"))
        return 2
    return value


def _bill_syncs(p: Pass, key: str) -> list[str]:
    """The bills a payment clears: one code, a comma-separated list, or a JSON array of codes; in order, once."""
    raw = p.src.get(key)
    name = p.name(key)
    if isinstance(raw, str):
        parts = raw.split(",")
    elif isinstance(raw, int) and not isinstance(raw, bool):
        parts = [str(raw)]
    elif isinstance(raw, list) and all(isinstance(x, str | int) and not isinstance(x, bool) for x in raw):
        parts = [str(x) for x in raw]
    elif raw is None:
        parts = []
    else:
        p.fail(wrong_type(name, "string or a list of strings"))
        return []
    codes = list(dict.fromkeys(c.strip() for c in parts if c.strip()))
    if not codes:
        p.fail(provide(name))
    elif len(codes) > MAX_BILLS or any(len(c) > 100 for c in codes):
        p.fail(
            (
                f"[{name}] names at most {MAX_BILLS} bills of at most 100 characters each.",
                f"[{name}] អាចមានវិក្កយបត្រច្រើនបំផុត {MAX_BILLS} ដែលនីមួយៗមិនលើស 100 តួអក្សរ។",
            )
        )
        return []
    return codes


class CustomerRecord(WireBody):
    """One customer of ``POST /customer/push`` (§5.1), upserted by ``sync_code``."""

    code: Annotated[str, Text(required=True, max_len=100)] = Field(description="the code customers type")
    org_code: Annotated[str | None, Text(max_len=100)] = None
    sync_code: Annotated[str, Custom(_required_code)] = Field(description="upsert key: the biller's own id")
    name: Annotated[str, Text(required=True, max_len=255)]
    name_kh: Annotated[str | None, Text(max_len=255)] = None
    phone: Annotated[str | None, Text(max_len=50)] = None
    email: Annotated[str | None, Email(label="email")] = None
    address: Annotated[str | None, Text(max_len=1000)] = None
    address_kh: Annotated[str | None, Text(max_len=1000)] = None
    tin_number: Annotated[str | None, Text(max_len=100)] = None
    is_active: Annotated[bool, Custom(_flag)] = Field(default=True, description="false removes the customer")


class BillLine(WireBody):
    item_name: Annotated[str | None, Text(max_len=255)] = None
    description: Annotated[str | None, Text(max_len=1000)] = None
    quantity: Annotated[str | None, Custom(decimal_text)] = None
    price: Annotated[int | None, Amount(currency="currency_id")] = None
    amount: Annotated[int | None, Amount(currency="currency_id")] = None


class BillRecord(WireBody):
    """One bill of ``POST /bill/push`` (§5.2), upserted by ``sync_code``; the shape a public client sent."""

    sync_code: Annotated[str, Custom(_required_code)] = Field(description="upsert key; also the bill's number")
    bill_date: Annotated[datetime | None, Instant()] = Field(
        default=None,
        description="`2024-02-14 10:46:33` (Python's str of a datetime), ISO, or a date; no offset:"
        " Phnom Penh time; absent: now",
    )
    due_date: Annotated[datetime | None, Instant()] = Field(default=None, description="absent: the bill date")
    currency_id: Annotated[str, Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)]
    total_amount: Annotated[int, Amount(currency="currency_id", required=True, positive=True)] = Field(
        description="`10.0` and `10` alike"
    )
    status: Annotated[str, Text(max_len=20, fold="lower", choices=("draft", "approve", "notify"), default="approve")]
    customer_sync_code: Annotated[str | None, Custom(_optional_code)] = Field(
        default=None, description="required but for a quick bill (bill_type 1); an unknown one is created"
    )
    customer_name: Annotated[str | None, Text(max_len=255)] = None
    bill_type: Annotated[int, Custom(_bill_type)] = 2
    description: Annotated[str | None, Text(max_len=1000)] = None
    ext__details: Annotated[list[BillLine], Each(BillLine)] = Field(default_factory=list)

    @classmethod
    def refine(cls, p: Pass) -> None:
        v = p.values
        if v.get("customer_sync_code") is None and v.get("bill_type") != 1:
            p.fail(provide(p.name("customer_sync_code")))
        if v.get("bill_date") and v.get("due_date") and v["due_date"] < v["bill_date"]:
            p.fail(("[due_date] must not be before [bill_date].", "[due_date] មិនអាចមុន [bill_date] បានទេ។"))


class PaymentRecord(WireBody):
    """One payment of ``POST /payment/push`` (§5.5): paid outside Tonle, it clears the bills named."""

    sync_code: Annotated[str, Custom(_required_code)] = Field(description="the payment's own key")
    currency_id: Annotated[str, Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)]
    customer_sync: Annotated[str | None, Custom(_optional_code)] = None
    description: Annotated[str | None, Text(max_len=1000)] = None
    title: Annotated[str | None, Text(max_len=255)] = None
    payment_method: Annotated[
        str, Text(required=True, max_len=20, fold="lower", choices=("online", "cash", "balance"))
    ] = Field(description="balance: spends the customer's credit")
    tran_date: Annotated[datetime, Instant(required=True)]
    bill_syncs: Annotated[list[str], Custom(_bill_syncs)] = Field(
        description="one bill's sync_code, a comma-separated list, or an array"
    )
    total_amount: Annotated[int, Amount(currency="currency_id", required=True, positive=True)]


def read(model: type[WireBody], raw: Any) -> Any:
    """One record read with the house's field messages: the record, or every (English, Khmer) message at once."""
    if not isinstance(raw, dict):
        return [("the record must be a JSON object.", "ទិន្នន័យត្រូវតែជា JSON object។")]
    try:
        return parse(model, raw)
    except MissedField as exc:
        return exc.messages


# ---------------------------------------------------------------- the answers (documented; rendered by hand)


class QueueObject(BaseModel):
    """Family F: what every push answers, and what the queue list holds."""

    id: str = Field(description="short queue id, e.g. `nn5RscTz`")
    code: str = Field(description="a UUID")
    operation: str = Field(description="cus.push | bill.push | pmt.push")
    note: str
    status: str = Field(description="processing | ready | error")
    completed: bool
    created_host: str
    start_date: str | None = Field(description="`2024-02-14 10:46:33`, Phnom Penh time")
    end_date: str | None
    result: str
    total_record: int
    created_date: str


class RecordResult(BaseModel):
    index: int
    sync_code: str
    status: str = Field(description="added | updated | unchanged | deleted | error")
    message: str
    message_kh: str
    warning: str


class QueueDetail(QueueObject):
    total_added: int
    total_updated: int
    total_unchanged: int
    total_canceled: int = Field(description="records refused")
    total_deleted: int
    success: list[RecordResult]
    errors: list[RecordResult]
    data: list[RecordResult] = Field(description="every record's result, in the order sent")


class PaidBill(BaseModel):
    id: str
    sync_code: str
    amount: Decimal


class PaymentOut(BaseModel):
    """A payment of ``GET /payment/``: the §5.6 webhook's fields, and where it came from."""

    tnx_id: str
    tran_id: str
    source: str = Field(description="bank | push")
    payment_method: str = Field(description="bank | cash | online | balance")
    sync_code: str
    tran_amount: Decimal
    customer_fee: Decimal
    supplier_fee: Decimal
    total_amount: Decimal
    currency: str
    bank_name: str
    bank_ref: str
    customer_sync_code: str
    customer_code: str
    customer_name: str
    customer_phone: str
    paid_by: str
    paid_date: str
    description: str
    title: str
    checkout_ref: str
    bills: list[PaidBill]
