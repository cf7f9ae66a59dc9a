"""The bank's credential: the static ``token`` header of the bank-facing API (rate-limited like every static-token
look-up)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from tonle.banks.models import Bank
from tonle.kit import crypto
from tonle.merchants import ratelimit
from tonle.wire.errors import AuthError
from tonle.wire.http import Session


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
