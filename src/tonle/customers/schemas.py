"""Wire shapes of the customer endpoints: how requests are read (with Bill24's validation texts) and what the
answers look like. These models document the wire; parsing is done by the functions below."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from tonle.kit.money import CURRENCIES
from tonle.wire.http import WireAmount
from tonle.wire.validate import EMAIL_RE, Checker, provide, wrong_type

# Documented constraints (the parsers below enforce them, with Bill24's texts): a required string is not blank.
NOT_BLANK = r"\S"


class WalletIn(BaseModel):
    name: str = Field(pattern=NOT_BLANK, description="wallet display name; required when a wallet is given")
    currency: Literal["KHR", "USD"] = Field(description="lower case is accepted")


class CreateCustomerRequest(BaseModel):
    sync_code: str = Field(
        max_length=50, pattern=NOT_BLANK, description="the customer's code on the biller side, unique per biller"
    )
    name: str = Field(pattern=NOT_BLANK)
    name_kh: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=255, pattern=EMAIL_RE.pattern)
    wallet: list[WalletIn] = Field(default_factory=list, max_length=2, description="at most one wallet per currency")


class UpdateCustomerRequest(BaseModel):
    sync_code: str = Field(max_length=50, pattern=NOT_BLANK, description="selects the customer; cannot be changed")
    name: str | None = Field(default=None, pattern=NOT_BLANK, description="omitted: kept")
    name_kh: str | None = Field(default=None, max_length=255, description='omitted: kept; null or "": cleared')
    phone: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=255, pattern=EMAIL_RE.pattern)
    wallet: list[WalletIn] | None = Field(
        default=None, description="Tonle extension: opens wallets in currencies the customer does not have yet"
    )


class SyncCodeRequest(BaseModel):
    sync_code: str = Field(
        max_length=50, pattern=NOT_BLANK, description="the customer's sync code (`customer_sync_code` is accepted too)"
    )


class WalletOut(BaseModel):
    name: str
    currency: str


class CustomerOut(BaseModel):
    id: str
    sync_code: str
    name: str
    name_kh: str | None
    phone: str | None
    email: str | None
    wallet: list[WalletOut]


class WalletBalanceOut(BaseModel):
    id: str = Field(description="wallet id (the SDK's paymentMethodId)")
    name: str
    balance: WireAmount = Field(description="a JSON number in the currency's major unit: 106001 KHR, 12.5 USD")
    currency: str


class CustomerDetailOut(BaseModel):
    sync_code: str
    name: str
    name_kh: str | None
    phone: str | None
    email: str | None
    walletBalances: list[WalletBalanceOut]


class Envelope(BaseModel):
    code: str = Field(description='"000" on success (or "SUCCESS" where the live server says so); error codes')
    message: str
    message_kh: str


class CustomerEnvelope(Envelope):
    data: CustomerOut | None


class CustomerDetailEnvelope(Envelope):
    data: CustomerDetailOut | None


@dataclass
class NewWallet:
    name: str
    currency: str


@dataclass
class CustomerInput:
    sync_code: str
    name: str | None = None
    fields: dict[str, str | None] = field(default_factory=dict)  # name_kh / phone / email that were given
    wallets: list[NewWallet] = field(default_factory=list)


def _wallets(c: Checker, raw: Any) -> list[NewWallet]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.fail(wrong_type("wallet", "list"))
        return []
    wallets = []
    for i, item in enumerate(raw):
        label = f"wallet[{i}]"
        if not isinstance(item, dict):
            c.fail(wrong_type(label, "object"))
            continue
        name = c.string("name", required=True, label=f"{label}.name", source=item)
        currency = c.string("currency", required=True, max_len=10, label=f"{label}.currency", source=item)
        if currency is not None and currency.upper() not in CURRENCIES:
            c.fail((f"[{label}.currency] must be KHR or USD.", f"[{label}.currency] ត្រូវតែជា KHR ឬ USD។"))
            continue
        if name is not None and currency is not None:
            wallets.append(NewWallet(name=name, currency=currency.upper()))
    return wallets


def _profile(c: Checker, body: dict[str, Any], keep_absent: bool) -> dict[str, str | None]:
    fields: dict[str, str | None] = {}
    for key in ("name_kh", "phone"):
        if key in body or not keep_absent:
            fields[key] = c.string(key, max_len=100 if key == "phone" else 255)
    if "email" in body or not keep_absent:
        fields["email"] = c.email("email")
    return fields


def parse_create(body: dict[str, Any]) -> CustomerInput:
    c = Checker(body)
    sync_code = c.string("sync_code", required=True, max_len=50, unit="digits")
    name = c.string("name", required=True)
    fields = _profile(c, body, keep_absent=False)
    wallets = _wallets(c, body.get("wallet"))
    c.done()
    assert sync_code is not None and name is not None
    return CustomerInput(sync_code=sync_code, name=name, fields=fields, wallets=wallets)


def parse_update(body: dict[str, Any]) -> CustomerInput:
    c = Checker(body)
    sync_code = c.string("sync_code", required=True, max_len=50, unit="digits")
    # Absent keys keep their value; "name" may be omitted but not emptied.
    name = c.string("name", required="name" in body)
    fields = _profile(c, body, keep_absent=True)
    wallets = _wallets(c, body.get("wallet"))
    c.done()
    assert sync_code is not None
    return CustomerInput(sync_code=sync_code, name=name, fields=fields, wallets=wallets)


def parse_sync_code(body: dict[str, Any]) -> str:
    """get_customer_detail and delete read ``sync_code``; the live server names it ``customer_sync_code`` when it
    is missing, so that key is accepted too."""
    c = Checker(body)
    key = "sync_code" if body.get("sync_code") is not None or "customer_sync_code" not in body else "customer_sync_code"
    value = c.string(key, max_len=50, unit="digits")
    if value is None and not c.messages:
        c.fail(provide("customer_sync_code"))
    c.done()
    assert value is not None
    return value
