"""The Supplier API's rules (spec other-apis §5): how pushed customers, bills and outside payments change the store
of the bills Tonle holds for a biller (the Hosted store), record by record, in bulk, inside the caller's
transaction and under the biller's lock, so that a record applied twice (a replay, 50 identical pushes at once)
has the effect of one.

Every record comes out ``added``, ``updated``, ``unchanged``, ``deleted`` (a customer pushed with ``is_active:
false``) or ``error`` with its reason in English and Khmer; a record in error changes nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.models import Bank, BillLookup
from tonle.config import Settings
from tonle.db import new_id
from tonle.hosted import channel as store
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, InvoiceLine, PushedPayment
from tonle.hosted.service import held, lock_biller
from tonle.kit.clock import PHNOM_PENH, clock
from tonle.kit.domain import DomainError
from tonle.kit.money import display, to_major
from tonle.kit.sql import insert_rows
from tonle.ledger import service as ledger
from tonle.merchants.models import Merchant
from tonle.notifications import service as notify
from tonle.supplier.schemas import BillRecord, CustomerRecord, PaymentRecord, read
from tonle.transactions.models import Transaction

SOURCE = "supplier"
PUSHED = "pushed_payment"  # Transaction.type of a payment the biller pushed
MAX_RECORDS = 10_000  # records per push
OPERATIONS = {"cus.push": CustomerRecord, "bill.push": BillRecord, "pmt.push": PaymentRecord}


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


def tnx_id(tran_id: str) -> str:
    """The 8-character payment id of the §5.6 webhook (``BUb4CmDE``), made of the transaction's id (its first 47
    random bits in base 62), so that every payment has one without storing it."""
    n = int(tran_id.replace("-", "")[:12], 16) >> 1
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    out = ""
    for _ in range(8):
        n, r = divmod(n, 62)
        out = alphabet[r] + out
    return out


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


def _bill_lines(invoice_id: str, r: BillRecord) -> list[dict[str, Any]]:
    return [
        {
            "invoice_id": invoice_id,
            "position": i,
            "item_name": d.item_name or "",
            "description": d.description or "",
            "quantity": d.quantity or "",
            "price": d.price or 0,
            "amount": d.amount or 0,
            "tax_amount": 0,
        }
        for i, d in enumerate(r.ext__details)
    ]


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

    def owner_sync(r: BillRecord) -> str:
        return r.customer_sync_code or r.sync_code

    people = await _Consumers.load(
        session, merchant.id, {owner_sync(r) for _, r in good}, {owner_sync(r) for _, r in good}
    )
    invoices = await held(session, Invoice.__table__, merchant.id, "ref_number", {r.sync_code for _, r in good})
    new_invoices: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, Any]] = {}
    lines_of: dict[str, list[dict[str, Any]]] = {}
    notices: list[Notice] = []

    for position, r in good:
        sync = owner_sync(r)
        consumer = people.by_sync.get(sync)
        if consumer is None:
            other = people.taken(sync, None)
            if other is not None:
                results.append(_code_taken(position, r.sync_code, "customer_sync_code", sync, other))
                continue
            consumer = people.by_code.get(sync)  # a Hosted customer of that code: taken over below, with the bill
        elif not consumer["active"]:
            results.append(
                _error(
                    position,
                    r.sync_code,
                    [
                        (
                            f"[customer_sync_code] {sync} was deactivated (is_active false); push it active first.",
                            f"[customer_sync_code] {sync} ត្រូវបានបិទ (is_active false)។ សូមបើកវាវិញជាមុនសិន។",
                        )
                    ],
                )
            )
            continue
        inv = invoices.get(r.sync_code)
        values = _bill_values(r, inv, now)
        # Of the record as read (not of what it stores: an absent date is not "now" again), so that the same bill
        # pushed again is "unchanged".
        digest = _digest(
            sync,
            r.status,
            r.bill_date,
            r.due_date,
            r.description or "",
            r.currency_id,
            r.total_amount,
            r.bill_type,
            *(tuple(x.items()) for x in _bill_lines("", r)),
        )
        consumer_id = consumer["id"] if consumer is not None else None
        if inv is not None and inv["digest"] == digest and inv["consumer_id"] == consumer_id:
            results.append(Result(position, r.sync_code, "unchanged", warning=_lines_warning(r)))
            continue
        if inv is not None and inv["paid_bank"]:
            refusal = None
            if values["total_amount"] != inv["total_amount"] or values["currency"] != inv["currency"]:
                refusal = (
                    "money was paid on this bill: its total_amount, currency and customer can no longer change.",
                    "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចប្តូរ total_amount រូបិយប័ណ្ណ ឬអតិថិជនបានទេ។",
                )
            elif consumer_id != inv["consumer_id"]:
                refusal = (
                    "money was paid on this bill: its total_amount, currency and customer can no longer change.",
                    "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចប្តូរ total_amount រូបិយប័ណ្ណ ឬអតិថិជនបានទេ។",
                )
            elif values["draft"]:
                refusal = (
                    "money was paid on this bill: it can no longer be a draft.",
                    "វិក្កយបត្រនេះបានបង់ប្រាក់ខ្លះហើយ៖ មិនអាចត្រឡប់ជាព្រាងវិញបានទេ។",
                )
            if refusal is not None:
                results.append(_error(position, r.sync_code, [refusal]))
                continue
        # Accepted: its customer is kept with it (created, or a Hosted one taken over).
        if consumer is None:
            consumer = people.create(merchant.id, {"sync_code": sync, "code": sync, "name": r.customer_name or ""}, now)
        elif consumer["sync_code"] is None:
            people.keep(consumer, {"sync_code": sync}, now)
        if inv is None:
            inv = {
                "id": new_id(),
                "merchant_id": merchant.id,
                "consumer_id": consumer["id"],
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
            invoices[r.sync_code] = new_invoices[r.sync_code] = inv
            outcome = "added"
        else:
            inv.update(values, consumer_id=consumer["id"], digest=digest, updated_at=now)
            if r.sync_code not in new_invoices:
                changed[r.sync_code] = inv
            outcome = "updated"
        lines_of[inv["id"]] = _bill_lines(inv["id"], r)
        if r.status == "notify" and inv["notified_at"] is None:
            inv["notified_at"] = now
            notices.append(Notice(inv, consumer))
        results.append(Result(position, r.sync_code, outcome, warning=_lines_warning(r)))

    await people.write(session)
    if new_invoices:
        await insert_rows(session, Invoice.__table__, list(new_invoices.values()))
    if changed:
        await session.execute(
            update(Invoice), [{"id": inv["id"], **{k: inv[k] for k in _BILL_UPDATABLE}} for inv in changed.values()]
        )
        ids = [inv["id"] for inv in changed.values()]
        for start in range(0, len(ids), 500):
            await session.execute(
                InvoiceLine.__table__.delete().where(InvoiceLine.invoice_id.in_(ids[start : start + 500]))
            )
    lines = [line for ls in lines_of.values() for line in ls]
    if lines:
        await insert_rows(session, InvoiceLine.__table__, lines)
    for n in notices:
        await _tell(session, settings, merchant, n)
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


# ------------------------------------------------------------------------------------------------------- payments


@dataclass
class _Pay:
    position: int
    r: PaymentRecord
    digest: str


async def apply_payments(
    session: AsyncSession, merchant: Merchant, records: list[tuple[int, Any]], *, queue_id: str = ""
) -> list[Result]:
    """Record payments made outside Tonle: each clears the bills it names (oldest due first) through the same
    allocations as a bank payment, with one ledger entry (cash and online: from the biller's outside tender to
    its outside collection; a ``balance`` payment moves no money, it spends the customer's credit). What a payment
    pays beyond the bills becomes the customer's credit. A replay of a payment (same ``sync_code``, same values)
    is ``unchanged``: nothing is cleared twice."""
    good, results = _read(PaymentRecord, records)
    await lock_biller(session, merchant.id)
    now = clock.now()
    pays = [
        _Pay(
            p,
            r,
            _digest(r.currency_id, r.customer_sync or "", r.payment_method, r.tran_date, r.total_amount, *r.bill_syncs),
        )
        for p, r in good
    ]
    recorded = await held(session, PushedPayment.__table__, merchant.id, "sync_code", {x.r.sync_code for x in pays})
    invoices = await held(
        session, Invoice.__table__, merchant.id, "ref_number", {b for x in pays for b in x.r.bill_syncs}
    )
    consumers = {
        c["id"]: c
        for c in (
            await session.execute(
                select(BillConsumer.__table__).where(
                    BillConsumer.id.in_({inv["consumer_id"] for inv in invoices.values()} or {""})
                )
            )
        ).mappings()
    }
    credit: dict[tuple[str, str], int] = {}
    entries: list[ledger.NewEntry] = []
    trans: list[Transaction] = []
    pushed: list[dict[str, Any]] = []
    allocations: list[dict[str, Any]] = []
    touched: dict[str, dict[str, Any]] = {}
    accounts: dict[tuple[str, str], Any] = {}

    async def account(kind: ledger.AccountKind, currency: str) -> Any:
        if (kind, currency) not in accounts:
            accounts[kind, currency] = await ledger.open_account(
                session,
                merchant_id=merchant.id,
                kind=kind,
                currency=currency,
                allow_negative=kind == ledger.AccountKind.outside_tender,
            )
        return accounts[kind, currency]

    for x in pays:
        r = x.r
        done = recorded.get(r.sync_code)
        if done is not None:
            if done["digest"] == x.digest:
                results.append(
                    Result(x.position, r.sync_code, "unchanged", warning="recorded already: not applied again")
                )
            else:
                results.append(
                    _error(
                        x.position,
                        r.sync_code,
                        [
                            (
                                f"a payment with sync_code {r.sync_code} was recorded already, with other values;"
                                " a payment cannot be changed.",
                                f"ការទូទាត់ sync_code {r.sync_code} ត្រូវបានកត់ត្រារួចហើយ ដោយតម្លៃផ្សេង។ មិនអាចកែការទូទាត់បានទេ។",
                            )
                        ],
                    )
                )
            continue
        problems = _check_bills(r, invoices, consumers)
        if problems:
            results.append(_error(x.position, r.sync_code, problems))
            continue
        bills = sorted((invoices[b] for b in r.bill_syncs), key=lambda i: (i["due_date"], i["date"], i["ref_number"]))
        owner = consumers[bills[0]["consumer_id"]]
        key = (owner["id"], r.currency_id)
        if key not in credit:
            credit[key] = await store.credit_of(session, merchant.id, owner["id"], owner["code"], r.currency_id)
        left, shares = r.total_amount, []
        for inv in bills:
            due = max(0, inv["total_amount"] - inv["paid_outside"] - inv["paid_bank"])
            take = min(left, due)
            if take:
                shares.append((inv, take))
                left -= take
        paid = r.total_amount - left
        warning = ""
        if r.payment_method == "balance":
            if paid == 0:
                results.append(
                    _error(
                        x.position,
                        r.sync_code,
                        [
                            (
                                "[bill_syncs] nothing is due on the bills named: no credit is spent.",
                                "[bill_syncs] គ្មានប្រាក់ត្រូវបង់លើវិក្កយបត្រទាំងនេះទេ។",
                            )
                        ],
                    )
                )
                continue
            if paid > credit[key]:
                results.append(
                    _error(
                        x.position,
                        r.sync_code,
                        [
                            (
                                f"the customer's credit is {_money(credit[key], r.currency_id)}; this payment spends"
                                f" {_money(paid, r.currency_id)}.",
                                f"ឥណទានរបស់អតិថិជនគឺ {_money(credit[key], r.currency_id)}; ការទូទាត់នេះចំណាយ"
                                f" {_money(paid, r.currency_id)}។",
                            )
                        ],
                    )
                )
                continue
            spent, excess = paid, 0
            if left:
                warning = f"only {_money(paid, r.currency_id)} was due: the rest of the credit is left unspent"
        else:
            spent, excess = 0, left
            if left:
                warning = f"{_money(left, r.currency_id)} beyond the bills is the customer's credit"
        credit[key] += excess - spent
        tran_id = new_id()
        trans.append(
            Transaction(
                id=tran_id,
                merchant_id=merchant.id,
                type=PUSHED,
                reference=tran_id,
                amount=paid if r.payment_method == "balance" else r.total_amount,
                fee=0,
                currency=r.currency_id,
                status="success",
                tran_date=r.tran_date,
                expire_date=r.tran_date,
                paid_at=r.tran_date,
                description=r.description or "",
                created_at=now,
            )
        )
        if r.payment_method != "balance":
            entries.append(
                ledger.NewEntry(
                    merchant_id=merchant.id,
                    kind="outside_payment",
                    memo=f"{r.payment_method} payment {r.sync_code} of {owner['code']}",
                    legs=[
                        ledger.Leg(await account(ledger.AccountKind.outside_tender, r.currency_id), -r.total_amount),
                        ledger.Leg(await account(ledger.AccountKind.outside_collection, r.currency_id), r.total_amount),
                    ],
                )
            )
        for inv, take in shares:
            inv["paid_bank"] += take
            touched[inv["id"]] = inv
            allocations.append(
                {
                    "transaction_id": tran_id,
                    "invoice_id": inv["id"],
                    "merchant_id": merchant.id,
                    "amount": take,
                    "created_at": now,
                }
            )
        row = {
            "transaction_id": tran_id,
            "merchant_id": merchant.id,
            "sync_code": r.sync_code,
            "consumer_id": owner["id"],
            "method": r.payment_method,
            "title": r.title or "",
            "bill_syncs": ",".join(r.bill_syncs),
            "excess": excess,
            "credit_spent": spent,
            "digest": x.digest,
            "queue_id": queue_id,
            "created_at": now,
        }
        recorded[r.sync_code] = row
        pushed.append(row)
        results.append(Result(x.position, r.sync_code, "added", warning=warning))

    if trans:
        entry_ids = iter(await ledger.post_many(session, entries))
        for t, row in zip(trans, pushed, strict=True):
            if row["method"] != "balance":
                t.entry_id = next(entry_ids)
        session.add_all(trans)
        await session.flush()
        await session.execute(insert(PushedPayment), pushed)
    if allocations:
        await session.execute(insert(InvoiceAllocation), allocations)
        await session.execute(
            update(Invoice), [{"id": i["id"], "paid_bank": i["paid_bank"], "updated_at": now} for i in touched.values()]
        )
    await session.flush()
    results.sort(key=lambda o: o.position)
    return results


def _check_bills(r: PaymentRecord, invoices: dict[str, dict], consumers: dict[str, dict]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    owners = set()
    for code in r.bill_syncs:
        inv = invoices.get(code)
        if inv is None:
            problems.append(
                (f"[bill_syncs] {code} is not a bill of this biller.", f"[bill_syncs] {code} មិនមែនជាវិក្កយបត្ររបស់អ្នកទេ។")
            )
            continue
        if inv["void"] or inv["draft"]:
            problems.append(
                (f"[bill_syncs] {code} is a draft or void: it cannot be paid.", f"[bill_syncs] {code} មិនអាចបង់បានទេ។")
            )
        if inv["currency"] != r.currency_id:
            problems.append(
                (
                    f"[currency_id] {r.currency_id} is not the currency of bill {code} ({inv['currency']}).",
                    f"[currency_id] {r.currency_id} មិនមែនជារូបិយប័ណ្ណរបស់វិក្កយបត្រ {code} ({inv['currency']}) ទេ។",
                )
            )
        owners.add(inv["consumer_id"])
    if problems:
        return problems
    if len(owners) > 1:
        return [("[bill_syncs] names bills of different customers.", "[bill_syncs] មានវិក្កយបត្ររបស់អតិថិជនផ្សេងៗគ្នា។")]
    owner = consumers.get(next(iter(owners)))
    if r.customer_sync and (owner is None or owner["sync_code"] != r.customer_sync):
        return [
            (
                f"[customer_sync] {r.customer_sync} is not the customer of the bills named.",
                f"[customer_sync] {r.customer_sync} មិនមែនជាអតិថិជននៃវិក្កយបត្រទាំងនេះទេ។",
            )
        ]
    return []


# ------------------------------------------------------------------------------------------- reading payments back


async def payments(
    session: AsyncSession,
    merchant_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_sync: str | None = None,
    method: str | None = None,
    currency: str | None = None,
    source: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``GET /payment/``: the bank's payments of the bills this store holds and the biller's pushed payments, newest
    first, with the §5.6 webhook's fields."""
    lookup_consumer = and_(
        BillConsumer.merchant_id == Transaction.merchant_id, BillConsumer.code == BillLookup.consumer_code
    )
    q = (
        select(Transaction, BillLookup, PushedPayment, BillConsumer, Bank.name)
        .outerjoin(BillLookup, BillLookup.transaction_id == Transaction.id)
        .outerjoin(PushedPayment, PushedPayment.transaction_id == Transaction.id)
        .outerjoin(BillConsumer, or_(BillConsumer.id == PushedPayment.consumer_id, lookup_consumer))
        .outerjoin(Bank, Bank.code == Transaction.bank_code)
        .where(
            Transaction.merchant_id == merchant_id,
            Transaction.status == "success",
            or_(
                Transaction.type == PUSHED,
                and_(Transaction.type == "bank_bill", BillLookup.source.in_(store.HELD_SOURCES)),
            ),
        )
    )
    if since is not None:
        q = q.where(Transaction.paid_at >= since)
    if until is not None:
        q = q.where(Transaction.paid_at < until)
    if customer_sync:
        q = q.where(BillConsumer.sync_code == customer_sync)
    if currency:
        q = q.where(Transaction.currency == currency)
    if source == "bank" or method == "bank":
        q = q.where(Transaction.type == "bank_bill")
    elif source == "push":
        q = q.where(Transaction.type == PUSHED)
    if method and method != "bank":
        q = q.where(PushedPayment.method == method)
    q = q.order_by(Transaction.paid_at.desc(), Transaction.id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = (await session.execute(q)).all()
    ids = [t.id for t, *_ in rows]
    bills: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        q2 = (
            select(
                InvoiceAllocation.transaction_id,
                Invoice.id,
                Invoice.ref_number,
                InvoiceAllocation.amount,
                Invoice.currency,
            )
            .join(Invoice, Invoice.id == InvoiceAllocation.invoice_id)
            .where(InvoiceAllocation.transaction_id.in_(part))
            .order_by(InvoiceAllocation.id)
        )
        for tran_id, inv_id, ref, amount, cur in (await session.execute(q2)).all():
            bills[tran_id].append({"id": inv_id, "sync_code": ref, "amount": to_major(amount, cur)})
    out = []
    for t, lookup, pushed, consumer, bank_name in rows:
        out.append(
            {
                **webhook_fields(t, lookup, consumer, bank_name or ""),
                "source": "push" if pushed is not None else "bank",
                "payment_method": pushed.method if pushed is not None else "bank",
                "sync_code": pushed.sync_code if pushed is not None else "",
                "title": pushed.title if pushed is not None else "",
                "bills": bills[t.id],
            }
        )
    return out


def mask(value: str) -> str:
    """A payer's phone or account number with all but its first 3 and last 3 digits hidden."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if len(digits) <= 6:
        return value
    hidden = set(digits[3:-3])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def webhook_fields(t: Transaction, lookup: BillLookup | None, consumer: Any, bank_name: str) -> dict[str, Any]:
    """The §5.6 webhook's fields of a payment (``bills`` aside)."""
    return {
        "tnx_id": tnx_id(t.id),
        "tran_id": t.id,
        "tran_amount": to_major(t.amount, t.currency),
        "customer_fee": to_major(t.fee, t.currency),
        "supplier_fee": 0,
        "total_amount": to_major(t.amount + t.fee, t.currency),
        "currency": t.currency,
        "bank_name": bank_name,
        "bank_ref": t.bank_ref,
        "customer_sync_code": (consumer.sync_code if consumer is not None else None) or "",
        "customer_code": consumer.code if consumer is not None else (lookup.consumer_code if lookup else ""),
        "customer_name": consumer.name if consumer is not None else (lookup.consumer_name if lookup else ""),
        "customer_phone": consumer.phone if consumer is not None else (lookup.phone if lookup else ""),
        "paid_by": mask(t.payer_phone or t.payer_account_no),
        "paid_date": wire_time(t.paid_at) or "",
        "description": t.description,
        "checkout_ref": "",
    }


async def paid_bills(session: AsyncSession, tran_id: str) -> list[dict[str, Any]]:
    q = (
        select(Invoice.id, Invoice.ref_number)
        .join(InvoiceAllocation, InvoiceAllocation.invoice_id == Invoice.id)
        .where(InvoiceAllocation.transaction_id == tran_id)
        .order_by(InvoiceAllocation.id)
    )
    return [{"id": i, "sync_code": ref} for i, ref in (await session.execute(q)).all()]
