"""Supplier API queues: a push is kept record by record and answered at once; the worker applies it in chunks.

Each chunk's effects, its records' results and the queue's counts commit together, under the queue's lease (a
guarded update), and a result is only written where a record has none yet: a worker killed mid-queue loses its
open chunk only, and the worker that takes the lease over applies exactly the records left. When the last record
has its result the queue is ``ready`` and a signed ``queue.completed`` event is queued in the same transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import Database
from tonle.jobs.claims import lease_claim
from tonle.kit.clock import clock
from tonle.kit.crypto import short_code
from tonle.kit.sql import insert_rows
from tonle.merchants.models import Merchant
from tonle.supplier import payments, service
from tonle.supplier.models import SupplierQueue, SupplierRecord
from tonle.webhooks import outbox
from tonle.wire import wirejson

log = logging.getLogger("tonle.supplier")
MAX_ATTEMPTS = 10  # takings of one queue (each after a lease ran out) before it ends in error
COUNTED = {"added": "total_added", "updated": "total_updated", "unchanged": "total_unchanged"}
COUNTED |= {"deleted": "total_deleted", "error": "total_canceled"}


class LeaseLost(Exception):
    """Another worker holds the queue now: this chunk is rolled back, not applied."""


def check_body(body: Any) -> tuple[list[Any], str]:
    """The push is taken when it is an object whose ``data`` is a list of at most MAX_RECORDS records (each
    record is then checked on its own). Answers the records and the push's ``note``."""
    if not isinstance(body, dict):
        raise service.NoData(why="the body must be a JSON object with a [data] list")
    data = body.get("data")
    if data is None:
        raise service.NoData(why="please provide [data]")
    if not isinstance(data, list):
        raise service.NoData(why="[data] must be a list")
    if len(data) > service.MAX_RECORDS:
        raise service.TooManyRecords(records=len(data), limit=service.MAX_RECORDS)
    note = body.get("note")
    return data, note[:1000] if isinstance(note, str) else ""


async def _free_id(session: AsyncSession) -> str:
    while True:
        candidate = short_code()
        if await session.get(SupplierQueue, candidate) is None:
            return candidate


async def create(session: AsyncSession, merchant_id: str, operation: str, body: Any, host: str) -> SupplierQueue:
    """Keep the push as a queue of records, each as sent, for the worker."""
    records, note = check_body(body)
    queue = SupplierQueue(
        id=await _free_id(session),
        code=str(uuid.uuid4()),
        merchant_id=merchant_id,
        operation=operation,
        status="processing",
        note=note,
        created_host=host[:100],
        result="",
        total_record=len(records),
        created_at=clock.now(),
    )
    session.add(queue)
    await session.flush()
    await insert_rows(
        session,
        SupplierRecord.__table__,
        [
            {
                "queue_id": queue.id,
                "position": i,
                "sync_code": service.sent_sync(raw),
                "payload": wirejson.dumps(raw),
                "outcome": None,
                "message": "",
                "message_kh": "",
                "warning": "",
            }
            for i, raw in enumerate(records)
        ],
    )
    return queue


async def get(session: AsyncSession, merchant_id: str, queue_id: str) -> SupplierQueue:
    queue = await session.get(SupplierQueue, queue_id, populate_existing=True) if len(queue_id) <= 8 else None
    if queue is None or queue.merchant_id != merchant_id:
        raise service.QueueNotFound()
    return queue


async def records_of(session: AsyncSession, queue: SupplierQueue) -> list[SupplierRecord]:
    q = select(SupplierRecord).where(SupplierRecord.queue_id == queue.id).order_by(SupplierRecord.position)
    return list((await session.execute(q)).scalars())


async def listed(
    session: AsyncSession,
    merchant_id: str,
    *,
    status: str | None = None,
    operation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[SupplierQueue]:
    q = select(SupplierQueue).where(SupplierQueue.merchant_id == merchant_id)
    if status:
        q = q.where(SupplierQueue.status == status)
    if operation:
        q = q.where(SupplierQueue.operation == operation)
    if since is not None:
        q = q.where(SupplierQueue.created_at >= since)
    if until is not None:
        q = q.where(SupplierQueue.created_at < until)
    q = q.order_by(SupplierQueue.created_at.desc(), SupplierQueue.id).offset(offset).limit(limit)
    return list((await session.execute(q)).scalars())


def answer(queue: SupplierQueue) -> dict[str, Any]:
    """The queue object (family F), as every push answers it."""
    return {
        "id": queue.id,
        "code": queue.code,
        "operation": queue.operation,
        "note": queue.note,
        "status": queue.status,
        "completed": queue.status != "processing",
        "created_host": queue.created_host,
        "start_date": service.wire_time(queue.start_date),
        "end_date": service.wire_time(queue.end_date),
        "result": queue.result,
        "total_record": queue.total_record,
        "created_date": service.wire_time(queue.created_at),
    }


def _result(r: SupplierRecord) -> dict[str, Any]:
    return {
        "index": r.position,
        "sync_code": r.sync_code,
        "status": r.outcome,
        "message": r.message,
        "message_kh": r.message_kh,
        "warning": r.warning,
    }


def detail(queue: SupplierQueue, records: list[SupplierRecord]) -> dict[str, Any]:
    done = [_result(r) for r in records if r.outcome is not None]
    return {
        **answer(queue),
        "total_added": queue.total_added,
        "total_updated": queue.total_updated,
        "total_unchanged": queue.total_unchanged,
        "total_canceled": queue.total_canceled,
        "total_deleted": queue.total_deleted,
        "success": [r for r in done if r["status"] != "error"],
        "errors": [r for r in done if r["status"] == "error"],
        "data": done,
    }


# ------------------------------------------------------------------------------------------------ the worker side

# The oldest queue left to apply whose biller has no older one unfinished: a biller's queues are applied in the
# order they were pushed (a payment pushed after its bills finds them), whichever worker takes them.
_PICK = (
    "SELECT q.id FROM supplier_queues q WHERE q.status = 'processing' "
    "AND (q.lease_until IS NULL OR q.lease_until < :now) "
    "AND NOT EXISTS (SELECT 1 FROM supplier_queues o WHERE o.merchant_id = q.merchant_id "
    "AND o.status = 'processing' AND (o.created_at < q.created_at OR (o.created_at = q.created_at AND o.id < q.id))) "
    "ORDER BY q.created_at, q.id LIMIT 1"
)


@dataclass
class Claimed:
    id: str
    merchant_id: str
    operation: str
    token: str
    attempts: int = 1


async def claim(db: Database, lease: timedelta) -> Claimed | None:
    now = clock.now()
    token = str(uuid.uuid4())
    stmt = lease_claim(
        "supplier_queues",
        _PICK,
        "id, merchant_id, operation, attempts",
        postgres=db.engine.dialect.name == "postgresql",
        lock_of="q",
    )
    async with db.sessions() as session, session.begin():
        row = (await session.execute(stmt, {"now": now, "until": now + lease, "token": token})).first()
    return Claimed(row.id, row.merchant_id, row.operation, token, row.attempts) if row else None


async def _hold(session: AsyncSession, queue: Claimed, lease: timedelta, **values: Any) -> None:
    """Renew the lease (and write ``values``) if this worker still holds it; else LeaseLost."""
    won = await session.execute(
        update(SupplierQueue)
        .where(SupplierQueue.id == queue.id, SupplierQueue.lease_token == queue.token)
        .values(lease_until=clock.now() + lease, **values)
    )
    if won.rowcount != 1:
        raise LeaseLost()


async def apply_chunk(db: Database, settings: Settings, queue: Claimed, size: int, lease: timedelta) -> int:
    """Apply the next ``size`` records without a result, with their results and the queue's counts, in one
    transaction; answers how many (0: none left)."""
    async with db.sessions() as session, session.begin():
        await _hold(session, queue, lease)  # first: a worker that lost the lease applies nothing
        rows = (
            await session.execute(
                select(SupplierRecord.id, SupplierRecord.position, SupplierRecord.payload)
                .where(SupplierRecord.queue_id == queue.id, SupplierRecord.outcome.is_(None))
                .order_by(SupplierRecord.position)
                .limit(size)
            )
        ).all()
        if not rows:
            return 0
        await session.execute(
            update(SupplierQueue)
            .where(SupplierQueue.id == queue.id, SupplierQueue.start_date.is_(None))
            .values(start_date=clock.now())
        )
        merchant = await session.get(Merchant, queue.merchant_id)
        assert merchant is not None
        records = [(r.position, wirejson.loads(r.payload)) for r in rows]
        results = await _apply_safely(session, settings, merchant, queue, records)
        ids = {r.position: r.id for r in rows}
        written = await _record(session, [{"id": ids[o.position], **_values(o)} for o in results])
        if written != len(results):
            raise LeaseLost()  # some of these records have a result already: roll this chunk back
        counts: dict[str, int] = {}
        for o in results:
            counts[COUNTED[o.outcome]] = counts.get(COUNTED[o.outcome], 0) + 1
        await session.execute(
            update(SupplierQueue)
            .where(SupplierQueue.id == queue.id)
            .values(
                records_done=SupplierQueue.records_done + len(results),
                **{k: getattr(SupplierQueue, k) + v for k, v in counts.items()},
            )
        )
        return len(results)


async def _apply(
    session: AsyncSession, settings: Settings, merchant: Merchant, queue: Claimed, records: list[tuple[int, Any]]
) -> list[service.Result]:
    if queue.operation == "cus.push":
        return await service.apply_customers(session, merchant.id, records)
    if queue.operation == "bill.push":
        return await service.apply_bills(session, settings, merchant, records)
    return await payments.apply_payments(session, merchant, records, queue_id=queue.id)


async def _apply_safely(
    session: AsyncSession, settings: Settings, merchant: Merchant, queue: Claimed, records: list[tuple[int, Any]]
) -> list[service.Result]:
    """Apply a chunk in bulk; should the database refuse it (records that each pass alone but clash as one bulk
    statement, such as two customers swapping codes), apply it record by record, each in a savepoint, so that a
    record the database refuses is an error of its own and never holds the queue up."""
    try:
        async with session.begin_nested():
            return await _apply(session, settings, merchant, queue, records)
    except (IntegrityError, DataError) as exc:
        log.warning(
            "queue %s: a chunk refused in bulk (%s); applying it record by record", queue.id, type(exc).__name__
        )
    results: list[service.Result] = []
    for position, raw in records:
        try:
            async with session.begin_nested():
                results += await _apply(session, settings, merchant, queue, [(position, raw)])
        except (IntegrityError, DataError) as exc:
            log.warning("queue %s: record %d refused by the database: %s", queue.id, position, exc.orig)
            results.append(
                service.Result(
                    position,
                    service.sent_sync(raw),
                    "error",
                    "the record clashes with what is stored (a code or key another record holds); nothing of it"
                    " was applied.",
                    "កំណត់ត្រានេះប៉ះទង្គិចនឹងទិន្នន័យដែលមានស្រាប់ ហើយមិនត្រូវបានអនុវត្តទេ។",
                )
            )
    return results


def _values(o: service.Result) -> dict[str, Any]:
    return {"outcome": o.outcome, "message": o.message, "message_kh": o.message_kh, "warning": o.warning}


_RECORD_PG = text(
    "UPDATE supplier_records r SET outcome = v.outcome, message = v.message, message_kh = v.message_kh, "
    "warning = v.warning FROM unnest(CAST(:ids AS BIGINT[]), CAST(:outcomes AS VARCHAR[]), "
    "CAST(:messages AS TEXT[]), CAST(:messages_kh AS TEXT[]), CAST(:warnings AS TEXT[])) "
    "AS v(id, outcome, message, message_kh, warning) WHERE r.id = v.id AND r.outcome IS NULL"
)
_RECORD = text(
    "UPDATE supplier_records SET outcome = :outcome, message = :message, message_kh = :message_kh, "
    "warning = :warning WHERE id = :id AND outcome IS NULL"
)


async def _record(session: AsyncSession, values: list[dict[str, Any]]) -> int:
    """Each record's result where it has none yet; how many took one (PostgreSQL: one statement over arrays)."""
    if session.get_bind().dialect.name != "postgresql":
        return int((await session.execute(_RECORD, values)).rowcount)
    result = await session.execute(
        _RECORD_PG,
        {
            "ids": [v["id"] for v in values],
            "outcomes": [v["outcome"] for v in values],
            "messages": [v["message"] for v in values],
            "messages_kh": [v["message_kh"] for v in values],
            "warnings": [v["warning"] for v in values],
        },
    )
    return int(result.rowcount)


async def finish(db: Database, queue: Claimed, *, refused: str = "") -> None:
    """The queue is ``ready`` (or ``error``: refused whole), and its ``queue.completed`` event is queued, once."""
    async with db.sessions() as session, session.begin():
        found = await session.get(SupplierQueue, queue.id, populate_existing=True)
        assert found is not None
        if refused:
            result, status = refused, "error"
        else:
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(SupplierRecord)
                    .where(SupplierRecord.queue_id == queue.id, SupplierRecord.outcome.is_(None))
                )
            ).scalar_one()
            if left:
                return  # another round picks the rest up
            result = (
                f"{found.total_added} added, {found.total_updated} updated, {found.total_unchanged} unchanged,"
                f" {found.total_deleted} deleted, {found.total_canceled} canceled"
            )
            status = "ready"
        now = clock.now()
        won = await session.execute(
            update(SupplierQueue)
            .where(SupplierQueue.id == queue.id, SupplierQueue.lease_token == queue.token)
            .values(
                status=status,
                result=result,
                end_date=now,
                start_date=func.coalesce(SupplierQueue.start_date, now),
                lease_until=None,
                lease_token=None,
            )
        )
        if won.rowcount != 1:
            raise LeaseLost()
        found = await session.get(SupplierQueue, queue.id, populate_existing=True)
        merchant = await session.get(Merchant, queue.merchant_id)
        assert found is not None and merchant is not None
        body = {
            **answer(found),
            "total_added": found.total_added,
            "total_updated": found.total_updated,
            "total_unchanged": found.total_unchanged,
            "total_canceled": found.total_canceled,
            "total_deleted": found.total_deleted,
        }
        await outbox.emit(session, merchant, "queue.completed", {"queue": body})


async def run_once(db: Database, settings: Settings) -> int:
    """Take one queue left to apply (or one whose worker's lease ran out) and apply it to the end; records
    applied (at least 1 when a queue was taken)."""
    lease = timedelta(seconds=settings.supplier_lease_seconds)
    queue = await claim(db, lease)
    if queue is None:
        return 0
    done = 0
    try:
        async with db.sessions() as session:
            merchant = await session.get(Merchant, queue.merchant_id)
        if merchant is None or not merchant.active:
            await finish(db, queue, refused="the biller is not active: nothing was applied")
            return 1
        if queue.attempts > MAX_ATTEMPTS:
            # Taken this often without finishing (a worker that keeps dying on it): stop, so that the biller's
            # later queues go on; its records without a result say nothing was applied of them.
            log.error("queue %s: given up after %d attempts", queue.id, queue.attempts - 1)
            await finish(
                db,
                queue,
                refused=f"not applied after {MAX_ATTEMPTS} attempts; records without a result were not applied",
            )
            return 1
        while n := await apply_chunk(db, settings, queue, settings.supplier_chunk_records, lease):
            done += n
        await finish(db, queue)
    except LeaseLost:
        log.warning("queue %s: lease lost after %d records; its new holder carries on", queue.id, done)
    log.info("queue %s (%s): %d records applied", queue.id, queue.operation, done)
    return max(done, 1)
