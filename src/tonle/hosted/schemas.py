"""The wire shapes of Bill24 Hosted (spec other-apis §4): one invoice row of an import, its customer and lines."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tonle.kit.money import AmountError, to_minor
from tonle.wire.body import Amount, Custom, Each, Email, Instant, Nested, Pass, Text, WireBody, parse
from tonle.wire.errors import MissedField
from tonle.wire.http import WireAmount
from tonle.wire.validate import amount_message

CURRENCIES = ("KHR", "USD")


def decimal_text(p: Pass, key: str) -> Any:
    raw = p.src.get(key)
    name = p.name(key)
    if raw is None or raw == "":
        return ""
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
        p.fail((f"[{name}] must be a number.", f"[{name}] ត្រូវតែជាលេខ។"))
        return ""
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or len(str(raw)) > 40:
        p.fail((f"[{name}] must be a number, 0 or more.", f"[{name}] ត្រូវតែជាលេខ ០ ឬច្រើនជាងនេះ។"))
        return ""
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def _khr(p: Pass, key: str) -> Any:
    """An amount in riel whatever the invoice's currency (``totalAmountKhr``)."""
    raw = p.src.get(key)
    if raw is None or raw == "":
        return None
    try:
        return to_minor(raw, "KHR")
    except AmountError as exc:
        p.fail(amount_message(p.name(key), exc, "KHR"))
        return None


class InvoiceCustomer(WireBody):
    code: Annotated[str, Text(required=True, max_len=100)] = Field(description="the consumer code customers type")
    name: Annotated[str, Text(required=True, max_len=255)]
    address: Annotated[str | None, Text(max_len=1000)] = None
    phone: Annotated[str | None, Text(max_len=50)] = None
    moc: Annotated[str | None, Text(max_len=100)] = Field(default=None, description="Ministry of Commerce number")
    vat: Annotated[str | None, Text(max_len=100)] = None
    email: Annotated[str | None, Email(label="customer.email")] = None


class InvoiceLineIn(WireBody):
    item_name: Annotated[str | None, Text(max_len=255)] = Field(default=None, alias="itemName")
    description: Annotated[str | None, Text(max_len=1000)] = None
    quantity: Annotated[str | None, Custom(decimal_text)] = None
    price: Annotated[int | None, Amount()] = None
    amount: Annotated[int | None, Amount()] = None
    tax_amount: Annotated[int | None, Amount()] = Field(default=None, alias="taxAmount")


class InvoiceRow(WireBody):
    """One invoice of the import array, in the order its fields are checked."""

    ref_number: Annotated[str, Text(required=True, max_len=100)] = Field(
        alias="refNumber", description="the invoice number (unique per biller; what customers may search by)"
    )
    ref_id: Annotated[str | None, Text(max_len=100)] = Field(default=None, alias="refId")
    date: Annotated[datetime, Instant(required=True)] = Field(description="offset honoured; none: Phnom Penh time")
    due_date: Annotated[datetime, Instant(required=True)] = Field(alias="dueDate")
    description: Annotated[str | None, Text(max_len=1000)] = None
    currency: Annotated[str, Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)]
    total_amount: Annotated[int, Amount(required=True, positive=True)] = Field(alias="totalAmount")
    paid_amount: Annotated[int | None, Amount()] = Field(
        default=None, alias="paidAmount", description="paid outside Tonle: lowers what is due, moves no money"
    )
    customer: Annotated[InvoiceCustomer, Nested(InvoiceCustomer, required=True)]
    total_tax: Annotated[int | None, Amount()] = Field(default=None, alias="totalTax")
    exchange_rate_khr: Annotated[str | None, Custom(decimal_text)] = Field(default=None, alias="exchangeRateKhr")
    total_amount_khr: Annotated[int | None, Custom(_khr)] = Field(default=None, alias="totalAmountKhr")
    details: Annotated[list[InvoiceLineIn], Each(InvoiceLineIn)] = Field(default_factory=list)

    @classmethod
    def refine(cls, p: Pass) -> None:
        v = p.values
        if v.get("date") and v.get("due_date") and v["due_date"] < v["date"]:
            p.fail(("[dueDate] must not be before [date].", "[dueDate] មិនអាចមុន [date] បានទេ។"))
        total, paid = v.get("total_amount"), v.get("paid_amount")
        if total is not None and paid is not None and paid > total:
            p.fail(("[paidAmount] must not exceed [totalAmount].", "[paidAmount] មិនអាចលើស [totalAmount] បានទេ។"))


def read_row(raw: Any) -> InvoiceRow | list[tuple[str, str]]:
    """One import row read with Bill24's field messages: the row, or every (English, Khmer) message at once."""
    if not isinstance(raw, dict):
        return [("the row must be a JSON object.", "ជួរត្រូវតែជា JSON object។")]
    try:
        return parse(InvoiceRow, raw)
    except MissedField as exc:
        return exc.messages


# ---------------------------------------------------------------- the answers (documented; rendered by hand)


class ImportAnswer(BaseModel):
    id: int = Field(description="the import batch's id")
    totalRecord: int = Field(description="rows received")
    status: int = Field(description="1: accepted")


class RowAnswer(BaseModel):
    index: int
    outcome: Literal["created", "updated", "unchanged", "rejected"]
    reason: str
    reason_kh: str
    invoiceId: str | None


class ImportOutcomes(ImportAnswer):
    state: Literal["queued", "running", "done"]
    rowsDone: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    createdDate: str | None
    finishedDate: str | None
    rows: list[RowAnswer]


class PaidBill(BaseModel):
    id: str
    refId: str
    refNumber: str
    paidAmount: WireAmount
    date: str
    dueDate: str


class PaymentRecord(BaseModel):
    code: str = Field(description="biller code + consumer code")
    consumerCode: str
    consumerName: str
    billerCode: str
    description: str
    tranDate: str
    tranId: str
    paymentMethod: int = Field(description="1: bank channel, 2: KHQR scan")
    tranAmount: WireAmount
    convenienceFeeAmount: WireAmount
    sponserFeeAmount: WireAmount
    totalAmount: WireAmount
    currencyId: str
    overpay: WireAmount
    bankRef: str
    bankName: str
    bankId: str
    bills: list[PaidBill]


class InvoiceCustomerAnswer(BaseModel):
    code: str
    name: str
    address: str
    phone: str
    moc: str
    vat: str
    email: str


class InvoiceAnswer(BaseModel):
    id: str
    refId: str
    refNumber: str
    date: str
    dueDate: str
    description: str
    currency: str
    totalAmount: WireAmount
    totalTax: WireAmount
    paidAmount: WireAmount
    dueAmount: WireAmount
    exchangeRateKhr: str
    totalAmountKhr: WireAmount | None
    state: Literal["draft", "open", "partially_paid", "paid", "overdue", "void"]
    customer: InvoiceCustomerAnswer
    digitalBillUrl: str


class InvoicePage(BaseModel):
    result: list[InvoiceAnswer]
    pageIndex: int
    pageSize: int
    pageCount: int
    rowCount: int
