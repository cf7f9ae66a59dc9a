"""The Activate Sub Biller API (older title: On Boarding Sub Biller API), spec §3."""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import select

from tonle.banks.models import Bank
from tonle.idempotency.service import idempotent
from tonle.kit.clock import clock, epoch
from tonle.kit.money import CURRENCIES
from tonle.merchants.auth import CurrentMerchant
from tonle.subbillers import service
from tonle.subbillers.codes import CODES
from tonle.subbillers.models import SettlementLink, SubBiller
from tonle.wire import codes, envelope
from tonle.wire.body import Text, Url, WireBody, parse
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema

router = APIRouter(tags=["Sub-billers"], route_class=speaking(CODES))


_SUPPLIER = Text(required=True, max_len=50)
_CURRENCY = Text(max_len=10, fold="upper", choices=CURRENCIES)


class OnboardRequest(WireBody):
    supplier_sync_code: Annotated[str, _SUPPLIER] = Field(
        description="the sub-biller's code on the biller side; settle payment's payment_to"
    )
    name: Annotated[str, Text(required=True)]
    name_kh: Annotated[str | None, Text()] = None
    address: Annotated[str | None, Text(max_len=500)] = None
    bank_id: Annotated[str | None, Text(max_len=30)] = Field(
        default=None, description="from get_available_bank; starts linking when given"
    )
    return_url: Annotated[str | None, Url(required_with="bank_id")] = Field(
        default=None, description="required with bank_id: where the bank page returns"
    )
    currency: Annotated[str | None, _CURRENCY] = Field(
        default=None, description="KHR or USD restricts the account; empty: any"
    )


class AddLinkRequest(WireBody):
    supplier_sync_code: Annotated[str, _SUPPLIER]
    bank_id: Annotated[str, Text(required=True, max_len=30)]
    return_url: Annotated[str, Url(required_with="bank_id")]
    currency: Annotated[str | None, _CURRENCY] = None


class VerifyLinkRequest(WireBody):
    supplier_sync_code: Annotated[str, _SUPPLIER]
    bank_id: Annotated[str | None, Text(max_len=30)] = None


class PortalRequest(WireBody):
    supplier_sync_code: Annotated[str, _SUPPLIER]
    language: Annotated[
        str | None, Text(max_len=5, fold="lower", choices=("en", "km", "kh"), shown=("en", "km"), default="en")
    ] = Field(default="en", description="en or km (kh reads as km)")
    logo: Annotated[str | None, Url(schemes=("https://",))] = Field(
        default=None, description="the merchant's logo URL, shown on the portal"
    )


def by_merchant(kwargs: dict[str, Any]) -> str:
    return f"m:{kwargs['merchant'].id}"


def _link(req: OnboardRequest | AddLinkRequest) -> service.LinkRequest | None:
    if req.bank_id is None or req.return_url is None:
        return None
    return service.LinkRequest(bank_id=req.bank_id, return_url=req.return_url, currency=req.currency)


def _sub_out(sub: SubBiller) -> dict[str, Any]:
    return {
        "code": sub.number or "",
        "supplier_sync_code": sub.code,
        "name": sub.name,
        "name_kh": sub.name_kh,
        "address": sub.address,
    }


async def _sub_or_314(session: Session, merchant_id: str, code: str) -> SubBiller:
    sub = await service.by_code(session, merchant_id, code)
    if sub is None:
        raise TonleError(codes.SUPPLIER_NOT_FOUND)
    return sub


@router.post(
    "/on_boarding/on_boarding_supplier",
    summary="Onboarding: register a sub-biller, optionally starting a bank-account link",
    openapi_extra=body_schema(OnboardRequest),
)
@idempotent(by_merchant)
async def onboard(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(OnboardRequest, body)
    code, link = req.supplier_sync_code, _link(req)
    if await service.by_code(session, merchant.id, code) is not None:
        raise TonleError(codes.SUPPLIER_EXISTS)
    if link is not None:
        await service.linking_bank(session, link.bank_id)  # 312 / 001 before anything is created
    sub = await service.create(session, merchant, service.NewSubBiller(code, req.name, req.name_kh, req.address))
    web_url = await service.start_link(session, settings, merchant, sub, link) if link else None
    data = {**_sub_out(sub), "add_link_account": {"web_url": web_url} if web_url else None}
    return envelope.product(codes.ONBOARDED, data, compat)


@router.get("/on_boarding/get_available_bank", summary="Get Available Banks (for linking a settlement account)")
async def get_available_bank(merchant: CurrentMerchant, session: Session, compat: CompatDep):
    banks = (await session.execute(select(Bank).order_by(Bank.code))).scalars()
    data = [
        {
            "bank_id": b.code,
            "bank_code": b.code,
            "bank_name": b.name,
            "bank_name_kh": b.name_kh or "",
            "bank_logo": b.logo or "",
        }
        for b in banks
    ]
    return envelope.product(codes.SUCCESS, data, compat)


@router.post(
    "/on_boarding/add_link_account",
    summary="Add Link Account: a fresh bank-page URL for an existing sub-biller",
    openapi_extra=body_schema(AddLinkRequest),
)
@idempotent(by_merchant)
async def add_link_account(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(AddLinkRequest, body)
    link = _link(req)
    assert link is not None
    sub = await _sub_or_314(session, merchant.id, req.supplier_sync_code)
    web_url = await service.start_link(session, settings, merchant, sub, link)
    return envelope.product(codes.ONBOARDED, {**_sub_out(sub), "add_link_account": {"web_url": web_url}}, compat)


def link_status(link: SettlementLink) -> str:
    if link.status == "pending" and link.url_expires_at <= clock.now():
        return "expired"
    return link.status


@router.post(
    "/on_boarding/verify_linked_account",
    summary="Verify Linked Bank Account",
    openapi_extra=body_schema(VerifyLinkRequest),
)
@idempotent(by_merchant)
async def verify_linked_account(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    req = parse(VerifyLinkRequest, body)
    sub = await _sub_or_314(session, merchant.id, req.supplier_sync_code)
    linked = [
        {
            "account_number": link.account_mask or "",
            "status": link_status(link),
            "currency": link.currency or link.currency_restriction or "",
            "bank_code": bank.code,
            "bank_name": bank.name,
            "bank_name_kh": bank.name_kh or "",
            "bank_logo": bank.logo or "",
        }
        for link, bank in await service.links_of(session, sub, req.bank_id)
    ]
    return envelope.product(codes.SUCCESS, {**_sub_out(sub), "bank_account_linked": linked}, compat)


PORTAL_AUDIENCE = "tonle-sub-biller-portal"


def portal_token(settings: Any, sub: SubBiller, language: str, logo: str | None) -> tuple[str, Any]:
    now = clock.now()
    exp = service.expiry(settings)
    claims = {
        "aud": PORTAL_AUDIENCE,
        "mid": sub.merchant_id,
        "sid": sub.id,
        "lang": language,
        "logo": logo or "",
        "iat": epoch(now),
        "exp": epoch(exp),
    }
    return jwt.encode(claims, settings.signing_key, algorithm="HS256"), exp


@router.post(
    "/walletmgnt/url",
    summary="Sub-Biller Portal: a signed, expiring URL of the sub-biller's portal",
    openapi_extra=body_schema(PortalRequest),
)
@idempotent(by_merchant)
async def portal_url(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(PortalRequest, body)
    sub = await _sub_or_314(session, merchant.id, req.supplier_sync_code)
    token, exp = portal_token(settings, sub, "km" if req.language in ("km", "kh") else "en", req.logo)
    url = f"{settings.issuer}/portal/{token}"
    return envelope.product(codes.SUCCESS, {"web_url": url, "url": url, "expire_date": dotnet_local(exp)}, compat)
