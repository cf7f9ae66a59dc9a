"""The bank-facing API: what a bank (the sandbox's simulated banks, or a real connector) calls to pay a
transaction, inquiry then confirm (and their older versions). ``token: <bank API token>`` authenticates the bank;
transactions are addressed by their id."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tonle.banks import service as banks
from tonle.banks.auth import CurrentBank
from tonle.banks.codes import CODES
from tonle.customers.models import Customer
from tonle.kit.money import to_major
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction
from tonle.wire import codes, envelope
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import speaking
from tonle.wire.http import Body, CompatDep, Session, body_schema
from tonle.wire.validate import Checker, required_string

router = APIRouter(tags=["Bank API"], route_class=speaking(CODES))


class InquiryRequest(BaseModel):
    identity_code: str = Field(description="the transaction's tran_id")
    fee_channel: str = Field(default="MERCHANT")


class ConfirmRequest(BaseModel):
    identity_code: str
    payment_token: str = Field(description="from the inquiry")
    bank_ref: str
    bank_date: str | None = Field(default=None, description="YYYY-MM-DD")
    original_amount: Decimal | None = None
    convenience_fee_amount: Decimal | None = None
    sponsor_fee_amount: Decimal | None = None
    total_amount: Decimal
    currency: str
    fee_channel: str | None = None
    description: str | None = None
    payer_account_no: str | None = None
    payer_account_name: str | None = None
    payer_phone: str | None = None


async def _parties(session: Session, tran: Transaction) -> tuple[Merchant | None, Customer | None]:
    merchant = await session.get(Merchant, tran.merchant_id)
    customer = await session.get(Customer, tran.customer_id) if tran.customer_id else None
    return merchant, customer


@router.post(
    "/payment/v5/inquiry",
    summary="Bank inquiry: amounts and a payment token",
    openapi_extra=body_schema(InquiryRequest),
)
@router.post("/payment/v4/inquiry", include_in_schema=False)
async def inquiry(bank: CurrentBank, session: Session, body: Body, compat: CompatDep):
    tran, token = await banks.inquire(session, bank, required_string(body, "identity_code", max_len=100))
    merchant, customer = await _parties(session, tran)
    fee_channel = body.get("fee_channel") if isinstance(body.get("fee_channel"), str) else "MERCHANT"
    cur = tran.currency
    amount, fee, total = to_major(tran.amount, cur), to_major(tran.fee, cur), to_major(tran.amount + tran.fee, cur)
    data = {
        "transaction": {
            "tran_id": tran.id,
            "identity_code": tran.id,
            "transaction_type": tran.type,
            "payment_token": token,
            "fee_channel": fee_channel,
            "currency": cur,
            "original_amount": amount,
            "fee_amount": fee,
            "total_amount": total,
            "status": tran.status,
            "expire_date": dotnet_local(tran.expire_date),
            "description": tran.description,
        },
        "supplier": {
            "supplier_id": merchant.id if merchant else "",
            "supplier_name": merchant.name if merchant else "",
        },
        "customer": {
            "customer_code": customer.sync_code if customer else "",
            "customer_name": customer.name if customer else "",
            "customer_name_kh": (customer.name_kh or "") if customer else "",
            "bill_amount": amount,
            "fee_amount": fee,
            "total_amount": total,
            "currency": cur,
            "payment_token": token,
        },
    }
    return envelope.product(codes.BANK_SUCCESS, data, compat)


@router.post(
    "/payment/v3/confirm", summary="Bank confirm: pays the transaction, once", openapi_extra=body_schema(ConfirmRequest)
)
@router.post("/payment/v2/confirm", include_in_schema=False)
async def confirm(bank: CurrentBank, session: Session, body: Body, compat: CompatDep):
    c = Checker(body)
    tran_id = c.string("identity_code", required=True, max_len=100)
    token = c.string("payment_token", required=True, max_len=100)
    bank_ref = c.string("bank_ref", required=True, max_len=100)
    currency = c.string("currency", required=True, max_len=10)
    bank_date = c.string("bank_date", max_len=20) or ""
    payer = {k: c.string(k, max_len=200) or "" for k in ("payer_account_no", "payer_account_name", "payer_phone")}
    if body.get("total_amount") is None:
        c.fail(("Please provide [total_amount].", "សូមផ្តល់ [total_amount]។"))
    c.done()
    assert tran_id and token and bank_ref and currency
    tran, repeat = await banks.confirm(
        session,
        bank,
        tran_id=tran_id,
        payment_token=token,
        bank_ref=bank_ref,
        currency=currency,
        total_amount=body.get("total_amount"),
        original_amount=body.get("original_amount"),
        bank_date=bank_date,
        payer=payer,
    )
    data = {
        "tran_id": tran.id,
        "identity_code": tran.id,
        "status": tran.status,
        "bank_ref": tran.bank_ref,
        "total_amount": to_major(tran.amount + tran.fee, tran.currency),
        "currency": tran.currency,
        "paid_at": dotnet_local(tran.paid_at),
    }
    return envelope.product(codes.BANK_ALREADY_CONFIRMED if repeat else codes.BANK_CONFIRMED, data, compat)
