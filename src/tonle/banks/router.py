"""The bank-facing API: what a bank (the sandbox's simulated banks, or a real connector) calls to pay a
transaction, inquiry then confirm (and their older versions). ``token: <bank API token>`` authenticates the bank;
transactions are addressed by their id."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import Field

from tonle.banks import bills
from tonle.banks import service as banks
from tonle.banks.auth import CurrentBank
from tonle.banks.codes import CODES
from tonle.banks.models import BillLookup
from tonle.customers.models import Customer
from tonle.kit.money import to_major
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction
from tonle.wire import codes, envelope
from tonle.wire.body import Present, Text, WireBody, parse
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema

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
    if tran.type == bills.KIND:  # a bill of the bank channel: what was due, and what was paid above it
        lookup = await session.get(BillLookup, tran.id)
        if lookup is not None:
            data["due_amount"] = to_major(lookup.due_amount, tran.currency)
            data["overpaid_amount"] = to_major(lookup.overpaid, tran.currency)
    return envelope.product(codes.BANK_ALREADY_CONFIRMED if repeat else codes.BANK_CONFIRMED, data, compat)


# ---------------------------------------------------------------- the bank channel for bills


class BillInquiryRequest(WireBody):
    bill_code: Annotated[str, Text(required=True, max_len=20)] = Field(
        description="the biller code the customer picked or typed in the bank app"
    )
    customer_code: Annotated[str, Text(required=True, max_len=100)] = Field(
        description="what the customer typed: consumer code, invoice number, or any key the biller knows"
    )


def _limit(minor: int | None, currency: str) -> object:
    return to_major(minor, currency) if minor is not None else -1


@router.post(
    "/payment/v3/inquiry/single",
    summary="Bank bill look-up by biller code and customer code: the bill, and a payment token for confirm",
    openapi_extra=body_schema(BillInquiryRequest),
)
async def bill_inquiry(
    request: Request, bank: CurrentBank, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(BillInquiryRequest, body)
    rid = getattr(request.state, "request_id", "") or ""
    opened = await bills.look_up(session, settings, bank, req.bill_code, req.customer_code, rid)
    tran, lookup, token = opened.tran, opened.lookup, opened.token
    cur = tran.currency
    lowest, highest = bills.bounds(lookup)
    due = to_major(tran.amount, cur)
    data = {
        "supplier": {
            "supplier_id": opened.biller.id,
            "supplier_code": opened.biller.biller_code,
            "supplier_name": opened.biller.name,
        },
        "customer": {
            "customer_code": lookup.consumer_code,
            "customer_name": lookup.consumer_name,
            "customer_name_latin": lookup.consumer_name_latin,
            "phone": lookup.phone,
            "currency": cur,
            "bill_amount": due,
            "fee_amount": 0,
            "total_amount": due,
            "min_amount": _limit(lowest, cur),
            "max_amount": _limit(highest, cur),
            "description": lookup.description,
            "last_bill_date": lookup.last_bill_date,
            "last_due_date": lookup.last_due_date,
            "last_pay_date": lookup.last_pay_date,
            "payment_token": token,
        },
        "balance": to_major(lookup.balance, cur),
        "transaction": {
            "tran_id": tran.id,
            "identity_code": tran.id,
            "transaction_type": tran.type,
            "payment_token": token,
            "currency": cur,
            "original_amount": due,
            "fee_amount": 0,
            "total_amount": due,
            "status": tran.status,
            "expire_date": dotnet_local(tran.expire_date),
        },
        "payment_token": token,
        "pending_bills": opened.pending,
    }
    return envelope.product(codes.BANK_SUCCESS, data, compat)
