"""Wire shapes of the customer endpoints: the request models (which parse the bodies, with Bill24's validation
texts) and what the answers look like."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tonle.kit.money import CURRENCIES
from tonle.wire.body import Custom, Each, Email, Pass, Text, WireBody, parse
from tonle.wire.http import WireAmount
from tonle.wire.validate import provide

PROFILE = ("name_kh", "phone", "email")


class WalletIn(WireBody):
    name: Annotated[str, Text(required=True)] = Field(
        description="wallet display name; required when a wallet is given"
    )
    currency: Annotated[Literal["KHR", "USD"], Text(required=True, max_len=10, fold="upper", choices=CURRENCIES)] = (
        Field(description="lower case is accepted")
    )


SyncCode = Text(required=True, max_len=50, unit="digits")


class CreateCustomerRequest(WireBody):
    sync_code: Annotated[str, SyncCode] = Field(description="the customer's code on the biller side, unique per biller")
    name: Annotated[str, Text(required=True)]
    name_kh: Annotated[str | None, Text(max_len=255)] = None
    phone: Annotated[str | None, Text(max_len=100)] = None
    email: Annotated[str | None, Email()] = None
    wallet: Annotated[list[WalletIn], Each(WalletIn)] = Field(
        default_factory=list, max_length=2, description="at most one wallet per currency"
    )


class UpdateCustomerRequest(WireBody):
    # An absent key keeps its value; "name" may be omitted but not emptied.
    sync_code: Annotated[str, SyncCode] = Field(description="selects the customer; cannot be changed")
    name: Annotated[str | None, Text(required=True, only_if_sent=True)] = Field(
        default=None, description="omitted: kept"
    )
    name_kh: Annotated[str | None, Text(max_len=255, only_if_sent=True)] = Field(
        default=None, description='omitted: kept; null or "": cleared'
    )
    phone: Annotated[str | None, Text(max_len=100, only_if_sent=True)] = None
    email: Annotated[str | None, Email(only_if_sent=True)] = None
    wallet: Annotated[list[WalletIn] | None, Each(WalletIn)] = Field(
        default=None, description="Tonle extension: opens wallets in currencies the customer does not have yet"
    )


def _sync_code(p: Pass, key: str) -> str | None:
    """get_customer_detail and delete read ``sync_code``; the live server names it ``customer_sync_code`` when it
    is missing, so that key is accepted too."""
    other = "customer_sync_code"
    used = key if p.src.get(key) is not None or other not in p.src else other
    value = p.c.string(used, max_len=50, unit="digits", source=p.src)
    if value is None and not p.c.messages:
        p.fail(provide(other))
    return value


class SyncCodeRequest(WireBody):
    sync_code: Annotated[str, Custom(_sync_code, also=("customer_sync_code",))] = Field(
        max_length=50,
        pattern=r"\S",
        description="the customer's sync code (`customer_sync_code` is accepted too)",
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


def _input(m: CreateCustomerRequest | UpdateCustomerRequest, profile: tuple[str, ...]) -> CustomerInput:
    return CustomerInput(
        sync_code=m.sync_code,
        name=m.name,
        fields={k: getattr(m, k) for k in profile},
        wallets=[NewWallet(name=w.name, currency=w.currency) for w in m.wallet or []],
    )


def parse_create(body: dict[str, Any]) -> CustomerInput:
    return _input(parse(CreateCustomerRequest, body), PROFILE)


def parse_update(body: dict[str, Any]) -> CustomerInput:
    m = parse(UpdateCustomerRequest, body)
    return _input(m, tuple(k for k in PROFILE if k in m.model_fields_set))


def parse_sync_code(body: dict[str, Any]) -> str:
    return parse(SyncCodeRequest, body).sync_code
