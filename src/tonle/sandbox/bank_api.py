"""The bank-facing API: what a bank (the sandbox's simulated banks, or a real connector) calls to pay a
transaction. ``token: <bank API token>`` authenticates the bank; transactions are addressed by their id."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from tonle.customers.models import Customer
from tonle.kit import codes, crypto, envelope
from tonle.kit.errors import AuthError, TonleError
from tonle.kit.http import Body, CompatDep, Session, body_schema
from tonle.kit.money import to_major
from tonle.kit.timefmt import dotnet_local
from tonle.kit.validate import Checker, required_string
from tonle.merchants import ratelimit
from tonle.merchants.models import Merchant
from tonle.payments import topup
from tonle.payments.models import Transaction
from tonle.sandbox.models import Bank
from tonle.subbillers import service as subbillers
from tonle.subbillers.models import Payout, SettlementLink

router = APIRouter(tags=["Bank API"])


async def current_bank(request: Request, session: Session) -> Bank:
    await ratelimit.refuse_if_blocked(request, "bank")
    token = request.headers.get("token", "").strip()
    bank = None
    if token:
        bank = (
            await session.execute(select(Bank).where(Bank.api_token_digest == crypto.digest(token)))
        ).scalar_one_or_none()
    if bank is None:
        await ratelimit.count_failure(request, session, "bank")
        raise AuthError("Invalid bank token" if token else "Missing bank token header")
    return bank


CurrentBank = Annotated[Bank, Depends(current_bank)]


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
    tran, token = await topup.inquire(session, bank, required_string(body, "identity_code", max_len=100))
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
    tran, repeat = await topup.confirm(
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


class PayoutResultRequest(BaseModel):
    payout_id: str
    status: str = Field(description="paid or failed")
    bank_ref: str | None = None
    reason: str | None = Field(default=None, description="why it failed")


@router.post(
    "/payment/v3/payout/result",
    summary="Bank payout result: the bank reports a payout to a linked account as paid or failed, once",
    openapi_extra=body_schema(PayoutResultRequest),
)
async def payout_result(bank: CurrentBank, session: Session, body: Body, compat: CompatDep):
    c = Checker(body)
    payout_id = c.string("payout_id", required=True, max_len=36)
    status = c.string("status", required=True, max_len=10)
    bank_ref = c.string("bank_ref", max_len=100) or ""
    reason = c.string("reason", max_len=255) or ""
    if status is not None and status not in ("paid", "failed"):
        c.fail(("[status] must be paid or failed.", "[status] ត្រូវតែជា paid ឬ failed។"))
    c.done()
    assert payout_id and status
    payout = await session.get(Payout, payout_id)
    link = await session.get(SettlementLink, payout.link_id) if payout else None
    if payout is None or link is None or link.bank_code != bank.code:
        raise TonleError(codes.PAYOUT_NOT_FOUND)  # a bank only sees the payouts sent to it
    payout = await subbillers.complete_payout(session, payout, paid=status == "paid", bank_ref=bank_ref, reason=reason)
    data = {
        "payout_id": payout.id,
        "status": payout.status,
        "amount": to_major(payout.amount, payout.currency),
        "currency": payout.currency,
        "bank_ref": payout.bank_ref,
    }
    return envelope.product(codes.BANK_SUCCESS, data, compat)
