"""Property-based tests of the ledger (hypothesis): random sequences of top-ups, settles, payouts, reversals and
concurrent batches, on the real database, keep every invariant `tonle ledger verify` checks, and money is never
created or destroyed: the balances of a merchant's accounts always sum to zero per currency, because every entry
is balanced and the sandbox funding and bank clearing accounts stand for the outside world."""

import asyncio

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from tonle.ledger import service as ledger
from tonle.ledger.models import Account
from tonle.ledger.verify import verify

WALLETS, SUBBILLERS = 3, 2
amounts = st.integers(min_value=1, max_value=5_000)


def machine_for(server, steps: int, examples: int):
    class LedgerMachine(RuleBasedStateMachine):
        """The model: what each account should hold. Every rule runs one or more real transactions."""

        @initialize()
        def accounts(self):
            self.m = server.new_merchant("Ledger property")
            self.payouts: list[tuple[int, int]] = []  # (sub-biller index, amount) not reversed yet

            async def go(session):
                def acc(kind, ref, neg=False):
                    return ledger.open_account(
                        session, merchant_id=self.m.id, kind=kind, currency="KHR", owner_ref=ref, allow_negative=neg
                    )

                funding = await acc(ledger.AccountKind.sandbox_funding, "", True)
                clearing = await acc(ledger.AccountKind.bank_clearing, "BANK", True)
                wallets = [await acc(ledger.AccountKind.wallet, f"w{i}") for i in range(WALLETS)]
                subs = [await acc(ledger.AccountKind.subbiller_settlement, f"s{i}") for i in range(SUBBILLERS)]
                return funding.id, clearing.id, [w.id for w in wallets], [s.id for s in subs]

            self.funding, self.clearing, self.wallets, self.subs = server.in_session(go)
            self.model = {a: 0 for a in [self.funding, self.clearing, *self.wallets, *self.subs]}

        def move(self, src: str, dst: str, amount: int) -> bool:
            async def go():
                async with server.backend.db.sessions() as session, session.begin():
                    legs = [
                        ledger.Leg(await session.get(Account, src), -amount),
                        ledger.Leg(await session.get(Account, dst), amount),
                    ]
                    try:
                        await ledger.post(session, merchant_id=self.m.id, kind="property", legs=legs)
                    except ledger.InsufficientFunds:
                        return False
                    return True

            done = server.run(go())
            self._apply(src, dst, amount, done)
            return done

        def _apply(self, src, dst, amount, done):
            can = self.model[src] >= amount or src in (self.funding, self.clearing)
            assert done == can, f"a debit of {amount} from {self.model[src]} was {'taken' if done else 'refused'}"
            if done:
                self.model[src] -= amount
                self.model[dst] += amount

        @rule(w=st.integers(0, WALLETS - 1), amount=amounts)
        def top_up(self, w, amount):
            self.move(self.funding, self.wallets[w], amount)

        @rule(w=st.integers(0, WALLETS - 1), s=st.integers(0, SUBBILLERS - 1), amount=amounts)
        def settle(self, w, s, amount):
            self.move(self.wallets[w], self.subs[s], amount)

        @rule(s=st.integers(0, SUBBILLERS - 1), amount=amounts)
        def payout(self, s, amount):
            if self.move(self.subs[s], self.clearing, amount):
                self.payouts.append((s, amount))

        @precondition(lambda self: self.payouts)
        @rule(pick=st.integers(min_value=0))
        def reverse_payout(self, pick):
            s, amount = self.payouts.pop(pick % len(self.payouts))  # the bank sent it back
            assert self.move(self.clearing, self.subs[s], amount)

        @rule(
            batch=st.lists(
                st.tuples(st.integers(0, WALLETS - 1), st.integers(0, SUBBILLERS - 1), amounts), min_size=2, max_size=8
            )
        )
        def concurrent_settles(self, batch):
            """Settles at once, each in its own transaction: on PostgreSQL they really overlap (row locks and the
            guarded update decide), on SQLite they queue for the write lock."""

            async def one(w, s, amount):
                async with server.backend.db.sessions() as session, session.begin():
                    legs = [
                        ledger.Leg(await session.get(Account, self.wallets[w]), -amount),
                        ledger.Leg(await session.get(Account, self.subs[s]), amount),
                    ]
                    try:
                        await ledger.post(session, merchant_id=self.m.id, kind="property", legs=legs)
                    except ledger.InsufficientFunds:
                        return False
                    await asyncio.sleep(0.005)  # hold the locks a moment so that the transactions overlap
                    return True

            async def race():
                return await asyncio.gather(*(one(*b) for b in batch))

            outcomes = server.run(race())
            # The order in which they ran is the database's. What must hold: the taken ones add up (the invariant
            # compares), and each refused one had a reason: wallets only lose money within a batch, so a wallet that
            # could not pay when its settle ran cannot pay at the end either.
            for (w, s, amount), done in zip(batch, outcomes, strict=True):
                if done:
                    self.model[self.wallets[w]] -= amount
                    self.model[self.subs[s]] += amount
            for (w, _, amount), done in zip(batch, outcomes, strict=True):
                if not done:
                    assert self.model[self.wallets[w]] < amount, "a settle was refused although its wallet could pay"

        @invariant()
        def balances_match_the_model_and_sum_to_zero(self):
            if not hasattr(self, "model"):
                return

            async def go(session):
                mine = Account.merchant_id == self.m.id
                rows = await session.execute(select(Account.id, Account.balance).where(mine))
                total = await session.scalar(
                    select(func.sum(Account.balance)).where(Account.merchant_id == self.m.id, Account.currency == "KHR")
                )
                return dict(rows.all()), total

            actual, total = server.in_session(go)
            assert actual == self.model
            assert total == 0, "money was created or destroyed"
            assert all(actual[w] >= 0 for w in [*self.wallets, *self.subs])

        def teardown(self):
            async def go(session):
                return await verify(session)

            report = server.in_session(go)
            assert report.ok, report.problems

    LedgerMachine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    return LedgerMachine


def test_ledger_properties(server):
    machine_for(server, steps=15, examples=12).TestCase().runTest()


@pytest.mark.long
def test_ledger_properties_long(server):
    machine_for(server, steps=40, examples=40).TestCase().runTest()
