"""Bill24 Hosted (spec other-apis §4): the biller imports invoices (each row created, updated, unchanged or
rejected), a bank looks a consumer up by biller code and consumer code or invoice number and pays part, all or
more (oldest due invoice first, the excess kept as overpay), the biller's webhook names the invoices paid, and the
payment report and the invoice list read back what the ledger holds."""

from __future__ import annotations

import copy
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from helpers import add_bank, ok, set_merchant
from tonle.banks.models import BillLookup
from tonle.hosted import imports
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, InvoiceImportRow, InvoiceLine
from tonle.kit.clock import PHNOM_PENH, clock
from tonle.ledger.models import Entry, Posting
from tonle.transactions.models import Transaction
from tonle.webhooks.models import OutboxEvent
from tonle.wire import wirejson

IMPORT = "/billflow/v1/Bill24Operation/Invoice/Import"

SPEC_ROW = {
    "refId": "101",
    "refNumber": "24062101",
    "date": "2024-06-22T02:41:55.350Z",
    "dueDate": "2024-06-30T06:50:55.350Z",
    "description": "upload bills",
    "currency": "USD",
    "totalAmount": 10,
    "paidAmount": 0,
    "customer": {
        "code": "00001",
        "name": "Nim",
        "address": "Phnom Penh",
        "phone": "011345789",
        "moc": "100014",
        "vat": "A102-110003031",
        "email": "testing001@gmail.com",
    },
    "totalTax": 0,
    "exchangeRateKhr": Decimal("4120.0"),
    "totalAmountKhr": 41200,
    "details": [{"itemName": "A001", "description": "Hello", "quantity": 2, "price": 5, "amount": 10, "taxAmount": 0}],
}


def row(ref: str, consumer: str = "00001", *, amount="10", currency="USD", date="2026-11-01", due="2026-12-31", **kw):
    r = copy.deepcopy(SPEC_ROW)
    r.update(refNumber=ref, totalAmount=Decimal(amount), currency=currency, date=date, dueDate=due)
    r["customer"] = {**r["customer"], "code": consumer}
    r.pop("exchangeRateKhr")
    r.pop("totalAmountKhr")
    r["details"] = [{"itemName": "Water", "quantity": 1, "price": Decimal(amount), "amount": Decimal(amount)}]
    r.update(kw)
    return r


@pytest.fixture
def hosted_server(backend):
    yield backend.server()
    clock.reset()


class Hosted:
    """A hosted biller on ``server`` (a biller code of its own) and a bank to pay its bills."""

    def __init__(self, server, name: str = "City Water"):
        self.server = server
        self.c, self.m = server.merchant_client(name)
        self.code = str(uuid.uuid4().int)[:10]
        set_merchant(server, self.m.id, biller_code=self.code, bill_source="hosted")
        self.bank_code = "B" + uuid.uuid4().hex[:6].upper()
        self.bank_token = "bank-" + uuid.uuid4().hex
        add_bank(server, self.bank_code, self.bank_token, name="Sandbox Bank")
        self.bank = server.client()
        self.bank.headers["token"] = self.bank_token

    def send(self, rows, client=None):
        return (client or self.c).post(
            IMPORT, content=wirejson.dumps(rows), headers={"Content-Type": "application/json"}
        )

    def imported(self, rows) -> dict:
        r = self.send(rows)
        assert r.status_code == 200, r.text
        head = r.json()
        assert list(head) == ["id", "totalRecord", "status"] and head["status"] == 1
        return self.outcomes(head["id"])

    def outcomes(self, import_id: int) -> dict:
        r = self.c.get(f"{IMPORT}/{import_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def look_up(self, typed: str):
        return self.bank.post("/payment/v3/inquiry/single", json={"bill_code": self.code, "customer_code": typed})

    def pay(self, typed: str, amount, bank_ref: str = "FT1") -> dict:
        found = ok(self.look_up(typed), "SUCCESS")
        t = found["transaction"]
        body = {
            "identity_code": t["tran_id"],
            "payment_token": t["payment_token"],
            "bank_ref": bank_ref,
            "currency": t["currency"],
            "total_amount": Decimal(str(amount)),
            "bank_date": "2026-12-01",
        }
        return ok(self.bank.post("/payment/v3/confirm", content=wirejson.dumps(body)), "SUCCESS")

    def invoices(self, **params) -> dict:
        r = self.c.get("/billflow/v1/Bill24Operation/Invoice/All", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def invoice(self, ref: str) -> dict:
        (only,) = self.invoices(refNumber=ref)["result"]
        return only

    def report(self, **params) -> list:
        r = self.c.get("/billflow/v1/payment", params={"d1": "2026-01-01", "d2": "2027-12-31", **params})
        assert r.status_code == 200, r.text
        return r.json()

    def db(self, fn):
        return self.server.in_session(fn)

    def events(self) -> list[dict]:
        async def go(session):
            rows = await session.execute(select(OutboxEvent.body).where(OutboxEvent.merchant_id == self.m.id))
            return [wirejson.loads(b) for (b,) in rows]

        return self.db(go)


def test_import_answers_family_h_and_each_row_its_outcome(hosted_server):
    h = Hosted(hosted_server)
    out = h.imported([SPEC_ROW, row("INV-2", "00002", amount="25.50")])
    assert (out["state"], out["totalRecord"], out["created"], out["rejected"]) == ("done", 2, 2, 0)
    assert [(r["index"], r["outcome"]) for r in out["rows"]] == [(0, "created"), (1, "created")]

    inv = h.invoice("24062101")
    assert inv["date"] == "2024-06-22T09:41:55.35"  # 02:41:55.350Z read as UTC, shown in Phnom Penh time
    assert (inv["currency"], inv["totalAmount"], inv["dueAmount"], inv["state"]) == ("USD", 10, 10, "overdue")
    assert inv["customer"] == {k: v for k, v in SPEC_ROW["customer"].items()}
    assert (inv["exchangeRateKhr"], inv["totalAmountKhr"]) == ("4120", 41200)
    assert inv["digitalBillUrl"].startswith(hosted_server.base_url + "/bill/")

    # The same file again: every row unchanged. A text change is an update; the consumer follows its row.
    again = h.imported([SPEC_ROW, row("INV-2", "00002", amount="25.50")])
    assert (again["unchanged"], again["created"], again["updated"]) == (2, 0, 0)
    reordered = dict(reversed(list(SPEC_ROW.items())), totalAmount=Decimal("10.00"))  # the same invoice, written anew
    assert [r["outcome"] for r in h.imported([reordered])["rows"]] == ["unchanged"]
    changed = copy.deepcopy(SPEC_ROW)
    changed["description"] = "June water"
    changed["customer"]["name"] = "Nim Nheb"
    third = h.imported([changed])
    assert [r["outcome"] for r in third["rows"]] == ["updated"]
    assert h.invoice("24062101")["customer"]["name"] == "Nim Nheb"

    # paidAmount is money paid elsewhere: it lowers what is due and moves no ledger money.
    entries_before = h.db(lambda s: _count(s, Entry, merchant_id=h.m.id))
    h.imported([row("INV-2", "00002", amount="25.50", paidAmount=Decimal("5.50"))])
    inv2 = h.invoice("INV-2")
    assert (inv2["paidAmount"], inv2["dueAmount"], inv2["state"]) == (Decimal("5.5"), 20, "partially_paid")
    assert h.db(lambda s: _count(s, Entry, merchant_id=h.m.id)) == entries_before

    # Another biller sees none of it.
    other = Hosted(hosted_server, "Other Biller")
    assert other.invoices()["result"] == [] and other.invoices(refNumber="24062101")["result"] == []
    assert other.report() == [] and ok(other.look_up("00001"), "CONSUMER_NOT_FOUND") is None
    assert other.c.get(f"{IMPORT}/{out['id']}").status_code == 404


async def _count(session, model, **where) -> int:
    q = select(func.count()).select_from(model)
    for k, v in where.items():
        q = q.where(getattr(model, k) == v)
    return (await session.execute(q)).scalar_one()


def test_bad_input_is_refused_whole_or_per_row_with_row_and_field(hosted_server):
    h = Hosted(hosted_server)
    for body, index in (({"refNumber": "x"}, None), ([SPEC_ROW, 7], 1), (["a"], 0), ("", None)):
        r = h.c.post(IMPORT, content=wirejson.dumps(body) if body != "" else b"")
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "ERR_INVALID_BODY"
        assert (r.json()["data"] or {}).get("index") == index
    empty = h.send([])
    assert empty.status_code == 200 and empty.json()["totalRecord"] == 0 and empty.json()["status"] == 1
    r = h.c.post(IMPORT, content=b"[{")
    assert r.status_code == 400 and r.json()["code"] == "ERR_INVALID_JSON"
    r = h.send([row(f"R{i}") for i in range(10_001)])
    assert r.status_code == 400 and r.json()["code"] == "ERR_TOO_MANY_ROWS", r.text
    assert r.json()["data"] == {"rows": 10_001, "limit": 10_000}
    assert hosted_server.client().post(IMPORT, content=b"[]").status_code == 401

    bad = [
        {k: v for k, v in row("A").items() if k != "refNumber"},
        {k: v for k, v in row("B").items() if k != "currency"},
        row("C", customer={"name": "No Code"}),
        row("D", amount="-1"),
        row("E", amount="1.001"),
        row("F", date="2026-12-10", due="2026-12-01"),
        row("G", currency="EUR"),
        row("H", currency="KHR", amount="100.5"),
        row("I", paidAmount=Decimal("11")),
        row("J", date="not a date"),
        row("OK"),
    ]
    out = h.imported(bad)
    assert (out["created"], out["rejected"]) == (1, 10)
    reasons = {r["index"]: r["reason"] for r in out["rows"] if r["outcome"] == "rejected"}
    assert reasons[0] == "row 0: Please provide [refNumber]."
    assert reasons[1] == "row 1: Please provide [currency]."
    assert reasons[2] == "row 2: Please provide [customer.code]."
    assert reasons[3].startswith("row 3: [totalAmount] must not be negative")
    assert reasons[4].startswith("row 4: [totalAmount] must have at most 2 decimal places for USD., [details[0].price]")
    assert reasons[5] == "row 5: [dueDate] must not be before [date]."
    assert reasons[6] == "row 6: [currency] must be KHR or USD."
    assert reasons[7].startswith("row 7: [totalAmount]") and "KHR" in reasons[7]
    assert reasons[8] == "row 8: [paidAmount] must not exceed [totalAmount]."
    assert reasons[9] == "row 9: [date] is not a valid date."
    kh = next(r["reason_kh"] for r in out["rows"] if r["index"] == 2)
    assert kh == "ជួរ 2: សូមផ្តល់ [customer.code]។"
    only = h.c.get(f"{IMPORT}/{out['id']}", params={"outcome": "rejected"}).json()["rows"]
    assert len(only) == 10
    assert [r["refNumber"] for r in h.invoices()["result"]] == ["OK"]
    for bad_q in ({"outcome": "lost"}, {"limit": "0"}):
        r = h.c.get(f"{IMPORT}/{out['id']}", params=bad_q)
        assert r.status_code == 400 and r.json()["code"] == "ERR_MISSED_FIELD", r.text
    assert h.c.get(f"{IMPORT}/abc").status_code == 400
    assert h.c.get(f"{IMPORT}/999999999").status_code == 404


def test_a_bank_pays_part_then_more_oldest_invoice_first_and_the_excess_is_overpay(hosted_server):
    h = Hosted(hosted_server)
    h.imported(
        [
            row("N-2", "C77", amount="30", date="2026-11-01", due="2026-12-20"),
            row("N-1", "C77", amount="20", date="2026-10-01", due="2026-11-20"),  # due first: paid first
            row("K-1", "C77", amount="40000", currency="KHR", date="2026-11-05", due="2026-12-25"),
        ]
    )
    found = ok(h.look_up("C77"), "SUCCESS")
    cust = found["customer"]
    assert (cust["customer_code"], cust["customer_name"], cust["currency"], cust["bill_amount"]) == (
        "C77",
        "Nim",
        "USD",
        50,
    )
    assert (cust["min_amount"], cust["max_amount"]) == (-1, -1)  # any part, or more
    pending = found["pending_bills"]["pending_bills"]
    assert [(p["ref_number"], p["amount"], p["balance"]) for p in pending] == [("N-2", 30, 50), ("N-1", 20, 20)]
    assert pending[1]["state"] == "overdue" and pending[1]["date"] == "01/10/2026"
    page = hosted_server.client().get(pending[0]["digital_bill_url"])
    assert page.status_code == 200 and "N-2" in page.text

    first = h.pay("C77", "12.5", bank_ref="FT-A")
    assert (first["total_amount"], first["due_amount"], first["overpaid_amount"]) == (Decimal("12.5"), 50, 0)
    assert (h.invoice("N-1")["dueAmount"], h.invoice("N-1")["state"]) == (Decimal("7.5"), "overdue")
    assert h.invoice("N-2")["state"] == "open"

    second = h.pay("C77", "40", bank_ref="FT-B")  # 7.50 + 30 due: 2.50 over
    assert second["overpaid_amount"] == Decimal("2.5")
    assert (h.invoice("N-1")["state"], h.invoice("N-2")["state"]) == ("paid", "paid")
    # What is left is the riel invoice; the overpay is the consumer's, in its currency.
    left = ok(h.look_up("C77"), "SUCCESS")
    assert (left["customer"]["currency"], left["customer"]["bill_amount"], left["balance"]) == ("KHR", 40000, 0)

    # The webhook names the invoices each payment paid, and the excess.
    bodies = [b for b in h.events() if b.get("payment_service_type") == "Bank Channel"]
    lines = {b["bank_ref"]: [(c["bill_no"], c["amount"]) for c in b["customers"]] for b in bodies}
    assert lines == {
        "FT-A": [("N-1", Decimal("12.5"))],
        "FT-B": [("N-1", Decimal("7.5")), ("N-2", 30), ("", Decimal("2.5"))],
    }
    assert all(b["identity_code"] == "C77" for b in bodies)

    # Money was paid on N-1: a new amount is refused for that row; its text may still change.
    n1 = {"date": "2026-10-01", "due": "2026-11-20"}
    renamed = row("N-1", "C77", amount="25", **n1)
    renamed["customer"]["name"] = "Someone Else"
    again = h.imported([renamed, row("N-1", "C77", amount="20", description="Oct water", **n1)])
    assert [r["outcome"] for r in again["rows"]] == ["rejected", "updated"]
    assert "totalAmount" in again["rows"][0]["reason"] and again["rows"][0]["reason"].startswith("row 0:")
    assert h.invoice("N-1")["customer"]["name"] == "Nim"  # a rejected row changed nothing, its customer included

    # The report: each payment with the invoices it paid; its sums are the ledger's.
    rep = h.report()
    assert [p["bankRef"] for p in rep] == ["FT-A", "FT-B"]
    assert list(rep[0]) == [
        "code",
        "consumerCode",
        "consumerName",
        "billerCode",
        "description",
        "tranDate",
        "tranId",
        "paymentMethod",
        "tranAmount",
        "convenienceFeeAmount",
        "sponserFeeAmount",
        "totalAmount",
        "currencyId",
        "overpay",
        "bankRef",
        "bankName",
        "bankId",
        "bills",
    ]
    b = rep[1]
    assert (b["code"], b["billerCode"], b["paymentMethod"], b["overpay"], b["bankName"], b["bankId"]) == (
        h.code + "C77",
        h.code,
        1,
        Decimal("2.5"),
        "Sandbox Bank",
        h.bank_code,
    )
    assert [(x["refNumber"], x["paidAmount"]) for x in b["bills"]] == [("N-1", Decimal("7.5")), ("N-2", 30)]
    assert b["bills"][0]["dueDate"] == "2026-11-20T00:00:00" and list(b["bills"][0]) == [
        "id",
        "refId",
        "refNumber",
        "paidAmount",
        "date",
        "dueDate",
    ]
    assert b["tranDate"].endswith("+07:00")
    assert sum(Decimal(str(p["totalAmount"])) for p in rep) == Decimal("52.5") == _ledger_usd(h)
    assert h.report(consumerCode="nobody") == [] and len(h.report(currencyId="usd")) == 2
    assert h.report(paymentMethod="2") == [] and h.report(currencyId="KHR") == []
    _allocations_add_up(h)


def _ledger_usd(h: Hosted) -> Decimal:
    async def go(session):
        q = (
            select(func.coalesce(func.sum(Posting.amount), 0))
            .join(Entry, Entry.id == Posting.entry_id)
            .where(Entry.merchant_id == h.m.id, Entry.kind == "bank_bill_payment", Posting.amount > 0)
        )
        return (await session.execute(q)).scalar_one()

    return Decimal(h.db(go)) / 100


def _allocations_add_up(h: Hosted) -> None:
    """Every paid bank bill: its allocations plus its overpay are its amount; every invoice's paid_bank is the sum
    of its allocations."""

    async def go(session):
        trans = (
            await session.execute(
                select(Transaction, BillLookup)
                .join(BillLookup, BillLookup.transaction_id == Transaction.id)
                .where(Transaction.merchant_id == h.m.id, Transaction.status == "success")
            )
        ).all()
        for tran, lookup in trans:
            allocated = (
                await session.execute(
                    select(func.coalesce(func.sum(InvoiceAllocation.amount), 0)).where(
                        InvoiceAllocation.transaction_id == tran.id
                    )
                )
            ).scalar_one()
            assert allocated + lookup.overpaid == tran.amount, tran.id
        for inv in (await session.execute(select(Invoice).where(Invoice.merchant_id == h.m.id))).scalars():
            allocated = (
                await session.execute(
                    select(func.coalesce(func.sum(InvoiceAllocation.amount), 0)).where(
                        InvoiceAllocation.invoice_id == inv.id
                    )
                )
            ).scalar_one()
            assert allocated == inv.paid_bank, inv.ref_number

    h.db(go)


def test_a_look_up_by_invoice_number_pays_that_invoice(hosted_server):
    h = Hosted(hosted_server)
    h.imported([row("OLD-1", "C9", amount="5", due="2026-11-01"), row("NEW-7", "C9", amount="8", due="2026-12-30")])
    found = ok(h.look_up("NEW-7"), "SUCCESS")
    assert (found["customer"]["customer_code"], found["customer"]["bill_amount"]) == ("C9", 8)
    assert [p["ref_number"] for p in found["pending_bills"]["pending_bills"]] == ["NEW-7"]
    h.pay("NEW-7", "8")
    assert (h.invoice("NEW-7")["state"], h.invoice("OLD-1")["state"]) == ("paid", "overdue")
    for typed, code in (("nobody", "CONSUMER_NOT_FOUND"), ("NEW-7", "NO_AMOUNT_TO_PAY")):
        assert h.look_up(typed).json()["code"] == code
    r = h.bank.post("/payment/v3/inquiry/single", json={"bill_code": "000", "customer_code": "C9"})
    assert r.json()["code"] == "BILLER_NOT_FOUND"


def _at_local(day: datetime, hh: int, mm: int) -> None:
    """Move the clock to ``hh:mm`` Phnom Penh time of ``day``."""
    target = day.replace(hour=hh, minute=mm, second=30, tzinfo=PHNOM_PENH).astimezone(UTC).replace(tzinfo=None)
    clock.advance((target - clock.now()).total_seconds())


def test_the_report_cuts_days_in_phnom_penh_time(hosted_server):
    h = Hosted(hosted_server)
    day = datetime(2027, 3, 14)
    clock.reset()
    h.imported([row("LATE-1", "N1", amount="3", due="2027-12-31"), row("EARLY-1", "N2", amount="4", due="2027-12-31")])
    _at_local(day, 23, 59)  # 16:59:30 UTC
    h.pay("N1", "3", bank_ref="LATE")
    _at_local(day + timedelta(days=1), 0, 1)
    h.pay("N2", "4", bank_ref="EARLY")
    clock.reset()

    def refs(**q):
        return [p["bankRef"] for p in h.report(**q)]

    assert refs(d1="2027-03-14", d2="2027-03-14") == ["LATE"]
    assert refs(d1="2027-03-15", d2="2027-03-15") == ["EARLY"]
    assert refs(d1="2027-03-14T00:00:00", d2="2027-03-14T23:59:00") == ["LATE"]  # the whole of 23:59
    assert refs(d1="2027-03-14T00:00:00", d2="2027-03-14T23:58") == []
    assert refs(d1="2027-03-14T00:00:00", d2="2027-03-15T00:00:00") == ["LATE", "EARLY"]  # midnight: the whole day
    assert refs(d1="2027-03-14T16:00:00Z", d2="2027-03-14T17:00:00Z") == ["LATE"]  # an offset is honoured
    late = h.report(d1="2027-03-14", d2="2027-03-14")[0]
    assert late["tranDate"].startswith("2027-03-14T23:59:30")
    for bad in ({"d1": ""}, {"d2": "yesterday"}, {"paymentMethod": "x"}, {"currencyId": "EUR"}):
        r = h.c.get("/billflow/v1/payment", params={"d1": "2027-03-14", "d2": "2027-03-15", **bad})
        assert r.status_code == 400 and r.json()["code"] == "ERR_MISSED_FIELD", r.text


def test_the_invoice_list_pages_and_caps_the_page_size(hosted_server):
    h = Hosted(hosted_server)
    h.imported([row(f"L-{i:02d}", f"P{i % 3}") for i in range(12)])
    everything = h.invoices(pageIndex=1, pageSize=999999, pageCount=0, rowCount=0)
    assert (everything["pageSize"], everything["rowCount"], everything["pageCount"]) == (10_000, 12, 1)
    assert len(everything["result"]) == 12
    page2 = h.invoices(pageIndex=2, pageSize=5)
    assert [i["refNumber"] for i in page2["result"]] == [f"L-{i:02d}" for i in range(5, 10)]
    assert page2["pageCount"] == 3
    legacy = h.c.get("/v1/Bill24Operation/Invoice/All", params={"pageIndex": 1, "pageSize": 999999})
    assert legacy.status_code == 200 and len(legacy.json()["result"]) == 12
    assert len(h.invoices(consumerCode="P1")["result"]) == 4
    for bad in ({"pageSize": "-5"}, {"pageIndex": "x"}, {"pageSize": str(10**30)}):
        r = h.c.get("/billflow/v1/Bill24Operation/Invoice/All", params=bad)
        assert r.status_code == 400 and r.json()["code"] == "ERR_MISSED_FIELD", r.text


def test_a_large_import_runs_as_a_job_and_each_row_is_applied_once(hosted_server):
    h = Hosted(hosted_server)
    rows = [row(f"J-{i:05d}", f"J{i % 700}") for i in range(1500)] + [row("J-00001", "J1", amount="11")]
    r = h.send(rows)
    head = r.json()
    assert r.status_code == 200 and head["totalRecord"] == 1501
    assert h.outcomes(head["id"])["state"] == "queued"  # larger than TONLE_HOSTED_INLINE_ROWS: the worker's
    settings = hosted_server.settings.model_copy(update={"hosted_import_chunk_rows": 400})
    applied = hosted_server.run(imports.run_once(hosted_server.backend.db, settings))
    assert applied == 1501
    out = h.outcomes(head["id"])
    assert (out["state"], out["rowsDone"], out["created"], out["updated"], out["rejected"]) == (
        "done",
        1501,
        1500,
        1,
        0,
    )
    assert h.invoice("J-00001")["totalAmount"] == 11  # the later row of the same refNumber wins
    assert h.db(lambda s: _count(s, Invoice, merchant_id=h.m.id)) == 1500
    assert h.db(lambda s: _count(s, BillConsumer, merchant_id=h.m.id)) == 700
    assert hosted_server.run(imports.run_once(hosted_server.backend.db, settings)) == 0  # nothing left


def test_two_imports_of_overlapping_rows_at_once_give_each_row_one_outcome(pg_server):
    h = Hosted(pg_server)
    a = [row(f"O-{i:04d}", f"OC{i % 50}") for i in range(0, 600)]
    b = [row(f"O-{i:04d}", f"OC{i % 50}") for i in range(300, 900)]
    c2 = pg_server.client(pg_server.authorize(h.m)["token"])
    with ThreadPoolExecutor(2) as pool:
        ra, rb = pool.map(lambda job: h.send(job[0], job[1]), [(a, h.c), (b, c2)])
    oa, ob = h.outcomes(ra.json()["id"]), h.outcomes(rb.json()["id"])
    assert oa["rowsDone"] == 600 and ob["rowsDone"] == 600
    assert oa["created"] + ob["created"] == 900
    assert oa["unchanged"] + ob["unchanged"] == 300
    assert oa["rejected"] == ob["rejected"] == 0
    assert h.db(lambda s: _count(s, Invoice, merchant_id=h.m.id)) == 900
    assert h.db(lambda s: _count(s, BillConsumer, merchant_id=h.m.id)) == 50

    async def rows(session):
        q = select(func.count()).select_from(InvoiceImportRow).where(InvoiceImportRow.outcome.is_(None))
        return (await session.execute(q)).scalar_one()

    assert h.db(rows) == 0


def test_a_worker_killed_mid_import_leaves_each_row_applied_once(hosted_server):
    """`tonle worker` applies a queued import in small chunks; it is SIGKILLed part-way, a new worker takes the
    batch over when the lease runs out, and every row ends with exactly one outcome and one effect."""
    import time

    import procs

    h = Hosted(hosted_server)
    n = 4000
    rows = [row(f"K-{i:05d}", f"KC{i % 900}") for i in range(n)]
    head = h.send(rows).json()
    assert h.outcomes(head["id"])["state"] == "queued"
    env = {"TONLE_HOSTED_IMPORT_CHUNK_ROWS": "50", "TONLE_HOSTED_IMPORT_LEASE_SECONDS": "2"}
    first = procs.worker(hosted_server.backend, **env)
    try:
        done = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = h.outcomes(head["id"])["rowsDone"]
            if done >= 200:
                break
            time.sleep(0.02)
    finally:
        first.kill()
    at_kill = h.outcomes(head["id"])
    assert 0 < at_kill["rowsDone"] < n and at_kill["state"] != "done", at_kill  # killed mid-batch
    second = procs.worker(hosted_server.backend, **env)
    try:
        out = wait_for_done(h, head["id"])
    finally:
        second.stop()
    assert (out["rowsDone"], out["created"], out["updated"], out["unchanged"], out["rejected"]) == (n, n, 0, 0, 0)
    assert len(out["rows"]) == n and sorted(r["index"] for r in out["rows"]) == list(range(n))
    assert h.db(lambda s: _count(s, Invoice, merchant_id=h.m.id)) == n
    assert h.db(lambda s: _count(s, BillConsumer, merchant_id=h.m.id)) == 900

    async def lines(session):
        q = (
            select(func.count())
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.merchant_id == h.m.id)
        )
        return (await session.execute(q)).scalar_one()

    assert h.db(lines) == n  # one line each: nothing applied twice


def wait_for_done(h: Hosted, import_id: int, timeout: float = 90) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = h.outcomes(import_id)
        if out["state"] == "done":
            return out
        time.sleep(0.1)
    raise AssertionError(f"import {import_id} not done: {out}")


def test_tonle_hosted_import_reads_json_and_csv_and_writes_the_rejected_rows(hosted_server, tmp_path):
    h = Hosted(hosted_server)
    client_id = h.m.creds.client_id
    good = tmp_path / "invoices.json"
    good.write_text(wirejson.dumps([row("CLI-1", "Q1"), row("CLI-2", "Q2", amount="7.25")]))
    done = hosted_server.cli("hosted", "import", str(good), "--client-id", client_id)
    assert done.returncode == 0, done.stderr
    assert "created" in done.stdout and "2" in done.stdout
    assert h.invoice("CLI-2")["totalAmount"] == Decimal("7.25")

    csv_file = tmp_path / "invoices.csv"
    csv_file.write_text(
        "refNumber,date,dueDate,currency,totalAmount,customer.code,customer.name,line.itemName,line.quantity,"
        "line.price,line.amount\n"
        "CSV-1,2026-11-01,2026-12-01,KHR,15000,Q3,Sok Chea,Water,1,10000,10000\n"
        "CSV-1,,,,,,,Meter,1,5000,5000\n"
        "CSV-2,2026-11-01,2026-10-01,KHR,100,Q3,Sok Chea,,,,\n"
        "CSV-3,2026-11-01,2026-12-01,KHR,10.5,Q4,Dara,,,,\n",
        encoding="utf-8",
    )
    proc = hosted_server.cli("hosted", "import", str(csv_file), "--client-id", client_id)
    assert proc.returncode == 1, proc.stderr  # some rows were rejected
    assert "rejected rows written to" in proc.stdout
    refused = wirejson.loads((tmp_path / "invoices.csv.rejected.json").read_text())
    assert [(r["index"], r["row"]["refNumber"]) for r in refused] == [(1, "CSV-2"), (2, "CSV-3")]
    assert refused[0]["reason"] == "row 1: [dueDate] must not be before [date]."
    lines = h.invoice("CSV-1")
    assert (lines["totalAmount"], lines["customer"]["name"]) == (15000, "Sok Chea")

    # The same file again: nothing changes; bad files and unknown billers are refused before anything is stored.
    again = hosted_server.cli("hosted", "import", str(good), "--client-id", client_id)
    assert again.returncode == 0 and "unchanged" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("refNumber,colour\nX,blue\n")
    r = hosted_server.cli("hosted", "import", str(bad), "--client-id", client_id)
    assert r.returncode == 2 and "unknown CSV column(s): colour" in r.stderr
    r = hosted_server.cli("hosted", "import", str(good), "--client-id", "nobody")
    assert r.returncode == 2 and "no merchant has client id" in r.stderr
    (tmp_path / "obj.json").write_text('{"refNumber": "x"}')
    r = hosted_server.cli("hosted", "import", str(tmp_path / "obj.json"), "--client-id", client_id)
    assert r.returncode == 2 and "array of invoices" in r.stderr
