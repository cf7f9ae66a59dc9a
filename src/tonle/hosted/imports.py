"""Invoice import batches: every row kept as sent, each given its outcome in the transaction that applied it.

A small batch is applied in the request that brought it. A large one is answered at once and applied by the worker
in chunks: each chunk's rows, their outcomes and the batch's counts commit together, under the batch's lease (a
guarded update), so a worker killed mid-batch loses only its open chunk, and the worker that takes the lease over
after it runs out applies exactly the rows that have no outcome yet. Every row is applied once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import Database
from tonle.hosted import service
from tonle.hosted.models import InvoiceImport, InvoiceImportRow
from tonle.jobs.claims import lease_claim
from tonle.kit.clock import clock
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
    if len(rows) <= settings.hosted_inline_rows:
        outcomes = await service.apply_rows(session, merchant_id, list(enumerate(rows)))
        values = [
            {"import_id": batch.id, "position": i, "payload": wirejson.dumps(raw), **_row_values(o)}
            for (i, raw), o in zip(enumerate(rows), outcomes, strict=True)
        ]
        if values:
            await session.execute(insert(InvoiceImportRow), values)
        counts = _counts(outcomes)
        batch.status, batch.rows_done, batch.finished_at = "done", len(rows), now
        batch.created, batch.updated = counts["created"], counts["updated"]
        batch.unchanged, batch.rejected = counts["unchanged"], counts["rejected"]
    else:
        await session.execute(
            insert(InvoiceImportRow),
            [{"import_id": batch.id, "position": i, "payload": wirejson.dumps(raw)} for i, raw in enumerate(rows)],
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


async def claim(db: Database, lease: timedelta) -> Claimed | None:
    now = clock.now()
    token = str(uuid.uuid4())
    stmt = lease_claim("invoice_imports", _PICK, "id, merchant_id", postgres=db.engine.dialect.name == "postgresql")
    async with db.sessions() as session, session.begin():
        row = (await session.execute(stmt, {"now": now, "until": now + lease, "token": token})).first()
    return Claimed(row.id, row.merchant_id, token) if row else None


async def apply_chunk(db: Database, batch: Claimed, size: int, lease: timedelta) -> int:
    """Apply the next ``size`` rows that have no outcome, in one transaction; how many (0: the batch is done)."""
    async with db.sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(InvoiceImportRow.id, InvoiceImportRow.position, InvoiceImportRow.payload)
                .where(InvoiceImportRow.import_id == batch.id, InvoiceImportRow.outcome.is_(None))
                .order_by(InvoiceImportRow.position)
                .limit(size)
            )
        ).all()
        now = clock.now()
        if not rows:
            won = await session.execute(
                update(InvoiceImport)
                .where(InvoiceImport.id == batch.id, InvoiceImport.lease_token == batch.token)
                .values(status="done", finished_at=now, lease_until=None, lease_token=None)
            )
            if won.rowcount != 1:
                raise LeaseLost()
            return 0
        # The lease first: a worker that lost it applies nothing (and waits for no lock it would then release).
        won = await session.execute(
            update(InvoiceImport)
            .where(InvoiceImport.id == batch.id, InvoiceImport.lease_token == batch.token)
            .values(lease_until=now + lease, status="running")
        )
        if won.rowcount != 1:
            raise LeaseLost()
        outcomes = await service.apply_rows(
            session, batch.merchant_id, [(r.position, wirejson.loads(r.payload)) for r in rows]
        )
        by_position = {r.position: r.id for r in rows}
        await session.execute(
            update(InvoiceImportRow),
            [{"id": by_position[o.position], **_row_values(o)} for o in outcomes],
        )
        counts = _counts(outcomes)
        await session.execute(
            update(InvoiceImport)
            .where(InvoiceImport.id == batch.id)
            .values(
                rows_done=InvoiceImport.rows_done + len(rows),
                created=InvoiceImport.created + counts["created"],
                updated=InvoiceImport.updated + counts["updated"],
                unchanged=InvoiceImport.unchanged + counts["unchanged"],
                rejected=InvoiceImport.rejected + counts["rejected"],
            )
        )
        return len(rows)


async def run_once(db: Database, settings: Settings) -> int:
    """Take one queued batch (or one whose worker's lease ran out) and apply it to the end; rows applied."""
    lease = timedelta(seconds=settings.hosted_import_lease_seconds)
    batch = await claim(db, lease)
    if batch is None:
        return 0
    done = 0
    try:
        while True:
            n = await apply_chunk(db, batch, settings.hosted_import_chunk_rows, lease)
            if n == 0:
                break
            done += n
    except LeaseLost:
        log.warning("import %s: lease lost after %d rows; its new holder carries on", batch.id, done)
    log.info("import %s: %d rows applied", batch.id, done)
    return max(done, 1)
