"""The bank channel for bills with the Merchant Proxy as its source (spec other-apis §3, sdk-and-bank-api §2.3): a
bank looks a bill up by biller code and consumer code, Tonle asks the biller's proxy (a fake biller here: good,
slow, broken), the bank pays what was looked up, once, and the biller's webhook tells of it."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from billers import GOOD, TOKEN, FakeBiller, with_faults
from helpers import add_bank, ok, set_merchant
from receiver import Receiver, wait_until
from tonle.banks.models import BillLookup
from tonle.config import Compat
from tonle.kit.clock import clock
from tonle.kit.signing import verify
from tonle.ledger.models import Entry
from tonle.merchants.models import Merchant
from tonle.proxy import check
from tonle.webhooks.models import OutboxEvent
from tonle.wire import wirejson

SECRET = "whsec_c2FuZGJveC13YXRlci13ZWJob29rLWtleQ=="


@pytest.fixture
def bill_server(backend):
    """Loopback targets allowed (the fake billers are on loopback); the proxy time limit is the default 5 s."""
    yield backend.server(Compat.live, webhook_allow_private_targets=True)
    clock.reset()


class Biller:
    """A proxy biller on ``server`` whose proxy is ``fake``, and a bank to pay its bills."""

    def __init__(self, server, fake: FakeBiller | None, *, api: bool = True, proxy_url: str | None = None):
        self.server = server
        self.c, self.m = server.merchant_client("Water Utility")
        self.code = str(uuid.uuid4().int)[:12]
        url = proxy_url or (fake.url + "/proxy" if fake else None)
        set_merchant(
            server,
            self.m.id,
            biller_code=self.code,
            bill_source="proxy",
            proxy_url=url,
            biller_api_url=fake.url if (fake and api) else None,
            biller_api_token=TOKEN,
            webhook_secret=SECRET,
        )
        self.bank_code = "B" + uuid.uuid4().hex[:6].upper()
        self.bank_token = "bank-" + uuid.uuid4().hex
        add_bank(server, self.bank_code, self.bank_token, name="Sandbox Bank")
        self.bank = server.client()
        self.bank.headers["token"] = self.bank_token

    def look_up(self, consumer: str, bank=None, **headers):
        return (bank or self.bank).post(
            "/payment/v3/inquiry/single", json={"bill_code": self.code, "customer_code": consumer}, headers=headers
        )

    def found(self, consumer: str) -> dict:
        return ok(self.look_up(consumer), "SUCCESS")

    def confirm(self, found: dict, amount, *, bank_ref: str = "FT1", bank=None):
        t = found["transaction"]
        body = {
            "identity_code": t["tran_id"],
            "payment_token": t["payment_token"],
            "bank_ref": bank_ref,
            "currency": t["currency"],
            "total_amount": amount,
            "bank_date": "2026-12-01",
        }
        return (bank or self.bank).post("/payment/v3/confirm", content=wirejson.dumps(body))

    def count(self, model, **where) -> int:
        async def go(session):
            q = select(func.count()).select_from(model)
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return (await session.execute(q)).scalar_one()

        return self.server.in_session(go)

    def events(self) -> list[dict]:
        async def go(session):
            rows = (await session.execute(select(OutboxEvent).where(OutboxEvent.merchant_id == self.m.id))).scalars()
            return [wirejson.loads(e.body) for e in rows]

        return self.server.in_session(go)


def test_a_bill_is_looked_up_paid_once_and_announced(bill_server):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake)
        data = b.found("CU003035")
        assert list(data) == ["supplier", "customer", "balance", "transaction", "payment_token", "pending_bills"]
        assert data["supplier"] == {"supplier_id": b.m.id, "supplier_code": b.code, "supplier_name": "Water Utility"}
        cust = data["customer"]
        assert (cust["customer_code"], cust["customer_name"], cust["customer_name_latin"]) == (
            "CU003035",
            "ញ៉េប នីម",
            "Nheb Nim",
        )
        assert (cust["currency"], cust["bill_amount"], cust["min_amount"], cust["max_amount"]) == ("USD", 10, -1, 5000)
        assert cust["last_bill_date"] == "2024-2-29 10:46:33"  # as the biller wrote it (non-padded)
        assert data["payment_token"] == cust["payment_token"] == data["transaction"]["payment_token"]
        assert data["pending_bills"]["opening_balance"] == 20
        assert [p["date"] for p in data["pending_bills"]["pending_bills"]] == ["29/02/2024", "31/01/2024"]

        # The proxy was called as Bill24 calls it, and signed so the biller can tell it came from its gateway.
        proxy_calls = [r for r in fake.requests if r["path"] == "/proxy"]
        h = {k.decode(): v.decode() for k, v in proxy_calls[-1]["headers"].items()}
        assert (h["content-type"], h["accept"], h["token"]) == ("application/json", "application/json", TOKEN)
        verify(wirejson.dumps({"consumer_code": "CU003035"}).encode(), h, SECRET)
        assert h["x-request-id"]

        paid = ok(b.confirm(data, 10, bank_ref="FT100"), "SUCCESS")
        assert (paid["status"], paid["total_amount"], paid["due_amount"], paid["overpaid_amount"]) == (
            "success",
            10,
            10,
            0,
        )
        # one ledger entry, one webhook event; a repeat of the same confirm is answered again with no new effect
        assert b.confirm(data, 10, bank_ref="FT100").json()["message"] == "Payment already confirmed"
        assert b.count(Entry, merchant_id=b.m.id, kind="bank_bill_payment") == 1
        [body] = b.events()
        assert (body["payment_service_type"], body["tran_amount"], body["currency"], body["identity_code"]) == (
            "Bank Channel",
            10,
            "USD",
            "CU003035",
        )
        assert body["purpose_of_transaction"] == "Invoice on Feb-2024"  # the proxy's description
        assert body["customers"] == [
            {
                "branch_code": "",
                "branch_name": "",
                "customer_code": "CU003035",
                "customer_name": "ញ៉េប នីម",
                "customer_name_latin": "Nheb Nim",
                "bill_no": "CU003035",
                "amount": 10,
            }
        ]
        assert body["bank_code"] == b.bank_code and body["bank_ref"] == "FT100"
        # another bank_ref is another payment of a paid bill: refused
        assert b.confirm(data, 10, bank_ref="FT101").json()["code"] == "TRANSACTION_ALREADY_PAID"
        # the biller finds the payment by the webhook's tran_id
        detail = ok(b.c.post("/transaction/instant_payment/detail", json={"reference": body["tran_id"]}))
        assert (detail["transaction_type"], detail["status"], detail["tran_amount"]) == ("bank_bill", "success", 10)


@pytest.mark.parametrize(
    ("consumer", "code", "message"),
    [
        ("NOBODY", "CONSUMER_NOT_FOUND", "Error Not Found"),
        ("LATE1", "BILL_OVERDUE", "Error Bill Over Due"),
        ("PAID1", "NO_AMOUNT_TO_PAY", "Error No Amount To Pay"),
        ("EUR1", "CURRENCY_NOT_ALLOWED", "Error Currency Not Allow"),
        ("ZERO1", "NO_AMOUNT_TO_PAY", "Error No Amount To Pay"),  # code 0, but nothing can be paid
    ],
)
def test_the_billers_refusals_reach_the_bank(bill_server, consumer, code, message):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake)
        r = b.look_up(consumer).json()
        assert (r["code"], r["message"], r["data"]) == (code, message, None)
        assert b.count(BillLookup, merchant_id=b.m.id) == 0


@pytest.mark.parametrize(
    "fault",
    [
        "garbage",
        "http500",
        "bad_code",
        "missing_field",
        "bad_date",
        "bad_currency",
        "bad_amount",
        "mojibake",
        "min_over_max",
    ],
)
def test_a_broken_proxy_is_unavailable_never_not_found(bill_server, fault, caplog):
    with FakeBiller(with_faults(fault)) as fake:
        b = Biller(bill_server, fake)
        r = b.look_up("CU003035", **{"X-Request-Id": f"rid-{fault}"})
        body = r.json()
        assert (r.status_code, body["code"]) == (200, "BILLER_UNAVAILABLE")
        assert body["message_kh"]
        assert b.count(BillLookup, merchant_id=b.m.id) == 0
        health = ok(b.c.get("/tonle/v1/proxy/health"))
        assert health["proxy"]["calls"] == 1 and health["proxy"]["error_rate"] == 1
        assert health["proxy"]["last_error"]["request_id"] == f"rid-{fault}"
        assert health["proxy"]["last_error"]["error"]
    assert any(f"request_id=rid-{fault}" in rec.getMessage() for rec in caplog.records)


def test_a_slow_proxy_is_unavailable_within_the_limit(bill_server):
    with FakeBiller(with_faults("slow", delay_seconds=6)) as fake:
        b = Biller(bill_server, fake, api=False)
        t0 = time.monotonic()
        r = b.look_up("CU003035")
        took = time.monotonic() - t0
        assert r.json()["code"] == "BILLER_UNAVAILABLE"
        assert 4.5 < took < 5.9, took  # the 5 s limit, not the proxy's 6 s
        assert "no answer within 5 s" in ok(b.c.get("/tonle/v1/proxy/health"))["proxy"]["last_error"]["error"]


def test_a_refused_connection_is_retried_once_then_unavailable(bill_server):
    with FakeBiller(GOOD) as fake:
        dead = fake.url
    b = Biller(bill_server, None, proxy_url=dead + "/proxy")
    assert b.look_up("CU003035").json()["code"] == "BILLER_UNAVAILABLE"
    assert "ConnectError" in ok(b.c.get("/tonle/v1/proxy/health"))["proxy"]["last_error"]["error"]


def test_a_private_proxy_address_is_refused_outside_the_sandbox(server):
    with FakeBiller(GOOD) as fake:
        b = Biller(server, fake)
        assert b.look_up("CU003035").json()["code"] == "BILLER_UNAVAILABLE"
        assert not [r for r in fake.requests if r["path"] == "/proxy"]
        err = ok(b.c.get("/tonle/v1/proxy/health"))["proxy"]["last_error"]["error"]
        assert "non-public address" in err


def test_an_unknown_biller_code_and_bad_bodies(bill_server):
    b = Biller(bill_server, None)
    r = b.bank.post("/payment/v3/inquiry/single", json={"bill_code": "NOPE", "customer_code": "X"}).json()
    assert (r["code"], r["message"]) == ("BILLER_NOT_FOUND", "Biller not found")
    r = b.bank.post("/payment/v3/inquiry/single", json={"customer_code": "X" * 101}).json()
    assert (r["code"], r["message"]) == (
        "ERR_MISSED_FIELD",
        "Please provide [bill_code]., [customer_code] must have 100 or fewer characters. Please adjust and retry.",
    )
    r = bill_server.client().post("/payment/v3/inquiry/single", json={"bill_code": b.code, "customer_code": "X"})
    assert r.status_code == 401


def test_pending_bills_that_fail_leave_the_bill_payable(bill_server):
    with FakeBiller(GOOD) as fake, FakeBiller(with_faults("garbage")) as broken:
        b = Biller(bill_server, fake, api=False)
        set_merchant(bill_server, b.m.id, biller_api_url=broken.url)
        data = b.found("CU003035")
        assert data["pending_bills"] is None and data["customer"]["bill_amount"] == 10
        health = ok(b.c.get("/tonle/v1/proxy/health"))
        assert health["proxy"]["error_rate"] == 0 and health["pending_bills"]["error_rate"] == 1


def test_amount_rules_min_max_and_overpayment(bill_server):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake, api=False)
        ranged = b.found("RANGE1")
        assert (ranged["customer"]["min_amount"], ranged["customer"]["max_amount"]) == (5, 20.5)
        for amount in ("4.99", "20.51", 0):
            r = b.confirm(ranged, amount).json()
            assert (r["code"], r["data"]) == ("AMOUNT_OUT_OF_RANGE", {"min_amount": 5, "max_amount": 20.5}), amount
            assert r["message"] == "Amount is outside what this bill accepts (from 5 to 20.5)."
        paid = ok(b.confirm(ranged, "15.25"), "SUCCESS")
        assert (paid["total_amount"], paid["due_amount"], paid["overpaid_amount"]) == (15.25, 10, 5.25)
        [body] = b.events()
        assert body["tran_amount"] == 15.25 and body["customers"][0]["amount"] == 15.25

        exact = b.found("EXACT1")  # no min/max given: the amount due, exactly
        assert (exact["customer"]["min_amount"], exact["customer"]["max_amount"]) == (45000, 45000)
        assert b.confirm(exact, 44999).json()["code"] == "AMOUNT_OUT_OF_RANGE"
        assert b.confirm(exact, 45001).json()["code"] == "AMOUNT_OUT_OF_RANGE"
        assert b.confirm(exact, 45000).json()["code"] == "SUCCESS"

        unlimited = b.found("CU003035")  # min -1: any amount up to max
        assert ok(b.confirm(unlimited, "0.01"), "SUCCESS")["overpaid_amount"] == 0
        assert b.count(Entry, merchant_id=b.m.id, kind="bank_bill_payment") == 3


def test_a_look_up_is_payable_by_its_bank_until_it_expires(bill_server):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake, api=False)
        other = Biller(bill_server, fake, api=False)
        data = b.found("CU003035")
        # another bank cannot pay with this bank's token, nor with a look-up of its own
        assert b.confirm(data, 10, bank=other.bank).json()["code"] == "INVALID_PAYMENT_TOKEN"
        stale = b.found("CU003035")
        clock.advance(bill_server.settings.bill_lookup_ttl_seconds + 1)
        assert b.confirm(stale, 10).json()["code"] == "TRANSACTION_EXPIRED"
        assert b.count(Entry, merchant_id=b.m.id, kind="bank_bill_payment") == 0


def test_concurrent_confirms_of_one_look_up_have_one_effect(bill_server):
    if bill_server.name != "postgres":
        pytest.skip("concurrency test: PostgreSQL only")
    pg_server = bill_server
    with FakeBiller(GOOD) as fake:
        b = Biller(pg_server, fake, api=False)
        data = b.found("CU003035")
        clients = [pg_server.client() for _ in range(8)]
        for c in clients:
            c.headers["token"] = b.bank_token
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: b.confirm(data, 10, bank_ref=f"FT{i}", bank=clients[i]).json(), range(8)))
        codes = sorted(a["code"] for a in answers)
        assert codes.count("SUCCESS") == 1 and codes.count("TRANSACTION_ALREADY_PAID") == 7, codes
        assert b.count(Entry, merchant_id=b.m.id, kind="bank_bill_payment") == 1
        assert len(b.events()) == 1


def test_the_webhook_goes_out_once_though_the_worker_is_killed(backend):
    from test_webhooks import _worker

    server = backend.server(Compat.live, webhook_allow_private_targets=True)
    receiver = Receiver().start()
    try:
        with FakeBiller(GOOD) as fake:
            b = Biller(server, fake, api=False)
            set_merchant(server, b.m.id, webhook_url=receiver.url)
            ok(b.confirm(b.found("CU003035"), 10), "SUCCESS")
        receiver.plan.append(("sleep", 6, 200))  # the first delivery hangs while its worker is killed
        first = _worker(backend)
        try:
            receiver.wait_for(1, timeout=30)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        second = _worker(backend)
        try:
            got = receiver.wait_for(2, timeout=30)

            async def states(session):
                q = select(OutboxEvent.status, OutboxEvent.attempts).where(OutboxEvent.merchant_id == b.m.id)
                return (await session.execute(q)).all()

            rows = wait_until(lambda: (x := server.in_session(states)) and x[0][0] == "delivered" and x, timeout=30)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(20)
        assert len(rows) == 1 and rows[0][1] == 2  # one event, delivered by the second worker
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]  # the same event both times
        assert json.loads(got[1].body)["payment_service_type"] == "Bank Channel"
    finally:
        receiver.stop()
        clock.reset()


def test_the_billers_error_reply_to_a_duplicate_is_final(backend):
    """Bill24's billers answer {"status":"Error"} to the same webhook twice: that is an answer, not a failure."""
    fast = dict(worker_in_process=True, worker_poll_seconds=0.05, webhook_allow_private_targets=True)
    with backend.running_server(Compat.live, **fast) as server, FakeBiller(GOOD) as fake:
        b = Biller(server, fake, api=False)
        set_merchant(server, b.m.id, webhook_url=fake.url + "/webhook")
        ok(b.confirm(b.found("CU003035"), 10), "SUCCESS")
        wait_until(lambda: len(fake.received) == 1, timeout=30)
        [event] = ok(b.c.get("/tonle/v1/webhooks/deliveries"))["items"]
        ok(b.c.post(f"/tonle/v1/webhooks/deliveries/{event['event_id']}/resend"))
        wait_until(lambda: len(fake.received) == 2, timeout=30)
        url = f"/tonle/v1/webhooks/deliveries/{event['event_id']}"
        wait_until(lambda: len(ok(b.c.get(url))["attempt_log"]) == 2, timeout=30)
        time.sleep(1.5)  # no retry follows the Error reply
        d = ok(b.c.get(url))
        assert d["status"] == "delivered" and len(d["attempt_log"]) == 2 and len(fake.received) == 2
        assert json.loads(d["attempt_log"][-1]["response"]) == {"status": "Error", "message": "Error"}


def test_health_figures_over_good_and_bad_calls(bill_server):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake, api=False)
        for _ in range(3):
            b.found("CU003035")
        b.look_up("NOBODY")  # a refusal is an answer, not an error
        set_merchant(bill_server, b.m.id, proxy_url=fake.url + "/nowhere")  # 404: unusable
        b.look_up("CU003035")
        h = ok(b.c.get("/tonle/v1/proxy/health"))
        p = h["proxy"]
        assert p["calls"] == 5 and p["error_rate"] == 0.2
        assert p["outcomes"] == {"ok": 3, "not_found": 1, "unavailable": 1}
        assert 0 <= p["p50_ms"] <= p["p99_ms"] < 5000
        assert p["last_error"]["error"] == "HTTP 404"
        assert (h["biller_code"], h["bill_source"]) == (b.code, "proxy")
        out = bill_server.cli("proxy", "health", "--client-id", b.m.creds.client_id, check=True).stdout
        assert "proxy: 5 calls" in out and "errors 20.0%" in out and "HTTP 404" in out


# ---------------------------------------------------------------- the conformance check


def test_proxy_check_passes_a_good_proxy(bill_server):
    with FakeBiller(GOOD) as fake:
        proc = bill_server.cli("proxy", "check", fake.url + "/proxy", "--consumer", "CU003035", "--token", TOKEN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout and "all checks passed" in proc.stdout
    assert "PASS [CU003035] dates (yyyy-M-d HH:mm:ss, padded or not)" in proc.stdout
    assert "PASS [unknown] an unknown consumer answers code 1" in proc.stdout


@pytest.mark.parametrize(
    ("fault", "failed"),
    [
        ("slow", "[CU003035] answers within the time limit"),
        ("http500", "[CU003035] HTTP 200"),
        ("garbage", "[CU003035] JSON envelope (code, message, message_kh)"),
        ("bad_code", "[CU003035] code is one of 0-4"),
        ("missing_field", "[CU003035] required fields"),
        ("bad_currency", "[CU003035] currency is KHR or USD"),
        ("bad_amount", "[CU003035] amounts (exact in USD; -1 = unlimited)"),
        ("min_over_max", "[CU003035] amounts (exact in USD; -1 = unlimited)"),
        ("bad_date", "[CU003035] dates (yyyy-M-d HH:mm:ss, padded or not)"),
        ("mojibake", "[CU003035] Khmer text intact (UTF-8)"),
        ("unknown_found", "[unknown] an unknown consumer answers code 1"),
    ],
)
def test_proxy_check_names_the_failed_check_of_a_broken_proxy(bill_server, fault, failed):
    with FakeBiller(with_faults(fault, delay_seconds=2.5)) as fake:
        results = bill_server.run(check.run(fake.url + "/proxy", consumer="CU003035", token=TOKEN, limit_seconds=2.0))
    assert failed in [r.name for r in results if r.ok is False], results


def test_proxy_check_a_wrong_token_and_an_unreachable_proxy(bill_server):
    with FakeBiller(GOOD) as fake:
        proc = bill_server.cli("proxy", "check", fake.url + "/proxy", "--consumer", "CU003035", "--token", "nope")
        assert proc.returncode == 1 and "FAIL [CU003035] HTTP 200: HTTP 401" in proc.stdout
        dead = fake.url
    proc = bill_server.cli("proxy", "check", dead + "/proxy")
    assert proc.returncode == 1 and "FAIL [unknown] answers within the time limit" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- the sandbox's bank app, as a CLI


def test_sandbox_pay_bill_looks_up_and_pays_over_http(bill_server):
    with FakeBiller(GOOD) as fake:
        b = Biller(bill_server, fake, api=False)
        env_args = ("--base-url", bill_server.base_url)
        os.environ["TONLE_SANDBOX_BANK_TOKEN"] = b.bank_token
        try:
            proc = bill_server.cli(
                "sandbox", "pay-bill", b.code, "RANGE1", "--bank", b.bank_code, "--amount", "12", *env_args
            )
            refused = bill_server.cli("sandbox", "pay-bill", b.code, "NOBODY", *env_args)
        finally:
            del os.environ["TONLE_SANDBOX_BANK_TOKEN"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "RANGE1 Range, due 10 USD" in proc.stdout and "paid 12 USD" in proc.stdout and "(2 over" in proc.stdout
    assert refused.returncode == 1 and "bill payment refused" in refused.stderr and "Error Not Found" in refused.stderr
    assert b.count(Entry, merchant_id=b.m.id, kind="bank_bill_payment") == 1
    assert b.count(Merchant, id=b.m.id) == 1
