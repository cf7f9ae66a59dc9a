from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
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
