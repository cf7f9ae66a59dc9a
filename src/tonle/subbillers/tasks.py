"""Batch work over sub-billers: the payout run, from `tonle payouts run` or on the worker's schedule
(``TONLE_PAYOUT_RUN_SECONDS``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from tonle.config import Settings
from tonle.db import Database
from tonle.jobs.runtime import Context, Task
from tonle.kit.money import display, to_minor
from tonle.ledger.models import Account
from tonle.ledger.service import AccountKind
from tonle.subbillers import service
from tonle.subbillers.models import SubBiller

log = logging.getLogger("tonle.payouts")


@dataclass
class RunReport:
    paid: int = 0
    skipped: int = 0
    lines: list[str] = field(default_factory=list)


async def run_payouts(db: Database, settings: Settings, minimum: dict[str, int]) -> RunReport:
    report = RunReport()
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(Account.id, Account.currency, Account.balance, SubBiller.id)
                .join(SubBiller, SubBiller.id == Account.owner_ref)
                .where(Account.kind == AccountKind.subbiller_settlement.value, Account.balance > 0)
                .order_by(SubBiller.merchant_id, SubBiller.code)
            )
        ).all()
    for _account_id, currency, balance, sub_id in rows:
        if balance < minimum.get(currency, 0):
            continue
        # One transaction per payout: one failure does not hold back the others.
        async with db.sessions() as session, session.begin():
            sub = await session.get(SubBiller, sub_id)
            assert sub is not None
            link = await service.default_link(session, sub, currency)
            if link is None:
                report.skipped += 1
                report.lines.append(f"skip {sub.code}: no active {currency} account")
                continue
            current = (await service.settlement_balances(session, sub)).get(currency, 0)
            if current < minimum.get(currency, 0) or current <= 0:
                continue
            try:
                payout = await service.request_payout(session, settings, sub, link, current, "scheduler")
            except service.PayoutRefused as exc:  # the balance moved since we read it
                report.skipped += 1
                report.lines.append(f"skip {sub.code}: {exc}")
                continue
            report.paid += 1
            report.lines.append(
                f"payout {payout.id}: {sub.code} {display(current, currency)} {currency} -> {link.bank_code} "
                f"{link.account_mask} ({payout.status})"
            )
    return report


def minimum_of(settings: Settings) -> dict[str, int]:
    return {"KHR": to_minor(settings.payout_min_khr, "KHR"), "USD": to_minor(settings.payout_min_usd, "USD")}


async def _payout_run(ctx: Context) -> int:
    report = await run_payouts(ctx.db, ctx.settings, minimum_of(ctx.settings))
    for line in report.lines:
        log.info("payout run: %s", line)
    return report.paid


TASKS = [Task("payout run", _payout_run, period=lambda s: s.payout_run_seconds)]
