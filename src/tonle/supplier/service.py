"""The Supplier API's rules (spec other-apis §5): how pushed customers and bills change the store of the bills Tonle
holds for a biller (the Hosted store), record by record, in bulk, inside the caller's transaction and under the
biller's lock, so that a record applied twice (a replay, 50 identical pushes at once) has the effect of one. Pushed
payments are ``payments.py``; reading payments back, ``report.py``.

Every record comes out ``added``, ``updated``, ``unchanged``, ``deleted`` (a customer pushed with ``is_active:
false``) or ``error`` with its reason in English and Khmer; a record in error changes nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import new_id
from tonle.hosted.models import BillConsumer, Invoice, InvoiceLine
from tonle.hosted.service import held, line_rows, lock_biller
from tonle.kit.clock import PHNOM_PENH, clock
from tonle.kit.domain import DomainError
from tonle.kit.money import display
from tonle.kit.sql import insert_rows
from tonle.merchants.models import Merchant
from tonle.notifications import service as notify
from tonle.supplier.schemas import BillRecord, CustomerRecord, read

SOURCE = "supplier"
MAX_RECORDS = 10_000  # records per push


class NoData(DomainError):
    """The body has no ``data`` list (facts: why)."""


class TooManyRecords(DomainError):
    """More records than one push takes (facts: records, limit)."""


class QueueNotFound(DomainError):
    pass


@dataclass
class Result:
    position: int
    sync_code: str
    outcome: str  # added | updated | unchanged | deleted | error
    message: str = ""
    message_kh: str = ""
    warning: str = ""


def _error(position: int, sync_code: str, messages: list[tuple[str, str]]) -> Result:
    return Result(
        position,
        sync_code,
        "error",
        ", ".join(m[0] for m in messages),
        ", ".join(m[1] for m in messages),
    )


def sent_sync(raw: Any, key: str = "sync_code") -> str:
    value = raw.get(key) if isinstance(raw, dict) else None
    return str(value)[:100] if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _read(model: Any, records: list[tuple[int, Any]]) -> tuple[list[tuple[int, Any]], list[Result]]:
    good, bad = [], []
    for position, raw in records:
        parsed = read(model, raw)
        if isinstance(parsed, list):
            bad.append(_error(position, sent_sync(raw), parsed))
        else:
            good.append((position, parsed))
    return good, bad


def _money(minor: int, currency: str) -> str:
    return f"{display(minor, currency)} {currency}"


def _digest(*what: Any) -> str:
    return hashlib.sha256(repr(what).encode()).hexdigest()


def wire_time(dt: datetime | None) -> str | None:
    """``2024-02-29 10:46:33``: Phnom Penh time, as the §5.6 webhook writes ``paid_date``."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC).astimezone(PHNOM_PENH).strftime("%Y-%m-%d %H:%M:%S")


class _Consumers:
    """The biller's consumers a batch touches, by sync code and by code, as they stand after each record."""

    def __init__(self, by_sync: dict[str, dict], by_code: dict[str, dict]) -> None:
        self.by_sync, self.by_code = by_sync, by_code
        self.new: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, dict[str, Any]] = {}

    @classmethod
    async def load(cls, session: AsyncSession, merchant_id: str, syncs: set[str], codes: set[str]) -> _Consumers:
        table = BillConsumer.__table__
        by_sync = await held(session, table, merchant_id, "sync_code", syncs)
        by_code = await held(session, table, merchant_id, "code", codes | {c["code"] for c in by_sync.values()})
        # One dict per consumer, whichever index found it.
        by_code.update({c["code"]: c for c in by_sync.values()})
        by_sync.update({c["sync_code"]: c for c in by_code.values() if c["sync_code"]})
        return cls(by_sync, by_code)

    def taken(self, code: str, consumer: dict[str, Any] | None) -> str | None:
        """Whether ``code`` is another consumer's than ``consumer`` (None: a new one), which it cannot take: the
        other's sync code ("-" for a Hosted one), else None. A new consumer may take over a Hosted one's code."""
        other = self.by_code.get(code)
        if other is None or other is consumer or (consumer is None and other["sync_code"] is None):
            return None
        return other["sync_code"] or "-"

    def keep(self, consumer: dict[str, Any], values: dict[str, Any], now: datetime) -> None:
        old_code = consumer.get("code")
        consumer.update(values, updated_at=now)
        if old_code is not None and old_code != consumer["code"] and self.by_code.get(old_code) is consumer:
            del self.by_code[old_code]
        self.by_code[consumer["code"]] = consumer
        if consumer["sync_code"]:
            self.by_sync[consumer["sync_code"]] = consumer
        if consumer["id"] not in self.new:
            self.changed[consumer["id"]] = consumer

    def create(self, merchant_id: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        consumer = {
            "id": new_id(),
            "merchant_id": merchant_id,
            "name": "",
            "address": "",
            "phone": "",
            "moc": "",
            "vat": "",
            "email": "",
            "active": True,
            "sync_code": None,
            "org_code": "",
            "name_kh": "",
            "address_kh": "",
            "created_at": now,
            **values,
        }
        self.new[consumer["id"]] = consumer
        self.keep(consumer, {}, now)
        return consumer

    async def write(self, session: AsyncSession) -> None:
        # Changes first: a code one customer gave up may be a new customer's (in one batch).
        if self.changed:
            await session.execute(
                update(BillConsumer),
                [{k: v for k, v in c.items() if k not in ("merchant_id", "created_at")} for c in self.changed.values()],
            )
        if self.new:
            await insert_rows(session, BillConsumer.__table__, list(self.new.values()))


def _code_taken(position: int, sync: str, key: str, code: str, other: str) -> Result:
    return _error(
        position,
        sync,
        [
            (
                f"[{key}] {code} is already the code of another customer (sync_code {other}).",
                f"[{key}] {code} ជាលេខកូដរបស់អតិថិជនផ្សេងរួចហើយ (sync_code {other})។",
            )
        ],
    )


# ------------------------------------------------------------------------------------------------------ customers

_CUSTOMER_FIELDS = ("code", "name", "name_kh", "org_code", "phone", "email", "address", "address_kh", "vat", "active")


def _customer_values(r: CustomerRecord) -> dict[str, Any]:
    return {
        "code": r.code,
        "name": r.name,
        "name_kh": r.name_kh or "",
        "org_code": r.org_code or "",
        "phone": r.phone or "",
        "email": r.email or "",
        "address": r.address or "",
        "address_kh": r.address_kh or "",
        "vat": r.tin_number or "",  # the tax id: shown where a Hosted customer's VAT number is
        "active": r.is_active,
    }


async def apply_customers(session: AsyncSession, merchant_id: str, records: list[tuple[int, Any]]) -> list[Result]:
    """Upsert customers by ``sync_code``. A customer Hosted imported with the same code (and no sync code) is
    taken over; a code that another pushed customer has is refused. ``is_active: false`` deactivates (its bills
    and payments stay; banks no longer find it)."""
    good, results = _read(CustomerRecord, records)
    await lock_biller(session, merchant_id)
    now = clock.now()
    people = await _Consumers.load(session, merchant_id, {r.sync_code for _, r in good}, {r.code for _, r in good})
    for position, r in good:
        values = _customer_values(r)
        consumer = people.by_sync.get(r.sync_code)
        other = people.taken(r.code, consumer)
        if other is not None:
            results.append(_code_taken(position, r.sync_code, "code", r.code, other))
            continue
        if consumer is None:
            adopted = people.by_code.get(r.code)  # a Hosted customer of that code, without a sync code
            if adopted is None:
                people.create(merchant_id, {"sync_code": r.sync_code, **values}, now)
                results.append(Result(position, r.sync_code, "added"))
                continue
            consumer = adopted
            consumer["sync_code"] = r.sync_code
        elif all(consumer[f] == values[f] for f in _CUSTOMER_FIELDS):
            results.append(Result(position, r.sync_code, "unchanged"))
            continue
        removed = consumer["active"] and not r.is_active
        people.keep(consumer, values, now)
        results.append(Result(position, r.sync_code, "deleted" if removed else "updated"))
    await people.write(session)
    results.sort(key=lambda o: o.position)
    return results


# ---------------------------------------------------------------------------------------------------------- bills


def _bill_values(r: BillRecord, held: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    """What a bill record stores. No ``bill_date``: the bill keeps its date (a new one: now); no ``due_date``: the
    bill's date."""
    date = r.bill_date or (held["date"] if held is not None else now)
    return {
        "date": date,
        "due_date": r.due_date or date,
        "description": r.description or "",
        "currency": r.currency_id,
        "total_amount": r.total_amount,
        "draft": r.status == "draft",
        "bill_type": r.bill_type,
    }


def _lines_warning(r: BillRecord) -> str:
    if not r.ext__details:
        return ""
    summed = sum(d.amount or 0 for d in r.ext__details)
    if summed == r.total_amount:
        return ""
    return (
        f"the lines add up to {_money(summed, r.currency_id)}, not total_amount"
        f" {_money(r.total_amount, r.currency_id)}: kept as sent"
    )


_BILL_UPDATABLE = ("consumer_id", "digest", "updated_at", "date", "due_date", "description", "currency")
_BILL_UPDATABLE += ("total_amount", "draft", "bill_type", "notified_at")


@dataclass
class Notice:
    """A bill pushed with status ``notify``: its customer is told, once."""

    invoice: dict[str, Any]
    consumer: dict[str, Any]


def _owner_of(
    people: _Consumers, position: int, r: BillRecord, sync: str
) -> tuple[dict[str, Any] | None, Result | None]:
    """The customer a bill names (None: one to create with it), or the bill's refusal."""
    consumer = people.by_sync.get(sync)
    if consumer is None:
        other = people.taken(sync, None)
        if other is not None:
            return None, _code_taken(position, r.sync_code, "customer_sync_code", sync, other)
        return people.by_code.get(sync), None  # a Hosted customer of that code: taken over with the bill
    if not consumer["active"]:
        return None, _error(
            position,
            r.sync_code,
            [
                (
                    f"[customer_sync_code] {sync} was deactivated (is_active false); push it active first.",
                    f"[customer_sync_code] {sync} ត្រូវបានបិទ (is_active false)។ សូមបើកវាវិញជាមុនសិន។",
                )
            ],
        )
    return consumer, None


def _bill_digest(r: BillRecord, sync: str) -> str:
    """Of the record as read (not of what it stores: an absent date is not "now" again), so that the same bill
    pushed again is "unchanged"."""
    lines = (tuple(x.items()) for x in line_rows("", r.ext__details))
    fields = (r.bill_date, r.due_date, r.description or "", r.currency_id, r.total_amount, r.bill_type)
    return _digest(sync, r.status, *fields, *lines)


_FROZEN = (
    "money was paid on this bill: its total_amount, currency and customer can no longer change.",
    "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចប្តូរ total_amount រូបិយប័ណ្ណ ឬអតិថិជនបានទេ។",
)


def _paid_refusal(inv: dict[str, Any], values: dict[str, Any], consumer_id: str | None) -> tuple[str, str] | None:
    """Once money was paid on a bill: what a record may no longer change."""
    if not inv["paid_bank"]:
        return None
    if (values["total_amount"], values["currency"], consumer_id) != (
        inv["total_amount"],
        inv["currency"],
        inv["consumer_id"],
    ):
        return _FROZEN
    if values["draft"]:
        return (
            "money was paid on this bill: it can no longer be a draft.",
            "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចត្រឡប់ជាព្រាងវិញបានទេ។",
        )
    return None


def _new_invoice(
    merchant_id: str, consumer_id: str, r: BillRecord, values: dict[str, Any], digest: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "merchant_id": merchant_id,
        "consumer_id": consumer_id,
        "ref_number": r.sync_code,
        "ref_id": "",
        "total_tax": 0,
        "paid_outside": 0,
        "paid_bank": 0,
        "exchange_rate_khr": "",
        "total_amount_khr": None,
        "void": False,
        "page_token": secrets.token_urlsafe(18),
        "khqr_md5": None,
        "digest": digest,
        "source": SOURCE,
        "notified_at": None,
        "created_at": now,
        "updated_at": now,
        **values,
    }


class _Bills:
    """What a batch of bills writes: new and changed invoices, their lines, and the customers to tell."""

    def __init__(self) -> None:
        self.new: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, dict[str, Any]] = {}
        self.lines_of: dict[str, list[dict[str, Any]]] = {}
        self.notices: list[Notice] = []

    async def write(self, session: AsyncSession, settings: Settings, merchant: Merchant) -> None:
        if self.new:
            await insert_rows(session, Invoice.__table__, list(self.new.values()))
        if self.changed:
            await session.execute(
                update(Invoice),
                [{"id": inv["id"], **{k: inv[k] for k in _BILL_UPDATABLE}} for inv in self.changed.values()],
            )
            ids = [inv["id"] for inv in self.changed.values()]
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                await session.execute(InvoiceLine.__table__.delete().where(InvoiceLine.invoice_id.in_(part)))
        lines = [line for ls in self.lines_of.values() for line in ls]
        if lines:
            await insert_rows(session, InvoiceLine.__table__, lines)
        for n in self.notices:
            await _tell(session, settings, merchant, n)


async def apply_bills(
    session: AsyncSession, settings: Settings, merchant: Merchant, records: list[tuple[int, Any]]
) -> list[Result]:
    """Upsert bills by ``sync_code`` (the bill's number in the store). A bill names its customer by sync code; one
    never pushed is created from ``customer_sync_code`` and ``customer_name`` (a quick bill without a customer gets
    one of its own, keyed by the bill's code). Lines that do not add up to the total are kept, with a warning. Once
    money was paid on a bill, its amount, currency and customer no longer change, and it cannot become a draft."""
    good, results = _read(BillRecord, records)
    await lock_biller(session, merchant.id)
    now = clock.now()
    owners = {(r.customer_sync_code or r.sync_code) for _, r in good}
    people = await _Consumers.load(session, merchant.id, owners, owners)
    invoices = await held(session, Invoice.__table__, merchant.id, "ref_number", {r.sync_code for _, r in good})
    out = _Bills()
    for position, r in good:
        sync = r.customer_sync_code or r.sync_code
        consumer, refused = _owner_of(people, position, r, sync)
        if refused is not None:
            results.append(refused)
            continue
        inv = invoices.get(r.sync_code)
        values, digest = _bill_values(r, inv, now), _bill_digest(r, sync)
        consumer_id = consumer["id"] if consumer is not None else None
        if inv is not None and inv["digest"] == digest and inv["consumer_id"] == consumer_id:
            results.append(Result(position, r.sync_code, "unchanged", warning=_lines_warning(r)))
            continue
        if inv is not None and (why := _paid_refusal(inv, values, consumer_id)) is not None:
            results.append(_error(position, r.sync_code, [why]))
            continue
        # Accepted: its customer is kept with it (created, or a Hosted one taken over).
        if consumer is None:
            consumer = people.create(merchant.id, {"sync_code": sync, "code": sync, "name": r.customer_name or ""}, now)
        elif consumer["sync_code"] is None:
            people.keep(consumer, {"sync_code": sync}, now)
        if inv is None:
            inv = invoices[r.sync_code] = out.new[r.sync_code] = _new_invoice(
                merchant.id, consumer["id"], r, values, digest, now
            )
            outcome = "added"
        else:
            inv.update(values, consumer_id=consumer["id"], digest=digest, updated_at=now)
            if r.sync_code not in out.new:
                out.changed[r.sync_code] = inv
            outcome = "updated"
        out.lines_of[inv["id"]] = line_rows(inv["id"], r.ext__details)
        if r.status == "notify" and inv["notified_at"] is None:
            inv["notified_at"] = now
            out.notices.append(Notice(inv, consumer))
        results.append(Result(position, r.sync_code, outcome, warning=_lines_warning(r)))
    await people.write(session)
    await out.write(session, settings, merchant)
    results.sort(key=lambda o: o.position)
    return results


async def _tell(session: AsyncSession, settings: Settings, merchant: Merchant, n: Notice) -> None:
    """A ``notify`` bill: its customer gets a message through the Notification API's channels (e-mail and SMS
    where the customer has an address and the gateway a channel; else the log channel)."""
    inv, who = n.invoice, n.consumer
    due = wire_time(inv["due_date"]) or ""
    amount = _money(inv["total_amount"], inv["currency"])
    subject = f"{merchant.name}: bill {inv['ref_number']}"
    message = (
        f"Dear {who['name'] or who['code']}, your bill {inv['ref_number']} of {amount} is due {due[:10]}. Pay it in"
        f" your bank app (biller code {merchant.biller_code or '-'}, customer code {who['code']}) or at"
        f" {settings.public_url.rstrip('/')}/bill/{inv['page_token']}"
    )
    to = []
    if who["email"] and notify.configured(settings, "email"):
        to.append(("email", who["email"]))
    if who["phone"] and notify.configured(settings, "sms"):
        to.append(("sms", who["phone"]))
    await notify.queue(
        session,
        merchant.id,
        ref_id=inv["ref_number"],
        subject=subject,
        message=message,
        to=to or [("log", who["code"])],
    )
