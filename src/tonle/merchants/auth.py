"""The bearer-token dependency: every merchant endpoint gets the calling merchant from it, and only from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy import and_, or_, select

from tonle.kit import crypto
from tonle.merchants import ratelimit
from tonle.merchants.models import Merchant
from tonle.merchants.service import TokenRefused, decode_access_token
from tonle.wire.errors import AuthError
from tonle.wire.http import Session

# Declared for the OpenAPI document only; the header is parsed below with our own error bodies.
_bearer_doc = HTTPBearer(auto_error=False)


async def current_merchant(request: Request, session: Session, _doc: object = Depends(_bearer_doc)) -> Merchant:
    await _read_body(request)
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("Missing bearer token")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Malformed Authorization header: expected 'Bearer <token>'")
    return await _from_jwt(request, session, token)


async def _from_jwt(request: Request, session: Session, token: str) -> Merchant:
    try:
        claims = decode_access_token(request.app.state.settings, token)
    except TokenRefused as exc:
        raise AuthError(str(exc)) from None
    merchant = await session.get(Merchant, str(claims["sub"]))
    if merchant is None or not merchant.active:
        raise AuthError("Invalid token")
    request.state.merchant_id = merchant.id
    return merchant


async def _read_body(request: Request) -> None:
    """Read the request's bytes before the merchant look-up takes a database connection: a slow or busy client
    must not keep a connection (on SQLite, the only one) while its body arrives. Parsed later, after auth."""
    await request.body()


CurrentMerchant = Annotated[Merchant, Depends(current_merchant)]


async def checkout_merchant(request: Request, session: Session) -> Merchant:
    """The checkout endpoints take any of the three forms Bill24 clients were seen to send (other-apis §0.3):
    ``Authorization: Bearer <jwt>``, ``token: Bearer <jwt>``, or ``token: <merchant token>``."""
    if request.headers.get("authorization"):
        return await current_merchant(request, session)
    token = request.headers.get("token", "").strip()
    if not token:
        raise AuthError("Missing bearer token")
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return await _from_jwt(request, session, rest.strip())
    await ratelimit.refuse_if_blocked(request, "sdk")
    merchant = await merchant_by_token(session, token)
    if merchant is None:
        await ratelimit.count_failure(request, session, "sdk")
        raise AuthError("Invalid merchant token")
    request.state.merchant_id = merchant.id
    return merchant


async def merchant_by_token(session: Session, token: str) -> Merchant | None:
    merchant = (
        await session.execute(select(Merchant).where(Merchant.merchant_token_digest == crypto.digest(token)))
    ).scalar_one_or_none()
    return merchant if merchant is not None and merchant.active else None


CheckoutMerchant = Annotated[Merchant, Depends(checkout_merchant)]


async def sdk_merchant(request: Request, session: Session) -> Merchant:
    """The SDK endpoints authenticate with the bare merchant ``token`` header and the referrer key
    (``X-Referrer-Key``; an older client spells it ``Referer-Key``)."""
    await _read_body(request)
    await ratelimit.refuse_if_blocked(request, "sdk")
    token = request.headers.get("token", "").strip()
    referrer = (request.headers.get("x-referrer-key") or request.headers.get("referer-key") or "").strip()
    merchant = await merchant_by_token(session, token) if token else None
    reason = ""
    if not token:
        reason = "Missing merchant token header"
    elif merchant is None:
        reason = "Invalid merchant token"
    elif not referrer or not crypto.same(crypto.digest(referrer), merchant.referrer_key_digest):
        reason = "Invalid referrer key"
    if reason:
        await ratelimit.count_failure(request, session, "sdk")
        raise AuthError(reason)
    assert merchant is not None
    request.state.merchant_id = merchant.id
    return merchant


SdkMerchant = Annotated[Merchant, Depends(sdk_merchant)]

# Declared for the OpenAPI document only, as the bearer scheme is.
_token_doc = APIKeyHeader(name="token", auto_error=False, description="the Supplier API's static token")


async def supplier_merchant(request: Request, session: Session, _doc: object = Depends(_token_doc)) -> Merchant:
    """The Supplier API authenticates with the static ``token`` header alone (no Bearer, no authorize call): the
    merchant's supplier token, or its merchant token when it has none. Failures count towards the per-address
    limit of the other bare-token endpoints."""
    await _read_body(request)
    await ratelimit.refuse_if_blocked(request, "supplier")
    token = request.headers.get("token", "").strip()
    merchant = None
    if token:
        digest = crypto.digest(token)
        merchant = (
            await session.execute(
                select(Merchant).where(
                    or_(
                        Merchant.supplier_token_digest == digest,
                        and_(Merchant.supplier_token_digest.is_(None), Merchant.merchant_token_digest == digest),
                    )
                )
            )
        ).scalar_one_or_none()
    if merchant is None or not merchant.active:
        await ratelimit.count_failure(request, session, "supplier")
        raise AuthError("Invalid supplier token" if token else "Missing token header")
    request.state.merchant_id = merchant.id
    return merchant


SupplierMerchant = Annotated[Merchant, Depends(supplier_merchant)]
