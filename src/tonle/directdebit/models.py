"""Auto Direct Debit's tables: subscriptions and their consumers, the bank accounts consumers subscribed (one
token each), their history, one collector per consumer (the state of collecting its debt), and every debit asked
of a bank. Amounts in minor units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, created_at


class Subscription(Base):
    __tablename__ = "dd_subscriptions"
    __table_args__ = (UniqueConstraint("merchant_id", "subscription_ref"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    subscription_no: Mapped[str] = mapped_column(String(12), unique=True)  # what the SDK and verify take
    page_ref: Mapped[str] = mapped_column(String(12), unique=True)  # the subscription page's link
    subscription_ref: Mapped[str] = mapped_column(String(100))
    web_url: Mapped[str] = mapped_column(Text, default="")
    deeplink_url: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(20), default="merchant")  # merchant | bank_app
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | active | declined
    bank_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    account_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    bank_ref: Mapped[str] = mapped_column(String(40), default="")  # the bank's reference of the consent
    subscribed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at()


class SubscriptionConsumer(Base):
    __tablename__ = "dd_subscription_consumers"
    __table_args__ = (UniqueConstraint("subscription_id", "consumer_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("dd_subscriptions.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    consumer_code: Mapped[str] = mapped_column(String(100))
    consumer_name: Mapped[str] = mapped_column(String(255), default="")
    consumer_name_latin: Mapped[str] = mapped_column(String(255), default="")
    additional_information: Mapped[str] = mapped_column(Text, default="")
    max_amount: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the cap, in the debt's currency


class DebitAccount(Base):
    """A consumer's subscribed bank account: debited in ``priority`` order (1 first). Active until
    ``unsubscribe_at`` (scheduled or past)."""

    __tablename__ = "dd_accounts"
    __table_args__ = (Index("ix_dd_accounts_consumer", "merchant_id", "consumer_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("dd_subscriptions.id"))
    consumer_code: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(100), unique=True)  # the accountToken billers manage it by
    bank_code: Mapped[str] = mapped_column(String(30))
    account_number: Mapped[str] = mapped_column(String(40))
    account_name: Mapped[str] = mapped_column(String(200), default="")
    currency: Mapped[str] = mapped_column(String(3))
    priority: Mapped[int] = mapped_column(Integer)
    subscribed_at: Mapped[datetime] = mapped_column(DateTime)
    unsubscribe_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class History(Base):
    __tablename__ = "dd_history"
    __table_args__ = (Index("ix_dd_history_consumer", "merchant_id", "consumer_code", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    consumer_code: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)  # a scheduled unsubscribe is listed once its time has come
    action: Mapped[str] = mapped_column(String(30))  # Subscribed | Unsubscribed | Set Default
    bank_code: Mapped[str] = mapped_column(String(30))
    account_number: Mapped[str] = mapped_column(String(40))


class Collector(Base):
    """One per consumer of a merchant: when its debt is next collected (``due_at``; None: nothing to do), and the
    state of the debt being collected (retries, the pre-debit notice). Held under a lease while collected, so one
    collection per consumer is ever in flight; a signal during one makes it run again afterwards."""

    __tablename__ = "dd_collectors"
    __table_args__ = (
        UniqueConstraint("merchant_id", "consumer_code"),
        Index("ix_dd_collectors_due", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    consumer_code: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    retry_no: Mapped[int] = mapped_column(Integer, default=0)  # retries made of the debt being collected
    first_failed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the retries count from it
    notice_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # announced before the debit
    notice_currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    noticed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_outcome: Mapped[str] = mapped_column(String(30), default="")
    last_reason: Mapped[str] = mapped_column(Text, default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Debit(Base):
    """A debit asked of a bank; its id is the reference the bank keeps it by. ``sending`` until the bank's answer is
    recorded (a worker that died in between leaves it so; the next collection asks the bank again by the same
    reference and records the first answer)."""

    __tablename__ = "dd_debits"
    __table_args__ = (Index("ix_dd_debits_consumer", "merchant_id", "consumer_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    collector_id: Mapped[str] = mapped_column(ForeignKey("dd_collectors.id"), index=True)
    consumer_code: Mapped[str] = mapped_column(String(100))
    consumer_name: Mapped[str] = mapped_column(String(255), default="")
    account_id: Mapped[str] = mapped_column(ForeignKey("dd_accounts.id"))
    bank_code: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(20))  # sending | succeeded | refused
    reason: Mapped[str] = mapped_column(String(40), default="")
    bank_ref: Mapped[str] = mapped_column(String(40), default="")
    transaction_id: Mapped[str | None] = mapped_column(ForeignKey("transactions.id"), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # the §2.4 webhook's outbox event
    created_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
