"""The worker runtime (jobs/): queues and schedules as tasks, back-off after failures, a schedule run once per
period however many workers share the database, and the payout run on the worker's schedule."""

import asyncio
import time

import pytest
from sqlalchemy import select

from helpers import ok
from receiver import wait_until
from test_subbillers import Onboarding
from tonle.config import Compat
from tonle.jobs import runtime
from tonle.jobs.models import JobSchedule
from tonle.kit.clock import clock
from tonle.subbillers.models import Payout


def test_a_failing_task_backs_off_and_a_stop_ends_the_loops(server):
    calls: list[float] = []

    async def flaky(ctx):
        calls.append(time.monotonic())
        if len(calls) <= 2:
            raise RuntimeError("database away")
        return 0

    async def go():
        stop = asyncio.Event()
        tasks = [runtime.Task("flaky", flaky, every=lambda s: 0.05)]
        running = asyncio.create_task(runtime.run(server.backend.db, server.settings, stop, tasks))
        await asyncio.sleep(3.6)
        stop.set()
        t0 = time.monotonic()
        await asyncio.wait_for(running, 5)
        return time.monotonic() - t0

    stopped_in = server.run(go())
    # Failures pause 1 s, then 2 s (not a hot loop); once it works again the queue's own pause applies.
    assert len(calls) >= 3
    assert 0.9 <= calls[1] - calls[0] <= 1.6 and 1.9 <= calls[2] - calls[1] <= 2.8
    assert len(calls) - 3 >= 3  # back to polling every 0.05 s (loosely: a loaded machine is slower)
    assert stopped_in < 1.0
    assert runtime.backoff(1) == 1 and runtime.backoff(3) == 4 and runtime.backoff(20) == runtime.BACKOFF_MAX_SECONDS


def test_a_task_is_a_queue_or_a_schedule():
    with pytest.raises(ValueError):
        runtime.Task("both", lambda ctx: None, every=lambda s: 1, period=lambda s: 1)
    with pytest.raises(ValueError):
        runtime.Task("neither", lambda ctx: None)


def test_a_schedule_is_claimed_by_one_worker_per_period(server):
    name = f"test schedule {time.monotonic_ns()}"
    db = server.backend.db

    async def go():
        # Ten workers ask at once: one gets it.
        tokens = await asyncio.gather(*(runtime.claim_schedule(db, name, 60) for _ in range(10)))
        winners = [t for t in tokens if t]
        assert len(winners) == 1
        assert await runtime.claim_schedule(db, name, 60) is None  # held
        await runtime.release_schedule(db, name, winners[0], 3600, None)
        assert await runtime.claim_schedule(db, name, 60) is None  # not due for an hour
        clock.advance(3601)
        try:
            again = await runtime.claim_schedule(db, name, 60)
            assert again is not None
            await runtime.release_schedule(db, name, again, 3600, "boom")
            # A failed run is due again at once.
            retry = await runtime.claim_schedule(db, name, 60)
            assert retry is not None
        finally:
            clock.reset()
        async with db.sessions() as session:
            row = await session.get(JobSchedule, name)
            return row.runs, row.last_error, row.lease_token is not None

    assert server.run(go()) == (2, "boom", True)


def test_the_worker_pays_sub_billers_out_on_its_schedule(backend):
    with backend.running_server(
        Compat.live,
        worker_in_process=True,
        worker_poll_seconds=0.05,
        payout_run_seconds=3600,
        payout_min_khr=1000,
    ) as server:
        o = Onboarding(server)
        ok(o.onboard())
        o.link_active(number="000123454411")
        assert o.shop.push(o.shop.body(ref="SCHED-1", total=2500, to="CPO1")).json()["code"] == "SUCCESS"

        async def payouts(session):
            rows = (await session.execute(select(Payout).where(Payout.merchant_id == o.m.id))).scalars().all()
            return [(p.amount, p.currency, p.status, p.requested_by) for p in rows]

        # The schedule's first run comes within a round or two of the worker starting (its row is due at once);
        # the balance arrived after the start, so a later round of the hour would be needed: move the clock.
        clock.advance(3601)
        try:
            made = wait_until(lambda: server.in_session(payouts), timeout=30)
        finally:
            clock.reset()
        assert made == [(2500, "KHR", "paid", "scheduler")]
    assert server.cli("ledger", "verify").returncode == 0
