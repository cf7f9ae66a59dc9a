"""``Idempotency-Key``: the same key with the same request gets the first answer again, with one effect.

A key is claimed in a short transaction of its own (so a concurrent twin sees it and answers "in progress"), the
request runs, and its answer is stored in the request's own transaction: the effect and the stored answer commit
together or not at all. A claim whose request died is taken over after a short lease; keys live
``TONLE_IDEMPOTENCY_TTL_SECONDS`` (7 days by default).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from tonle.db import Database
from tonle.idempotency.models import IdempotencyKey
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.sql import insert_for
from tonle.wire import codes, envelope
from tonle.wire.errors import TonleError, table_of, translate

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
LEASE = timedelta(seconds=30)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def fingerprint(method: str, path: str, body: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{method} {path}\n".encode())
    h.update(body)
    return h.hexdigest()


async def claim(db: Database, scope: str, key: str, fp: str, ttl_seconds: int) -> IdempotencyKey | None:
    """None: the caller owns the key and must run the request. A row: its stored answer, to be replayed."""
    now = clock.now()
    table = IdempotencyKey.__table__
    async with db.sessions() as session, session.begin():
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
        inserted = await session.execute(
            insert_for(session, table)
            .values(
                scope=scope,
                key=key,
                fingerprint=fp,
                state="running",
                locked_until=now + LEASE,
                expires_at=now + timedelta(seconds=ttl_seconds),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(table.c.id)
        )
        if inserted.scalar_one_or_none() is not None:
            return None
        row = (
            await session.execute(
                select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
            )
        ).scalar_one()
        if row.fingerprint != fp:
            raise TonleError(codes.IDEMPOTENCY_KEY_REUSED, status=422)
        if row.state == "done":
            return row
        # Still running: busy, unless its lease ran out (the process died mid-request; nothing of it committed).
        taken = await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == row.id, IdempotencyKey.state == "running", IdempotencyKey.locked_until <= now)
            .values(locked_until=now + LEASE)
        )
        if taken.rowcount == 1:
            return None
        raise TonleError(codes.IDEMPOTENCY_IN_PROGRESS, status=409, headers={"Retry-After": "1"})


async def release(db: Database, scope: str, key: str) -> None:
    async with db.sessions() as session, session.begin():
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.scope == scope, IdempotencyKey.key == key, IdempotencyKey.state == "running"
            )
        )


async def record(session: AsyncSession, scope: str, key: str, response: Response) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(state="done", status_code=response.status_code, body=bytes(response.body).decode("utf-8"))
    )


def idempotent(scope_of: Callable[[dict[str, Any]], str]) -> Callable[[Callable[..., Awaitable[Response]]], Any]:
    """Make a POST endpoint honour ``Idempotency-Key``. The endpoint must take ``request`` and ``session``
    parameters; ``scope_of(kwargs)`` names whose keys these are (e.g. the calling merchant)."""

    def wrap(handler: Callable[..., Awaitable[Response]]) -> Any:
        @functools.wraps(handler)
        async def endpoint(**kwargs: Any) -> Response:
            request: Request = kwargs["request"]
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(**kwargs)
            compat = request.app.state.settings.compat
            if not _KEY.match(key):
                return envelope.error(TonleError(codes.IDEMPOTENCY_KEY_INVALID, status=400), compat)
            session: AsyncSession = kwargs["session"]
            db: Database = request.app.state.db
            scope = scope_of(kwargs)
            fp = fingerprint(request.method, request.url.path, await request.body())
            # The claim uses its own session: end whatever the request's session has open (on SQLite it would hold
            # the write lock the claim needs).
            await session.commit()
            try:
                stored = await claim(db, scope, key, fp, request.app.state.settings.idempotency_ttl_seconds)
            except TonleError as exc:
                return envelope.error(exc, compat)
            if stored is not None:
                return Response(
                    content=stored.body,
                    status_code=stored.status_code or 200,
                    media_type="application/json",
                    headers={REPLAYED: "true"},
                )
            try:
                # No savepoint around the handler: a handler may end its transaction itself (it does before
                # asking a card vault or a bank, which commit on their own); a refusal rolls back what it wrote.
                try:
                    response = await handler(**kwargs)
                except TonleError as exc:  # business errors are answers too, and are replayed as such
                    await session.rollback()
                    response = envelope.error(exc, compat)
                except DomainError as exc:  # said in the words of the endpoint's product, then replayed
                    await session.rollback()
                    said = translate(exc, table_of(request.scope.get("route")), compat)
                    response = envelope.error(said, compat)
                await record(session, scope, key, response)
            except BaseException:
                await session.rollback()
                await release(db, scope, key)
                raise
            return response

        return endpoint

    return wrap
