"""``tonle ledger verify``: every invariant of the ledger, checked in SQL over the whole database."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CHECKS: list[tuple[str, str]] = [
    (
        "entry does not sum to zero",
        "SELECT entry_id, currency, SUM(amount) AS total FROM ledger_postings "
        "GROUP BY entry_id, currency HAVING SUM(amount) <> 0",
    ),
    (
        "entry without postings",
        "SELECT e.id FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id WHERE p.id IS NULL",
    ),
    (
        "posting currency differs from its account",
        "SELECT p.id, p.currency, a.currency AS account_currency FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id WHERE p.currency <> a.currency",
    ),
    (
        "balance differs from the sum of postings",
        "SELECT a.id, a.balance, COALESCE(s.total, 0) AS postings FROM ledger_accounts a "
        "LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_postings GROUP BY account_id) s "
        "ON s.account_id = a.id WHERE a.balance <> COALESCE(s.total, 0)",
    ),
    (
        "negative balance on an account that may not go negative",
        "SELECT id, balance FROM ledger_accounts WHERE NOT allow_negative AND balance < 0",
    ),
    (
        "running balance differs from the posting history",
        "SELECT id, account_id, balance_after, running FROM ("
        " SELECT id, account_id, balance_after,"
        " SUM(amount) OVER (PARTITION BY account_id ORDER BY id ROWS UNBOUNDED PRECEDING) AS running"
        " FROM ledger_postings) t WHERE balance_after <> running",
    ),
]


@dataclass
class Report:
    entries: int = 0
    postings: int = 0
    accounts: int = 0
    problems: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify(session: AsyncSession, limit: int = 50) -> Report:
    report = Report()
    report.entries = (await session.execute(text("SELECT COUNT(*) FROM ledger_entries"))).scalar_one()
    report.postings = (await session.execute(text("SELECT COUNT(*) FROM ledger_postings"))).scalar_one()
    report.accounts = (await session.execute(text("SELECT COUNT(*) FROM ledger_accounts"))).scalar_one()
    for name, sql in CHECKS:
        rows = (await session.execute(text(f"{sql} LIMIT {int(limit)}"))).mappings().all()
        report.problems.extend((name, dict(r)) for r in rows)
    return report
