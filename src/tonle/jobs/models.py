"""The worker runtime's tables: one row per scheduled task, leased by the worker that runs it; the sandbox clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base


class JobSchedule(Base):
    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)


class SandboxClock(Base):
    """The sandbox clock every process on this database follows: how far it runs ahead of real time."""

    __tablename__ = "sandbox_clock"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)  # "sandbox"
    offset_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    moved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
