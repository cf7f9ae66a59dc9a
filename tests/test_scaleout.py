"""Scale-out on PostgreSQL: two `tonle serve` processes and two `tonle worker` processes on one database. A client
spreads concurrent settles, wallet top-ups (SDK + bank confirm) and sub-biller payouts over both servers, against
shared wallets and one sub-biller: exact balances, no double effect, every webhook delivered exactly once."""

import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from helpers import fund_wallets, ok
from procs import ServeProc, worker
from receiver import Receiver
from test_isolation import settle_body
from test_subbillers import Onboarding, _link_id
from test_topup import decrypt, encrypt
from tonle.config import Compat

pytestmark = pytest.mark.long
CUSTOMERS, SETTLES, TOPUPS, PAYOUTS = 10, 240, 60, 40
SETTLE_KHR, TOPUP_KHR, PAYOUT_KHR, FLOAT_KHR = 1_000, 2_000, 100, 10_000
LEASE = {"TONLE_WEBHOOK_TIMEOUT_SECONDS": "10", "TONLE_WEBHOOK_LEASE_MARGIN_SECONDS": "20"}


def test_two_servers_two_workers_one_database(backend):
    if backend.name != "postgres":
        pytest.skip("scale-out runs on PostgreSQL")
    server = backend.server(Compat.live, webhook_allow_private_targets=True)
    o = Onboarding(server)
    ok(o.onboard())
    o.link_active()
    c, m = o.c, o.m
    wallets = {}
    for i in range(CUSTOMERS):
        code = f"SO{i}"
        ok(
            c.post(
                "/customer/create", json={"sync_code": code, "name": code, "wallet": [{"name": "K", "currency": "KHR"}]}
            ),
            "SUCCESS",
        )
        fund_wallets(server, m.id, code, {"KHR": 1_000_000})
        wallets[code] = ok(c.post("/customer/get_customer_detail", json={"sync_code": code}))["walletBalances"][0]["id"]
    # A float on the sub-biller first, so that payouts never wait for settles.
    float_ = settle_body("FLOAT", "SO0", "CPO1", m.creds.bill_hash_key, amount=FLOAT_KHR)
    assert c.post("/bill_payment/push_bill_with_payment", json=float_).json()["code"] == "SUCCESS"
    receiver = Receiver().start()
    ok(c.post("/tonle/v1/webhooks/endpoint", json={"url": receiver.url}))
    portal = o.portal()
    link_id = _link_id(o, portal)
    token = c.headers["Authorization"]
    servers = [ServeProc(backend, server.settings).start(), ServeProc(backend, server.settings).start()]
    # The production send timeout and lease (10 s + margin 20 s), not the crash tests' 2 s and 3 s: this test is
    # about the ordinary case, exactly once. (Two CI runs failed here, 36 of 100 events sent twice and a top-up
    # answered without data: the suite's idle servers held PostgreSQL's 100 connections, and these processes were
    # refused theirs; reproduced with a connection count at 100, gone with the suite's small pools, conftest.)
    workers = [worker(backend, **LEASE), worker(backend, **LEASE)]

    def settle(i):
        base = servers[i % 2].base_url
        code = f"SO{i % CUSTOMERS}"
        with httpx.Client(base_url=base, headers={"Authorization": token}, timeout=60) as cl:
            r = cl.post(
                "/bill_payment/push_bill_with_payment",
                json=settle_body(f"SC{i}", code, "CPO1", m.creds.bill_hash_key, amount=SETTLE_KHR),
            )
            return ("settle", code, r.json()["code"])

    def top_up(j):
        code = f"SO{j % CUSTOMERS}"
        sdk = {"token": m.creds.merchant_token, "X-Referrer-Key": m.creds.referrer_key}
        with (
            httpx.Client(base_url=servers[j % 2].base_url, timeout=60) as a,
            httpx.Client(base_url=servers[(j + 1) % 2].base_url, timeout=60, headers={"token": o.bank_token}) as b,
        ):
            answer = a.post(
                "/instantpaymentsdk/wallet/topup",
                headers=sdk,
                json={"encrypted": encrypt(m.creds.sdk_secret, {"id": wallets[code], "amount": TOPUP_KHR})},
            )
            started = answer.json()
            # Said in full when it fails: a CI run once got an answer without data here, and only the TypeError
            # was printed (a 429, a 503 or a 500 would each mean something else).
            assert started.get("code") == "000", f"top-up {j}: HTTP {answer.status_code} {answer.text}"
            tran_id = decrypt(m.creds.sdk_secret, started["data"]["encrypted"])["tran_id"]
            found = b.post("/payment/v5/inquiry", json={"identity_code": tran_id, "fee_channel": "MERCHANT"}).json()
            t = found["data"]["transaction"]
            r = b.post(
                "/payment/v3/confirm",
                json={
                    "identity_code": tran_id,
                    "fee_channel": "MERCHANT",
                    "bank_ref": f"FT{j}",
                    "bank_date": "2026-11-26",
                    "original_amount": TOPUP_KHR,
                    "convenience_fee_amount": 0,
                    "sponsor_fee_amount": 0,
                    "total_amount": TOPUP_KHR,
                    "currency": "KHR",
                    "description": "",
                    "payment_token": t["payment_token"],
                    "payer_account_no": "001",
                    "payer_account_name": "PAYER",
                    "payer_phone": "012",
                },
            ).json()
            return ("topup", code, r["message"])

    def payout(k):
        url = re.sub(r"^http://[^/]+", servers[k % 2].base_url, portal)
        with httpx.Client(timeout=60) as web:
            r = web.post(url + "/payout", data={"link_id": link_id, "amount": str(PAYOUT_KHR)})
            return ("payout", "", r.status_code)

    jobs = (
        [(settle, i) for i in range(SETTLES)]
        + [(top_up, j) for j in range(TOPUPS)]
        + [(payout, k) for k in range(PAYOUTS)]
    )
    random.Random(7).shuffle(jobs)
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda job: job[0](job[1]), jobs))
        elapsed = time.monotonic() - started

        async def deliverable(session):
            # Every event sent to the receiver (events from before it was configured went nowhere).
            sql = (
                "SELECT id FROM outbox_events WHERE merchant_id = :m AND target_url = :url "
                "AND status NOT IN ('info', 'no_endpoint')"
            )
            return (await session.execute(text(sql), {"m": m.id, "url": receiver.url})).scalars().all()

        expected = set(server.in_session(deliverable))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not expected <= {r.headers["webhook-id"] for r in receiver.requests}:
            time.sleep(0.2)
        time.sleep(1)  # a second delivery of anything would arrive now
    finally:
        for w in workers:
            w.stop()
        for s in servers:
            s.stop()
        receiver.stop()

    assert [r for r in results if r[0] == "settle" and r[2] != "SUCCESS"] == []
    assert [r for r in results if r[0] == "topup" and r[2] != "Payment confirmed"] == []
    assert [r for r in results if r[0] == "payout" and r[2] != 303] == []
    for code in wallets:
        settles = sum(1 for r in results if r[0] == "settle" and r[1] == code)
        topups = sum(1 for r in results if r[0] == "topup" and r[1] == code)
        [khr] = ok(c.post("/instant_payment/get_wallet_balance", json={"customer_sync_code": code}))
        expected_khr = 1_000_000 - settles * SETTLE_KHR + topups * TOPUP_KHR - (FLOAT_KHR if code == "SO0" else 0)
        assert khr["balance"] == expected_khr, (code, khr["balance"], expected_khr)

    async def subbiller(session):
        return (
            await session.execute(
                text(
                    "SELECT a.balance FROM ledger_accounts a JOIN sub_billers s ON a.owner_ref = s.id "
                    "WHERE s.merchant_id = :m AND s.code = 'CPO1' AND a.kind = 'subbiller_settlement'"
                ),
                {"m": m.id},
            )
        ).scalar_one()

    assert server.in_session(subbiller) == FLOAT_KHR + SETTLES * SETTLE_KHR - PAYOUTS * PAYOUT_KHR
    received = [r.headers["webhook-id"] for r in receiver.requests if r.headers["webhook-id"] in expected]
    missing = expected - set(received)

    async def describe(session):
        sql = (
            "SELECT type, status, attempts, last_error, target_url, created_at FROM outbox_events WHERE id = ANY(:ids)"
        )
        return (await session.execute(text(sql), {"ids": list(missing)})).all()

    assert not missing, f"never delivered: {server.in_session(describe)} (receiver at {receiver.url})"
    twice = sorted({i for i in received if received.count(i) > 1})

    async def attempts(session):
        sql = (
            "SELECT event_id, attempt_no, started_at, latency_ms, status_code, error FROM webhook_attempts "
            "WHERE event_id = ANY(:ids) ORDER BY event_id, attempt_no"
        )
        return (await session.execute(text(sql), {"ids": twice[:5]})).all()

    assert not twice, f"{len(twice)} events delivered twice; the attempts of some: {server.in_session(attempts)}"
    assert server.cli("ledger", "verify").returncode == 0
    print(
        f"scale-out: {SETTLES} settles, {TOPUPS} top-ups, {PAYOUTS} payouts over 2 servers in {elapsed:.1f} s; "
        f"{len(expected)} webhooks delivered once each by 2 workers"
    )
