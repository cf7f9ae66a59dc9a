"""Payments a biller made outside Tonle (Supplier API ``pmt.push``, spec other-apis §5.5): each clears the bills it
names, oldest due first, through the same allocations as a bank payment, in bulk, in the caller's transaction and
under the biller's lock. Cash and online payments are one ledger entry each (the biller's outside tender to its
outside collection: money Tonle never held, recorded beside what it did); what a payment pays beyond the bills is
the customer's credit, which a ``balance`` payment spends (it moves no money). A payment sent again (same
``sync_code``, same values) is ``unchanged``: nothing is cleared twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.db import new_id
from tonle.hosted import channel as store
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, PushedPayment
from tonle.hosted.service import held, lock_biller
from tonle.kit.clock import clock
from tonle.ledger import service as ledger
from tonle.merchants.models import Merchant
from tonle.supplier.schemas import PaymentRecord
from tonle.supplier.service import Result, _digest, _error, _money, _read
from tonle.transactions.models import Transaction, free_short_ids

PUSHED = "pushed_payment"  # Transaction.type of a payment the biller pushed


@dataclass
class _Pay:
    position: int
    r: PaymentRecord
    digest: str


def _share(bills: list[dict[str, Any]], amount: int) -> tuple[list[tuple[dict[str, Any], int]], int]:
    """``amount`` over the bills, oldest due first: each bill's share, and what is left."""
    left, shares = amount, []
    for inv in sorted(bills, key=lambda i: (i["due_date"], i["date"], i["ref_number"])):
        take = min(left, max(0, inv["total_amount"] - inv["paid_outside"] - inv["paid_bank"]))
        if take:
            shares.append((inv, take))
            left -= take
    return shares, left


def _replayed(x: _Pay, done: dict[str, Any]) -> Result:
    if done["digest"] == x.digest:
        return Result(x.position, x.r.sync_code, "unchanged", warning="recorded already: not applied again")
    code = x.r.sync_code
    return _error(
        x.position,
        code,
        [
            (
                f"a payment with sync_code {code} was recorded already, with other values; a payment cannot be"
                " changed.",
                f"ការទូទាត់ sync_code {code} ត្រូវបានកត់ត្រារួចហើយ ដោយតម្លៃផ្សេង។ មិនអាចកែការទូទាត់បានទេ។",
            )
        ],
    )


def _spend(x: _Pay, paid: int, left: int, credit: int) -> tuple[int, int, str] | Result:
    """(credit spent, credit added, warning) of a payment that paid ``paid`` of the bills with ``left`` over, or the
    refusal of a ``balance`` payment that finds nothing due or too little credit."""
    r, cur = x.r, x.r.currency_id
    if r.payment_method != "balance":
        return 0, left, (f"{_money(left, cur)} beyond the bills is the customer's credit" if left else "")
    if paid == 0:
        return _error(
            x.position,
            r.sync_code,
            [
                (
                    "[bill_syncs] nothing is due on the bills named: no credit is spent.",
                    "[bill_syncs] គ្មានប្រាក់ត្រូវបង់លើវិក្កយបត្រទាំងនេះទេ។",
                )
            ],
        )
    if paid > credit:
        return _error(
            x.position,
            r.sync_code,
            [
                (
                    f"the customer's credit is {_money(credit, cur)}; this payment spends {_money(paid, cur)}.",
                    f"ឥណទានរបស់អតិថិជនគឺ {_money(credit, cur)}; ការទូទាត់នេះចំណាយ {_money(paid, cur)}។",
                )
            ],
        )
    return paid, 0, (f"only {_money(paid, cur)} was due: the rest of the credit is left unspent" if left else "")


class _Book:
    """What a batch of payments writes, gathered as each is decided and written in bulk at the end."""

    def __init__(self, session: AsyncSession, merchant: Merchant, queue_id: str, now: datetime) -> None:
        self.session, self.merchant, self.queue_id, self.now = session, merchant, queue_id, now
        self.trans: list[Transaction] = []
        self.entries: list[ledger.NewEntry] = []
        self.pushed: list[dict[str, Any]] = []
        self.allocations: list[dict[str, Any]] = []
        self.touched: dict[str, dict[str, Any]] = {}
        self.accounts: dict[tuple[str, str], Any] = {}

    async def _account(self, kind: ledger.AccountKind, currency: str) -> Any:
        if (kind, currency) not in self.accounts:
            self.accounts[kind, currency] = await ledger.open_account(
                self.session,
                merchant_id=self.merchant.id,
                kind=kind,
                currency=currency,
                allow_negative=kind == ledger.AccountKind.outside_tender,  # the biller's till: a source of money
            )
        return self.accounts[kind, currency]

    async def add(
        self, x: _Pay, owner: dict[str, Any], shares: list[tuple[dict[str, Any], int]], spent: int, excess: int
    ) -> dict[str, Any]:
        r, m = x.r, self.merchant
        tran_id = new_id()
        cash = r.payment_method != "balance"
        self.trans.append(
            Transaction(
                id=tran_id,
                merchant_id=m.id,
                type=PUSHED,
                reference=tran_id,
                amount=r.total_amount if cash else spent,
                fee=0,
                currency=r.currency_id,
                status="success",
                tran_date=r.tran_date,
                expire_date=r.tran_date,
                paid_at=r.tran_date,
                description=r.description or "",
                created_at=self.now,
            )
        )
        if cash:
            self.entries.append(
                ledger.NewEntry(
                    merchant_id=m.id,
                    kind="outside_payment",
                    memo=f"{r.payment_method} payment {r.sync_code} of {owner['code']}",
                    legs=[
                        ledger.Leg(
                            await self._account(ledger.AccountKind.outside_tender, r.currency_id), -r.total_amount
                        ),
                        ledger.Leg(
                            await self._account(ledger.AccountKind.outside_collection, r.currency_id), r.total_amount
                        ),
                    ],
                )
            )
        for inv, take in shares:
            inv["paid_bank"] += take
            self.touched[inv["id"]] = inv
            self.allocations.append(
                {"transaction_id": tran_id, "invoice_id": inv["id"], "merchant_id": m.id, "amount": take}
                | {"created_at": self.now}
            )
        row = {
            "transaction_id": tran_id,
            "merchant_id": m.id,
            "sync_code": r.sync_code,
            "consumer_id": owner["id"],
            "method": r.payment_method,
            "title": r.title or "",
            "bill_syncs": ",".join(r.bill_syncs),
            "excess": excess,
            "credit_spent": spent,
            "digest": x.digest,
            "queue_id": self.queue_id,
            "created_at": self.now,
        }
        self.pushed.append(row)
        return row

    async def write(self) -> None:
        session = self.session
        if self.trans:
            entry_ids = iter(await ledger.post_many(session, self.entries))
            short_ids = iter(await free_short_ids(session, len(self.trans)))
            for t, row in zip(self.trans, self.pushed, strict=True):
                t.short_id = next(short_ids)
                if row["method"] != "balance":
                    t.entry_id = next(entry_ids)
            session.add_all(self.trans)
            await session.flush()
            await session.execute(insert(PushedPayment), self.pushed)
        if self.allocations:
            await session.execute(insert(InvoiceAllocation), self.allocations)
            await session.execute(
                update(Invoice),
                [{"id": i["id"], "paid_bank": i["paid_bank"], "updated_at": self.now} for i in self.touched.values()],
            )
        await session.flush()


async def apply_payments(
    session: AsyncSession, merchant: Merchant, records: list[tuple[int, Any]], *, queue_id: str = ""
) -> list[Result]:
    """Record payments made outside Tonle, in order; each is ``added``, ``unchanged`` (a replay) or ``error``."""
    good, results = _read(PaymentRecord, records)
    await lock_biller(session, merchant.id)
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
    owners = {inv["consumer_id"] for inv in invoices.values()}
    q = select(BillConsumer.__table__).where(BillConsumer.id.in_(owners or {""}))
    consumers = {c["id"]: c for c in (await session.execute(q)).mappings()}
    credit: dict[tuple[str, str], int] = {}
    book = _Book(session, merchant, queue_id, clock.now())
    for x in pays:
        r = x.r
        if (done := recorded.get(r.sync_code)) is not None:
            results.append(_replayed(x, done))
            continue
        if problems := _check_bills(r, invoices, consumers):
            results.append(_error(x.position, r.sync_code, problems))
            continue
        owner = consumers[invoices[r.bill_syncs[0]]["consumer_id"]]
        key = (owner["id"], r.currency_id)
        if key not in credit:
            credit[key] = await store.credit_of(session, merchant.id, owner["id"], owner["code"], r.currency_id)
        shares, left = _share([invoices[b] for b in r.bill_syncs], r.total_amount)
        spending = _spend(x, r.total_amount - left, left, credit[key])
        if isinstance(spending, Result):
            results.append(spending)
            continue
        spent, excess, warning = spending
        credit[key] += excess - spent
        recorded[r.sync_code] = await book.add(x, owner, shares, spent, excess)
        results.append(Result(x.position, r.sync_code, "added", warning=warning))
    await book.write()
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
