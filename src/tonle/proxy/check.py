"""`tonle proxy check URL`: a biller's developer runs the Merchant Proxy contract against their own server before
going live. The proxy is called exactly as Tonle calls it (headers, signature, time limit), and each rule of the
contract is reported on its own line: passed, failed with the reason, or skipped (with why)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from tonle.kit.money import CURRENCIES, AmountError, to_minor
from tonle.proxy import answer, client
from tonle.wire import wirejson

TARGET_MS = 3000  # an answer slower than this passes, with a warning: the bank's customer is waiting


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool | None  # None: skipped
    detail: str = ""


def _envelope(reply: client.Reply) -> tuple[list[Result], dict[str, Any] | None]:
    out: list[Result] = []
    if reply.status is None:
        out.append(Result("answers within the time limit", False, reply.error))
        return out, None
    slow = f" (over the {TARGET_MS // 1000} s target)" if reply.latency_ms > TARGET_MS else ""
    out.append(Result("answers within the time limit", True, f"{reply.latency_ms} ms{slow}"))
    if reply.status != 200:
        out.append(Result("HTTP 200", False, f"HTTP {reply.status}"))
        return out, None
    out.append(Result("HTTP 200", True))
    try:
        body = wirejson.loads(reply.content)
    except ValueError as exc:
        out.append(Result("JSON envelope (code, message, message_kh)", False, f"not JSON: {exc}"[:200]))
        return out, None
    problems = []
    if not isinstance(body, dict):
        problems.append("not a JSON object")
    else:
        code = body.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            problems.append("code is not an integer")
        for key in ("message", "message_kh"):
            if not isinstance(body.get(key), str):
                problems.append(f"{key} is not a string")
    if problems:
        out.append(Result("JSON envelope (code, message, message_kh)", False, "; ".join(problems)))
        return out, None
    out.append(Result("JSON envelope (code, message, message_kh)", True))
    ok = body["code"] in answer.OUTCOMES
    out.append(Result("code is one of 0-4", ok, f"code {body['code']}"))
    return out, body if ok else None


def _bill(data: Any) -> list[Result]:
    out: list[Result] = []
    if not isinstance(data, dict):
        return [Result("required fields", False, "code 0 without a data object")]
    missing = [k for k in answer.REQUIRED if data.get(k) is None or data.get(k) == ""]
    wrong = [
        k
        for k in ("consumer_code", "consumer_name", "currency", "last_due_date", *answer.TEXTS)
        if data.get(k) is not None and not isinstance(data[k], str)
    ]
    detail = "; ".join(
        [f"missing {', '.join(missing)}"] * bool(missing) + [f"not strings: {', '.join(wrong)}"] * bool(wrong)
    )
    out.append(Result("required fields", not (missing or wrong), detail or ", ".join(answer.REQUIRED)))
    currency = str(data.get("currency") or "").strip().upper()
    out.append(Result("currency is KHR or USD", currency in CURRENCIES, repr(data.get("currency"))))
    if currency in CURRENCIES:
        out.append(_amounts(data, currency))
    else:
        out.append(Result("amounts", None, "no currency to read them in"))
    bad = [f"{k}={data[k]!r}" for k in answer.DATES if data.get(k) and answer.parse_date(data[k]) is None]
    shown = ", ".join(f"{k}={data[k]!r}" for k in answer.DATES if data.get(k))
    out.append(Result("dates (yyyy-M-d HH:mm:ss, padded or not)", not bad, "; ".join(bad) or shown))
    return out


def _amounts(data: dict[str, Any], currency: str) -> Result:
    problems = []
    values: dict[str, int | None] = {}
    for key in ("due_amount", "min_amount", "max_amount", "balance"):
        if key not in data or data[key] is None:
            continue
        if key in ("min_amount", "max_amount") and data[key] == -1:
            values[key] = None
            continue
        try:
            values[key] = to_minor(data[key], currency)
        except AmountError as exc:
            problems.append(f"{key} {data[key]!r}: {exc}")
    lo, hi = values.get("min_amount"), values.get("max_amount")
    if lo is not None and hi is not None and lo > hi:
        problems.append("min_amount is above max_amount")
    shown = ", ".join(f"{k}={data[k]}" for k in ("due_amount", "min_amount", "max_amount") if k in data)
    return Result(f"amounts (exact in {currency}; -1 = unlimited)", not problems, "; ".join(problems) or shown)


def _khmer(body: dict[str, Any]) -> Result:
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    texts = {k: v for k, v in (("consumer_name", data.get("consumer_name")), ("message_kh", body.get("message_kh")))}
    damaged = [k for k, v in texts.items() if isinstance(v, str) and answer.damaged_text(v)]
    khmer = any(isinstance(v, str) and any("\u1780" <= ch <= "\u17ff" for ch in v) for v in texts.values())
    if damaged:
        return Result("Khmer text intact (UTF-8)", False, f"damaged: {', '.join(damaged)}")
    return Result("Khmer text intact (UTF-8)", True, "" if khmer else "no Khmer text in the answer to check")


async def run(
    url: str,
    *,
    consumer: str | None,
    token: str = "",
    secret: str = "",
    limit_seconds: float = 5.0,
    allow_private: bool = True,
) -> list[Result]:
    async def call(code: str) -> client.Reply:
        return await client.post(
            url,
            {"consumer_code": code},
            token=token,
            secret=secret,
            limit_seconds=limit_seconds,
            allow_private=allow_private,
        )

    results: list[Result] = []
    if consumer:
        steps, body = _envelope(await call(consumer))
        results += [Result(f"[{consumer}] {r.name}", r.ok, r.detail) for r in steps]
        if body is not None:
            found = body["code"] == 0
            results.append(Result(f"[{consumer}] a known consumer answers code 0", found, f"code {body['code']}"))
            if found:
                results += [Result(f"[{consumer}] {r.name}", r.ok, r.detail) for r in _bill(body.get("data"))]
            khmer = _khmer(body)
            results.append(Result(f"[{consumer}] {khmer.name}", khmer.ok, khmer.detail))
    else:
        results.append(Result("a known consumer's bill", None, "give --consumer CODE to check a bill"))
    unknown = f"TONLE-CHECK-{secrets.token_hex(4).upper()}"
    steps, body = _envelope(await call(unknown))
    results += [Result(f"[unknown] {r.name}", r.ok, r.detail) for r in steps]
    if body is not None:
        results.append(
            Result("[unknown] an unknown consumer answers code 1", body["code"] == 1, f"{unknown}: code {body['code']}")
        )
    return results
