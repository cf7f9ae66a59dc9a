"""The bills Tonle holds for a biller (bill source ``hosted``; the Supplier API pushes into the same tables): the
biller's consumers, their invoices and lines, how each bank payment was allocated over them, and the import
batches that brought them in, row by row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, uuid_pk
from tonle.db import created_at as stamped


class BillConsumer(Base):
    """One of a biller's consumers: what a bank customer types (``code``) to find their bills. ``sync_code`` is the
    biller's own key of a consumer pushed through the Supplier API (None for one only ever imported by Hosted)."""

    __tablename__ = "bill_consumers"
    __table_args__ = (UniqueConstraint("merchant_id", "code"), UniqueConstraint("merchant_id", "sync_code"))

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    moc: Mapped[str] = mapped_column(String(100), default="")
    vat: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sync_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    org_code: Mapped[str] = mapped_column(String(100), default="", server_default="")
    name_kh: Mapped[str] = mapped_column(String(255), default="", server_default="")
    address_kh: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()


class Invoice(Base):
    """An invoice of a biller, keyed by its ``ref_number``. Amounts in minor units of ``currency``. What is due is
    ``total_amount - paid_outside - paid_bank``: ``paid_outside`` is what a Hosted import says was paid elsewhere
    (no ledger money), ``paid_bank`` the sum of this invoice's allocations, each written with its payment's ledger
    entry: bank payments, and the payments a biller pushes through the Supplier API. Dates are UTC; the state
    (draft, open, partially_paid, paid, overdue, void) is derived, never stored. A ``draft`` (Supplier API) is kept
    but not payable."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("merchant_id", "ref_number"),
        Index("ix_invoices_consumer_due", "consumer_id", "due_date"),
        Index("ix_invoices_merchant_created", "merchant_id", "created_at"),
    )

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    consumer_id: Mapped[str] = mapped_column(ForeignKey("bill_consumers.id"))
    ref_number: Mapped[str] = mapped_column(String(100))
    ref_id: Mapped[str] = mapped_column(String(100), default="")
    date: Mapped[datetime] = mapped_column(DateTime)
    due_date: Mapped[datetime] = mapped_column(DateTime)
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    total_tax: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_outside: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_bank: Mapped[int] = mapped_column(BigInteger, default=0)
    exchange_rate_khr: Mapped[str] = mapped_column(String(50), default="")
    total_amount_khr: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    void: Mapped[bool] = mapped_column(Boolean, default=False)
    page_token: Mapped[str] = mapped_column(String(40), unique=True)  # the digital bill's unguessable address
    khqr_md5: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # of the KHQR last shown
    digest: Mapped[str] = mapped_column(String(64))  # of the row as imported: an identical row is "unchanged"
    source: Mapped[str] = mapped_column(String(20), default="hosted")  # hosted | supplier
    draft: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    bill_type: Mapped[int | None] = mapped_column(Integer, nullable=True)  # Supplier API: 1 quick .. 4 recurring
    notified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the customer was told of it
    created_at: Mapped[datetime] = stamped()
    updated_at: Mapped[datetime] = stamped()


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[str] = mapped_column(String(40), default="")  # a decimal as sent (may be fractional)
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class InvoiceAllocation(Base):
    """The part of one payment (a bank's ``bank_bill`` transaction, or a biller's ``pushed_payment``) that went to
    one invoice; written in the transaction of the payment's ledger entry. What a bank payment left over is its
    look-up's ``overpaid``; a pushed payment's, its ``excess``."""

    __tablename__ = "invoice_allocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = stamped()


class PushedPayment(Base):
    """A payment the biller recorded as made outside Tonle (Supplier API payment push: cash, online, or spent from
    the customer's credit). Its ``transactions`` row (type ``pushed_payment``) carries the amount, currency, date
    and ledger entry; its allocations over the bills are ``invoice_allocations`` rows as a bank payment's.
    ``excess``: what it paid beyond the bills (the customer's credit); ``credit_spent``: what a ``balance`` payment
    took from that credit."""

    __tablename__ = "pushed_payments"
    __table_args__ = (UniqueConstraint("merchant_id", "sync_code"),)

    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    sync_code: Mapped[str] = mapped_column(String(100))
    consumer_id: Mapped[str] = mapped_column(ForeignKey("bill_consumers.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # cash | online | balance
    title: Mapped[str] = mapped_column(Text, default="")
    bill_syncs: Mapped[str] = mapped_column(Text, default="")  # the bills named, comma-separated
    excess: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    digest: Mapped[str] = mapped_column(String(64))  # of the record as applied: a replay is "unchanged"
    queue_id: Mapped[str] = mapped_column(String(8), default="")
    created_at: Mapped[datetime] = stamped()


class InvoiceImport(Base):
    """One import batch: its rows are kept as sent, and each gets its outcome in the transaction that applied it.
    A large batch is applied by the worker in chunks, under a lease that a killed worker's successor takes over."""

    __tablename__ = "invoice_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | done
    total_record: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = stamped()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class InvoiceImportRow(Base):
    __tablename__ = "invoice_import_rows"
    __table_args__ = (UniqueConstraint("import_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("invoice_imports.id"))
    position: Mapped[int] = mapped_column(Integer)  # the row's index in the array sent, from 0
    payload: Mapped[str] = mapped_column(Text)  # the row as sent (exact JSON)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # created|updated|unchanged|rejected
    reason: Mapped[str] = mapped_column(Text, default="")
    reason_kh: Mapped[str] = mapped_column(Text, default="")
    invoice_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
