"""Endpoints the Bill24 SDKs call (not part of the merchant API): encrypted bodies, merchant token headers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tonle.customers import repository as customers
from tonle.customers.models import Customer
from tonle.idempotency.service import idempotent
from tonle.kit.money import to_major
from tonle.merchants.auth import SdkMerchant
from tonle.merchants.models import Merchant
from tonle.methods import service as methods
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
    plain = _plain(merchant, body)
    wallet_id = _text(plain, "id")
    method_id = plain.get("payment_method_id")
    if method_id is not None and (not isinstance(method_id, str) or not method_id.strip()):
        raise MissedField([("Please provide [payment_method_id].", "សូមផ្តល់ [payment_method_id]។")])
    if method_id:
        tran = await topup.from_method(
            session, request.app.state.db, merchant, settings, wallet_id, plain.get("amount"), method_id.strip()
        )
    else:
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


def _plain(merchant: Merchant, body: dict[str, Any]) -> dict[str, Any]:
    """The SDK body's encrypted JSON object, or the SDK's refusal."""
    blob = body.get("encrypted")
    if not isinstance(blob, str) or not blob:
        raise MissedField([("Please provide [encrypted].", "សូមផ្តល់ [encrypted]។")])
    try:
        plain = sdkcrypto.decrypt(merchant.sdk_secret, blob)
    except sdkcrypto.DecryptError:
        raise TonleError(codes.UNDECRYPTABLE, status=400) from None
    if not isinstance(plain, dict):
        raise TonleError(codes.UNDECRYPTABLE, status=400)
    return plain


def _text(plain: dict[str, Any], key: str) -> str:
    value = plain.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MissedField([(f"Please provide [{key}].", f"សូមផ្តល់ [{key}]។")])
    return value.strip()


async def _customer(session: Session, merchant: Merchant, plain: dict[str, Any]) -> Customer:
    customer = await customers.live_customer(session, merchant.id, _text(plain, "customer_sync_code"))
    if customer is None:
        raise TonleError(codes.CUSTOMER_NOT_FOUND)
    return customer


@router.post(
    "/instantpaymentsdk/payment_method/add",
    summary="Tonle (SDK): a page for the customer to put a card or bank account on file; answers its link, encrypted",
    openapi_extra=body_schema(EncryptedBody),
)
@idempotent(lambda kw: f"m:{kw['merchant'].id}")
async def add_payment_method(
    request: Request, merchant: SdkMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    plain = _plain(merchant, body)
    customer = await _customer(session, merchant, plain)
    kind = plain.get("type") or ""
    if kind not in ("", *methods.KINDS):
        raise MissedField([("[type] must be card or bank_account.", "[type] ត្រូវតែជា card ឬ bank_account។")])
    web_url = plain.get("web_url") or ""
    if not isinstance(web_url, str) or (web_url and not web_url.lower().startswith(("http://", "https://"))):
        raise MissedField([("[web_url] must be an http(s) URL.", "[web_url] ត្រូវតែជា URL http(s)។")])
    link = await methods.open_link(session, settings, merchant, customer, kind, web_url)
    answer = {"link_url": methods.link_url(settings, link), "expire_date": dotnet_local(link.expires_at)}
    return envelope.product(codes.SUCCESS, {"encrypted": sdkcrypto.encrypt(merchant.sdk_secret, answer)}, compat)


@router.post(
    "/instantpaymentsdk/payment_method/remove",
    summary="Tonle (SDK): the customer removes a card or account on file",
    openapi_extra=body_schema(EncryptedBody),
)
@idempotent(lambda kw: f"m:{kw['merchant'].id}")
async def remove_payment_method(
    request: Request, merchant: SdkMerchant, session: Session, body: Body, compat: CompatDep
):
    plain = _plain(merchant, body)
    customer = await _customer(session, merchant, plain)
    await methods.remove(session, merchant, customer, _text(plain, "payment_method_token"))
    return envelope.product(codes.SUCCESS, None, compat)
