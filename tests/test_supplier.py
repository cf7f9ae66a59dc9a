"""The Supplier API (spec other-apis §5): a biller pushes customers, bills and outside payments with its static
token; each push answers a queue object at once (HTTP 200) and the worker applies it, record by record, exactly
once; a bank then finds and pays a pushed bill (the biller gets the §5.6 webhook), a cash payment pushed clears
bills in the same ledger and allocations, and ``GET /payment/`` lists both."""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import watch
from helpers import add_bank, ok, set_merchant
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, InvoiceLine, PushedPayment
from tonle.khqr.codec import md5
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.ledger.models import Entry
from tonle.ledger.verify import verify
from tonle.notifications.models import Notification, NotificationDelivery
from tonle.supplier import queues
from tonle.supplier.models import SupplierRecord
from tonle.transactions.models import Transaction
from tonle.webhooks.models import OutboxEvent
from tonle.wire import wirejson

QUEUE_KEYS = [
    "id",
    "code",
    "operation",
    "note",
    "status",
    "completed",
    "created_host",
    "start_date",
    "end_date",
    "result",
    "total_record",
    "created_date",
]
WEBHOOK_KEYS = [
    "tnx_id",
    "tran_amount",
    "customer_fee",
    "supplier_fee",
    "total_amount",
    "currency",
    "bank_name",
    "bank_ref",
    "customer_sync_code",
    "customer_code",
    "customer_name",
    "customer_phone",
    "paid_by",
    "paid_date",
    "description",
    "checkout_ref",
    "bills",
    "event_id",
]


def bill(sync: str, customer: str = "CU001", amount="10.0", **kw) -> dict:
    return {
        "sync_code": sync,
        "bill_date": "2026-11-20 10:46:33",
        "due_date": "2026-12-31 00:00:00",
        "total_amount": Decimal(amount),
        "currency_id": "USD",
        "status": "approve",
        "customer_sync_code": customer,
        "customer_name": "Nheb Nim",
        "bill_type": 2,
        "ext__details": [{"item_name": "Power", "quantity": 1, "price": Decimal(amount), "amount": Decimal(amount)}],
        **kw,
    }


def payment(sync: str, bills, amount="10.0", method="cash", **kw) -> dict:
    return {
        "currency_id": "USD",
        "customer_sync": "CU001",
        "description": "pay by cash",
        "title": "Invoice",
        "payment_method": method,
        "sync_code": sync,
        "tran_date": "2026-12-01",
        "bill_syncs": bills,
        "total_amount": Decimal(amount),
        **kw,
    }


@pytest.fixture
def supplier_server(backend):
    yield backend.server()
    clock.reset()


class Supplier:
    """A biller on ``server`` with a supplier token of its own and a biller code, and a bank to pay its bills."""

    def __init__(self, server, name: str = "Central Power"):
        self.server = server
        self.m = server.new_merchant(name)
        self.token = uuid.uuid4().hex
        watch.remember(self.token)
        self.code = str(uuid.uuid4().int)[:10]
        set_merchant(
            server,
            self.m.id,
            biller_code=self.code,
            bill_source="hosted",
            supplier_token_digest=crypto.digest(self.token),
        )
        self.c = server.client()
        self.c.headers["token"] = self.token
        self.bank_code = "B" + uuid.uuid4().hex[:6].upper()
        bank_token = "bank-" + uuid.uuid4().hex
        add_bank(server, self.bank_code, bank_token, name="ACLEDA")
        self.bank = server.client()
        self.bank.headers["token"] = bank_token

    def send(self, path: str, data, client=None):
        body = {"data": data} if not isinstance(data, bytes) else data
        content = body if isinstance(body, bytes) else wirejson.dumps(body)
        return (client or self.c).post(path, content=content, headers={"Content-Type": "application/json"})

    def push(self, path: str, data) -> dict:
        r = self.send(path, data)
        assert r.status_code == 200, r.text
        head = r.json()
        assert list(head) == QUEUE_KEYS and head["status"] == "processing" and head["completed"] is False, head
        return head

    def drain(self) -> None:
        """Apply every queue left, as the worker would."""
        db, settings = self.server.backend.db, self.server.settings
        while self.server.run(queues.run_once(db, settings)):
            pass

    def detail(self, queue_id: str, path: str = "/queue/detail/") -> dict:
        r = self.c.get(path + queue_id)
        assert r.status_code == 200, r.text
        return r.json()

    def applied(self, path: str, data) -> dict:
        head = self.push(path, data)
        self.drain()
        out = self.detail(head["id"])
        assert out["status"] == "ready" and out["completed"] is True, out
        return out

    def look_up(self, typed: str):
        return self.bank.post("/payment/v3/inquiry/single", json={"bill_code": self.code, "customer_code": typed})

    def pay(self, typed: str, amount, bank_ref: str = "FT00003941") -> dict:
        found = ok(self.look_up(typed), "SUCCESS")
        t = found["transaction"]
        body = {
            "identity_code": t["tran_id"],
            "payment_token": t["payment_token"],
            "bank_ref": bank_ref,
            "currency": t["currency"],
            "total_amount": Decimal(str(amount)),
            "bank_date": "2026-12-01",
            "payer_phone": "097394303",
        }
        return ok(self.bank.post("/payment/v3/confirm", content=wirejson.dumps(body)), "SUCCESS")

    def payments(self, **params) -> list:
        r = self.c.get("/payment/", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def db(self, fn):
        return self.server.in_session(fn)

    def count(self, model, **where) -> int:
        async def go(session):
            q = select(func.count()).select_from(model)
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return (await session.execute(q)).scalar_one()

        return self.db(go)

    def events(self, kind: str | None = None) -> list[dict]:
        async def go(session):
            q = select(OutboxEvent.body).where(OutboxEvent.merchant_id == self.m.id).order_by(OutboxEvent.created_at)
            if kind:
                q = q.where(OutboxEvent.type == kind)
            return [wirejson.loads(b) for (b,) in await session.execute(q)]

        return self.db(go)

    def invoice(self, sync: str) -> Invoice:
        async def go(session):
            q = select(Invoice).where(Invoice.merchant_id == self.m.id, Invoice.ref_number == sync)
            return (await session.execute(q)).scalar_one()

        return self.db(go)


def by_sync(out: dict) -> dict:
    return {r["sync_code"]: r for r in out["data"]}


# ------------------------------------------------------------------------------------------------ the client


def test_the_public_clients_exact_push_is_answered_200_and_polled_to_ready(backend):
    """What the one public client sends: `content-type` only (no Accept), dates as Python prints a datetime
    (with microseconds, with an offset, or a bare date), amounts as 10.0, and every bill carrying the lines of the
    whole batch. It reads `response.id`, polls /queue/detail/{id} until ready; the worker of `tonle serve` does
    the work by itself and announces it with a signed queue.completed event."""
    with backend.running_server(worker_in_process=True, worker_poll_seconds=5) as srv:
        s = Supplier(srv)
        lines = [
            {"item_name": "Water", "quantity": 1, "price": 10.0, "amount": 10.0},
            {"item_name": "Rent", "quantity": 2, "price": 2.5, "amount": 5.0},
        ]
        data = [
            bill("H602-1", "CUS-1", "10.0", bill_date="2026-11-20 10:46:33", due_date="2026-12-20 10:46:33.123456"),
            bill("H602-2", "CUS-2", "5.0", bill_date="2026-11-21 08:00:00+07:00", due_date="2026-12-21"),
        ]
        for b in data:
            b["ext__details"] = lines  # the client's bug: each bill gets all the batch's lines
            b["total_amount"] = float(b["total_amount"])
        client = srv.client()
        client.headers.pop("accept")
        # requests' json= (what the client uses) is json.dumps: 10.0 goes out as 10.0.
        r = client.post(
            "/bill/push",
            content=json.dumps({"data": data}),
            headers={"content-type": "application/json", "token": s.token},
        )
        assert r.status_code == 200, r.text  # any other status is a failure to this client
        queue_id = r.json()["id"]
        assert len(queue_id) == 8 and queue_id.isalnum() and uuid.UUID(r.json()["code"])
        assert r.json()["operation"] == "bill.push" and r.json()["total_record"] == 2
        client.headers["token"] = s.token
        deadline = time.monotonic() + 20
        while True:
            polled = client.get(f"/queue/detail/{queue_id}").json()
            if polled["status"] == "ready" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert polled["status"] == "ready" and polled["completed"] is True, polled  # nudged: seconds, not 5 s polls
        assert (polled["total_added"], polled["total_canceled"]) == (2, 0)
        assert polled["start_date"] and polled["end_date"] and polled["result"].startswith("2 added")
        warned = by_sync(polled)
        assert "the lines add up to 15.00 USD, not total_amount 10.00 USD" in warned["H602-1"]["warning"]
        assert warned["H602-2"]["warning"].startswith("the lines add up to 15.00 USD")
        assert polled == s.detail(queue_id, "/queue/")  # the documented path answers the same
        # The customers never pushed were made from the bills; the dates were read in their own zones.
        inv = s.invoice("H602-1")
        assert (inv.date, inv.due_date) == (
            datetime(2026, 11, 20, 3, 46, 33),
            datetime(2026, 12, 20, 3, 46, 33, 123456),
        )
        assert s.invoice("H602-2").date == datetime(2026, 11, 21, 1, 0)
        assert s.count(BillConsumer, merchant_id=s.m.id) == 2
        assert s.count(InvoiceLine, invoice_id=inv.id) == 2  # kept as sent
        deadline = time.monotonic() + 10
        while not (done := s.events("queue.completed")) and time.monotonic() < deadline:
            time.sleep(0.1)
        (event,) = done
        assert event["event_type"] == "queue.completed" and event["queue"]["id"] == queue_id
        assert event["queue"]["status"] == "ready" and event["queue"]["total_added"] == 2


# ------------------------------------------------------------------------------------------------- customers


def test_customers_are_upserted_by_sync_code_and_deactivated_with_their_history_kept(supplier_server):
    s = Supplier(supplier_server)
    first = {
        "code": "2093-099003",
        "org_code": "099003",
        "sync_code": "099003",
        "name": "Nheb Nim",
        "name_kh": "ញ៉េប នីម",
        "phone": "",
        "email": "",
        "address": "48501 Perez Squares Apt. 905\nLake Hannah, GA 31366",
        "address_kh": "4173 Marie Circles\nMollyhaven, CA 27990",
        "tin_number": "",
        "is_active": True,
    }
    out = s.applied("/customer/push", [first, {**first, "sync_code": "099004", "code": "2093-099004"}])
    assert [r["status"] for r in out["data"]] == ["added", "added"] and out["total_added"] == 2
    out = s.applied("/customer/push", [first, {**first, "name": "Nim N."}])
    assert [r["status"] for r in out["data"]] == ["unchanged", "updated"]
    assert (out["total_unchanged"], out["total_updated"]) == (1, 1)
    s.applied("/bill/push", [bill("CB-1", "099003")])
    assert ok(s.look_up("2093-099003"), "SUCCESS")["customer"]["customer_name"] == "Nim N."
    # Another customer cannot take a code in use; an unknown record field is no reason to refuse.
    out = s.applied("/customer/push", [{**first, "sync_code": "X-9", "extra": 1}])
    (bad,) = out["errors"]
    assert bad["sync_code"] == "X-9" and "already the code of another customer (sync_code 099003)" in bad["message"]
    assert out["total_canceled"] == 1 and bad["message_kh"]
    out = s.applied("/customer/push", [{**first, "is_active": False}])
    assert out["data"][0]["status"] == "deleted" and out["total_deleted"] == 1
    r = s.look_up("2093-099003")
    assert r.json()["code"] == "CONSUMER_NOT_FOUND", r.text  # banks no longer find it
    assert s.count(Invoice, merchant_id=s.m.id) == 1  # its bill is still there
    out = s.applied("/bill/push", [bill("CB-2", "099003")])
    assert "deactivated" in out["errors"][0]["message"]
    out = s.applied("/customer/push", [first])
    assert out["data"][0]["status"] == "updated"  # active again
    assert ok(s.look_up("2093-099003"), "SUCCESS")
    # Two customers swap codes in one push: each record is right in turn, though not as one bulk statement.
    second = {**first, "sync_code": "099004", "code": "2093-099004"}
    swap = [{**first, "code": "TMP"}, {**second, "code": "2093-099003"}, {**first, "code": "2093-099004"}]
    out = s.applied("/customer/push", swap)
    assert [r["status"] for r in out["data"]] == ["updated", "updated", "updated"], out["data"]
    assert ok(s.look_up("2093-099004"), "SUCCESS")["customer"]["bill_amount"] == 10  # 099003's bill, new code
    assert s.look_up("2093-099003").json()["code"] == "NO_AMOUNT_TO_PAY"  # now 099004's code: nothing due


# --------------------------------------------------------------------------------------------------- bills


def test_draft_bills_are_kept_not_payable_and_notify_tells_the_customer_once(supplier_server):
    s = Supplier(supplier_server)
    s.applied(
        "/customer/push",
        [{"code": "N-1", "sync_code": "N-1", "name": "Sok Dara", "email": "dara@example.com", "phone": "012345678"}],
    )
    out = s.applied("/bill/push", [bill("D-1", "N-1", status="draft")])
    assert out["data"][0]["status"] == "added"
    assert s.look_up("N-1").json()["code"] == "NO_AMOUNT_TO_PAY"  # stored, not payable
    assert s.look_up("D-1").json()["code"] == "CONSUMER_NOT_FOUND"  # nor found by its number
    assert s.count(Notification, merchant_id=s.m.id) == 0
    out = s.applied("/bill/push", [bill("D-1", "N-1", status="approve")])
    assert out["data"][0]["status"] == "updated"
    assert ok(s.look_up("N-1"), "SUCCESS")["customer"]["bill_amount"] == 10
    assert s.count(Notification, merchant_id=s.m.id) == 0  # approve: payable, nobody told
    s.applied("/bill/push", [bill("D-2", "N-1", amount="4", status="notify")])
    s.applied("/bill/push", [bill("D-2", "N-1", amount="4", status="notify", description="again")])

    async def notes(session):
        q = (
            select(Notification.subject, Notification.message, NotificationDelivery.channel, NotificationDelivery.to)
            .join(NotificationDelivery, NotificationDelivery.notification_id == Notification.id)
            .where(Notification.merchant_id == s.m.id)
        )
        return (await session.execute(q)).all()

    (note,) = s.db(notes)  # told once, however often it is pushed
    assert note.subject == "Central Power: bill D-2"
    assert "your bill D-2 of 4.00 USD is due 2026-12-31" in note.message and f"biller code {s.code}" in note.message
    assert "/bill/" in note.message and note.channel == "log"  # no e-mail or SMS channel on this gateway
    assert ok(s.look_up("N-1"), "SUCCESS")["customer"]["bill_amount"] == 14
    # A bill without a date keeps the one it got (pushed again: unchanged); a quick bill needs no customer.
    undated = {k: v for k, v in bill("Q-1", amount="7", bill_type=1).items() if k not in ("bill_date", "due_date")}
    del undated["customer_sync_code"]
    out = s.applied("/bill/push", [undated, undated])
    assert [r["status"] for r in out["data"]] == ["added", "unchanged"]
    assert s.applied("/bill/push", [undated])["data"][0]["status"] == "unchanged"
    found = ok(s.look_up("Q-1"), "SUCCESS")["customer"]  # its number finds it
    assert (found["customer_code"], found["bill_amount"]) == ("Q-1", 7)
    out = s.applied("/bill/push", [{**undated, "bill_type": 2}])
    assert out["errors"][0]["message"] == "Please provide [customer_sync_code]."


# ------------------------------------------------------------------------------------- a bank pays a pushed bill


def test_a_bank_pays_a_pushed_bill_and_the_biller_gets_the_5_6_webhook(supplier_server):
    s = Supplier(supplier_server)
    s.applied("/customer/push", [{"code": "CU003035", "sync_code": "SY-35", "name": "Nheb Nim", "phone": "097394303"}])
    s.applied("/bill/push", [bill("INV001", "SY-35", "10"), bill("INV002", "SY-35", "5", due_date="2027-01-31")])
    s.pay("CU003035", "12")
    (hook,) = [e for e in s.events() if "tnx_id" in e]
    assert list(hook) == WEBHOOK_KEYS
    assert len(hook["tnx_id"]) == 8 and hook["tnx_id"].isalnum()
    assert (hook["tran_amount"], hook["customer_fee"], hook["supplier_fee"], hook["total_amount"]) == (12, 0, 0, 12)
    assert (hook["currency"], hook["bank_name"], hook["bank_ref"]) == ("USD", "ACLEDA", "FT00003941")
    assert (hook["customer_sync_code"], hook["customer_code"], hook["customer_name"]) == (
        "SY-35",
        "CU003035",
        "Nheb Nim",
    )
    assert hook["customer_phone"] == "097394303" and hook["paid_by"] == "097***303"
    assert len(hook["paid_date"]) == 19 and hook["paid_date"][10] == " "
    assert [b["sync_code"] for b in hook["bills"]] == ["INV001", "INV002"]
    assert hook["bills"][0]["id"] == s.invoice("INV001").id
    assert s.invoice("INV001").paid_bank == 1000 and s.invoice("INV002").paid_bank == 200
    (listed,) = s.payments()
    assert listed["source"] == "bank" and listed["payment_method"] == "bank" and listed["tnx_id"] == hook["tnx_id"]
    assert [(b["sync_code"], b["amount"]) for b in listed["bills"]] == [("INV001", 10), ("INV002", 2)]
    assert ok(s.look_up("CU003035"), "SUCCESS")["customer"]["bill_amount"] == 3


def test_a_pushed_bills_digital_bill_is_scanned_and_paid_and_announced_in_the_5_6_body(supplier_server):
    """The notify message's link: the pushed bill's digital bill carries a KHQR code; a bank that scans it pays
    that bill, and the biller hears of it in the Supplier API's own webhook body. A draft has no page."""
    s = Supplier(supplier_server)
    s.applied("/bill/push", [bill("QR-1", "QC", "6.5"), bill("QR-DRAFT", "QC", status="draft")])
    page = s.c.get(f"/bill/{s.invoice('QR-1').page_token}")
    assert page.status_code == 200 and "QR-1" in page.text
    qr = html.unescape(re.search(r'data-khqr="([^"]+)"', page.text).group(1))
    found = s.bank.post("/payment/v5/inquiry", json={"identity_code": md5(qr)}).json()
    assert found["code"] == "SUCCESS", found
    t = found["data"]["transaction"]
    body = {
        "identity_code": t["tran_id"],
        "payment_token": t["payment_token"],
        "bank_ref": "FT-QR",
        "total_amount": Decimal(str(t["total_amount"])),
        "original_amount": Decimal(str(t["original_amount"])),
        "currency": "USD",
    }
    assert s.bank.post("/payment/v3/confirm", content=wirejson.dumps(body)).json()["code"] == "SUCCESS"
    (hook,) = [e for e in s.events() if "tnx_id" in e]
    assert list(hook) == WEBHOOK_KEYS and hook["tran_amount"] == Decimal("6.5")
    assert [b["sync_code"] for b in hook["bills"]] == ["QR-1"] and hook["customer_sync_code"] == "QC"
    assert s.invoice("QR-1").paid_bank == 650
    assert s.c.get(f"/bill/{s.invoice('QR-DRAFT').page_token}").status_code == 404


# ---------------------------------------------------------------------------------------- outside payments


def test_a_cash_payment_clears_bills_once_and_its_excess_is_credit_that_balance_spends(supplier_server):
    s = Supplier(supplier_server)
    s.applied(
        "/bill/push",
        [bill("INV-A", amount="10", due_date="2026-12-10"), bill("INV-B", amount="5", due_date="2026-12-05")],
    )
    cash = payment("PAY-1", "INV-A, INV-B", "20")
    out = s.applied("/payment/push", [cash])
    (added,) = out["success"]
    assert added["status"] == "added" and "5.00 USD beyond the bills is the customer's credit" in added["warning"]
    assert (s.invoice("INV-A").paid_bank, s.invoice("INV-B").paid_bank) == (1000, 500)
    assert s.look_up("CU001").json()["code"] == "NO_AMOUNT_TO_PAY"  # the bank sees nothing due
    # Sent again (a replay, or the same push twice in one batch): nothing is cleared twice.
    out = s.applied("/payment/push", [cash, cash])
    assert [r["status"] for r in out["data"]] == ["unchanged", "unchanged"]
    out = s.applied("/payment/push", [{**cash, "total_amount": Decimal("25")}])
    assert "recorded already, with other values" in out["errors"][0]["message"]
    assert s.count(PushedPayment, merchant_id=s.m.id) == 1

    async def outside_entries(session):
        q = select(func.count()).select_from(Entry).where(Entry.merchant_id == s.m.id, Entry.kind == "outside_payment")
        return (await session.execute(q)).scalar_one()

    assert s.db(outside_entries) == 1
    # The credit: spent by a balance payment on a later bill, and never below zero.
    s.applied("/bill/push", [bill("INV-C", amount="3"), bill("INV-D", amount="9")])
    out = s.applied(
        "/payment/push", [payment("PAY-2", ["INV-C"], "3", method="balance", tran_date="2026-12-01 09:30:00")]
    )
    assert out["data"][0]["status"] == "added" and s.invoice("INV-C").paid_bank == 300
    out = s.applied("/payment/push", [payment("PAY-3", ["INV-D"], "9", method="balance")])
    assert "the customer's credit is 2.00 USD; this payment spends 9.00 USD" in out["errors"][0]["message"]
    assert s.db(outside_entries) == 1  # a balance payment moves no money
    out = s.applied("/payment/push", [payment("PAY-4", ["INV-C"], "1", method="balance")])
    assert out["errors"][0]["message"] == "[bill_syncs] nothing is due on the bills named: no credit is spent."
    listed = s.payments()
    assert [(p["sync_code"], p["source"], p["payment_method"]) for p in listed] == [
        ("PAY-2", "push", "balance"),  # newest first
        ("PAY-1", "push", "cash"),
    ]
    first = next(p for p in listed if p["sync_code"] == "PAY-1")
    assert (first["tran_amount"], first["currency"], first["customer_sync_code"], first["title"]) == (
        20,
        "USD",
        "CU001",
        "Invoice",
    )
    assert [(b["sync_code"], b["amount"]) for b in first["bills"]] == [("INV-B", 5), ("INV-A", 10)]  # oldest due first
    assert first["paid_date"] == "2026-12-01 00:00:00"
    # The filters.
    assert [p["sync_code"] for p in s.payments(payment_method="balance")] == ["PAY-2"]
    assert len(s.payments(source="push", customer_sync="CU001", currency_id="usd")) == 2
    assert s.payments(source="bank") == [] and s.payments(customer_sync="nobody") == []
    assert s.payments(source="push", payment_method="bank") == []
    assert s.c.get("/payment", params={"source": "push"}).json() == s.payments(source="push")  # no redirect
    assert len(s.payments(d1="2026-12-01", d2="2026-12-01")) == 2 and s.payments(d2="2026-11-30") == []
    r = s.c.get("/payment/", params={"d1": "yesterday"})
    assert r.status_code == 400 and r.json()["code"] == "ERR_MISSED_FIELD"
    # A bank payment later goes to what is still due (INV-D), and every ledger invariant holds.
    s.pay("CU001", "9")
    assert s.invoice("INV-D").paid_bank == 900
    assert [p["source"] for p in s.payments()].count("bank") == 1

    async def check(session):
        return await verify(session)

    assert s.db(check).ok


# ---------------------------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_whole_with_400_or_per_record_with_its_sync_code(supplier_server):
    s = Supplier(supplier_server)
    for body, why in (
        (b"{}", "please provide [data]"),
        (wirejson.dumps({"data": {"a": 1}}).encode(), "[data] must be a list"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b"", "the body must be a JSON object"),
    ):
        r = s.send("/bill/push", body)
        assert r.status_code == 400 and r.json()["code"] == "ERR_INVALID_BODY" and why in r.json()["message"], r.text
        assert r.json()["message_kh"]
    r = s.send("/bill/push", b"{not json")
    assert r.status_code == 400 and r.json()["code"] == "ERR_INVALID_JSON"
    r = s.send("/customer/push", [{"code": "x", "sync_code": str(i), "name": "n"} for i in range(10_001)])
    assert r.status_code == 400 and r.json()["code"] == "ERR_TOO_MANY_RECORDS", r.text[:300]
    out = s.applied(
        "/customer/push",
        [{"code": "C1", "name": "A"}, {"code": "C2", "sync_code": "S2"}, {"sync_code": "S3", "name": "B"}, 7],
    )
    msgs = [(r["sync_code"], r["message"]) for r in out["errors"]]
    assert msgs == [
        ("", "Please provide [sync_code]."),
        ("S2", "Please provide [name]."),
        ("S3", "Please provide [code]."),
        ("", "the record must be a JSON object."),
    ]
    out = s.applied("/bill/push", [{"sync_code": "B1", "total_amount": 10, "customer_sync_code": "C"}])
    assert out["errors"][0]["message"] == "Please provide [currency_id]."
    s.applied("/bill/push", [bill("MINE-1")])
    other = Supplier(supplier_server, "Other Biller")
    other.applied("/bill/push", [bill("THEIRS-1")])
    out = s.applied(
        "/payment/push",
        [
            payment("P1", "MINE-1", method="cheque"),
            payment("P2", "NOPE-1"),
            payment("P3", "THEIRS-1"),
            payment("P4", "MINE-1", currency_id="KHR", total_amount=40000),
            payment("P5", "MINE-1", customer_sync="CU999"),
            payment("P6", ""),
        ],
    )
    assert [r["message"] for r in out["errors"]] == [
        "[payment_method] must be online, cash or balance.",
        "[bill_syncs] NOPE-1 is not a bill of this biller.",
        "[bill_syncs] THEIRS-1 is not a bill of this biller.",  # another biller's is not found
        "[currency_id] KHR is not the currency of bill MINE-1 (USD).",
        "[customer_sync] CU999 is not the customer of the bills named.",
        "Please provide [bill_syncs].",
    ]
    assert out["total_canceled"] == 6 and s.invoice("MINE-1").paid_bank == 0
    # Another biller's queue is not found; nor is a queue id that cannot be one.
    theirs = other.push("/bill/push", [bill("THEIRS-2")])
    r = s.c.get(f"/queue/detail/{theirs['id']}")
    assert r.status_code == 404 and r.json()["code"] == "ERR_QUEUE_NOT_FOUND"
    assert s.c.get("/queue/x-y!").status_code in (400, 404)
    other.drain()


def test_a_bad_token_is_refused_and_rate_limited_like_the_other_bare_token_endpoints(supplier_server):
    s = Supplier(supplier_server)
    c = supplier_server.client()
    r = c.post("/bill/push", json={"data": []})
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED" and r.json()["message"] == "Missing token header"
    c.headers["token"] = "0" * 32
    limit = supplier_server.settings.auth_fail_limit_per_address
    for _ in range(limit - 1):
        r = c.get("/queue")
        assert r.status_code == 401 and r.json()["message"] == "Invalid supplier token"
    r = c.get("/queue")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    c.headers["token"] = s.token  # the limit is per address: even the right token waits
    assert c.get("/queue").status_code == 429
    assert s.c.get("/queue").status_code == 200  # from another address it passes
    # A merchant without a supplier token of its own takes its merchant token.
    m = supplier_server.new_merchant("Plain Biller")
    plain = supplier_server.client()
    plain.headers["token"] = m.creds.merchant_token
    assert plain.get("/queue").status_code == 200


def test_the_queue_list_is_newest_first_and_filtered(supplier_server):
    s = Supplier(supplier_server)
    a = s.push("/customer/push", [{"code": "L1", "sync_code": "L1", "name": "L"}])
    b = s.push("/bill/push", [bill("L-1", "L1")])
    assert [q["id"] for q in s.c.get("/queue").json()][:2] == [b["id"], a["id"]]
    assert [q["id"] for q in s.c.get("/queue", params={"operation": "cus.push"}).json()] == [a["id"]]
    s.drain()
    assert s.c.get("/queue", params={"status": "processing"}).json() == []
    listed = s.c.get("/queue", params={"status": "ready", "d1": "2000-01-01"}).json()
    assert [q["id"] for q in listed] == [b["id"], a["id"]] and all(list(q) == QUEUE_KEYS for q in listed)
    assert s.c.get("/queue", params={"status": "done"}).status_code == 400


def test_a_queue_ends_in_error_when_its_biller_is_gone_or_it_was_taken_too_often(supplier_server):
    from tonle.supplier.models import SupplierQueue

    s = Supplier(supplier_server)
    stuck = s.push("/bill/push", [bill("ST-1")])

    async def taken_often(session):
        queue = await session.get(SupplierQueue, stuck["id"])
        queue.attempts = queues.MAX_ATTEMPTS

    s.db(taken_often)  # as if ten workers had died on it
    later = s.push("/bill/push", [bill("ST-2")])
    s.drain()
    out = s.detail(stuck["id"])
    assert (out["status"], out["completed"], out["data"]) == ("error", True, []), out
    assert out["result"].startswith("not applied after 10 attempts")
    assert s.detail(later["id"])["status"] == "ready"  # the biller's next queue went on
    gone = s.push("/bill/push", [bill("ST-3")])
    set_merchant(supplier_server, s.m.id, active=False)
    s.drain()
    set_merchant(supplier_server, s.m.id, active=True)
    out = s.detail(gone["id"])
    assert (out["status"], out["result"]) == ("error", "the biller is not active: nothing was applied")
    assert s.count(Invoice, merchant_id=s.m.id) == 1  # ST-2 only
    (event,) = [e for e in s.events("queue.completed") if e["queue"]["id"] == gone["id"]]
    assert event["queue"]["status"] == "error"


# ------------------------------------------------------------------------------------------- exactly once


def test_fifty_identical_pushes_at_once_have_the_effect_of_one(pg_server):
    s = Supplier(pg_server)
    bills = [bill(f"E-{i}", f"EC{i % 5}") for i in range(20)]
    with ThreadPoolExecutor(10) as pool:
        heads = list(pool.map(lambda _: s.push("/bill/push", bills), range(50)))

    async def two_workers():
        import asyncio

        db, settings = pg_server.backend.db, pg_server.settings

        async def work():
            while await queues.run_once(db, settings):
                pass

        await asyncio.gather(work(), work())

    pg_server.run(two_workers())
    outs = [s.detail(h["id"]) for h in heads]
    assert all(o["status"] == "ready" for o in outs)
    assert sum(o["total_added"] for o in outs) == 20 and sum(o["total_unchanged"] for o in outs) == 49 * 20
    assert s.count(Invoice, merchant_id=s.m.id) == 20 and s.count(BillConsumer, merchant_id=s.m.id) == 5
    pay = [payment("X-1", "E-0,E-5", "20", customer_sync="EC0")]
    with ThreadPoolExecutor(10) as pool:
        heads = list(pool.map(lambda _: s.push("/payment/push", pay), range(50)))
    pg_server.run(two_workers())
    outs = [s.detail(h["id"]) for h in heads]
    assert sum(o["total_added"] for o in outs) == 1 and sum(o["total_unchanged"] for o in outs) == 49
    assert s.count(PushedPayment, merchant_id=s.m.id) == 1
    assert s.count(InvoiceAllocation, merchant_id=s.m.id) == 2
    assert s.count(Transaction, merchant_id=s.m.id, type="pushed_payment") == 1
    assert s.invoice("E-0").paid_bank == 1000 and s.invoice("E-5").paid_bank == 1000
    assert len(s.events("queue.completed")) == 100  # one per queue


def test_a_billers_queues_are_applied_in_the_order_they_were_pushed_by_however_many_workers(pg_server):
    """A payment pushed right after its bills finds them, though a second worker is free while the first one is
    still applying the bills (in chunks: the biller's lock is let go between them)."""
    s = Supplier(pg_server)
    bills_queue = s.push("/bill/push", [bill(f"ORD-{i:04d}", "OC1", "1") for i in range(1200)])
    pay_queue = s.push("/payment/push", [payment("ORD-P", "ORD-1199", "1", customer_sync="OC1")])
    settings = pg_server.settings.model_copy(update={"supplier_chunk_records": 100})

    async def two_workers():
        import asyncio

        async def work():
            while await queues.run_once(pg_server.backend.db, settings):
                pass

        await asyncio.gather(work(), work())

    pg_server.run(two_workers())
    assert s.detail(bills_queue["id"])["total_added"] == 1200
    out = s.detail(pay_queue["id"])
    assert (out["status"], out["total_added"], out["errors"]) == ("ready", 1, []), out["errors"]
    assert s.invoice("ORD-1199").paid_bank == 100


def test_a_worker_killed_mid_queue_leaves_every_record_applied_once(supplier_server):
    """`tonle worker` applies a 5,000-record queue in chunks of 50; it is SIGKILLed part-way, a second worker takes
    the queue over when the lease runs out, and every record ends with one result and one effect."""
    import procs

    s = Supplier(supplier_server)
    n = 5000
    head = s.push("/bill/push", [bill(f"K-{i:05d}", f"KC{i % 900}") for i in range(n)])
    env = {"TONLE_SUPPLIER_CHUNK_RECORDS": "50", "TONLE_SUPPLIER_LEASE_SECONDS": "2"}

    def done() -> int:
        return s.count(SupplierRecord, queue_id=head["id"]) - s.count(SupplierRecord, queue_id=head["id"], outcome=None)

    first = procs.worker(supplier_server.backend, **env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and done() < 300:
            time.sleep(0.02)
    finally:
        first.kill()
    at_kill = s.detail(head["id"])
    assert at_kill["status"] == "processing" and 0 < len(at_kill["data"]) < n, len(at_kill["data"])
    second = procs.worker(supplier_server.backend, **env)
    try:
        deadline = time.monotonic() + 90
        while (out := s.detail(head["id"]))["status"] != "ready" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        second.stop()
    assert out["status"] == "ready" and (out["total_added"], out["total_canceled"]) == (n, 0), out["result"]
    assert sorted(r["index"] for r in out["data"]) == list(range(n))
    assert s.count(Invoice, merchant_id=s.m.id) == n and s.count(BillConsumer, merchant_id=s.m.id) == 900

    async def lines(session):
        q = (
            select(func.count())
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.merchant_id == s.m.id)
        )
        return (await session.execute(q)).scalar_one()

    assert s.db(lines) == n  # one line each: nothing applied twice
    assert len(s.events("queue.completed")) == 1
