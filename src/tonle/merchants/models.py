from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class Merchant(Base):
    """A biller. Secrets that are only ever checked are stored hashed; keys Tonle must compute with are kept."""

    __tablename__ = "merchants"

    id: Mapped[str] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the static merchant token (a UUID-like secret): enough to find the merchant by it.
    merchant_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(200))  # scrypt
    referrer_key_digest: Mapped[str] = mapped_column(String(64))
    # Keys Tonle computes with (HMAC of settle payment, AES of the SDK, webhook signatures): needed in clear.
    bill_hash_key: Mapped[str] = mapped_column(String(200))
    sdk_secret: Mapped[str] = mapped_column(String(200))
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    proxy_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The bank channel for bills: what a bank customer types to find this biller, and where the bill comes from
    # (proxy: the biller's proxy at proxy_url; hosted: the bills Tonle holds for it).
    biller_code: Mapped[str | None] = mapped_column(String(20), unique=True, nullable=True)
    bill_source: Mapped[str] = mapped_column(String(20), default="hosted", server_default="hosted")
    biller_api_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # base of /pending_bills, /consumer/...
    biller_api_token: Mapped[str | None] = mapped_column(String(200), nullable=True)  # sent as `token:`; kept plain
    # The Supplier API's static `token:` header (SHA-256); None: the merchant token is taken instead.
    supplier_token_digest: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # Auto Direct Debit: the retry days after a retryable refusal ("1,3,7"; empty: the server's), and the
    # pre-debit notice's lead time in hours (0: no notice).
    dd_retry_days: Mapped[str | None] = mapped_column(String(60), nullable=True)
    dd_notice_hours: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Webhooks: during a rotation the previous secret still signs until it expires.
    webhook_previous_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    webhook_previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    webhook_retry_profile: Mapped[str] = mapped_column(String(20), default="standard")  # standard | bill24
    webhook_body_format: Mapped[str] = mapped_column(String(20), default="current")  # current | legacy
    webhook_consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    webhook_disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    logo_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Checkout fee: a fixed part per currency (minor units) plus basis points of the amount, paid by the customer.
    checkout_fee_fixed_khr: Mapped[int] = mapped_column(BigInteger, default=0)
    checkout_fee_fixed_usd: Mapped[int] = mapped_column(BigInteger, default=0)
    checkout_fee_bps: Mapped[int] = mapped_column(Integer, default=0)
    # The merchant's KHQR account (what a bank app that scans the code pays into).
    khqr_account_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    khqr_merchant_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    khqr_acquiring_bank: Mapped[str | None] = mapped_column(String(32), nullable=True)
    khqr_city: Mapped[str | None] = mapped_column(String(15), nullable=True)
    wallet_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    billflow_enabled: Mapped[bool] = mapped_column(Boolean, default=True)  # settle payment answers 310 when off
    # Settle payment answers 316 unless the sub-biller has a linked settlement account.
    require_settlement_link: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at()


class RefreshToken(Base):
    """A one-use refresh token. Using it retires it; a retired token used again revokes its whole family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()


class AuthFailure(Base):
    """Failed authorize attempts per key (client id or source address) per fixed time window."""

    __tablename__ = "auth_failures"
    __table_args__ = (UniqueConstraint("bucket", "window_start"), Index("ix_auth_failures_window", "window_start"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[int] = mapped_column(Integer)  # unix seconds
    failures: Mapped[int] = mapped_column(Integer, default=0)
