"""Tonle's calls to a biller for Auto Direct Debit (spec other-apis §6.4, §6.6): ``consumer/validate`` while a bank
app's customer waits, and ``consumer/inquiry`` for the debts to collect. Made with the proxy's client (the target
rules, ``token:``, signature headers, one time limit), with no database transaction open; every answer is read
strictly, and anything else is a reason, never a debit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tonle.config import Settings
from tonle.kit.money import CURRENCIES, AmountError, to_minor
from tonle.merchants.models import Merchant
from tonle.proxy import client
from tonle.wire import wirejson

BATCH = 50  # consumer codes per inquiry [INF]


@dataclass(frozen=True)
class Debt:
    code: str
    name: str
    name_latin: str
    amount: int  # minor units
    currency: str


@dataclass(frozen=True)
class Asked:
    """What the inquiry answered: the debts it named, refusals of single entries (code -> reason), or a reason
    that sinks the whole answer."""

    debts: dict[str, Debt]
    refused: dict[str, str]
    error: str = ""


@dataclass(frozen=True)
class Who:
    code: str
    name: str
    name_latin: str
    info: str


async def _call(
    settings: Settings, merchant: Merchant, path: str, body: dict[str, Any], http: httpx.AsyncClient | None = None
) -> tuple[Any, str]:
    if not merchant.biller_api_url:
        return None, "the biller has no biller_api_url"
    reply = await client.post(
        merchant.biller_api_url.rstrip("/") + path,
        body,
        token=merchant.biller_api_token or "",
        secret=merchant.webhook_secret or "",
        limit_seconds=settings.dd_biller_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
        http=http,
    )
    if reply.status is None:
        return None, reply.error
    if reply.status != 200:
        return None, f"HTTP {reply.status}"
    try:
        answer = wirejson.loads(reply.content)  # decimals stay decimals: an amount never passes through a float
    except (wirejson.InvalidJSON, ValueError, UnicodeDecodeError):
        return None, "the answer is not JSON"
    if not isinstance(answer, dict):
        return None, "the answer is not a JSON object"
    if str(answer.get("code")) != "000":
        return None, f"code {answer.get('code')!r}: {str(answer.get('message', ''))[:200]}"
    return answer.get("data"), ""


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


async def inquire(
    settings: Settings, merchant: Merchant, codes: list[str], http: httpx.AsyncClient | None = None
) -> Asked:
    body = {"consumer_codes": codes, "biller_code": merchant.biller_code or ""}
    data, error = await _call(settings, merchant, "/consumer/inquiry", body, http)
    if error:
        return Asked({}, {}, error)
    if not isinstance(data, list):
        return Asked({}, {}, "data is not a list")
    debts: dict[str, Debt] = {}
    refused: dict[str, str] = {}
    asked = set(codes)
    for item in data:
        if not isinstance(item, dict) or item.get("consumer_code") not in asked:
            continue  # not one of ours: never collected
        code = item["consumer_code"]
        currency = item.get("currency")
        if not isinstance(currency, str) or currency.upper() not in CURRENCIES:
            refused[code] = f"currency {currency!r} is not KHR or USD"
            continue
        raw = item.get("amount")
        try:
            if isinstance(raw, bool) or raw is None:
                raise AmountError("not a number")
            amount = to_minor(raw, currency.upper())
        except AmountError as exc:
            refused[code] = f"amount {raw!r}: {exc}"
            continue
        if amount < 0:
            refused[code] = f"amount {raw!r} is negative"
            continue
        debts[code] = Debt(
            code, _text(item.get("consumer_name")), _text(item.get("consumer_name_latin")), amount, currency.upper()
        )
    return Asked(debts, refused)


async def validate(settings: Settings, merchant: Merchant, code: str) -> tuple[Who | None, str]:
    """The consumer as the biller describes it, or (None, why not)."""
    data, error = await _call(
        settings, merchant, "/consumer/validate", {"biller_code": merchant.biller_code or "", "consumer_code": code}
    )
    if error:
        return None, error
    if not isinstance(data, dict) or data.get("consumer_code") != code:
        return None, "the answer does not describe this consumer"
    return (
        Who(
            code,
            _text(data.get("consumer_name")),
            _text(data.get("consumer_name_latin")),
            _text(data.get("additional_information")),
        ),
        "",
    )
