"""Merchants, their credentials, and the authorize flow (access JWT + one-use refresh tokens)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import new_id
from tonle.kit import crypto
from tonle.kit.clock import clock, epoch
from tonle.kit.domain import DomainError
from tonle.kit.signing import new_secret
from tonle.merchants.models import Merchant, RefreshToken

JWT_ALG = "HS256"
AUDIENCE = "tonle-merchant-api"


@dataclass
class Credentials:
    """Merchant credentials in clear; only ever shown once, when they are created."""

    merchant_token: str
    client_id: str
    client_secret: str
    bill_hash_key: str
    referrer_key: str
    sdk_secret: str
    webhook_secret: str

    @classmethod
    def generate(cls, **given: str | None) -> Credentials:
        fresh = {
            "merchant_token": str(uuid.uuid4()),
            "client_id": f"cl_{secrets.token_hex(8)}",
            "client_secret": secrets.token_urlsafe(32),
            "bill_hash_key": secrets.token_hex(20),
            "referrer_key": secrets.token_urlsafe(16),
            "sdk_secret": secrets.token_urlsafe(32),
            "webhook_secret": new_secret(),
        }
        fresh.update({k: v for k, v in given.items() if v})
        return cls(**fresh)


async def hash_secret(secret: str) -> str:
    # scrypt takes tens of milliseconds of CPU: keep it off the event loop.
    return await asyncio.to_thread(crypto.hash_secret, secret)


async def verify_secret(secret: str, stored: str) -> bool:
    return await asyncio.to_thread(crypto.verify_secret, secret, stored)


async def apply_credentials(merchant: Merchant, creds: Credentials) -> None:
    merchant.merchant_token_digest = crypto.digest(creds.merchant_token)
    merchant.client_id = creds.client_id
    if not merchant.client_secret_hash or not await verify_secret(creds.client_secret, merchant.client_secret_hash):
        merchant.client_secret_hash = await hash_secret(creds.client_secret)
    merchant.referrer_key_digest = crypto.digest(creds.referrer_key)
    merchant.bill_hash_key = creds.bill_hash_key
    merchant.sdk_secret = creds.sdk_secret
    merchant.webhook_secret = creds.webhook_secret


async def create_merchant(
    session: AsyncSession, name: str, creds: Credentials | None = None
) -> tuple[Merchant, Credentials]:
    creds = creds or Credentials.generate()
    merchant = Merchant(id=new_id(), name=name, client_secret_hash="", created_at=clock.now())
    await apply_credentials(merchant, creds)
    session.add(merchant)
    await session.flush()
    return merchant, creds


async def merchant_by_client_id(session: AsyncSession, client_id: str) -> Merchant | None:
    return (await session.execute(select(Merchant).where(Merchant.client_id == client_id))).scalar_one_or_none()


async def check_credentials(session: AsyncSession, token: str, client_id: str, secret: str) -> Merchant | None:
    """The merchant whose three credentials all match, else None, in about the same time either way."""
    merchant = await merchant_by_client_id(session, client_id)
    if merchant is None or not merchant.active:
        await verify_secret(secret, crypto.DUMMY_HASH)
        return None
    token_ok = crypto.same(crypto.digest(token), merchant.merchant_token_digest)
    secret_ok = await verify_secret(secret, merchant.client_secret_hash)
    return merchant if token_ok and secret_ok else None


@dataclass
class Grant:
    access_token: str
    refresh_token: str
    expires_at: datetime


def issue_access_token(settings: Settings, merchant: Merchant, now: datetime) -> tuple[str, datetime]:
    exp = now + timedelta(seconds=settings.access_token_ttl_seconds)
    claims = {
        "iss": settings.issuer,
        "aud": AUDIENCE,
        "sub": merchant.id,
        "client_id": merchant.client_id,
        "typ": "access",
        "iat": epoch(now),
        "exp": epoch(exp),
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(claims, settings.signing_key, algorithm=JWT_ALG), exp


async def grant(session: AsyncSession, settings: Settings, merchant: Merchant, refresh_token: str) -> Grant:
    """Issue an access token and a fresh refresh token; when ``refresh_token`` is given it is spent first."""
    now = clock.now()
    family_id = new_id()
    if refresh_token:
        family_id = await _spend_refresh_token(session, merchant, refresh_token, now)
    raw = secrets.token_hex(32).upper()
    session.add(
        RefreshToken(
            id=new_id(),
            merchant_id=merchant.id,
            family_id=family_id,
            token_digest=crypto.digest(raw),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            created_at=now,
        )
    )
    access, exp = issue_access_token(settings, merchant, now)
    await session.flush()
    return Grant(access_token=access, refresh_token=raw, expires_at=exp)


class RefreshRefused(DomainError):
    """A refresh token that cannot be spent; the message says why (the authorize endpoint answers it)."""


class RefreshReused(RefreshRefused):
    """Spent already: someone else may hold it (its whole family is then revoked)."""

    def __init__(self, family_id: str) -> None:
        super().__init__("Refresh token already used")
        self.family_id = family_id


async def _spend_refresh_token(session: AsyncSession, merchant: Merchant, raw: str, now: datetime) -> str:
    row = (
        await session.execute(select(RefreshToken).where(RefreshToken.token_digest == crypto.digest(raw)))
    ).scalar_one_or_none()
    if row is None or row.merchant_id != merchant.id:
        raise RefreshRefused("Invalid refresh token")
    if row.revoked_at is not None:
        raise RefreshRefused("Refresh token revoked")
    if row.used_at is not None:
        raise RefreshReused(row.family_id)
    if row.expires_at <= now:
        raise RefreshRefused("Refresh token expired")
    # Guarded update: of two requests spending the same token at once, exactly one wins.
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise RefreshReused(row.family_id)
    return row.family_id


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    """A spent refresh token came back: someone else may hold it. Retire every token of its chain."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


# Tokens whose signature and claims were already verified, by (key, token). Verifying an HS256 token with PyJWT
# cost ~1 ms of CPU per request here (bench/README.md); a token's signature cannot change, so one check is enough.
# Expiry is still checked on every request below, against Tonle's clock.
_VERIFIED: dict[tuple[str, str], dict[str, object]] = {}
_VERIFIED_MAX = 10_000


class TokenRefused(DomainError):
    """A bearer token that is not a valid, unexpired access token of this gateway (the auth dependency's 401)."""


def decode_access_token(settings: Settings, token: str) -> dict[str, object]:
    key = settings.signing_key
    claims = _VERIFIED.get((key, token))
    if claims is None:
        claims = _verify_access_token(key, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[(key, token)] = claims
    if claims["exp"] <= epoch(clock.now()):  # type: ignore[operator]
        raise TokenRefused("Token expired")
    return claims


def _verify_access_token(key: str, token: str) -> dict[str, object]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALG],
            audience=AUDIENCE,
            # Time is checked by decode_access_token against Tonle's clock, which the sandbox and tests can move.
            options={"require": ["exp", "iat", "sub", "aud"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidTokenError as exc:
        raise TokenRefused("Invalid token") from exc
    if claims.get("typ") != "access" or not isinstance(claims.get("exp"), int):
        raise TokenRefused("Invalid token")
    return claims


def khqr_account(merchant: Merchant) -> dict[str, Any]:
    """The merchant's KHQR account (what a bank app that scans its codes pays into: checkouts' and invoices'); a
    merchant without one gets a sandbox account derived from its id."""
    return {
        "kind": "merchant",
        "bakong_account_id": merchant.khqr_account_id or f"tonle{merchant.id[:8]}@tnle",
        "merchant_id": merchant.khqr_merchant_id or merchant.id[:8].upper(),
        "acquiring_bank": merchant.khqr_acquiring_bank or "Tonle Sandbox",
        "merchant_name": merchant.name[:25],
        "merchant_city": merchant.khqr_city or "Phnom Penh",
    }
