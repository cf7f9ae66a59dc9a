"""Checkout / Deeplink and KHQR (other-apis §2, §7): init, verify, the legacy v1 init, and the SDK helpers."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tonle.banks.models import Bank
from tonle.checkout import codes as product
from tonle.checkout import service
from tonle.checkout.models import Checkout
from tonle.config import Settings
from tonle.kit.money import CURRENCIES, display, to_major
from tonle.merchants import ratelimit
from tonle.merchants.auth import CheckoutMerchant
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction, effective_status
from tonle.wire import envelope
from tonle.wire.body import Amount, Custom, Each, Pass, Text, Url, WireBody, parse
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema
from tonle.wire.validate import provide

router = APIRouter(tags=["Checkout / KHQR"], route_class=speaking(product.CODES))
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(body: Any) -> Any:
    """Clients send snake_case and camelCase alike (§7.1 mixes them in one body): read both as snake_case."""
    if isinstance(body, dict):
        out: dict[str, Any] = {}
        for k, v in body.items():
            key = _CAMEL.sub("_", k).lower() if isinstance(k, str) else k
            if key not in out or k == key:
                out[key] = snake(v)
        return out
    if isinstance(body, list):
        return [snake(v) for v in body]
    return body


class CustomerLine(WireBody):
    branch_code: str | None = None
    branch_name: str | None = None
    customer_code: str | None = None
    customer_name: str | None = None
    customer_name_latin: str | None = None
    bill_no: str | None = None
    amount: Annotated[Decimal, Amount(required=True)] = Field(
        description="this line's amount; the lines add up to `amount`"
    )


_CURRENCY = Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)
_LINE_KEYS = ("branch_code", "branch_name", "customer_code", "customer_name", "customer_name_latin", "bill_no")


class InitRequest(WireBody):
    """Fields in the order their problems are named (camelCase keys are read as snake_case)."""

    identity_code: Annotated[str, Text(required=True, max_len=100)] = Field(
        description="the merchant's reference; one pending-or-paid transaction per code"
    )
    currency: Annotated[str, _CURRENCY] = Field(description="KHR or USD (lower case is accepted)")
    amount: Annotated[Decimal, Amount(required=True, positive=True)] = Field(
        description="> 0; KHR whole, USD at most 2 decimals"
    )
    language: Annotated[
        str | None, Text(max_len=5, fold="lower", choices=("km", "en", "kh"), shown=("km", "en"), default="km")
    ] = Field(default="km", description="km or en (kh reads as km): the checkout page's language")
    purpose_of_transaction: Annotated[str | None, Text()] = None
    device_code: Annotated[str | None, Text(max_len=100)] = None
    channel_code: Annotated[str | None, Text(max_len=50)] = None
    user_ref: Annotated[str | None, Text(max_len=100)] = None
    description: Annotated[str | None, Text(max_len=2000)] = None
    cancel_url: Annotated[str | None, Url()] = None
    redirect_url: Annotated[str | None, Url()] = None
    customer_code: Annotated[str | None, Text(max_len=100)] = None
    customer_name: Annotated[str | None, Text()] = None
    customer_phone: Annotated[str | None, Text(max_len=50)] = None
    customer_email: Annotated[str | None, Text(max_len=254)] = None
    customers: Annotated[list[CustomerLine] | None, Each(CustomerLine)] = Field(
        default=None, description="checkout flavour; absent: KHQR flavour"
    )

    @classmethod
    def refine(cls, p: Pass) -> None:
        v = p.values
        lines, currency, amount = v["customers"], v["currency"], v["amount"]
        if p.c.messages or not lines or not currency or amount is None:
            return
        total = sum(line.amount or 0 for line in lines)
        if total != amount:
            x = to_major(total, currency)
            p.fail((f"The [amount] field must be equal to {x}.", f"[amount] គួរតែមានតម្លៃស្មើនឹង {x}។"))


class VerifyRequest(WireBody):
    """Any one of the keys finds the transaction."""

    identity_code: Annotated[str | None, Text(max_len=100)] = None
    purpose_of_transaction: Annotated[str | None, Text(max_len=100)] = None
    tran_id: Annotated[str | None, Text(max_len=100)] = None
    bank_ref: Annotated[str | None, Text(max_len=100)] = None

    @classmethod
    def refine(cls, p: Pass) -> None:
        if not any(p.values.values()) and not p.c.messages:
            p.fail(provide("identity_code"))


def _return_url(p: Pass, key: str) -> str | None:
    """``confirm_url``, or ``callback_url`` when it is missing."""
    return Url().check(p, key) or Url().check(p, "callback_url")


class LegacyInitRequest(WireBody):
    reference_id: Annotated[str, Text(required=True, max_len=100)]
    currency: Annotated[str, _CURRENCY]
    amount: Annotated[str, Amount(required=True, positive=True)] = Field(description="a number or a decimal string")
    confirm_url: Annotated[str | None, Custom(_return_url, also=("callback_url",))] = Field(
        default=None, description="or callback_url: where the browser returns"
    )
    description: Annotated[str | None, Text(max_len=2000)] = None
    language: Annotated[str | None, Text(max_len=5, default="km")] = Field(
        default=None, description="its first two letters are kept"
    )
    cancel_url: Annotated[str | None, Url()] = None


class LegacyVerifyRequest(WireBody):
    tran_id: Annotated[str, Text(required=True, max_len=40)]


class TranIdRequest(BaseModel):
    """The SDK helpers' bodies: an id that is not a known transaction's answers not-found, whatever its type."""

    tran_id: str


class LinksRequest(BaseModel):
    bank_id: str
    transaction_id: str


class FavoriteRequest(BaseModel):
    tran_id: str
    bank_id: str
    is_favorite: bool


def parse_init(raw: dict[str, Any]) -> service.InitInput:
    body = snake(raw)
    m = parse(InitRequest, body)
    language = m.language or "km"
    return service.InitInput(
        flavour="checkout" if "customers" in m.model_fields_set else "khqr",
        identity_code=m.identity_code,
        currency=m.currency,
        amount=int(m.amount),
        purpose=m.purpose_of_transaction or "",
        device_code=m.device_code or "",
        channel_code=m.channel_code or "",
        user_ref=m.user_ref or "",
        description=m.description or "",
        language="km" if language == "kh" else language,
        cancel_url=m.cancel_url or "",
        redirect_url=m.redirect_url or "",
        customer_code=m.customer_code or "",
        customer_name=m.customer_name or "",
        customer_phone=m.customer_phone or "",
        customer_email=m.customer_email or "",
        # The lines are kept as sent (their amounts too): verify gives them back.
        customers=[
            {k: line.get(k) or "" for k in _LINE_KEYS} | {"amount": line.get("amount")}
            for line in body.get("customers") or []
        ],
    )


def _init_answer(settings: Settings, tran: Transaction, checkout: Checkout) -> dict[str, Any]:
    return {
        "tran_id": tran.id,
        "identity_code": checkout.identity_code,
        "payment_link": f"{settings.issuer}/checkout/{tran.id}",
        "khqr_string": checkout.khqr_string,
    }


@router.post(
    "/transaction/v2/init",
    summary="Transaction Initiation (checkout with customers[], or the flat KHQR flavour)",
    openapi_extra=body_schema(InitRequest),
)
async def init(merchant: CheckoutMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep):
    inp = parse_init(body)
    tran, checkout = await service.init(session, settings, merchant, inp)
    code = product.INIT_OK if inp.flavour == "checkout" else product.INIT_OK_KHQR
    return envelope.product(code, _init_answer(settings, tran, checkout), compat)


def verify_answer(tran: Transaction, checkout: Checkout) -> dict[str, Any]:
    cur = tran.currency
    return {
        "device_code": checkout.device_code,
        "channel_code": checkout.channel_code,
        "customers": json.loads(checkout.customers or "[]"),
        "tran_id": tran.id,
        "tran_date": dotnet_local(tran.tran_date),
        "tran_amount": to_major(tran.amount, cur),
        "fee_amount": to_major(tran.fee, cur),
        "total_amount": to_major(tran.amount + tran.fee, cur),
        "currency": cur,
        "identity_code": checkout.identity_code,
        "bank_code": tran.bank_code if tran.status == "success" else "",
        "bank_ref": tran.bank_ref,
        "purpose_of_transaction": checkout.purpose,
        "status": effective_status(tran),
        "description": tran.description,
        "customer_code": checkout.customer_code,
        "customer_name": checkout.customer_name,
        "customer_phone": checkout.customer_phone,
    }


@router.post("/transaction/v2/verify", summary="Transaction Verification", openapi_extra=body_schema(VerifyRequest))
async def verify(merchant: CheckoutMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(VerifyRequest, snake(body))
    keys = {k: getattr(req, k) or "" for k in ("identity_code", "purpose_of_transaction", "tran_id", "bank_ref")}
    found = await service.find(session, merchant.id, keys)
    if found is None:
        raise TonleError(product.NOT_FOUND)
    tran, checkout = found
    code = product.FOUND_KHQR if checkout.flavour == "khqr" else product.FOUND
    return envelope.product(code, verify_answer(tran, checkout), compat)


@router.post("/transaction/init", summary="Legacy Checkout API v1: init", openapi_extra=body_schema(LegacyInitRequest))
async def legacy_init(
    merchant: CheckoutMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(LegacyInitRequest, body)
    inp = service.InitInput(
        flavour="legacy",
        identity_code=req.reference_id,
        currency=req.currency,
        amount=int(req.amount),
        description=req.description or "",
        language=(req.language or "km")[:2],
        cancel_url=req.cancel_url or "",
        redirect_url=req.confirm_url or "",
    )
    tran, _checkout = await service.init(session, settings, merchant, inp)
    return envelope.product(
        product.INIT_OK, {"payment_url": f"{settings.issuer}/checkout/{tran.id}", "tran_id": tran.id}, compat
    )


@router.post(
    "/transaction/verify", summary="Legacy Checkout API v1: verify", openapi_extra=body_schema(LegacyVerifyRequest)
)
async def legacy_verify(merchant: CheckoutMerchant, session: Session, body: Body, compat: CompatDep):
    tran_id = parse(LegacyVerifyRequest, body).tran_id
    found = await service.find(session, merchant.id, {"tran_id": tran_id})
    if found is None:
        raise TonleError(product.NOT_FOUND)
    tran, checkout = found
    return envelope.product(
        product.FOUND, {**service.outcome_data(tran, checkout), "status": effective_status(tran)}, compat
    )


# ---------------------------------------------------------------- SDK helpers (the transaction id is the capability)


async def _load(request: Request, session: Session, tran_id: Any) -> tuple[Transaction, Checkout, Merchant]:
    """The SDK helpers take no credential: the transaction id is the capability, as in the payment link the payer
    holds. So that nobody can walk the id space, an address that asks for too many unknown ids is refused (429)."""
    await ratelimit.refuse_if_blocked(request, "checkout")
    found = await service.by_tran_id(session, tran_id) if isinstance(tran_id, str) and tran_id else None
    if found is None:
        await ratelimit.count_failure(request, session, "checkout")
        raise TonleError(product.NOT_FOUND)
    return found


async def bank_methods(session: Session, checkout: Checkout, tran: Transaction) -> list[dict[str, Any]]:
    from sqlalchemy import select

    banks = (await session.execute(select(Bank).where(Bank.online.is_(True)).order_by(Bank.code))).scalars().all()
    items = [
        {
            "id": b.code,
            "name": b.name,
            "name_kh": b.name_kh or b.name,
            "logo": b.logo or "",
            "is_favorite": b.code == checkout.favorite_bank,
            "fee": to_major(tran.fee, tran.currency),
            "support_deeplink": True,
            "support_checkout_page": True,
        }
        for b in banks
    ]
    return [{"section": "Mobile Banking", "section_kh": "ធនាគារចល័ត", "items": items}]


def detail_data(
    settings: Settings, tran: Transaction, checkout: Checkout, merchant: Merchant, methods: list[Any]
) -> dict[str, Any]:
    cur = tran.currency
    return {
        "biller": {
            "biller_code": merchant.client_id,
            "biller_name": merchant.name,
            "biller_name_kh": merchant.name,
            "biller_display_name": merchant.name,
            "biller_logo": merchant.logo_url or "",
        },
        "trans_info": {
            "tran_id": tran.id,
            "identity_code": checkout.identity_code,
            "tran_no": tran.id,
            "tran_amount": to_major(tran.amount, cur),
            "tran_amount_display": display(tran.amount, cur),
            "total_amount": to_major(tran.amount + tran.fee, cur),
            "total_amount_display": display(tran.amount + tran.fee, cur),
            "currency": cur,
            "is_allow_favorite": True,
            "customer_code": checkout.customer_code,
            "customer_name": checkout.customer_name,
            "customer_email": checkout.customer_email,
            "customer_phone": checkout.customer_phone,
            "tran_date": dotnet_local(tran.tran_date),
            "expired_date": dotnet_local(tran.expire_date),
            "bank_ref_id": tran.bank_ref,
            "status": effective_status(tran),
            "cancel_url": checkout.cancel_url,
            "redirect_url": checkout.redirect_url,
            "payment_link": f"{settings.issuer}/checkout/{tran.id}",
            "language": checkout.language,
            "khqr_image": f"{settings.issuer}/khqr/{tran.id}.png",
            "khqr_string": checkout.khqr_string,
            "description": tran.description,
            "bank_payment_method": methods,
        },
        "checkout_page_config": {
            "logo": merchant.logo_url or "",
            "background_image": "",
            "display_bill24_info": False,
            "display_success_page": True,
            "favicon": {},
            "setting": {"display_fee": tran.fee > 0},
            "appearance": {"light_mode": {}, "dark_mode": {}},
        },
    }


@router.post(
    "/checkout/detail", summary="SDK: the transaction, its biller and banks", openapi_extra=body_schema(TranIdRequest)
)
async def checkout_detail(request: Request, session: Session, body: Body, compat: CompatDep, settings: SettingsDep):
    tran, checkout, merchant = await _load(request, session, body.get("tran_id"))
    return envelope.product(
        product.OK, detail_data(settings, tran, checkout, merchant, await bank_methods(session, checkout, tran)), compat
    )


def bank_links(settings: Settings, bank_code: str, tran_id: str) -> dict[str, str]:
    import base64

    token = base64.urlsafe_b64encode(tran_id.encode()).decode().rstrip("=")
    return {
        "web_payment_url": f"{settings.issuer}/sandbox/bank/{bank_code}/pay/{tran_id}",
        "mobile_deep_link": f"tonle-sandbox-{bank_code.lower()}://pay/{token}",
    }


@router.post(
    "/checkout/generate_links",
    summary="SDK: a bank's web payment URL and app deeplink",
    openapi_extra=body_schema(LinksRequest),
)
@router.post("/checkout/generatelinks", include_in_schema=False)
async def generate_links(request: Request, session: Session, body: Body, compat: CompatDep, settings: SettingsDep):
    tran, _checkout, _merchant = await _load(request, session, body.get("transaction_id") or body.get("tran_id"))
    bank_id = body.get("bank_id")
    bank = await session.get(Bank, bank_id) if isinstance(bank_id, str) else None
    if bank is None:
        raise TonleError(product.BANK_UNKNOWN)
    return envelope.product(product.GENERATED, bank_links(settings, bank.code, tran.id), compat)


@router.post(
    "/checkout/extend_expire_date",
    summary="SDK: extend a pending transaction's expiry",
    openapi_extra=body_schema(TranIdRequest),
)
@router.post("/transaction/extend_expire_date", include_in_schema=False)
async def extend_expire_date(request: Request, session: Session, body: Body, compat: CompatDep, settings: SettingsDep):
    tran, checkout, merchant = await _load(request, session, body.get("tran_id"))
    expiry = await service.extend(session, settings, tran, checkout, merchant)
    return envelope.product(product.OK, {"expired_date": dotnet_local(expiry)}, compat)


@router.post(
    "/checkout/favorite_bank", summary="SDK: mark a bank as the favourite", openapi_extra=body_schema(FavoriteRequest)
)
@router.post("/transaction/favorite", include_in_schema=False)
async def favorite_bank(request: Request, session: Session, body: Body, compat: CompatDep):
    _tran, checkout, _merchant = await _load(request, session, body.get("tran_id"))
    bank_id = body.get("bank_id")
    if not isinstance(bank_id, str) or await session.get(Bank, bank_id) is None:
        raise TonleError(product.BANK_UNKNOWN)
    checkout.favorite_bank = bank_id if body.get("is_favorite", True) else None
    await session.flush()
    return envelope.product(product.OK, {}, compat)
