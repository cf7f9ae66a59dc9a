"""The outermost layer: path tolerance, body-size limit, request ids and the access log (pure ASGI, no copies)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tonle.config import Compat
from tonle.kit import codes
from tonle.kit.envelope import product

access_log = logging.getLogger("tonle.access")
_SLASHES = re.compile(r"/{2,}")
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# Paths that carry a credential (the portal's signed token, a linking page's one-time token): never logged whole.
_SECRET_PATH = re.compile(r"^(/portal/|/sandbox/bank/link/)[^/]+")
REQUEST_ID = "x-request-id"


class BodyTooLarge(Exception):
    pass


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, compat: Compat, log: bool = True) -> None:
        self.app = app
        self.max_body = max_body
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
            if length > self.max_body:
                raise BodyTooLarge
            await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if started_response:
                raise
            response = product(codes.BODY_TOO_LARGE, None, self.compat, status=413, headers={"Connection": "close"})
            await response(scope, receive, send_with_id)
        finally:
            if self.log:
                client = scope.get("client") or ("-", 0)
                access_log.info(
                    '%s "%s %s" %d %.1fms rid=%s',
                    client[0],
                    scope["method"],
                    _SECRET_PATH.sub(r"\1<redacted>", path),
                    status,
                    (time.perf_counter() - started) * 1000,
                    rid,
                )

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body

        async def wrapped() -> Message:
            nonlocal seen
            message: dict[str, Any] = await receive()  # type: ignore[assignment]
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message  # type: ignore[return-value]

        return wrapped
