"""Auto Direct Debit (spec other-apis §6): a biller inits a subscription, the customer consents at a sandbox bank
(the subscription page, the bank's consent page), verify answers Active; a signal makes Tonle ask the biller's
consumer/inquiry (a fake biller here) and debit the subscribed accounts through the bank, once per debt, with the
§2.4 webhook (Direct Debit); refusals are retried on the sandbox clock and end as signed Tonle events."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from billers import TOKEN, FakeBiller
from helpers import add_bank, add_sandbox_account, set_merchant
from tonle.banks import debits
from tonle.directdebit import collect
from tonle.directdebit.models import Collector, Debit
from tonle.ledger.models import Entry
from tonle.ledger.verify import verify as verify_ledger
from tonle.sandbox import client as sandbox
from tonle.sandbox.models import SandboxAccount
from tonle.transactions.models import Transaction
from tonle.webhooks.models import OutboxEvent

SECRET = "whsec_c2FuZGJveC13YXRlci13ZWJob29rLWtleQ=="
DAY = 86400


def consumer(code: str, due, currency: str = "USD", **kw) -> dict:
    return {
        "consumer_code": code,
        "consumer_name": "សូនី វ៉ាន់នេត",
        "consumer_name_latin": "SONY Vannet",
        "additional_information": "អសយដ្ឋាន : ផ្លូវ 271",
        "currency": currency,
        "due_amount": due,
        **kw,
    }


@pytest.fixture
def dd_server(backend):
    server = backend.server(webhook_allow_private_targets=True)
    yield server
    httpx.post(server.base_url + "/sandbox/clock/reset", timeout=30)


class Biller:
    """A direct-debit biller on ``server`` whose own endpoints are ``fake``'s, and a sandbox bank with accounts."""

    def __init__(self, server, fake: FakeBiller, accounts=(("0001234567", "Sok Dara", "USD", "120.00"),)):
        self.server, self.fake = server, fake
        self.plain = httpx.Client(base_url=server.base_url)  # one client: building one costs an SSL context
        self.c, self.m = server.merchant_client("Phnom Penh Water")
        self.code = str(uuid.uuid4().int)[:12]
        set_merchant(
            server,
            self.m.id,
            biller_code=self.code,
            biller_api_url=fake.url,
            biller_api_token=TOKEN,
            webhook_url=fake.url + "/webhook",
            webhook_secret=SECRET,
        )
        self.bank = "B" + uuid.uuid4().hex[:6].upper()
        add_bank(server, self.bank, "bank-" + uuid.uuid4().hex, name="ACLEDA Bank")
        for number, name, cur, balance in accounts:
            self.add_account(number, name, cur, balance)

    def add_account(self, number: str, name: str, currency: str, balance: str, status: str = "open") -> None:
        minor = int(Decimal(balance) * (100 if currency == "USD" else 1))
        add_sandbox_account(self.server, self.bank, number, name, currency, minor, status)

    def balance(self, number: str) -> int:
        async def go(session):
            return await session.scalar(
                select(SandboxAccount.balance).where(
                    SandboxAccount.bank_code == self.bank, SandboxAccount.number == number
                )
            )

        return self.server.in_session(go)

    def set_account(self, number: str, **values) -> None:
        async def go(session):
            acct = await session.scalar(
                select(SandboxAccount).where(SandboxAccount.bank_code == self.bank, SandboxAccount.number == number)
            )
            for k, v in values.items():
                setattr(acct, k, v)

        self.server.in_session(go)

    def init(self, codes, ref: str | None = None, web_url: str | None = None, **extra) -> dict:
        body = {
            "subscription_ref": ref or "DD" + uuid.uuid4().hex[:8],
            "redirect_url": {"web_url": web_url or f"{self.fake.url}/webhooks", "deeplink_url": ""},
            "consumers": [
                {
                    "consumer_code": c,
                    "consumer_name": "នីម",
                    "consumer_name_latin": "Nim",
                    "additional_information": "",
                    **extra,
                }
                for c in codes
            ],
        }
        r = self.c.post("/direct_debit/subscription/init", json=body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["code"] == "000", answer
        return answer["data"]

    def subscribe(self, codes, account: str = "0001234567", **extra) -> str:
        data = self.init(codes, **extra)
        sandbox.subscribe(self.server.base_url, self.m.creds.referrer_key, data["subscription_no"], self.bank, account)
        return data["subscription_no"]

    def signal(self, codes) -> None:
        r = self.c.post("/direct_debit/signal", json={"consumer_code": list(codes)})
        assert r.status_code == 200 and r.json() == {"code": "000", "message": "success!", "message_kh": "ជោគជ័យ!"}

    def run(self, by: str = "0s") -> dict:
        r = self.plain.post("/sandbox/clock/advance", json={"by": by}, timeout=600)
        assert r.status_code == 200, r.text
        if by != "0s":  # the access token may have run out on the moved clock: sign in again, as a biller would
            self.c.headers["Authorization"] = "Bearer " + self.server.authorize(self.m)["token"]
        return r.json()

    def debits(self, state: str | None = None) -> list[Debit]:
        async def go(session):
            q = select(Debit).where(Debit.merchant_id == self.m.id)
            if state:
                q = q.where(Debit.state == state)
            return list(await session.scalars(q.order_by(Debit.created_at)))

        return self.server.in_session(go)

    def events(self, kind: str | None = None) -> list[dict]:
        async def go(session):
            q = select(OutboxEvent).where(OutboxEvent.merchant_id == self.m.id)
            if kind:
                q = q.where(OutboxEvent.type == kind)
            return [json.loads(e.body) for e in await session.scalars(q.order_by(OutboxEvent.created_at))]

        return self.server.in_session(go)

    def webhooks(self) -> list[dict]:
        return [w["body"] for w in self.fake.received if w["body"].get("payment_service_type") == "Direct Debit"]

    def post(self, path: str, body) -> dict:
        r = self.c.post("/direct_debit" + path, json=body)
        assert r.status_code == 200, r.text
        return r.json()


def test_init_consent_verify_signal_debit_and_webhook(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("C000001", "15.5")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        r = b.c.post(
            "/direct_debit/subscription/init",
            json={
                "subscription_ref": "DD000027",
                "redirect_url": {"web_url": f"{fake.url}/webhooks", "deeplink_url": ""},
                "consumers": [
                    {
                        "consumer_code": "C000001",
                        "consumer_name": "នីម",
                        "consumer_name_latin": "Nim",
                        "additional_information": "",
                    }
                ],
            },
        )
        answer = r.json()
        assert list(answer) == ["code", "message", "message_kh", "data"]
        assert (answer["code"], answer["message"], answer["message_kh"]) == ("000", "success !", "ជោគជ័យ! ")
        no, link = answer["data"]["subscription_no"], answer["data"]["subscription_link"]
        assert re.fullmatch(r"\d{8}", no) and list(answer["data"]) == ["subscription_no", "subscription_link"]
        assert re.fullmatch(re.escape(dd_server.base_url) + r"/checkoutv2/subscription/[0-9A-F]{12}", link)
        # Before consent: Pending.
        assert b.post("/subscription/verify", {"subscription_no": no})["data"]["status"] == "Pending"
        for lang, words in (("km", "រៀបចំការបង់ប្រាក់ស្វ័យប្រវត្តិ"), ("en", "Set up automatic payment")):
            page = httpx.get(f"{link}?lang={lang}")
            assert page.status_code == 200 and words in page.text and "C000001" in page.text
            assert f'id="bank-{b.bank}"' in page.text
        done = sandbox.subscribe(dd_server.base_url, b.m.creds.referrer_key, no, b.bank, "0001234567")
        back = urlsplit(done["returned_to"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == f"{fake.url}/webhooks"
        assert parse_qs(back.query) == {"subscription_no": [no], "subscription_ref": ["DD000027"], "status": ["Active"]}

        v = b.post("/subscription/verify", {"subscription_no": no})
        assert (v["code"], v["message"], v["message_kh"]) == ("000", "Success", "ជោគជ័យ")
        assert list(v["data"]) == ["status", "bank_ref", "subscribe_date", "bank_name", "bank_name_kh", "details"]
        assert v["data"]["status"] == "Active" and v["data"]["bank_name"] == "ACLEDA Bank"
        assert v["data"]["bank_ref"].startswith(b.bank)
        assert v["data"]["details"] == [
            {
                "consumer_code": "C000001",
                "consumer_name": "នីម",
                "consumer_name_latin": "Nim",
                "additional_information": "",
            }
        ]
        subs = b.post("/subscription/subscribers", {"consumerCodes": ["C000001"]})
        assert subs["message"] == "Success" and list(subs["data"]) == [
            "code",
            "name",
            "nameLatin",
            "additionalInformation",
            "accountInfo",
        ]
        info = subs["data"]["accountInfo"]
        assert len(info) == 1 and info[0]["status"] == "Active"
        assert list(info[0]["customerBankAccount"]) == ["accountToken", "code", "name", "bankLogo", "priority"]
        assert info[0]["customerBankAccount"]["priority"] == 1 and info[0]["customerBankAccount"]["code"] == b.bank
        hist = b.post("/subscription/histories", {"consumer_code": "C000001"})["data"]["histories"]
        assert [h["action"] for h in hist] == ["Subscribed"] and hist[0]["account_no"] == "******4567"

        b.signal(["C000001"])
        b.run()
        assert [r["path"] for r in fake.requests].count("/consumer/inquiry") == 1
        (hook,) = b.webhooks()
        assert hook["payment_service_type"] == "Direct Debit" and hook["status"] == "success"
        assert hook["tran_amount"] == 15.5 and hook["currency"] == "USD" and hook["identity_code"] == "C000001"
        assert hook["bank_code"] == b.bank and hook["purpose_of_transaction"] == "DD000027"
        assert b.balance("0001234567") == 12000 - 1550
        (d,) = b.debits()
        assert d.state == "succeeded" and d.amount == 1550

        async def entry_of(session):
            tran = await session.get(Transaction, d.transaction_id)
            entry = await session.get(Entry, tran.entry_id)
            return tran.type, tran.status, entry.kind

        assert dd_server.in_session(entry_of) == ("direct_debit", "success", "direct_debit")
        # The biller acknowledged and its books say nothing is owed: another signal debits nothing.
        b.signal(["C000001"])
        b.run()
        assert len(b.debits()) == 1 and len(b.webhooks()) == 1
        assert dd_server.in_session(verify_ledger).ok


def test_refusals_are_retried_on_the_clock_then_fail_as_tonle_events(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("POOR1", "50.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake, accounts=(("0009990001", "Poor", "USD", "10.00"),))
        b.subscribe(["POOR1"], account="0009990001")
        b.signal(["POOR1"])
        b.run()
        (retry,) = b.events("direct_debit.retry_scheduled")
        assert retry["reasons"] == ["insufficient_funds"] and retry["attempt"] == 1 and retry["amount"] == 50
        moved = b.run("30d")  # +1 d, +3 d, +7 d after the first failure, then stop
        assert moved["stops"] >= 3
        assert len(b.events("direct_debit.retry_scheduled")) == 3
        (failed,) = b.events("direct_debit.failed")
        assert failed["reason"] == "insufficient_funds" and failed["attempt"] == 4
        refused = b.debits("refused")
        assert len(refused) == 4 and not b.debits("succeeded")
        days = [(r.created_at - refused[0].created_at).total_seconds() / DAY for r in refused]
        assert [round(x) for x in days] == [0, 1, 3, 7]
        # Never a Bill24 body for a failure, and the signed Tonle events reached the biller.
        assert b.webhooks() == []
        got = [w["body"].get("event_type") for w in fake.received]
        assert got.count("direct_debit.retry_scheduled") == 3 and got.count("direct_debit.failed") == 1
        assert b.balance("0009990001") == 1000


def test_the_next_account_by_priority_pays_and_set_default_changes_the_order(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("TWO1", "30.00")]}
    accounts = (("0001110001", "Dara", "USD", "5.00"), ("0001110002", "Dara", "USD", "100.00"))
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake, accounts=accounts)
        b.subscribe(["TWO1"], account="0001110001")
        b.subscribe(["TWO1"], account="0001110002")
        info = b.post("/subscription/subscribers", {"consumerCodes": ["TWO1"]})["data"]["accountInfo"]
        assert [i["customerBankAccount"]["priority"] for i in info] == [1, 2]
        b.signal(["TWO1"])
        b.run()
        assert [(d.state, d.reason) for d in b.debits()] == [("refused", "insufficient_funds"), ("succeeded", "")]
        assert b.balance("0001110002") == 7000 and len(b.webhooks()) == 1
        second = info[1]["customerBankAccount"]["accountToken"]
        r = b.post("/customer/bank_account/set_default", {"token": second})
        assert r == {
            "code": "000",
            "message": "Set default account successfully",
            "message_kh": "កំណត់គណនីលំនាំដើមបានដោយជោគជ័យ",
            "data": None,
        }
        info = b.post("/subscription/subscribers", {"consumerCodes": ["TWO1"]})["data"]["accountInfo"]
        order = {i["customerBankAccount"]["accountToken"]: i["customerBankAccount"]["priority"] for i in info}
        assert order[second] == 1 and sorted(order.values()) == [1, 2]


def test_a_hard_refusal_is_not_retried(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("SHUT1", "5.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake, accounts=(("0007770001", "Closed", "USD", "90.00"),))
        b.subscribe(["SHUT1"], account="0007770001")
        b.set_account("0007770001", status="closed")
        b.signal(["SHUT1"])
        b.run("30d")
        (failed,) = b.events("direct_debit.failed")
        assert failed["reason"] == "account_closed"
        assert b.events("direct_debit.retry_scheduled") == [] and len(b.debits()) == 1


def test_unsubscribe_now_or_on_a_date_and_bad_tokens(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("U1", "3.00"), consumer("U2", "3.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        b.subscribe(["U1", "U2"])
        tokens = {
            code: b.post("/subscription/subscribers", {"consumerCodes": [code]})["data"]["accountInfo"][0][
                "customerBankAccount"
            ]["accountToken"]
            for code in ("U1", "U2")
        }
        later = time.strftime("%Y-%m-%dT%H:%M:%S+07:00", time.gmtime(time.time() + 7 * 3600 + 5 * DAY))
        sooner = time.strftime("%Y-%m-%dT%H:%M:%S+07:00", time.gmtime(time.time() + 7 * 3600 + 3 * DAY))
        assert (
            b.post("/customer/bank_account/unsubscribe", {"token": tokens["U1"], "unsubscribe_date": sooner})["code"]
            == "000"
        )
        r = b.post("/customer/bank_account/unsubscribe", {"token": tokens["U1"], "unsubscribe_date": later})  # moved
        assert r == {
            "code": "000",
            "message": "Direct Debit Unsubscribed successfully.",
            "message_kh": "សេវាកម្មទូទាត់ប្រាក់ស្វ័យប្រវត្តិបានផ្ដាច់ជោគជ័យ",
            "data": None,
        }
        past = {"token": tokens["U2"], "unsubscribe_date": "2025-08-12T17:49:00+07:00"}
        assert b.post("/customer/bank_account/unsubscribe", past)["code"] == "000"
        again = b.post("/customer/bank_account/unsubscribe", past)
        assert again["code"] == "ERR_ALREADY_UNSUBSCRIBED"
        # U1 is still debited until its date; U2 never again.
        b.signal(["U1", "U2"])
        b.run()
        assert [d.consumer_code for d in b.debits()] == ["U1"]
        httpx.post(fake.url + "/debts", json={"consumer_code": "U1", "add": 3})
        httpx.post(fake.url + "/debts", json={"consumer_code": "U2", "add": 3})
        b.run("6d")
        b.signal(["U1", "U2"])
        b.run()
        assert [d.consumer_code for d in b.debits()] == ["U1"]
        hist = b.post("/subscription/histories", {"consumer_code": "U1"})["data"]["histories"]
        assert [h["action"] for h in hist] == ["Subscribed", "Unsubscribed"]
        v = b.post("/subscription/subscribers", {"consumerCodes": ["U1", "U2"]})["data"]
        assert [x["accountInfo"][0]["status"] for x in v] == ["Unsubscribed", "Unsubscribed"]

        unknown = b.post("/customer/bank_account/unsubscribe", {"token": "nope"})
        assert unknown["code"] == "ERR_ACCOUNT_TOKEN_NOT_FOUND" and unknown["data"] is None
        bad = b.post("/customer/bank_account/unsubscribe", {"token": tokens["U1"], "unsubscribe_date": "12/08/2025"})
        assert bad["code"] == "ERR_MISSED_FIELD" and "unsubscribe_date" in bad["message"]
        # Another merchant's token is not there for this one.
        other, _ = dd_server.merchant_client("Other Biller")
        r = other.post("/direct_debit/customer/bank_account/set_default", json={"token": tokens["U1"]})
        assert r.json()["code"] == "ERR_ACCOUNT_TOKEN_NOT_FOUND"
        r = other.post("/direct_debit/subscription/histories", json={"consumer_code": "U1"})
        assert r.json()["data"] == {"histories": []}


def test_bad_init_and_signals_for_unknown_codes(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("K1", "1.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        r = b.post("/subscription/init", {"subscription_ref": "X1", "consumers": []})
        assert r["code"] == "ERR_MISSED_FIELD" and "[consumers]" in r["message"]
        r = b.post("/subscription/init", {"consumers": [{"consumer_code": "K1"}]})
        assert r["code"] == "ERR_MISSED_FIELD" and "subscription_ref" in r["message"]
        b.init(["K1"], ref="SAME")
        r = b.post("/subscription/init", {"subscription_ref": "SAME", "consumers": [{"consumer_code": "K1"}]})
        assert r["code"] == "ERR_DUPLICATE_SUBSCRIPTION_REF" and r["message_kh"]
        r = b.post("/subscription/verify", {"subscription_no": "00000000"})
        assert r["code"] == "ERR_SUBSCRIPTION_NOT_FOUND"
        r = b.post("/subscription/subscribers", {"consumerCodes": ["NOBODY"]})
        assert r["code"] == "ERR_CONSUMER_NOT_FOUND"
        r = b.c.post("/direct_debit/signal", json={"consumer_code": "not a list"})
        assert r.json()["code"] == "000"  # one code as a string is read as a list of one
        r = b.c.post("/direct_debit/signal", json={"consumer_code": [1, 2]})
        assert r.json()["code"] == "ERR_MISSED_FIELD"
        b.signal(["NOBODY", "K1"])  # K1 was never subscribed (its subscription is pending)
        b.run()
        assert b.debits() == [] and not [r for r in fake.requests if r["path"] == "/consumer/inquiry"]
        assert (
            httpx.post(dd_server.base_url + "/direct_debit/signal", json={"consumer_code": ["K1"]}).status_code == 401
        )


@pytest.mark.parametrize("fault", ["slow", "garbage", "bad_currency", "bad_amount"])
def test_a_biller_whose_inquiry_fails_is_never_debited(backend, fault):
    server = backend.server(webhook_allow_private_targets=True, dd_biller_timeout_seconds=1)
    spec = {"token": TOKEN, "consumers": [consumer("F1", "9.00")], "delay_seconds": 3}
    try:
        with FakeBiller(spec) as fake:
            b = Biller(server, fake)
            b.subscribe(["F1"])
            spec["faults"] = [fault]
            b.signal(["F1"])
            b.run()
            (failed,) = b.events("direct_debit.failed")
            assert failed["consumer_code"] == "F1" and failed["reason"].startswith("inquiry:")
            reason = {"slow": "no answer within 1 s", "garbage": "not JSON", "bad_currency": "EUR", "bad_amount": "ten"}
            assert reason[fault] in failed["reason"]
            assert b.debits() == [] and b.balance("0001234567") == 12000
    finally:
        httpx.post(server.base_url + "/sandbox/clock/reset", timeout=30)


class Crash(BaseException):
    """A worker dying: nothing after it runs (BaseException: no ``except Exception`` catches it)."""


def test_a_worker_killed_between_the_banks_debit_and_the_ledger_is_recovered_once(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("K9", "20.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        b.subscribe(["K9"])
        real = debits.rail()

        class Dying:
            async def debit(self, db, **kw):
                await real.debit(db, **kw)  # the bank takes the money ...
                raise Crash()  # ... and the worker dies before recording it

            async def account(self, db, **kw):
                return await real.account(db, **kw)

        debits.install(Dying())
        try:
            b.c.post("/direct_debit/signal", json={"consumer_code": ["K9"]})
            with pytest.raises(Crash):
                dd_server.run(collect.run_once(dd_server.backend.db, dd_server.settings))
        finally:
            debits.install(real)
        (stuck,) = b.debits()
        assert stuck.state == "sending" and b.balance("0001234567") == 12000 - 2000
        b.run(f"{dd_server.settings.dd_lease_seconds + 1}s")  # the lease runs out; the next run takes it over
        (d,) = b.debits()
        assert d.state == "succeeded" and d.transaction_id
        assert b.balance("0001234567") == 12000 - 2000 and len(b.webhooks()) == 1

        async def entries(session):
            return await session.scalar(
                select(func.count()).select_from(Entry).where(Entry.merchant_id == b.m.id, Entry.kind == "direct_debit")
            )

        assert dd_server.in_session(entries) == 1


def test_the_consent_page_opened_twice_or_after_expiry(dd_server, backend):
    spec = {"token": TOKEN, "consumers": [consumer("P1", "1.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        data = b.init(["P1"])
        link = data["subscription_link"]
        ref = link.rsplit("/", 1)[1]
        bank_page = f"{dd_server.base_url}/sandbox/bank/{b.bank}/direct-debit/{ref}"
        assert httpx.get(bank_page).status_code == 200 and httpx.get(bank_page).status_code == 200  # opened twice
        first = httpx.post(bank_page, data={"action": "approve", "account": "0001234567"})
        assert first.status_code == 303
        second = httpx.post(bank_page, data={"action": "approve", "account": "0001234567"})
        assert second.status_code == 410 and "already decided" in second.text
        assert httpx.get(link + "?lang=en").status_code == 410
        info = b.post("/subscription/subscribers", {"consumerCodes": ["P1"]})["data"]["accountInfo"]
        assert len(info) == 1
        assert httpx.get(f"{dd_server.base_url}/checkoutv2/subscription/FFFFFFFFFFFF").status_code == 404
        late = b.init(["P1"])
        b.run(f"{dd_server.settings.dd_subscription_ttl_seconds + 1}s")
        page = httpx.get(late["subscription_link"] + "?lang=en")
        assert page.status_code == 410 and "expired" in page.text
        assert (
            b.post("/subscription/verify", {"subscription_no": late["subscription_no"]})["data"]["status"] == "Expired"
        )
        declined = b.init(["P1"])
        done = sandbox.subscribe(
            dd_server.base_url, b.m.creds.referrer_key, declined["subscription_no"], b.bank, "", decline=True
        )
        assert parse_qs(urlsplit(done["returned_to"]).query)["status"] == ["Declined"]
        assert b.post("/subscription/verify", {"subscription_no": declined["subscription_no"]})["data"]["status"] == (
            "Declined"
        )


def test_a_cap_holds_the_debt_and_a_notice_comes_before_the_debit(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("CAP1", "80.00"), consumer("NOTE1", "4.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        b.subscribe(["CAP1"], max_amount="50")
        b.signal(["CAP1"])
        b.run()
        (held,) = b.events("direct_debit.held")
        assert held["amount"] == 80 and held["max_amount"] == 50 and b.debits() == []
        set_merchant(dd_server, b.m.id, dd_notice_hours=24)
        b.subscribe(["NOTE1"])
        b.signal(["NOTE1"])
        b.run()
        (notice,) = b.events("direct_debit.notice")
        assert notice["amount"] == 4 and b.debits() == []
        b.run("23h")
        assert b.debits() == []
        b.run("2h")
        assert [d.consumer_code for d in b.debits("succeeded")] == ["NOTE1"]


def test_subscribing_from_the_bank_app_asks_the_biller(dd_server):
    spec = {"token": TOKEN, "consumers": [consumer("APP1", "2.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(dd_server, fake)
        url = f"{dd_server.base_url}/sandbox/bank/{b.bank}/direct-debit?lang=en"
        shown = httpx.post(url, data={"biller_code": b.code, "consumer_code": "APP1", "action": "find"})
        assert shown.status_code == 200 and "SONY Vannet" in shown.text and 'value="0001234567"' in shown.text
        assert "/consumer/validate" in [r["path"] for r in fake.requests]
        nobody = httpx.post(url, data={"biller_code": b.code, "consumer_code": "NOPE", "action": "find"})
        assert "could not confirm" in nobody.text
        done = httpx.post(
            url, data={"biller_code": b.code, "consumer_code": "APP1", "action": "approve", "account": "0001234567"}
        )
        assert done.status_code == 200 and 'id="outcome"' in done.text
        subs = b.post("/subscription/subscribers", {"consumerCodes": ["APP1"]})["data"]
        assert subs["nameLatin"] == "SONY Vannet" and subs["accountInfo"][0]["status"] == "Active"
        b.signal(["APP1"])
        b.run()
        assert len(b.webhooks()) == 1


def test_production_refuses_to_move_the_clock(backend):
    server = backend.server(sandbox=False)
    for path in ("/sandbox/clock/advance", "/sandbox/clock/reset"):
        r = httpx.post(server.base_url + path, json={"by": "1d"})
        assert r.status_code == 403 and "not a sandbox" in r.json()["error"]
    assert httpx.get(server.base_url + "/sandbox/clock").status_code == 403


def test_a_hundred_identical_signals_at_once_debit_once(dd_server):
    if dd_server.name != "postgres":
        pytest.skip("concurrency test: PostgreSQL only")
    pg_server = dd_server
    spec = {"token": TOKEN, "consumers": [consumer("HOT1", "12.00")]}
    with FakeBiller(spec) as fake:
        b = Biller(pg_server, fake)
        b.subscribe(["HOT1"])
        token = b.c.headers["Authorization"]

        def one(_):
            with httpx.Client(base_url=pg_server.base_url, headers={"Authorization": token}, timeout=60) as c:
                c.post("/direct_debit/signal", json={"consumer_code": ["HOT1"]})
                c.post("/sandbox/clock/advance", json={"by": "0s"})

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, range(100)))
        b.run()
        assert len(b.debits("succeeded")) == 1 and len(b.webhooks()) == 1
        assert b.balance("0001234567") == 12000 - 1200

        async def collectors(session):
            return await session.scalar(
                select(func.count()).select_from(Collector).where(Collector.merchant_id == b.m.id)
            )

        assert pg_server.in_session(collectors) == 1


def test_a_year_of_monthly_debits_for_a_hundred_consumers(dd_server):
    """Twelve months of signals for 100 consumers on the sandbox clock: every fifth consumer's account is short in
    some months (retries, then a top-up pays on the retry or the debt fails); every debt is debited once."""
    n = int(os.environ.get("TONLE_TEST_YEAR_CONSUMERS", "100"))
    codes = [f"Y{i:03d}" for i in range(n)]
    spec = {"token": TOKEN, "consumers": [consumer(c, "0") for c in codes]}
    with FakeBiller(spec) as fake:
        accounts = [(f"77{i:08d}", f"Payer {i}", "USD", "1000.00" if i % 5 else "15.00") for i in range(n)]
        b = Biller(dd_server, fake, accounts=accounts)
        for code, acct in zip(codes, accounts, strict=True):
            b.subscribe([code], account=acct[0])
        books = httpx.Client(base_url=fake.url)  # the biller's books move on each month
        started = time.perf_counter()
        for _month in range(12):
            for c in codes:
                books.post("/debts", json={"consumer_code": c, "add": 10})
            b.signal(codes)
            b.run("1d")
            b.run("29d")
        elapsed = time.perf_counter() - started
        succeeded = b.debits("succeeded")
        assert len({(d.consumer_code, d.created_at.date()) for d in succeeded}) == len(succeeded)  # once a day at most
        # What the biller's books say is owed never went below zero: nothing was debited twice.
        inquiry = httpx.post(
            fake.url + "/consumer/inquiry",
            json={"consumer_codes": codes, "biller_code": b.code},
            headers={"token": TOKEN},
        ).json()["data"]
        assert all(Decimal(str(x["amount"])) >= 0 for x in inquiry)
        owed = {x["consumer_code"]: int(Decimal(str(x["amount"])) * 100) for x in inquiry}
        paid = dict.fromkeys(codes, 0)
        for d in succeeded:
            paid[d.consumer_code] += d.amount
        assert all(paid[c] + owed[c] == 12 * 1000 for c in codes)  # billed = debited + still owed, for each
        assert all(owed[c] == 0 for i, c in enumerate(codes) if i % 5)
        assert all(paid[c] == 1000 for i, c in enumerate(codes) if i % 5 == 0)  # 15.00 pays the first month only
        assert b.events("direct_debit.retry_scheduled") and b.events("direct_debit.failed")
        assert dd_server.in_session(verify_ledger).ok
        print(f"\na year of 100 consumers on {dd_server.name}: {elapsed:.1f} s, {len(succeeded)} debits")
