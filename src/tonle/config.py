"""Settings from the environment (prefix ``TONLE_``)."""

from __future__ import annotations

import os
import secrets
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Compat(StrEnum):
    """Which of the spec's two forms to answer where observed and documented behaviour differ."""

    live = "live"  # what the live Bill24 demo server was seen to answer ([OBS])
    docs = "docs"  # what the published documentation shows ([DOC])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONLE_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str = ""  # default: SQLite file under data_dir
    # Log every SQL statement with its parameters (logger sqlalchemy.engine); bench/ reads it to build the
    # pgbench equivalent of the settle path. Never on in production: parameters include token digests.
    sql_echo: bool = False
    # PostgreSQL connections per API process. No overflow: connections opened above the pool size are closed
    # again when returned, and under load that churn (connect, TLS probe, auth, re-prepare) cost more than waiting
    # for a pooled connection (bench/README.md). Size it to the concurrency one process can use.
    db_pool_size: int = Field(default=20, ge=1)
    # PostgreSQL connections opened beyond the pool under a burst and closed when returned. 0 in production (opening
    # and closing them under load cost more than waiting, docs/architecture.md); the test suite, which runs many
    # servers on one database, keeps small pools with overflow so that idle servers hold few connections.
    db_max_overflow: int = Field(default=0, ge=0)
    host: str = "127.0.0.1"
    port: int = 8024
    compat: Compat = Compat.live
    # The public base URL, used as the token issuer and in links Tonle hands out.
    public_url: str = ""

    # HS256 key of the access tokens. Generated on first run and kept in data_dir/jwt.key when not given;
    # several API processes must share one key (set it explicitly, or share the data directory).
    jwt_secret: str = ""
    access_token_ttl_seconds: int = Field(default=3600, ge=60)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)

    # Failed authorize attempts allowed per window, per client id and per source address, before HTTP 429.
    auth_fail_window_seconds: int = Field(default=300, ge=1)
    auth_fail_limit_per_client: int = Field(default=10, ge=1)
    auth_fail_limit_per_address: int = Field(default=30, ge=1)

    # How long an Idempotency-Key and its answer are kept.
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # How long a pending wallet top-up waits for the bank before it expires.
    topup_ttl_seconds: int = Field(default=3600, ge=60)
    # Cards and accounts on file: how long a link page stays usable, and how old an unrecorded charge must be
    # before reconciliation gives it back (a request still in flight is never that slow).
    method_link_ttl_seconds: int = Field(default=1800, ge=60)
    charge_reconcile_after_seconds: float = Field(default=120, gt=0)

    # How long a checkout transaction stays payable (checkout/extend_expire_date adds as much again).
    checkout_ttl_seconds: int = Field(default=1800, ge=60)

    # The bank channel for bills: how long a bank's look-up stays payable (once), and the hard limit on a call to
    # a biller's proxy or pending-bills endpoint while the bank waits (one retry on a refused connection, within it).
    bill_lookup_ttl_seconds: int = Field(default=1800, ge=60)
    proxy_timeout_seconds: float = Field(default=5.0, gt=0, le=30)

    # Hosted invoice imports: a batch of up to this many rows is applied in its request, a larger one by the worker
    # in chunks of ``hosted_import_chunk_rows``, under a lease that another worker takes over when it runs out.
    hosted_inline_rows: int = Field(default=1000, ge=0, le=10_000)
    hosted_import_chunk_rows: int = Field(default=1000, ge=1, le=10_000)
    hosted_import_lease_seconds: float = Field(default=60, gt=0)
    # The body of an import may be larger than any other request's (10,000 invoices with their lines).
    hosted_import_max_body_bytes: int = Field(default=32 * 1_048_576, ge=1024)
    # Supplier API pushes: every queue is applied by the worker, in chunks of this many records, under a lease.
    supplier_chunk_records: int = Field(default=1000, ge=1, le=10_000)
    supplier_lease_seconds: float = Field(default=60, gt=0)

    # The bank linking page's one-time URL, and the sub-biller portal's signed URL: how long they stay valid.
    link_url_ttl_seconds: int = Field(default=1800, ge=60)
    portal_ttl_seconds: int = Field(default=3600, ge=60)
    # The sandbox: simulated banks, their pages and the movable clock. A production deployment sets
    # TONLE_SANDBOX=false: the sandbox clock then cannot be moved (its endpoints answer 404).
    sandbox: bool = True
    # How often each process reads the sandbox clock that another process may have moved.
    sandbox_clock_follow_seconds: float = Field(default=0.5, gt=0)
    # Auto Direct Debit: a collection's retries after a retryable refusal (insufficient funds, bank unavailable),
    # in days after the first attempt's failure (a merchant's own `dd_retry_days` overrides them); the time limit
    # on the biller's consumer/validate and consumer/inquiry; how long a subscription link stays open.
    dd_retry_days: str = "1,3,7"
    dd_biller_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    dd_subscription_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    dd_lease_seconds: float = Field(default=60, gt=0)
    # The sandbox bank completes payouts at once ("immediate") or waits for `tonle sandbox payout` ("manual").
    sandbox_payout_mode: Literal["immediate", "manual"] = "immediate"
    # The payout run on a schedule (the worker's): every so many seconds (0: only `tonle payouts run`), paying out
    # each sub-biller balance at or above the minimum (major units) to its default account in that currency.
    payout_run_seconds: float = Field(default=0, ge=0)
    payout_min_khr: Decimal = Field(default=Decimal("10000"), ge=0)
    payout_min_usd: Decimal = Field(default=Decimal("5"), ge=0)

    # Webhooks and notifications: the in-process worker of `tonle serve`, and the delivery rules.
    worker_in_process: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=10)
    webhook_lease_margin_seconds: float = Field(default=20.0, ge=0)
    webhook_disable_after_failures: int = Field(default=20, ge=1)
    webhook_secret_overlap_seconds: int = Field(default=24 * 3600, ge=0)
    # Sandbox only: let webhooks go to loopback and private addresses (production refuses them: SSRF).
    webhook_allow_private_targets: bool = False
    # Notification channels (a channel without its settings answers a per-message error).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "Tonle <no-reply@tonle.local>"
    telegram_bot_token: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    sms_gateway_url: str = ""
    sms_gateway_token: str = ""

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # A request body must arrive whole within this many seconds of the request's start: a client that trickles
    # it byte by byte gets 408 instead of holding a connection and a request slot for ever.
    body_timeout_seconds: float = Field(default=30, gt=0)
    access_log: bool = True

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'tonle.db').as_posix()}"

    @cached_property
    def issuer(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @cached_property
    def signing_key(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        return _load_or_create_key(self.data_dir / "jwt.key")


def _load_or_create_key(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Write a private temp file, then link it into place: link() fails if another process won the race,
    # and nobody ever reads a half-written key.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        tmp.unlink()
    return key


def get_settings() -> Settings:
    return Settings()
