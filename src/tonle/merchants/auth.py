"""The bearer-token dependency: every merchant endpoint gets the calling merchant from it, and only from it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from tonle.kit.errors import AuthError
from tonle.kit.http import Session
from tonle.merchants.models import Merchant
from tonle.merchants.service import decode_access_token

# Declared for the OpenAPI document only; the header is parsed below with our own error bodies.
_bearer_doc = HTTPBearer(auto_error=False)


async def current_merchant(request: Request, session: Session, _doc: object = Depends(_bearer_doc)) -> Merchant:
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("Missing bearer token")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("Malformed Authorization header: expected 'Bearer <token>'")
    claims = decode_access_token(request.app.state.settings, token)
    merchant = await session.get(Merchant, str(claims["sub"]))
    if merchant is None or not merchant.active:
        raise AuthError("Invalid token")
    request.state.merchant_id = merchant.id
    return merchant


CurrentMerchant = Annotated[Merchant, Depends(current_merchant)]
