"""The bank-facing API: what a bank (the sandbox's simulated banks, or a real connector) calls to pay a
transaction, inquiry then confirm (and their older versions). ``token: <bank API token>`` authenticates the bank;
transactions are addressed by their id."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from tonle.banks import service as banks
from tonle.banks.auth import CurrentBank
from tonle.banks.codes import CODES
from tonle.customers.models import Customer
from tonle.kit.money import to_major
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction
from tonle.wire import codes, envelope
from tonle.wire.body import Present, Text, WireBody, parse
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import speaking
from tonle.wire.http import Body, CompatDep, Session, body_schema

router = APIRouter(tags=["Bank API"], route_class=speaking(CODES))


class InquiryRequest(WireBody):
    identity_code: Annotated[str, Text(required=True, max_len=100)] = Field(description="the transaction's tran_id")
    fee_channel: str = Field(default="MERCHANT")


class ConfirmRequest(WireBody):
    # In the order the fields are checked (Bill24 lists the messages so).
    identity_code: Annotated[str, Text(required=True, max_len=100)]
    payment_token: Annotated[str, Text(required=True, max_len=100)] = Field(description="from the inquiry")
    bank_ref: Annotated[str, Text(required=True, max_len=100)]
    currency: Annotated[str, Text(required=True, max_len=10)]
    bank_date: Annotated[str | None, Text(max_len=20)] = Field(default=None, description="YYYY-MM-DD")
    payer_account_no: Annotated[str | None, Text(max_len=200)] = None
    payer_account_name: Annotated[str | None, Text(max_len=200)] = None
    payer_phone: Annotated[str | None, Text(max_len=200)] = None
    total_amount: Annotated[Decimal, Present()]
    original_amount: Decimal | None = None
    convenience_fee_amount: Decimal | None = None
    sponsor_fee_amount: Decimal | None = None
    fee_channel: str | None = None
    description: str | None = None


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
    req = parse(InquiryRequest, body)
    tran, token = await banks.inquire(session, bank, req.identity_code)
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
    req = parse(ConfirmRequest, body)
    tran, repeat = await banks.confirm(
        session,
        bank,
        tran_id=req.identity_code,
        payment_token=req.payment_token,
        bank_ref=req.bank_ref,
        currency=req.currency,
        total_amount=req.total_amount,
        original_amount=body.get("original_amount"),
        bank_date=req.bank_date or "",
        payer={
            "payer_account_no": req.payer_account_no or "",
            "payer_account_name": req.payer_account_name or "",
            "payer_phone": req.payer_phone or "",
        },
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
