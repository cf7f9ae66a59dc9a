"""Bill24 Hosted's rules (spec other-apis §4): the invoices Tonle keeps for a biller, how import rows change them (in
bulk), and reading them back. How banks find and pay them is ``channel.py``.

An invoice's state is derived, never stored: ``void``; ``draft`` (pushed so by the Supplier API: kept, not payable);
``paid`` when nothing is due; ``overdue`` past its due date; ``partially_paid`` when something was paid; else
``open``."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import new_id
from tonle.hosted.models import BillConsumer, Invoice, InvoiceLine
from tonle.hosted.schemas import InvoiceRow, read_row
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.sql import among, insert_rows

MAX_ROWS = 10_000  # rows per import request
SOURCE = "hosted"


class NotAList(DomainError):
    """The import body is not a JSON array of objects (facts: index of the first non-object, or None)."""


class TooManyRows(DomainError):
    """More rows than one import takes (facts: rows, limit)."""


class ImportNotFound(DomainError):
    pass


def due_of(total: int, paid_outside: int, paid_bank: int) -> int:
    return max(0, total - paid_outside - paid_bank)


def state_of(inv: Any, now: datetime | None = None) -> str:
    if inv.void:
        return "void"
    if inv.draft:
        return "draft"
    if due_of(inv.total_amount, inv.paid_outside, inv.paid_bank) == 0:
        return "paid"
    if (now or clock.now()) > inv.due_date:
        return "overdue"
    if inv.paid_outside or inv.paid_bank:
        return "partially_paid"
    return "open"


async def lock_biller(session: AsyncSession, merchant_id: str) -> None:
    """One writer at a time over a biller's invoices (imports and payment allocations), until the transaction ends.
    PostgreSQL: a transaction-scoped advisory lock; SQLite: every transaction already holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(2424, hashtext(:m))"), {"m": merchant_id})
        # A prepared statement's generic plan, made while a biller's tables were empty, scans them whole for each
        # of a chunk's thousand keys once they are not: plan each statement for its own values.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


# ------------------------------------------------------------------------------------------------------ import rows


@dataclass
class RowOutcome:
    position: int
    outcome: str  # created | updated | unchanged | rejected
    reason: str = ""
    reason_kh: str = ""
    invoice_id: str | None = None
    ref_number: str = ""


def _reject(position: int, messages: list[tuple[str, str]], ref: str = "") -> RowOutcome:
    return RowOutcome(
        position,
        "rejected",
        f"row {position}: " + ", ".join(m[0] for m in messages),
        f"ជួរ {position}: " + ", ".join(m[1] for m in messages),
        ref_number=ref,
    )


_CONSUMER_FIELDS = ("name", "address", "phone", "moc", "vat", "email")


def _consumer_values(row: InvoiceRow) -> dict[str, str]:
    c = row.customer
    return {f: (getattr(c, f) or "") for f in _CONSUMER_FIELDS}


def _invoice_values(row: InvoiceRow) -> dict[str, Any]:
    return {
        "ref_id": row.ref_id or "",
        "date": row.date,
        "due_date": row.due_date,
        "description": row.description or "",
        "currency": row.currency,
        "total_amount": row.total_amount,
        "total_tax": row.total_tax or 0,
        "paid_outside": row.paid_amount or 0,
        "exchange_rate_khr": row.exchange_rate_khr or "",
        "total_amount_khr": row.total_amount_khr,
    }


def line_rows(invoice_id: str, details: list[Any]) -> list[dict[str, Any]]:
    """An invoice's ``invoice_lines`` rows from the lines as read (a Hosted row's ``details``, a Supplier API bill's
    ``ext__details``, which have no tax)."""
    return [
        {
            "invoice_id": invoice_id,
            "position": i,
            "item_name": d.item_name or "",
            "description": d.description or "",
            "quantity": d.quantity or "",
            "price": d.price or 0,
            "amount": d.amount or 0,
            "tax_amount": getattr(d, "tax_amount", None) or 0,
        }
        for i, d in enumerate(details)
    ]


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def held(session: AsyncSession, table: Any, merchant_id: str, key: str, keys: set[str]) -> dict[str, dict]:
    """The biller's rows of ``table`` whose ``key`` is one of ``keys``, as dicts by that key."""
    out: dict[str, dict[str, Any]] = {}
    for part in _chunks(sorted(keys), 5000):
        q = select(table).where(table.c.merchant_id == merchant_id, among(session, table.c[key], part))
        for r in (await session.execute(q)).mappings():
            out[r[key]] = dict(r)
    return out


@dataclass
class Read:
    """Rows read (parsed, checked, digested) but not yet applied: ``good`` as (position, row, digest)."""

    good: list[tuple[int, InvoiceRow, str]]
    rejected: list[RowOutcome]


def _digest(row: InvoiceRow) -> str:
    """Of what a row would store (values as read: ``10`` and ``10.00`` are one amount, an absent text is an empty
    one, key order does not count), so that a row sent again with nothing new is "unchanged". Built from the fields
    directly: it runs for every row of an import."""
    c = row.customer
    what = (
        row.ref_id or "",
        row.date,
        row.due_date,
        row.description or "",
        row.currency,
        row.total_amount,
        row.total_tax or 0,
        row.paid_amount or 0,
        row.exchange_rate_khr or "",
        row.total_amount_khr,
        c.code,
        *((getattr(c, f) or "") for f in _CONSUMER_FIELDS),
        *(
            (d.item_name or "", d.description or "", d.quantity or "", d.price or 0, d.amount or 0, d.tax_amount or 0)
            for d in row.details
        ),
    )
    return hashlib.sha256(repr(what).encode()).hexdigest()


def read_rows(rows: list[tuple[int, Any]]) -> Read:
    """Parse import rows (position, the row as decoded) without touching the database."""
    good: list[tuple[int, InvoiceRow, str]] = []
    rejected: list[RowOutcome] = []
    for position, raw in rows:
        row = read_row(raw)
        if isinstance(row, list):
            ref = raw.get("refNumber") if isinstance(raw, dict) else None
            rejected.append(_reject(position, row, ref[:100] if isinstance(ref, str) else ""))
            continue
        good.append((position, row, _digest(row)))
    return Read(good, rejected)


async def apply_rows(
    session: AsyncSession, merchant_id: str, rows: list[tuple[int, Any]] | Read, *, source: str = SOURCE
) -> list[RowOutcome]:
    """Apply import rows in order, in the caller's transaction: each is created, updated, unchanged or rejected
    with its reason. Upsert key: (biller, refNumber). Once money was paid on an invoice through Tonle, a row that
    changes its amount, currency or customer is rejected; its text may still change."""
    read = rows if isinstance(rows, Read) else read_rows(rows)
    await lock_biller(session, merchant_id)
    now = clock.now()
    outcomes: list[RowOutcome] = list(read.rejected)
    good = read.good

    invoices = await held(session, Invoice.__table__, merchant_id, "ref_number", {r.ref_number for _, r, _ in good})
    consumers = await held(session, BillConsumer.__table__, merchant_id, "code", {r.customer.code for _, r, _ in good})

    new_consumers: dict[str, dict[str, Any]] = {}
    changed_consumers: dict[str, dict[str, Any]] = {}
    new_invoices: dict[str, dict[str, Any]] = {}
    changed_invoices: dict[str, dict[str, Any]] = {}
    lines_of: dict[str, list[dict[str, Any]]] = {}

    def keep_consumer(row: InvoiceRow, consumer: dict[str, Any]) -> None:
        """The row is accepted: its customer is created, or updated where it says otherwise."""
        code, values = row.customer.code, _consumer_values(row)
        if code not in consumers:
            consumer.update(values, created_at=now, updated_at=now)
            consumers[code] = new_consumers[code] = consumer
        elif any(consumer[f] != v for f, v in values.items()) or not consumer["active"]:
            consumer.update(values, active=True, updated_at=now)
            if code not in new_consumers:
                changed_consumers[code] = consumer

    for position, row, digest in good:
        code = row.customer.code
        # A row that is rejected changes nothing, its customer included: a new one is only kept with its row.
        consumer = consumers.get(code) or {"id": new_id(), "merchant_id": merchant_id, "code": code, "active": True}
        ref = row.ref_number
        inv = invoices.get(ref)
        fields = _invoice_values(row)
        if inv is None:
            inv = {
                "id": new_id(),
                "merchant_id": merchant_id,
                "consumer_id": consumer["id"],
                "ref_number": ref,
                "paid_bank": 0,
                "void": False,
                "page_token": secrets.token_urlsafe(18),
                "digest": digest,
                "source": source,
                "created_at": now,
                "updated_at": now,
                **fields,
            }
            invoices[ref] = new_invoices[ref] = inv
            keep_consumer(row, consumer)
            lines_of[inv["id"]] = line_rows(inv["id"], row.details)
            outcomes.append(RowOutcome(position, "created", invoice_id=inv["id"], ref_number=ref))
            continue
        if inv["digest"] == digest and inv["consumer_id"] == consumer["id"]:
            outcomes.append(RowOutcome(position, "unchanged", invoice_id=inv["id"], ref_number=ref))
            continue
        if inv["paid_bank"] and (
            fields["total_amount"] != inv["total_amount"]
            or fields["currency"] != inv["currency"]
            or consumer["id"] != inv["consumer_id"]
        ):
            outcomes.append(
                _reject(
                    position,
                    [
                        (
                            "money was paid on this invoice: its totalAmount, currency and customer can no longer"
                            " change.",
                            "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចប្តូរ totalAmount រូបិយប័ណ្ណ ឬអតិថិជនបានទេ។",
                        )
                    ],
                    ref,
                )
            )
            continue
        if inv["paid_bank"] + fields["paid_outside"] > fields["total_amount"]:
            outcomes.append(
                _reject(
                    position,
                    [
                        (
                            "[paidAmount] and what was paid through the bank exceed [totalAmount].",
                            "[paidAmount] និងប្រាក់ដែលបានបង់តាមធនាគារលើស [totalAmount]។",
                        )
                    ],
                    ref,
                )
            )
            continue
        keep_consumer(row, consumer)
        inv.update(fields, consumer_id=consumer["id"], digest=digest, updated_at=now)
        if ref not in new_invoices:
            changed_invoices[ref] = inv
        lines_of[inv["id"]] = line_rows(inv["id"], row.details)
        outcomes.append(RowOutcome(position, "updated", invoice_id=inv["id"], ref_number=ref))

    if new_consumers:
        await insert_rows(session, BillConsumer.__table__, list(new_consumers.values()))
    if changed_consumers:
        await session.execute(
            update(BillConsumer),
            [
                {"id": c["id"], "active": True, "updated_at": now, **{f: c[f] for f in _CONSUMER_FIELDS}}
                for c in changed_consumers.values()
            ],
        )
    if new_invoices:
        await insert_rows(session, Invoice.__table__, list(new_invoices.values()))
    if changed_invoices:
        await session.execute(
            update(Invoice),
            [{k: v for k, v in inv.items() if k in _UPDATABLE} for inv in changed_invoices.values()],
        )
        for part in _chunks([inv["id"] for inv in changed_invoices.values()]):
            await session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id.in_(part)))
    lines = [line for ls in lines_of.values() for line in ls]
    if lines:
        await insert_rows(session, InvoiceLine.__table__, lines)
    outcomes.sort(key=lambda o: o.position)
    return outcomes


_UPDATABLE = frozenset(
    (
        "id",
        "consumer_id",
        "digest",
        "updated_at",
        "ref_id",
        "date",
        "due_date",
        "description",
        "currency",
        "total_amount",
        "total_tax",
        "paid_outside",
        "exchange_rate_khr",
        "total_amount_khr",
    )
)


# ------------------------------------------------------------------------------------------------ reading back


def bill_url(settings: Settings, inv: Invoice) -> str:
    return f"{settings.public_url.rstrip('/')}/bill/{inv.page_token}"


async def invoice_by_token(session: AsyncSession, token: str) -> Invoice | None:
    """The invoice a digital bill's address names (a draft has no page yet)."""
    if not token or len(token) > 40:
        return None
    q = select(Invoice).where(Invoice.page_token == token, Invoice.draft.is_(False))
    return (await session.execute(q)).scalar_one_or_none()


async def invoice_lines(session: AsyncSession, invoice_id: str) -> list[InvoiceLine]:
    return list(
        (
            await session.execute(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
            )
        ).scalars()
    )


async def list_invoices(
    session: AsyncSession,
    merchant_id: str,
    *,
    page: int,
    size: int,
    consumer_code: str | None = None,
    ref_number: str | None = None,
) -> tuple[list[tuple[Invoice, BillConsumer]], int]:
    where = [Invoice.merchant_id == merchant_id]
    if ref_number:
        where.append(Invoice.ref_number == ref_number)
    if consumer_code:
        where.append(BillConsumer.code == consumer_code)
    cond = and_(*where)
    joined = select(Invoice, BillConsumer).join(BillConsumer, BillConsumer.id == Invoice.consumer_id).where(cond)
    total = (
        await session.execute(
            select(func.count())
            .select_from(Invoice)
            .join(BillConsumer, BillConsumer.id == Invoice.consumer_id)
            .where(cond)
        )
    ).scalar_one()
    rows = (
        await session.execute(
            joined.order_by(Invoice.created_at, Invoice.ref_number).offset((page - 1) * size).limit(size)
        )
    ).all()
    return [(r[0], r[1]) for r in rows], int(total)
