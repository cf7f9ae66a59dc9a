from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class Customer(Base):
    """A biller's end customer. Deleting one sets ``deleted_at``; its ledger history stays."""

    __tablename__ = "customers"
    __table_args__ = (
        # sync_code is unique per merchant among live customers, so a deleted code can be registered again.
        Index(
            "uq_customers_live_sync_code",
            "merchant_id",
            "sync_code",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    sync_code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255))
    name_kh: Mapped[str | None] = mapped_column(String(255), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(100), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Wallet(Base):
    """A customer's wallet: a profile over one ledger account, which alone holds its balance."""

    __tablename__ = "wallets"

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    position: Mapped[int] = mapped_column(Integer)  # wallet order: 0 is the default payment method
    # The wallet's payment method token (get_payment_methods' ``token``, settle payment's payment_method_token).
    payment_token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = created_at()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PaymentMethod(Base):
    """A card or a bank account a customer put on file (wallets are payment methods of their own, above). Tonle keeps
    only what identifies it to the customer and what the card vault or the bank answered: a card's vault token,
    brand, last four digits and expiry month/year, never its number or CVC; an account's bank and number."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))  # card | bank_account
    # The method's token (get_payment_methods' ``token``, settle payment's payment_method_token).
    payment_token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: secrets.token_hex(16))
    name: Mapped[str] = mapped_column(String(255))
    last4: Mapped[str] = mapped_column(String(4))
    brand: Mapped[str] = mapped_column(String(20), default="")  # cards: visa | mastercard | ...
    vault_token: Mapped[str] = mapped_column(String(64), default="")  # cards: the vault's token, charged by it
    exp_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exp_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bank_code: Mapped[str] = mapped_column(String(30), default="")  # accounts: the bank that holds it
    account_number: Mapped[str] = mapped_column(String(40), default="")
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)  # accounts: theirs; cards: any
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = created_at()
    removed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
