"""Auto Direct Debit's request bodies (spec other-apis §6), parsed with Bill24's messages, and its answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from tonle.wire.body import Custom, Each, Instant, Nested, Pass, Text, WireBody
from tonle.wire.validate import provide, wrong_type


class RedirectUrl(WireBody):
    web_url: Annotated[str | None, Text(max_len=2000)] = None
    deeplink_url: Annotated[str | None, Text(max_len=2000)] = None


def _cap(p: Pass, key: str) -> Any:
    raw = p.src.get(key)
    if raw is None or raw == "":
        return None
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    if isinstance(raw, bool) or not value.is_finite() or value <= 0:
        name = p.name(key)
        p.fail((f"[{name}] must be an amount greater than 0.", f"[{name}] ត្រូវតែជាចំនួនទឹកប្រាក់ធំជាង 0។"))
        return None
    return str(value)


class ConsumerIn(WireBody):
    consumer_code: Annotated[str, Text(required=True, max_len=100)]
    consumer_name: Annotated[str | None, Text(max_len=255)] = None
    consumer_name_latin: Annotated[str | None, Text(max_len=255)] = None
    additional_information: Annotated[str | None, Text(max_len=1000)] = None
    max_amount: Annotated[str | None, Custom(_cap)] = Field(
        default=None,
        description="Tonle's extra: the most one debit may take (in the debt's currency); above it the debt is held",
    )


class InitRequest(WireBody):
    subscription_ref: Annotated[str, Text(required=True, max_len=100)]
    redirect_url: Annotated[RedirectUrl | None, Nested(RedirectUrl)] = None
    consumers: Annotated[list[ConsumerIn], Each(ConsumerIn)] = Field(default_factory=list)

    @classmethod
    def refine(cls, p: Pass) -> None:
        people = p.values.get("consumers") or []
        if not people and (p.src.get("consumers") is None or isinstance(p.src.get("consumers"), list)):
            p.fail(("[consumers] must hold at least one consumer.", "[consumers] ត្រូវមានអតិថិជនយ៉ាងហោចណាស់ម្នាក់។"))
        seen: set[str] = set()
        for c in people:
            if c.consumer_code in seen:
                p.fail((f"[consumers] names {c.consumer_code} twice.", f"[consumers] មាន {c.consumer_code} ពីរដង។"))
            seen.add(c.consumer_code)


def _codes(p: Pass, key: str) -> Any:
    raw = p.src.get(key)
    name = p.name(key)
    if raw is None:
        p.fail(provide(name))
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(c, str) and c.strip() and len(c) <= 100 for c in raw):
        p.fail(wrong_type(name, "list of consumer codes"))
        return []
    if len(raw) > 1000:
        p.fail((f"[{name}] takes at most 1000 codes.", f"[{name}] ទទួលបានច្រើនបំផុត 1000 លេខកូដ។"))
        return []
    return [c.strip() for c in raw]


class SignalRequest(WireBody):
    consumer_code: Annotated[list[str], Custom(_codes)] = Field(description="consumer codes whose debt changed")


class SubscribersRequest(WireBody):
    consumerCodes: Annotated[list[str], Custom(_codes)]


class TokenRequest(WireBody):
    token: Annotated[str, Text(required=True, max_len=100)]


class UnsubscribeRequest(WireBody):
    token: Annotated[str, Text(required=True, max_len=100)]
    unsubscribe_date: Annotated[datetime | None, Instant()] = Field(
        default=None, description="in the future: scheduled; absent, past or now: at once"
    )


class HistoriesRequest(WireBody):
    consumer_code: Annotated[str, Text(required=True, max_len=100)]


class VerifyRequest(WireBody):
    subscription_no: Annotated[str, Text(required=True, max_len=20)]


class _C(BaseModel):
    code: str
    message: str
    message_kh: str


class InitData(BaseModel):
    subscription_no: str
    subscription_link: str


class InitAnswer(_C):
    data: InitData | None = None  # null on a refusal


class SignalAnswer(_C):
    pass


class NullAnswer(_C):
    data: None = None


class AnyAnswer(_C):
    data: Any = None
