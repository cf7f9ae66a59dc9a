"""Checkout / Deeplink and KHQR (other-apis §2, §7): init, verify, the legacy v1 init, and the SDK helpers."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tonle.banks.models import Bank
from tonle.checkout import codes as product
from tonle.checkout import service
from tonle.checkout.models import Checkout
from tonle.config import Settings
from tonle.kit.money import CURRENCIES, AmountError, display, to_major, to_minor
from tonle.merchants import ratelimit
from tonle.merchants.auth import CheckoutMerchant
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction, effective_status
from tonle.wire import envelope
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema
from tonle.wire.validate import Checker, amount_message

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


class CustomerLine(BaseModel):
    branch_code: str | None = None
    branch_name: str | None = None
    customer_code: str | None = None
    customer_name: str | None = None
    customer_name_latin: str | None = None
    bill_no: str | None = None
    amount: Decimal = Field(description="this line's amount; the lines add up to `amount`")


class InitRequest(BaseModel):
    identity_code: str = Field(description="the merchant's reference; one pending-or-paid transaction per code")
    currency: str = Field(description="KHR or USD")
    amount: Decimal = Field(description="> 0; KHR whole, USD at most 2 decimals")
    purpose_of_transaction: str | None = None
    device_code: str | None = None
    description: str | None = None
    language: str | None = Field(default="km", description="km or en: the checkout page's language")
    cancel_url: str | None = None
    redirect_url: str | None = None
    channel_code: str | None = None
    user_ref: str | None = None
    customers: list[CustomerLine] | None = Field(default=None, description="checkout flavour; absent: KHQR flavour")
    customer_code: str | None = None
    customer_name: str | None = None
    customer_phone: str | None = None
    customer_email: str | None = None


class VerifyRequest(BaseModel):
    identity_code: str | None = None
    purpose_of_transaction: str | None = None
    tran_id: str | None = None
    bank_ref: str | None = None


class LegacyInitRequest(BaseModel):
    reference_id: str
    amount: str = Field(description="a number or a decimal string")
    currency: str
    description: str | None = None
    language: str | None = None
    confirm_url: str | None = Field(default=None, description="or callback_url: where the browser returns")
    cancel_url: str | None = None


class TranIdRequest(BaseModel):
    tran_id: str


class LinksRequest(BaseModel):
    bank_id: str
    transaction_id: str


class FavoriteRequest(BaseModel):
    tran_id: str
    bank_id: str
    is_favorite: bool


def _url(c: Checker, key: str) -> str:
    value = c.string(key, max_len=2000) or ""
    if value and not value.lower().startswith(("http://", "https://")):
        c.fail((f"[{key}] must be an http(s) URL.", f"[{key}] ត្រូវតែជា URL http(s)។"))
    return value


def _amount(c: Checker, raw: Any, currency: str | None, label: str = "amount") -> int | None:
    if raw is None or raw == "":
        c.fail((f"Please provide [{label}].", f"សូមផ្តល់ [{label}]។"))
        return None
    if currency is None:
        return None
    try:
        minor = to_minor(raw, currency)
    except AmountError as exc:
        c.fail(amount_message(label, exc, currency))
        return None
    if minor <= 0 and label == "amount":
        c.fail(("[amount] must be greater than 0.", "[amount] ត្រូវតែធំជាង 0។"))
        return None
    return minor


def parse_init(raw: dict[str, Any]) -> service.InitInput:
    body = snake(raw)
    c = Checker(body)
    identity = c.string("identity_code", required=True, max_len=100)
    currency = c.string("currency", required=True, max_len=10)
    currency = currency.upper() if currency else None
    if currency is not None and currency not in CURRENCIES:
        c.fail(("[currency] must be KHR or USD.", "[currency] ត្រូវតែជា KHR ឬ USD។"))
        currency = None
    amount = _amount(c, body.get("amount"), currency)
    language = (c.string("language", max_len=5) or "km").lower()
    if language not in ("km", "en", "kh"):
        c.fail(("[language] must be km or en.", "[language] ត្រូវតែជា km ឬ en។"))
    inp = service.InitInput(
        flavour="checkout" if "customers" in body else "khqr",
        identity_code=identity or "",
        currency=currency or "",
        amount=amount or 0,
        purpose=c.string("purpose_of_transaction") or "",
        device_code=c.string("device_code", max_len=100) or "",
        channel_code=c.string("channel_code", max_len=50) or "",
        user_ref=c.string("user_ref", max_len=100) or "",
        description=c.string("description", max_len=2000) or "",
        language="km" if language == "kh" else language,
        cancel_url=_url(c, "cancel_url"),
        redirect_url=_url(c, "redirect_url"),
        customer_code=c.string("customer_code", max_len=100) or "",
        customer_name=c.string("customer_name") or "",
        customer_phone=c.string("customer_phone", max_len=50) or "",
        customer_email=c.string("customer_email", max_len=254) or "",
    )
    lines = body.get("customers")
    if lines is not None:
        if not isinstance(lines, list):
            c.fail(("The [customers] field must be a list.", "[customers] ត្រូវតែជា list។"))
            lines = []
        total = 0
        for i, line in enumerate(lines):
            if not isinstance(line, dict):
                c.fail((f"The [customers[{i}]] field must be a object.", f"[customers[{i}]] ត្រូវតែជា object។"))
                continue
            minor = _amount(c, line.get("amount"), currency, f"customers[{i}].amount")
            total += minor or 0
            inp.customers.append(
                {
                    k: line.get(k) or ""
                    for k in (
                        "branch_code",
                        "branch_name",
                        "customer_code",
                        "customer_name",
                        "customer_name_latin",
                        "bill_no",
                    )
                }
                | {"amount": line.get("amount")}
            )
        if not c.messages and lines and currency and amount is not None and total != amount:
            x = to_major(total, currency)
            c.fail((f"The [amount] field must be equal to {x}.", f"[amount] គួរតែមានតម្លៃស្មើនឹង {x}។"))
    c.done()
    return inp


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
    body = snake(body)
    c = Checker(body)
    keys = {
        k: c.string(k, max_len=100) or "" for k in ("identity_code", "purpose_of_transaction", "tran_id", "bank_ref")
    }
    if not any(keys.values()) and not c.messages:
        c.fail(("Please provide [identity_code].", "សូមផ្តល់ [identity_code]។"))
    c.done()
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
    c = Checker(body)
    reference = c.string("reference_id", required=True, max_len=100)
    currency = (c.string("currency", required=True, max_len=10) or "").upper() or None
    if currency is not None and currency not in CURRENCIES:
        c.fail(("[currency] must be KHR or USD.", "[currency] ត្រូវតែជា KHR ឬ USD។"))
        currency = None
    amount = _amount(c, body.get("amount"), currency)
    confirm = _url(c, "confirm_url") or _url(c, "callback_url")
    inp = service.InitInput(
        flavour="legacy",
        identity_code=reference or "",
        currency=currency or "",
        amount=amount or 0,
        description=c.string("description", max_len=2000) or "",
        language=(c.string("language", max_len=5) or "km")[:2],
        cancel_url=_url(c, "cancel_url"),
        redirect_url=confirm,
    )
    c.done()
    tran, _checkout = await service.init(session, settings, merchant, inp)
    return envelope.product(
        product.INIT_OK, {"payment_url": f"{settings.issuer}/checkout/{tran.id}", "tran_id": tran.id}, compat
    )


@router.post("/transaction/verify", summary="Legacy Checkout API v1: verify", openapi_extra=body_schema(TranIdRequest))
async def legacy_verify(merchant: CheckoutMerchant, session: Session, body: Body, compat: CompatDep):
    c = Checker(body)
    tran_id = c.string("tran_id", required=True, max_len=40)
    c.done()
    found = await service.find(session, merchant.id, {"tran_id": tran_id or ""})
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
