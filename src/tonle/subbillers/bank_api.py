"""The bank's side of a payout: the bank reports a payout to a linked account as paid or failed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from tonle.banks.auth import CurrentBank
from tonle.kit.money import to_major
from tonle.subbillers import service as subbillers
from tonle.subbillers.codes import CODES
from tonle.subbillers.models import Payout, SettlementLink
from tonle.wire import codes, envelope
from tonle.wire.body import Text, WireBody, parse
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, body_schema

router = APIRouter(tags=["Bank API"], route_class=speaking(CODES))


class PayoutResultRequest(WireBody):
    payout_id: Annotated[str, Text(required=True, max_len=36)]
    status: Annotated[str, Text(required=True, max_len=10, choices=("paid", "failed"), late_choice=True)] = Field(
        description="paid or failed"
    )
    bank_ref: Annotated[str | None, Text(max_len=100)] = None
    reason: Annotated[str | None, Text(max_len=255)] = Field(default=None, description="why it failed")


@router.post(
    "/payment/v3/payout/result",
    summary="Bank payout result: the bank reports a payout to a linked account as paid or failed, once",
    openapi_extra=body_schema(PayoutResultRequest),
)
async def payout_result(bank: CurrentBank, session: Session, body: Body, compat: CompatDep):
    req = parse(PayoutResultRequest, body)
    payout_id, status, bank_ref, reason = req.payout_id, req.status, req.bank_ref or "", req.reason or ""
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
