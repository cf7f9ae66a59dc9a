"""The ledger: balanced entries, guarded balances (also concurrently, on PostgreSQL), and `tonle ledger verify`."""

import asyncio

import pytest
from sqlalchemy import select, text

from helpers import fund_wallets, ok
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry, Posting
from tonle.ledger.verify import verify


def _accounts(server, merchant_id, currency="KHR"):
    async def go(session):
        a = await ledger.open_account(
            session,
            merchant_id=merchant_id,
            kind=ledger.AccountKind.sandbox_funding,
            currency=currency,
            allow_negative=True,
        )
        b = await ledger.open_account(
            session,
            merchant_id=merchant_id,
            kind=ledger.AccountKind.subbiller_settlement,
            currency=currency,
            owner_ref="SB1",
        )
        c = await ledger.open_account(
            session,
            merchant_id=merchant_id,
            kind=ledger.AccountKind.subbiller_settlement,
            currency=currency,
            owner_ref="SB2",
        )
        return a, b, c

    return server.in_session(go)


def test_entries_must_balance_per_currency(server):
    m = server.new_merchant()
    funding, sb1, _ = _accounts(server, m.id)
    usd_funding, _, _ = _accounts(server, m.id, "USD")

    for legs in (
        [ledger.Leg(funding, -5), ledger.Leg(sb1, 4)],
        [],
        [ledger.Leg(funding, 0)],
        [ledger.Leg(funding, -5), ledger.Leg(usd_funding, 5)],
    ):
        with pytest.raises(ledger.UnbalancedEntry):
            server.in_session(lambda s, legs=legs: ledger.post(s, merchant_id=m.id, kind="t", legs=legs))


def test_open_account_is_idempotent(server):
    m = server.new_merchant()
    first = _accounts(server, m.id)
    again = _accounts(server, m.id)
    assert [a.id for a in first] == [a.id for a in again]


def test_guarded_account_never_goes_negative_and_nothing_is_written(server):
    m = server.new_merchant()
    funding, sb1, sb2 = _accounts(server, m.id)

    async def move(session, src, dst, amount):
        src = await session.get(Account, src.id)
        dst = await session.get(Account, dst.id)
        return await ledger.post(
            session, merchant_id=m.id, kind="t", legs=[ledger.Leg(src, -amount), ledger.Leg(dst, amount)]
        )

    server.in_session(lambda s: move(s, funding, sb1, 100))

    async def overdraw(session):
        with pytest.raises(ledger.InsufficientFunds):
            await move(session, sb1, sb2, 101)
        # The caller's transaction is still usable after the refusal (savepoint).
        await move(session, sb1, sb2, 40)

    server.in_session(overdraw)

    async def state(session):
        rows = await session.execute(select(Account.id, Account.balance).where(Account.id.in_([sb1.id, sb2.id])))
        entries = (await session.execute(select(Entry.id).where(Entry.merchant_id == m.id))).all()
        return dict(rows.all()), len(entries)

    balances, n_entries = server.in_session(state)
    assert balances == {sb1.id: 60, sb2.id: 40}
    assert n_entries == 2


def test_closed_accounts_take_no_postings(server):
    c, m = server.merchant_client()
    ok(
        c.post("/customer/create", json={"sync_code": "CL", "name": "A", "wallet": [{"name": "K", "currency": "KHR"}]}),
        "SUCCESS",
    )
    wallet_id = ok(c.post("/customer/get_customer_detail", json={"sync_code": "CL"}))["walletBalances"][0]["id"]
    ok(c.post("/customer/delete", json={"sync_code": "CL"}))
    funding, _, _ = _accounts(server, m.id)

    async def credit(session):
        account = (await session.execute(select(Account).where(Account.owner_ref == wallet_id))).scalar_one()
        with pytest.raises(ledger.AccountClosed):
            await ledger.post(
                session, merchant_id=m.id, kind="t", legs=[ledger.Leg(funding, -5), ledger.Leg(account, 5)]
            )

    server.in_session(credit)


def test_concurrent_debits_take_exactly_what_is_there(pg_server):
    """40 concurrent transactions each try to take 100 from an account holding 1,000: exactly 10 succeed."""
    server = pg_server
    m = server.new_merchant()
    funding, sb1, sb2 = _accounts(server, m.id)

    async def fund(session):
        await ledger.post(
            session,
            merchant_id=m.id,
            kind="t",
            legs=[
                ledger.Leg(await session.get(Account, funding.id), -1000),
                ledger.Leg(await session.get(Account, sb1.id), 1000),
            ],
        )

    server.in_session(fund)

    async def one(i):
        async with server.backend.db.sessions() as session, session.begin():
            src, dst = await session.get(Account, sb1.id), await session.get(Account, sb2.id)
            # Half of them move money the other way round too, which would deadlock without ordered locking.
            legs = (
                [ledger.Leg(src, -100), ledger.Leg(dst, 100)]
                if i % 2 == 0
                else [ledger.Leg(dst, 100), ledger.Leg(src, -100)]
            )
            await ledger.post(session, merchant_id=m.id, kind="t", legs=legs)
            await asyncio.sleep(0.01)  # hold the row lock a little, so the transactions really overlap

    async def race():
        return await asyncio.gather(*(one(i) for i in range(40)), return_exceptions=True)

    results = server.run(race())
    succeeded = [r for r in results if r is None]
    refused = [r for r in results if isinstance(r, ledger.InsufficientFunds)]
    assert len(succeeded) == 10 and len(refused) == 30, results

    async def balances(session):
        return dict(
            (await session.execute(select(Account.id, Account.balance).where(Account.id.in_([sb1.id, sb2.id])))).all()
        )

    assert server.in_session(balances) == {sb1.id: 0, sb2.id: 1000}


def test_concurrent_transfers_between_two_wallets_both_ways(pg_server):
    """Transfers A->B and B->A at once: no deadlock, no money created or lost."""
    server = pg_server
    m = server.new_merchant()
    funding, a, b = _accounts(server, m.id)

    async def fund(session):
        f = await session.get(Account, funding.id)
        await ledger.post(
            session,
            merchant_id=m.id,
            kind="t",
            legs=[
                ledger.Leg(f, -1000),
                ledger.Leg(await session.get(Account, a.id), 500),
                ledger.Leg(await session.get(Account, b.id), 500),
            ],
        )

    server.in_session(fund)

    async def transfer(src_id, dst_id, amount):
        async with server.backend.db.sessions() as session, session.begin():
            src, dst = await session.get(Account, src_id), await session.get(Account, dst_id)
            await ledger.post(
                session, merchant_id=m.id, kind="t", legs=[ledger.Leg(src, -amount), ledger.Leg(dst, amount)]
            )

    async def race():
        jobs = [transfer(a.id, b.id, 7) if i % 2 else transfer(b.id, a.id, 11) for i in range(60)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = server.run(race())
    assert not [r for r in results if r is not None and not isinstance(r, ledger.InsufficientFunds)], results

    async def total(session):
        return (await session.execute(select(Account.balance).where(Account.id.in_([a.id, b.id])))).scalars().all()

    bal = server.in_session(total)
    assert sum(bal) == 1000 and min(bal) >= 0


def test_ledger_verify_cli_passes_then_catches_a_corrupted_posting(server):
    c, m = server.merchant_client()
    ok(
        c.post("/customer/create", json={"sync_code": "V1", "name": "A", "wallet": [{"name": "K", "currency": "KHR"}]}),
        "SUCCESS",
    )
    fund_wallets(server, m.id, "V1", {"KHR": 5000})
    good = server.cli("ledger", "verify")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ledger OK" in good.stdout

    async def last_posting(session):
        return (await session.execute(select(Posting.id, Posting.amount).order_by(Posting.id.desc()).limit(1))).one()

    pid, amount = server.in_session(last_posting)

    async def set_amount(session, value):
        await session.execute(text("UPDATE ledger_postings SET amount = :a WHERE id = :id"), {"a": value, "id": pid})

    server.in_session(lambda s: set_amount(s, amount + 1))
    try:
        bad = server.cli("ledger", "verify")
        assert bad.returncode == 1
        assert "entry does not sum to zero" in bad.stdout
        assert "balance differs from the sum of postings" in bad.stdout
        assert "running balance differs" in bad.stdout
    finally:
        server.in_session(lambda s: set_amount(s, amount))
    assert server.cli("ledger", "verify").returncode == 0


def test_verify_reports_forbidden_negative(server):
    """The CHECK constraint already refuses a negative balance on a guarded account; verify still looks, for a
    database that was edited by hand. Only SQLite lets the test switch the CHECK off to plant the fault."""
    m = server.new_merchant()
    _, sb1, _ = _accounts(server, m.id)
    if server.name != "sqlite":

        async def plant(session):
            await session.execute(text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"), {"id": sb1.id})

        with pytest.raises(Exception, match="no_negative"):
            server.in_session(plant)
        return

    async def plant_and_verify(session):
        await session.execute(text("PRAGMA ignore_check_constraints = ON"))
        try:
            await session.execute(text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"), {"id": sb1.id})
            report = await verify(session)
            await session.execute(text("UPDATE ledger_accounts SET balance = 0 WHERE id = :id"), {"id": sb1.id})
        finally:
            await session.execute(text("PRAGMA ignore_check_constraints = OFF"))
        return report

    report = server.in_session(plant_and_verify)
    names = {name for name, row in report.problems if row.get("id") == sb1.id}
    assert names == {
        "negative balance on an account that may not go negative",
        "balance differs from the sum of postings",
    }


def test_post_many_keeps_the_rules_of_post(server):
    m = server.new_merchant()
    funding, sb1, sb2 = _accounts(server, m.id)

    def many(entries):
        async def go(session):
            accounts = {a.id: await session.get(Account, a.id) for a in (funding, sb1, sb2)}
            legs = [
                ledger.NewEntry(m.id, "t", [ledger.Leg(accounts[a.id], amount) for a, amount in e]) for e in entries
            ]
            return await ledger.post_many(session, legs)

        return server.in_session(go)

    assert len(many([[(funding, -100), (sb1, 100)], [(sb1, -30), (sb2, 30)], [(funding, -5), (sb2, 5)]])) == 3
    with pytest.raises(ledger.UnbalancedEntry):
        many([[(funding, -1), (sb1, 1)], [(funding, -1), (sb1, 2)]])
    with pytest.raises(ledger.InsufficientFunds):  # sb1 holds 70: the second entry would take it below zero
        many([[(sb1, -60), (sb2, 60)], [(sb1, -20), (sb2, 20)]])

    async def state(session):
        rows = await session.execute(select(Account.id, Account.balance).where(Account.id.in_([sb1.id, sb2.id])))
        return dict(rows.all())

    assert server.in_session(state) == {sb1.id: 70, sb2.id: 35}  # the refused batches wrote nothing
    assert server.in_session(verify).ok
