from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class SubBiller(Base):
    """A sub-biller (supplier) that settled payments go to. Onboarding and bank links arrive with their issue."""

    __tablename__ = "sub_billers"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255))
    name_kh: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = created_at()
