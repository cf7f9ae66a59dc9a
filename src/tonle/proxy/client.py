"""Tonle's calls to a biller's own system (the proxy look-up, pending bills), made while a bank waits.

Each call: the webhooks' target rules checked at call time (loopback and private addresses refused unless the
sandbox allows them), ``token: <biller token>`` as Bill24 sends it, Standard Webhooks signature headers as well
(so the biller can prove the call came from its gateway; extra headers break no one), one hard time limit over
the whole call, and one retry when the connection is refused (nothing reached the biller, so nothing is sent
twice). No database transaction is open while it runs."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from tonle.kit import signing
from tonle.kit.clock import clock, epoch
from tonle.webhooks import targets
from tonle.wire import wirejson


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer (refused, timed out, unreachable)
    content: bytes
    latency_ms: int
    error: str  # why there was no answer


async def post(
    url: str,
    body: dict[str, object],
    *,
    token: str,
    secret: str,
    limit_seconds: float,
    allow_private: bool,
    request_id: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
    http: httpx.AsyncClient | None = None,
) -> Reply:
    """``http``: a client to reuse (a worker's; building one costs an SSL context, tens of milliseconds), else a
    client for this call only."""
    raw = wirejson.dumps(body).encode()
    msg_id = f"msg_{secrets.token_hex(12)}"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "Tonle-Proxy",
        "token": token,
    }
    if request_id:
        headers["X-Request-Id"] = request_id
    if secret:
        headers.update(signing.headers([secret], msg_id, epoch(clock.now()), raw))
    t0 = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - t0) * 1000)

    try:
        async with asyncio.timeout(limit_seconds):
            await targets.check(url, allow_private=allow_private)
            if http is not None:
                return await _send(http, url, raw, headers, limit_seconds, elapsed)
            async with httpx.AsyncClient(timeout=limit_seconds, follow_redirects=False, transport=transport) as client:
                return await _send(client, url, raw, headers, limit_seconds, elapsed)
    except TimeoutError:
        return Reply(None, b"", elapsed(), f"no answer within {limit_seconds:g} s")
    except targets.TargetRefused as exc:
        return Reply(None, b"", elapsed(), f"target refused: {exc}")
    except (httpx.HTTPError, OSError) as exc:
        return Reply(None, b"", elapsed(), f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__)


async def _send(
    client: httpx.AsyncClient, url: str, raw: bytes, headers: dict[str, str], limit: float, elapsed: Callable[[], int]
) -> Reply:
    try:
        r = await client.post(url, content=raw, headers=headers, timeout=limit, follow_redirects=False)
    except httpx.ConnectError:
        r = await client.post(url, content=raw, headers=headers, timeout=limit, follow_redirects=False)
    return Reply(r.status_code, r.content, elapsed(), "")
