"""Invoice import batches: every row kept as sent, each given its outcome in the transaction that applied it.

A small batch is applied in the request that brought it. A large one is answered at once and applied by the worker
in chunks: each chunk's rows, their outcomes and the batch's counts commit together, under the batch's lease (a
guarded update), so a worker killed mid-batch loses only its open chunk, and the worker that takes the lease over
after it runs out applies exactly the rows that have no outcome yet. Every row is applied once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import Database
from tonle.hosted import service
from tonle.hosted.models import InvoiceImport, InvoiceImportRow
from tonle.jobs.claims import lease_claim
from tonle.kit.clock import clock
from tonle.kit.sql import insert_rows
from tonle.wire import wirejson

log = logging.getLogger("tonle.hosted")
OUTCOMES = ("created", "updated", "unchanged", "rejected")


class LeaseLost(Exception):
    """Another worker holds the batch now (this one's lease ran out): this chunk is rolled back, not applied."""


def check_body(body: Any) -> list[Any]:
    """The batch is accepted when it is a JSON array of objects of at most MAX_ROWS rows."""
    if not isinstance(body, list):
        raise service.NotAList(index=None)
    for i, row in enumerate(body):
        if not isinstance(row, dict):
            raise service.NotAList(index=i)
    if len(body) > service.MAX_ROWS:
        raise service.TooManyRows(rows=len(body), limit=service.MAX_ROWS)
    return body


def _counts(outcomes: list[service.RowOutcome]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for o in outcomes:
        counts[o.outcome] += 1
    return counts


def _row_values(o: service.RowOutcome) -> dict[str, Any]:
    return {"outcome": o.outcome, "reason": o.reason, "reason_kh": o.reason_kh, "invoice_id": o.invoice_id}


async def create(session: AsyncSession, settings: Settings, merchant_id: str, body: Any) -> InvoiceImport:
    """Keep the batch; apply it here when it is small (``TONLE_HOSTED_INLINE_ROWS``), else queue it."""
    rows = check_body(body)
    now = clock.now()
    batch = InvoiceImport(merchant_id=merchant_id, status="queued", total_record=len(rows), created_at=now)
    session.add(batch)
    await session.flush()
    sent = [wirejson.dumps(raw) for raw in rows]  # kept as sent, exact
    if len(rows) <= settings.hosted_inline_rows:
        outcomes = await service.apply_rows(session, merchant_id, list(enumerate(rows)))
        values = [
            {"import_id": batch.id, "position": o.position, "payload": sent[o.position], **_row_values(o)}
            for o in outcomes
        ]
        if values:
            await insert_rows(session, InvoiceImportRow.__table__, values)
        counts = _counts(outcomes)
        batch.status, batch.rows_done, batch.finished_at = "done", len(rows), now
        batch.created, batch.updated = counts["created"], counts["updated"]
        batch.unchanged, batch.rejected = counts["unchanged"], counts["rejected"]
    else:
        await insert_rows(
            session,
            InvoiceImportRow.__table__,
            [
                {"import_id": batch.id, "position": i, "payload": payload, "reason": "", "reason_kh": ""}
                for i, payload in enumerate(sent)
            ],
        )
    await session.flush()
    return batch


async def get(session: AsyncSession, merchant_id: str, import_id: int) -> InvoiceImport:
    batch = await session.get(InvoiceImport, import_id, populate_existing=True)
    if batch is None or batch.merchant_id != merchant_id:
        raise service.ImportNotFound()
    return batch


async def rows_of(
    session: AsyncSession, batch: InvoiceImport, *, outcome: str | None = None, offset: int = 0, limit: int = 10_000
) -> list[InvoiceImportRow]:
    q = select(InvoiceImportRow).where(InvoiceImportRow.import_id == batch.id)
    if outcome:
        q = q.where(InvoiceImportRow.outcome == outcome)
    q = q.order_by(InvoiceImportRow.position).offset(offset).limit(limit)
    return list((await session.execute(q)).scalars())


# ------------------------------------------------------------------------------------------------ the worker side

_PICK = (
    "SELECT id FROM invoice_imports WHERE status <> 'done' AND (lease_until IS NULL OR lease_until < :now) "
    "ORDER BY id LIMIT 1"
)


@dataclass
class Claimed:
    id: int
    merchant_id: str
    token: str


_PICK_ONE = (
    "SELECT id FROM invoice_imports WHERE id = :only AND status <> 'done' "
    "AND (lease_until IS NULL OR lease_until < :now)"
)


async def claim(db: Database, lease: timedelta, only: int | None = None) -> Claimed | None:
    """The lease of the oldest batch left to apply (or of batch ``only``), or None."""
    now = clock.now()
    token = str(uuid.uuid4())
    pick, params = (_PICK, {}) if only is None else (_PICK_ONE, {"only": only})
    stmt = lease_claim("invoice_imports", pick, "id, merchant_id", postgres=db.engine.dialect.name == "postgresql")
    async with db.sessions() as session, session.begin():
        row = (await session.execute(stmt, {"now": now, "until": now + lease, "token": token, **params})).first()
    return Claimed(row.id, row.merchant_id, token) if row else None


@dataclass
class Chunk:
    ids: dict[int, int]  # position -> row id
    read: service.Read
    last: int  # the last position in it


async def fetch(db: Database, batch: Claimed, after: int, size: int) -> list[Any]:
    """The next ``size`` rows without an outcome after position ``after``, as stored."""
    async with db.sessions() as session, session.begin():
        return list(
            (
                await session.execute(
                    select(InvoiceImportRow.id, InvoiceImportRow.position, InvoiceImportRow.payload)
                    .where(
                        InvoiceImportRow.import_id == batch.id,
                        InvoiceImportRow.outcome.is_(None),
                        InvoiceImportRow.position > after,
                    )
                    .order_by(InvoiceImportRow.position)
                    .limit(size)
                )
            ).all()
        )


def read_chunk(rows: list[Any]) -> Chunk:
    """Decode and read a chunk (pure Python: no database)."""
    read = service.read_rows([(r.position, wirejson.loads(r.payload)) for r in rows])
    return Chunk({r.position: r.id for r in rows}, read, rows[-1].position)


async def apply_chunk(db: Database, batch: Claimed, chunk: Chunk, lease: timedelta) -> None:
    """Apply a chunk, its rows' outcomes and the batch's counts in one transaction, if this worker still holds the
    batch's lease and the rows still have no outcome; else nothing (LeaseLost)."""
    async with db.sessions() as session, session.begin():
        # The lease first: a worker that lost it applies nothing (and waits for no lock it would then release).
        won = await session.execute(
            update(InvoiceImport)
            .where(InvoiceImport.id == batch.id, InvoiceImport.lease_token == batch.token)
            .values(lease_until=clock.now() + lease, status="running")
        )
        if won.rowcount != 1:
            raise LeaseLost()
        outcomes = await service.apply_rows(session, batch.merchant_id, chunk.read)
        recorded = await _record(session, [{"id": chunk.ids[o.position], **_row_values(o)} for o in outcomes])
        if recorded != len(outcomes):
            raise LeaseLost()  # some of these rows were applied already: roll this chunk back
        counts = _counts(outcomes)
        await session.execute(
            update(InvoiceImport)
            .where(InvoiceImport.id == batch.id)
            .values(
                rows_done=InvoiceImport.rows_done + len(outcomes),
                created=InvoiceImport.created + counts["created"],
                updated=InvoiceImport.updated + counts["updated"],
                unchanged=InvoiceImport.unchanged + counts["unchanged"],
                rejected=InvoiceImport.rejected + counts["rejected"],
            )
        )


async def finish(db: Database, batch: Claimed) -> None:
    async with db.sessions() as session, session.begin():
        won = await session.execute(
            update(InvoiceImport)
            .where(InvoiceImport.id == batch.id, InvoiceImport.lease_token == batch.token)
            .values(status="done", finished_at=clock.now(), lease_until=None, lease_token=None)
        )
        if won.rowcount != 1:
            raise LeaseLost()


_RECORD_PG = text(
    "UPDATE invoice_import_rows r SET outcome = v.outcome, reason = v.reason, reason_kh = v.reason_kh, "
    "invoice_id = v.invoice_id FROM unnest(CAST(:ids AS BIGINT[]), CAST(:outcomes AS VARCHAR[]), "
    "CAST(:reasons AS TEXT[]), CAST(:reasons_kh AS TEXT[]), CAST(:invoices AS VARCHAR[])) "
    "AS v(id, outcome, reason, reason_kh, invoice_id) WHERE r.id = v.id AND r.outcome IS NULL"
)
_RECORD = text(
    "UPDATE invoice_import_rows SET outcome = :outcome, reason = :reason, reason_kh = :reason_kh, "
    "invoice_id = :invoice_id WHERE id = :id AND outcome IS NULL"
)


async def _record(session: AsyncSession, values: list[dict[str, Any]]) -> int:
    """Each row's outcome, only where it has none yet; how many rows took one. PostgreSQL: one statement over
    arrays (an executemany of a chunk's thousand updates was a fifth of the import's time)."""
    if session.get_bind().dialect.name != "postgresql":
        return int((await session.execute(_RECORD, values)).rowcount)  # sqlite3 sums an executemany's counts
    result = await session.execute(
        _RECORD_PG,
        {
            "ids": [v["id"] for v in values],
            "outcomes": [v["outcome"] for v in values],
            "reasons": [v["reason"] for v in values],
            "reasons_kh": [v["reason_kh"] for v in values],
            "invoices": [v["invoice_id"] for v in values],
        },
    )
    return int(result.rowcount)


async def run_once(db: Database, settings: Settings) -> int:
    """Take one queued batch (or one whose worker's lease ran out) and apply it to the end; rows applied."""
    batch = await claim(db, timedelta(seconds=settings.hosted_import_lease_seconds))
    if batch is None:
        return 0
    return max(await _apply(db, settings, batch), 1)


async def _apply(db: Database, settings: Settings, batch: Claimed, progress: Progress | None = None) -> int:
    lease = timedelta(seconds=settings.hosted_import_lease_seconds)
    size = settings.hosted_import_chunk_rows
    done, last = 0, -1
    try:
        # Reading a chunk on a thread while the database applied the one before made it slower, not faster: the
        # thread took the GIL from the event loop at every hand-over of the database driver.
        while rows := await fetch(db, batch, last, size):
            chunk = read_chunk(rows)
            await apply_chunk(db, batch, chunk, lease)
            done, last = done + len(chunk.ids), chunk.last
            if progress is not None:
                progress(done, 0)
        await finish(db, batch)
    except LeaseLost:
        log.warning("import %s: lease lost after %d rows; its new holder carries on", batch.id, done)
    log.info("import %s: %d rows applied", batch.id, done)
    return done


Progress = Callable[[int, int], None]


async def run_batch(db: Database, settings: Settings, batch_id: int, progress: Progress | None = None) -> None:
    """Apply batch ``batch_id`` here (``progress(done, total)`` after each chunk), or, when a worker holds it
    already, follow it until it is done."""
    batch = await claim(db, timedelta(seconds=settings.hosted_import_lease_seconds), only=batch_id)
    total = 0
    async with db.sessions() as session:
        found = await session.get(InvoiceImport, batch_id)
        total = found.total_record if found else 0
        before = found.rows_done if found else 0
    if batch is not None:
        await _apply(db, settings, batch, (lambda done, _: progress(before + done, total)) if progress else None)
    while True:
        async with db.sessions() as session:
            found = await session.get(InvoiceImport, batch_id)
        if found is None or found.status == "done":
            break
        if progress is not None:
            progress(found.rows_done, total)
        await asyncio.sleep(0.2)
    if progress is not None and found is not None:
        progress(found.rows_done, total)
