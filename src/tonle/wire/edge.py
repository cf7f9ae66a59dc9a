"""The outermost layer: path tolerance, body-size limit, request ids and the access log (pure ASGI, no copies)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tonle.config import Compat
from tonle.wire import codes
from tonle.wire.envelope import product

access_log = logging.getLogger("tonle.access")
log = logging.getLogger("tonle")
_SLASHES = re.compile(r"/{2,}")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Paths that carry a credential (the portal's signed token, a linking page's one-time token): never logged whole.
_SECRET_PATH = re.compile(r"^(/portal/|/sandbox/bank/link/)[^/]+")
# A run of 13-19 digits could be a card number (PAN): logged with all but its last four digits masked.
_PAN = re.compile(r"\d{13,19}")
REQUEST_ID = "x-request-id"


def mask_pan(text: str) -> str:
    return _PAN.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


def loggable_path(path: str) -> str:
    return mask_pan(_SECRET_PATH.sub(r"\1<redacted>", path))


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class NulInUrl(Exception):
    pass


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        compat: Compat,
        log: bool = True,
        body_timeout: float = 30,
        bulk: tuple[tuple[str, int], ...] = (),
        unavailable: Callable[[BaseException], bool] | None = None,
    ) -> None:
        self.app = app
        # Tells a database outage from a bug: such a request is answered 503 here, not re-raised to the server,
        # which would close the keep-alive connection under a client about to send its next request on it.
        self.unavailable = unavailable
        self.max_body = max_body
        self.bulk = bulk  # (path prefix, limit): the bulk endpoints' larger bodies (an invoice import)
        self.body_timeout = body_timeout
        self.compat = compat
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The live server routes //customer/create like /customer/create; so do we.
        path: str = scope["path"]
        if "//" in path:
            path = _SLASHES.sub("/", path)
            scope = dict(scope, path=path, raw_path=path.encode())
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = given if _GOOD_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        try:
            # No database stores a NUL and no id or filter holds one: refused here, for every route at once.
            if "\x00" in path or b"%00" in scope.get("query_string", b""):
                raise NulInUrl
            limit = next((n for prefix, n in self.bulk if path.startswith(prefix)), self.max_body)
            if length > limit:
                raise BodyTooLarge
            await self.app(scope, self._limited(receive, started, limit), send_with_id)
        except NulInUrl:
            await product(codes.NUL_IN_URL, None, self.compat, status=400)(scope, receive, send_with_id)
        except (BodyTooLarge, BodyTimeout) as exc:
            if started_response:
                raise
            code, status = (codes.BODY_TOO_LARGE, 413) if isinstance(exc, BodyTooLarge) else (codes.BODY_TIMEOUT, 408)
            response = product(code, None, self.compat, status=status, headers={"Connection": "close"})
            await response(scope, receive, send_with_id)
        except Exception as exc:
            if started_response or self.unavailable is None or not self.unavailable(exc):
                raise
            log.error("database unavailable rid=%s: %s: %s", rid, type(exc).__name__, exc)
            response = product(codes.UNAVAILABLE, None, self.compat, status=503, headers={"Retry-After": "5"})
            await response(scope, receive, send_with_id)
        finally:
            if self.log:
                client = scope.get("client") or ("-", 0)
                access_log.info(
                    '%s "%s %s" %d %.1fms rid=%s',
                    client[0],
                    scope["method"],
                    loggable_path(path),
                    status,
                    (time.perf_counter() - started) * 1000,
                    rid,
                )

    def _limited(self, receive: Receive, started: float, limit: int) -> Receive:
        seen = 0
        deadline = started + self.body_timeout
        complete = False

        async def wrapped() -> Message:
            nonlocal seen, complete
            if complete:
                # The body is in: what follows is the wait for a disconnect (a streamed answer), which may last.
                return await receive()
            try:
                # asyncio.timeout, not wait_for: no task per message (a task costs a trip round the event loop)
                async with asyncio.timeout(max(0.0, deadline - time.perf_counter())):
                    message: dict[str, Any] = await receive()  # type: ignore[assignment]
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
                complete = not message.get("more_body", False)
            return message  # type: ignore[return-value]

        return wrapped
