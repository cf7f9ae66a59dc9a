"""Endpoints the Bill24 SDKs call (not part of the merchant API): encrypted bodies, merchant token headers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tonle.idempotency.service import idempotent
from tonle.kit.money import to_major
from tonle.merchants.auth import SdkMerchant
from tonle.payments import topup
from tonle.sdk.codes import CODES
from tonle.wire import codes, envelope, sdkcrypto
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import MissedField, TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema

router = APIRouter(tags=["SDK"], route_class=speaking(CODES))


class EncryptedBody(BaseModel):
    encrypted: str = Field(
        description="Base64(IV ‖ AES-256-CBC-PKCS7(HMAC-SHA256(sdk_secret, sdk_secret), JSON)); "
        'top-up JSON: {"id": wallet id, "amount": 12000}'
    )


@router.post(
    "/instantpaymentsdk/wallet/topup",
    summary="Wallet top-up (SDK): opens a pending top-up that a bank pays; answers its tran_id, encrypted",
    openapi_extra=body_schema(EncryptedBody),
)
@idempotent(lambda kw: f"m:{kw['merchant'].id}")
async def wallet_topup(
    request: Request, merchant: SdkMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    blob = body.get("encrypted")
    if not isinstance(blob, str) or not blob:
        raise MissedField([("Please provide [encrypted].", "សូមផ្តល់ [encrypted]។")])
    try:
        plain = sdkcrypto.decrypt(merchant.sdk_secret, blob)
    except sdkcrypto.DecryptError:
        raise TonleError(codes.UNDECRYPTABLE, status=400) from None
    if not isinstance(plain, dict):
        raise TonleError(codes.UNDECRYPTABLE, status=400)
    wallet_id = plain.get("id")
    if not isinstance(wallet_id, str) or not wallet_id.strip():
        raise MissedField([("Please provide [id].", "សូមផ្តល់ [id]។")])
    tran = await topup.start(session, merchant, settings, wallet_id, plain.get("amount"))
    answer: dict[str, Any] = {
        "tran_id": tran.id,
        "wallet_id": tran.wallet_id,
        "amount": to_major(tran.amount, tran.currency),
        "currency": tran.currency,
        "status": tran.status,
        "expire_date": dotnet_local(tran.expire_date),
    }
    return envelope.product(codes.SUCCESS, {"encrypted": sdkcrypto.encrypt(merchant.sdk_secret, answer)}, compat)
