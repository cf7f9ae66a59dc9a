from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at


class Bank(Base):
    """A bank that pays and debits (a sandbox bank, or a real one behind a connector). Banks are shared by all
    merchants; ``api_token`` is the bank-side API's header."""

    __tablename__ = "banks"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kh: Mapped[str | None] = mapped_column(String(200), nullable=True)
    logo: Mapped[str | None] = mapped_column(Text, nullable=True)
    api_token_digest: Mapped[str] = mapped_column(String(64))
    # A sandbox bank can be set offline in the fixtures: linking with it then answers 001 (bank connection problem).
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sandbox banks keep their API token so that their payment page can call the bank API as the bank would.
    sandbox_token: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = created_at()


class BillLookup(Base):
    """What a bank's bill look-up found (whichever source answered it), kept beside the pending transaction the
    look-up opened: the confirm is checked against it, and the webhook tells of it. Amounts in minor units;
    ``min_amount`` / ``max_amount`` None: no limit (the proxy's -1)."""

    __tablename__ = "bill_lookups"

    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    source: Mapped[str] = mapped_column(String(20))  # proxy | hosted
    consumer_code: Mapped[str] = mapped_column(String(100))
    consumer_name: Mapped[str] = mapped_column(String(255), default="")
    consumer_name_latin: Mapped[str] = mapped_column(String(255), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    due_amount: Mapped[int] = mapped_column(BigInteger)
    min_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    last_bill_date: Mapped[str] = mapped_column(String(40), default="")
    last_due_date: Mapped[str] = mapped_column(String(40), default="")
    last_pay_date: Mapped[str] = mapped_column(String(40), default="")
    overpaid: Mapped[int] = mapped_column(BigInteger, default=0)  # paid above the amount due (up to max_amount)
    bill_ref: Mapped[str] = mapped_column(String(100), default="")  # the one bill it was looked up by, if any
    channel: Mapped[str] = mapped_column(String(30), default="Bank Channel")  # the webhook's payment_service_type
