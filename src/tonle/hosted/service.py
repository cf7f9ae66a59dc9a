"""Bill24 Hosted's rules (spec other-apis §4): the invoices Tonle keeps for a biller, how an import row changes them,
the bill source ``hosted`` that answers a bank's look-up from them, and how a bank payment is allocated over them
(oldest due first, the excess kept as the consumer's overpay) in the transaction of its ledger entry.

An invoice's state is derived, never stored: ``void``; ``paid`` when nothing is due; ``overdue`` past its due date;
``partially_paid`` when something was paid; else ``open``."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import bills
from tonle.banks import service as banks
from tonle.banks.models import BillLookup
from tonle.checkout.service import khqr_account
from tonle.config import Settings
from tonle.db import new_id
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, InvoiceLine
from tonle.hosted.schemas import InvoiceRow, read_row
from tonle.khqr import codec
from tonle.kit.clock import PHNOM_PENH, clock, epoch
from tonle.kit.domain import DomainError
from tonle.kit.money import to_major
from tonle.kit.sql import among, insert_rows
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction

MAX_ROWS = 10_000  # rows per import request
SOURCE = "hosted"
STATES = ("open", "partially_paid", "paid", "overdue", "void")


class NotAList(DomainError):
    """The import body is not a JSON array of objects (facts: index of the first non-object, or None)."""


class TooManyRows(DomainError):
    """More rows than one import takes (facts: rows, limit)."""


class ImportNotFound(DomainError):
    pass


class InvoiceNotFound(DomainError):
    pass


def due_of(total: int, paid_outside: int, paid_bank: int) -> int:
    return max(0, total - paid_outside - paid_bank)


def state_of(inv: Any, now: datetime | None = None) -> str:
    if inv.void:
        return "void"
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


def _lines(invoice_id: str, row: InvoiceRow) -> list[dict[str, Any]]:
    return [
        {
            "invoice_id": invoice_id,
            "position": i,
            "item_name": d.item_name or "",
            "description": d.description or "",
            "quantity": d.quantity or "",
            "price": d.price or 0,
            "amount": d.amount or 0,
            "tax_amount": d.tax_amount or 0,
        }
        for i, d in enumerate(row.details)
    ]


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _held(session: AsyncSession, table: Any, merchant_id: str, key: str, keys: set[str]) -> dict[str, dict]:
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
    """Of what a row would store (values as read: ``10`` and ``10.00`` are one amount, key order does not count),
    so that a row sent again with nothing new is "unchanged"."""
    lines = [tuple(sorted(line.items())) for line in _lines("", row)]
    what = (sorted(_invoice_values(row).items()), sorted(_consumer_values(row).items()), row.customer.code, lines)
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

    invoices = await _held(session, Invoice.__table__, merchant_id, "ref_number", {r.ref_number for _, r, _ in good})
    consumers = await _held(session, BillConsumer.__table__, merchant_id, "code", {r.customer.code for _, r, _ in good})

    new_consumers: dict[str, dict[str, Any]] = {}
    changed_consumers: dict[str, dict[str, Any]] = {}
    new_invoices: dict[str, dict[str, Any]] = {}
    changed_invoices: dict[str, dict[str, Any]] = {}
    lines_of: dict[str, list[dict[str, Any]]] = {}
    for position, row, digest in good:
        code = row.customer.code
        values = _consumer_values(row)
        consumer = consumers.get(code)
        if consumer is None:
            consumer = {"id": new_id(), "merchant_id": merchant_id, "code": code, "active": True, **values}
            consumer.update(created_at=now, updated_at=now)
            consumers[code] = new_consumers[code] = consumer
        elif any(consumer[f] != v for f, v in values.items()) or not consumer["active"]:
            consumer.update(values, active=True, updated_at=now)
            if code not in new_consumers:
                changed_consumers[code] = consumer

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
            lines_of[inv["id"]] = _lines(inv["id"], row)
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
        inv.update(fields, consumer_id=consumer["id"], digest=digest, updated_at=now)
        if ref not in new_invoices:
            changed_invoices[ref] = inv
        lines_of[inv["id"]] = _lines(inv["id"], row)
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


# --------------------------------------------------------------------------------------------- the bill source


def _due(inv: Invoice) -> int:
    return due_of(inv.total_amount, inv.paid_outside, inv.paid_bank)


def _local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC).astimezone(PHNOM_PENH).replace(tzinfo=None)


async def open_invoices(
    session: AsyncSession, merchant_id: str, consumer_id: str, *, only: str | None = None, lock: bool = False
) -> list[Invoice]:
    """What a consumer owes, oldest due first (``only``: that one invoice)."""
    q = select(Invoice).where(
        Invoice.merchant_id == merchant_id,
        Invoice.consumer_id == consumer_id,
        Invoice.void.is_(False),
        Invoice.total_amount - Invoice.paid_outside - Invoice.paid_bank > 0,
    )
    if only is not None:
        q = q.where(Invoice.ref_number == only)
    q = q.order_by(Invoice.due_date, Invoice.date, Invoice.ref_number)
    if lock:
        q = q.with_for_update()
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def find_consumer(
    session: AsyncSession, merchant_id: str, typed: str
) -> tuple[BillConsumer, Invoice | None] | None:
    """The consumer a bank customer's typed code names: a consumer code, or else an invoice number (then that
    invoice too)."""
    consumer = (
        await session.execute(
            select(BillConsumer).where(
                BillConsumer.merchant_id == merchant_id, BillConsumer.code == typed, BillConsumer.active.is_(True)
            )
        )
    ).scalar_one_or_none()
    if consumer is not None:
        return consumer, None
    inv = (
        await session.execute(
            select(Invoice).where(
                Invoice.merchant_id == merchant_id, Invoice.ref_number == typed, Invoice.void.is_(False)
            )
        )
    ).scalar_one_or_none()
    if inv is None:
        return None
    owner = await session.get(BillConsumer, inv.consumer_id)
    return (owner, inv) if owner is not None and owner.active else None


async def overpay_of(session: AsyncSession, merchant_id: str, consumer_code: str, currency: str) -> int:
    """What the consumer paid beyond their invoices (kept as their overpay), in one currency."""
    q = (
        select(func.coalesce(func.sum(BillLookup.overpaid), 0))
        .join(Transaction, Transaction.id == BillLookup.transaction_id)
        .where(
            BillLookup.merchant_id == merchant_id,
            BillLookup.source.in_((SOURCE, "supplier")),
            BillLookup.consumer_code == consumer_code,
            Transaction.status == "success",
            Transaction.currency == currency,
        )
    )
    return int((await session.execute(q)).scalar_one())


def bill_url(settings: Settings, inv: Invoice) -> str:
    return f"{settings.public_url.rstrip('/')}/bill/{inv.page_token}"


async def look_up(
    session: AsyncSession, settings: Settings, biller: bills.Biller, typed: str, request_id: str
) -> bills.Outcome:
    """The bank-channel look-up: the consumer, what is due in the currency of their oldest due invoice (all of
    it: a payment may be part of it, or more), and their open invoices as pending bills."""
    found = await find_consumer(session, biller.id, typed)
    if found is None:
        return bills.Outcome(refused=bills.ConsumerNotFound())
    consumer, one = found
    owed = await open_invoices(session, biller.id, consumer.id, only=one.ref_number if one else None)
    if not owed:
        return bills.Outcome(refused=bills.NothingToPay())
    currency = owed[0].currency
    owed = [inv for inv in owed if inv.currency == currency]
    due = sum(_due(inv) for inv in owed)
    running, listed = 0, []
    for inv in owed:
        running += _due(inv)
        listed.append(
            {
                "date": _local(inv.date).strftime("%d/%m/%Y"),
                "amount": _due(inv),
                "balance": running,
                "digital_bill_url": bill_url(settings, inv),
                "ref_number": inv.ref_number,
                "due_date": _local(inv.due_date).strftime("%d/%m/%Y"),
                "state": state_of(inv),
            }
        )
    for item in listed:
        item["amount"] = to_major(item["amount"], currency)
        item["balance"] = to_major(item["balance"], currency)
    latest = max(owed, key=lambda inv: inv.date)
    refs = ", ".join(inv.ref_number for inv in owed[:5]) + (", ..." if len(owed) > 5 else "")
    return bills.Outcome(
        found=bills.Found(
            consumer_code=consumer.code,
            consumer_name=consumer.name,
            currency=currency,
            due=due,
            lowest=None,
            highest=None,
            phone=consumer.phone,
            balance=await overpay_of(session, biller.id, consumer.code, currency),
            description=f"{'Invoice' if len(owed) == 1 else 'Invoices'} {refs}",
            last_bill_date=_local(latest.date).strftime("%d/%m/%Y"),
            last_due_date=_local(max(inv.due_date for inv in owed)).strftime("%d/%m/%Y"),
            bill_ref=one.ref_number if one else "",
        ),
        pending={"opening_balance": 0, "pending_bills": list(reversed(listed))},
    )


async def settle(session: AsyncSession, tran: Transaction, lookup: BillLookup) -> None:
    """Allocate a bank payment over the consumer's invoices as they stand now (not as looked up): oldest due
    first, or the one invoice looked up by its number; what is left is the consumer's overpay."""
    await lock_biller(session, tran.merchant_id)
    consumer = (
        await session.execute(
            select(BillConsumer).where(
                BillConsumer.merchant_id == tran.merchant_id, BillConsumer.code == lookup.consumer_code
            )
        )
    ).scalar_one_or_none()
    left = tran.amount
    if consumer is not None:
        owed = await open_invoices(session, tran.merchant_id, consumer.id, only=lookup.bill_ref or None, lock=True)
        rows = []
        for inv in owed:
            if inv.currency != tran.currency or left == 0:
                continue
            take = min(left, _due(inv))
            left -= take
            rows.append(
                {"transaction_id": tran.id, "invoice_id": inv.id, "merchant_id": tran.merchant_id, "amount": take}
            )
            await session.execute(
                update(Invoice)
                .where(Invoice.id == inv.id)
                .values(paid_bank=Invoice.paid_bank + take, updated_at=clock.now())
            )
        if rows:
            await session.execute(insert(InvoiceAllocation), rows)
    lookup.overpaid = left


async def lines(session: AsyncSession, tran: Transaction, lookup: BillLookup) -> list[dict[str, Any]]:
    """The webhook's ``customers[]``: one line per invoice paid (``bill_no`` its number), and one for the
    overpay (``bill_no`` empty), so the lines add up to the payment."""
    rows = (
        await session.execute(
            select(Invoice.ref_number, InvoiceAllocation.amount)
            .join(Invoice, Invoice.id == InvoiceAllocation.invoice_id)
            .where(InvoiceAllocation.transaction_id == tran.id)
            .order_by(InvoiceAllocation.id)
        )
    ).all()
    base = {
        "branch_code": "",
        "branch_name": "",
        "customer_code": lookup.consumer_code,
        "customer_name": lookup.consumer_name,
        "customer_name_latin": lookup.consumer_name_latin,
    }
    out = [{**base, "bill_no": ref, "amount": to_major(amount, tran.currency)} for ref, amount in rows]
    if lookup.overpaid:
        out.append({**base, "bill_no": "", "amount": to_major(lookup.overpaid, tran.currency)})
    return out


bills.register_source(SOURCE, look_up, settle=settle, lines=lines)


# ------------------------------------------------------------------------------------------- the bill's KHQR


def khqr_of(merchant: Merchant, inv: Invoice) -> str | None:
    """The KHQR code for what is due on the invoice now (None when nothing is), the same string for the same
    invoice state: it is made of the invoice alone (its last change dates the code; it stays valid 30 days past
    the later of that and the due date)."""
    due = _due(inv)
    if inv.void or due == 0:
        return None
    changed = inv.updated_at
    data = codec.KHQR(
        **khqr_account(merchant),
        currency=inv.currency,
        amount=Decimal(to_major(due, inv.currency)),
        bill_number=inv.ref_number[:25],
        store_label=merchant.name[:25],
        created_ms=epoch(changed) * 1000,
        expires_ms=(epoch(max(changed, inv.due_date)) + 30 * 86400) * 1000,
    )
    return codec.encode(data)


async def shown_khqr(session: AsyncSession, merchant: Merchant, inv: Invoice) -> str | None:
    """The invoice's KHQR, remembered by its MD5 so that a bank that scans it (and sends the MD5, as for a
    checkout's code) finds the invoice."""
    qr = khqr_of(merchant, inv)
    md5 = codec.md5(qr) if qr else None
    if md5 != inv.khqr_md5:
        await session.execute(update(Invoice).where(Invoice.id == inv.id).values(khqr_md5=md5))
        inv.khqr_md5 = md5
    return qr


async def _by_scanned_bill(session: AsyncSession, identity: str) -> tuple[str, str] | None:
    """A bank sent the MD5 of a scanned invoice KHQR: open a pending transaction for exactly the amount that
    code carries, if it is still the invoice's current code (a code from before a payment names an old amount)."""
    if len(identity) != 32 or any(ch not in "0123456789abcdefABCDEF" for ch in identity):
        return None
    inv = (await session.execute(select(Invoice).where(Invoice.khqr_md5 == identity.lower()))).scalar_one_or_none()
    if inv is None:
        return None
    merchant = await session.get(Merchant, inv.merchant_id)
    consumer = await session.get(BillConsumer, inv.consumer_id)
    qr = khqr_of(merchant, inv) if merchant is not None and merchant.active else None
    if qr is None or consumer is None or codec.md5(qr) != inv.khqr_md5:
        return None
    due = _due(inv)
    tran, _lookup, _token = await bills.open_bill(
        session,
        merchant_id=inv.merchant_id,
        source=inv.source,
        bill=bills.Found(
            consumer_code=consumer.code,
            consumer_name=consumer.name,
            currency=inv.currency,
            due=due,
            lowest=due,
            highest=due,
            phone=consumer.phone,
            description=f"Invoice {inv.ref_number}",
            bill_ref=inv.ref_number,
        ),
        bank_code="",
        ttl_seconds=SCAN_TTL_SECONDS,
        channel="KHQR",
    )
    return tran.id, "KHQR"


SCAN_TTL_SECONDS = 1800  # a scanned invoice code's transaction, as a bank look-up's (TONLE_BILL_LOOKUP_TTL_SECONDS)
banks.register_alias(_by_scanned_bill)


# ------------------------------------------------------------------------------------------------ reading back


async def invoice_by_token(session: AsyncSession, token: str) -> Invoice | None:
    if not token or len(token) > 40:
        return None
    return (await session.execute(select(Invoice).where(Invoice.page_token == token))).scalar_one_or_none()


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
