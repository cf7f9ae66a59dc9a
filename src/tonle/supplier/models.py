"""The Supplier API's own records (spec other-apis §5): the queues that pushes create, and each record of a queue
as sent with its result. What the records change is the Hosted store (``bill_consumers``, ``invoices``,
``pushed_payments``): one store of the bills Tonle holds for a biller."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId
from tonle.db import created_at as stamped


class SupplierQueue(Base):
    """One push (``cus.push``, ``bill.push``, ``pmt.push``): answered at once, applied by the worker in chunks under
    a lease. ``processing`` until every record has its result, then ``ready`` (even when some records failed);
    ``error`` only when the whole batch was refused."""

    __tablename__ = "supplier_queues"
    __table_args__ = (Index("ix_supplier_queues_merchant_created", "merchant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(8), primary_key=True)  # short, as Bill24's (``nn5RscTz``)
    code: Mapped[str] = mapped_column(String(36), unique=True)  # a UUID
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    operation: Mapped[str] = mapped_column(String(20))  # cus.push | bill.push | pmt.push
    status: Mapped[str] = mapped_column(String(20))  # processing | ready | error
    note: Mapped[str] = mapped_column(Text, default="")
    created_host: Mapped[str] = mapped_column(String(100), default="")
    result: Mapped[str] = mapped_column(Text, default="")
    total_record: Mapped[int] = mapped_column(Integer)
    records_done: Mapped[int] = mapped_column(Integer, default=0)
    total_added: Mapped[int] = mapped_column(Integer, default=0)
    total_updated: Mapped[int] = mapped_column(Integer, default=0)
    total_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    total_canceled: Mapped[int] = mapped_column(Integer, default=0)  # records refused
    total_deleted: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = stamped()
    start_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SupplierRecord(Base):
    """One record of a queue, kept as sent; its result is written in the transaction that applied it."""

    __tablename__ = "supplier_records"
    __table_args__ = (UniqueConstraint("queue_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    queue_id: Mapped[str] = mapped_column(ForeignKey("supplier_queues.id"))
    position: Mapped[int] = mapped_column(Integer)  # the record's index in ``data``, from 0
    sync_code: Mapped[str] = mapped_column(String(100), default="")  # as sent (for the result), may be empty
    payload: Mapped[str] = mapped_column(Text)  # the record as sent (exact JSON)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)  # added|updated|unchanged|deleted|error
    message: Mapped[str] = mapped_column(Text, default="")
    message_kh: Mapped[str] = mapped_column(Text, default="")
    warning: Mapped[str] = mapped_column(Text, default="")
