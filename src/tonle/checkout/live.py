"""Live payment status for Bill24's native SDKs: a socket.io server whose clients join the room ``KHQR-<tran_no>``
(or ``KHQR-<tran_id>``) with a ``joinRoom`` event and get a ``broadcast`` event ``{"transactionId": ...}`` when the
transaction is paid (sdk-and-bank-api §1.3). It runs beside the checkout page's server-sent events.

A bank may confirm the payment in any API process, so each process watches the transactions its own clients wait
for: one short read per second for all of its rooms together, and none while no client waits."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import timedelta

import socketio
from sqlalchemy import select

from tonle.db import Database
from tonle.kit.clock import clock
from tonle.transactions.models import Transaction, effective_status
from tonle.webhooks.payloads import tran_no

log = logging.getLogger("tonle.live")
POLL_SECONDS = 1.0
ROOM_PREFIX = "KHQR-"
# A client guessing transaction ids is cut off: each refused join costs a look-up.
MAX_REFUSED_JOINS = 5
MAX_ROOMS_PER_CLIENT = 20
_ROOM = re.compile(r"KHQR-[A-Za-z0-9_-]{1,64}")  # ids and tran_nos; anything else never reaches the database


class Live:
    def __init__(self, db_of: Callable[[], Database]) -> None:
        self._db_of = db_of  # the app's database appears at startup, after this object is made
        # A ping every 5 s bounds how long a long-polling request is held open (25 s by default), so a server that
        # is stopping, or a client that leaves, is never kept waiting long; a payment page can afford the pings.
        self.sio = socketio.AsyncServer(
            async_mode="asgi", cors_allowed_origins="*", logger=False, ping_interval=5, ping_timeout=10
        )
        self.asgi = socketio.ASGIApp(self.sio, socketio_path="socket.io")
        self.watching: dict[str, str] = {}  # room -> tran_id
        self.refused: dict[str, int] = {}  # sid -> joins refused
        self._task: asyncio.Task[None] | None = None
        self.sio.on("joinRoom", self._join)
        self.sio.on("leaveRoom", self._leave)
        self.sio.on("disconnect", self._gone)

    async def _refuse(self, sid: str, error: str) -> dict[str, object]:
        self.refused[sid] = self.refused.get(sid, 0) + 1
        if self.refused[sid] >= MAX_REFUSED_JOINS:
            await self.sio.disconnect(sid)
        return {"ok": False, "error": error}

    async def _gone(self, sid: str, *reason: object) -> None:
        self.refused.pop(sid, None)

    async def _join(self, sid: str, data: object) -> dict[str, object]:
        room = data.get("room") if isinstance(data, dict) else data
        if not isinstance(room, str) or not _ROOM.fullmatch(room):
            return await self._refuse(sid, "room must be KHQR-<tran_no> or KHQR-<tran_id>")
        if len(self.sio.rooms(sid)) > MAX_ROOMS_PER_CLIENT:
            return await self._refuse(sid, "too many rooms")
        tran_id = self.watching.get(room) or await self._resolve(room.removeprefix(ROOM_PREFIX))
        if tran_id is None:
            return await self._refuse(sid, "no such transaction")
        await self.sio.enter_room(sid, room)
        self.watching[room] = tran_id
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        return {"ok": True, "room": room}

    async def _leave(self, sid: str, data: object) -> None:
        room = data.get("room") if isinstance(data, dict) else data
        if isinstance(room, str):
            await self.sio.leave_room(sid, room)

    async def _resolve(self, key: str) -> str | None:
        """A transaction id as given, or the pending checkout whose Bill24 tran_no it is (tran_no is derived from the
        id, not stored: the unexpired pending checkouts are few and are looked through)."""
        async with self._db_of().sessions() as session:
            if await session.get(Transaction, key) is not None:
                return key
            q = select(Transaction.id).where(
                Transaction.type == "checkout",
                Transaction.status == "pending",
                Transaction.expire_date > clock.now() - timedelta(minutes=1),
            )
            for (tran_id,) in (await session.execute(q)).all():
                if tran_no(tran_id) == key:
                    return tran_id
        return None

    def _occupied(self, room: str) -> bool:
        return any(True for _ in self.sio.manager.get_participants("/", room))

    async def _watch(self) -> None:
        while self.watching:
            await asyncio.sleep(POLL_SECONDS)
            for room in [r for r in self.watching if not self._occupied(r)]:
                self.watching.pop(room, None)
            if not self.watching:
                break
            try:
                ids = sorted(set(self.watching.values()))
                async with self._db_of().sessions() as session:
                    rows = (await session.execute(select(Transaction).where(Transaction.id.in_(ids)))).scalars().all()
                    states = {t.id: effective_status(t) for t in rows}
            except Exception:  # a database hiccup: try again next round
                log.exception("live status round failed")
                continue
            for room, tran_id in list(self.watching.items()):
                state = states.get(tran_id)
                if state == "success":
                    await self.sio.emit("broadcast", {"transactionId": tran_id, "status": "success"}, room=room)
                    self.watching.pop(room, None)
                elif state in ("expired", "failed", None):
                    self.watching.pop(room, None)

    async def close(self) -> None:
        self.watching.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
