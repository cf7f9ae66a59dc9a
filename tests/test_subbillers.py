"""Activate Sub Biller API (spec §3): onboarding, banks, links through the bank page, portal, payouts."""

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from helpers import add_bank, ok, set_merchant
from test_settle import Shop
from tonle.kit.clock import clock
from tonle.webhooks.models import OutboxEvent

RETURN = "https://merchant.example/return?session=42"


class Onboarding:
    """A merchant (through Shop: customer C1 with money, sub-biller SP001) plus two banks of its own."""

    def __init__(self, server):
        self.server = server
        self.shop = Shop(server)
        self.c, self.m = self.shop.c, self.shop.m
        tag = uuid.uuid4().hex[:5].upper()
        self.bank, self.bank_token = f"AC{tag}", f"tok-{uuid.uuid4().hex}"
        self.offline = f"OFF{tag}"
        add_bank(server, self.bank, self.bank_token, name="ACLEDA Sandbox")
        add_bank(server, self.offline, "tok-" + uuid.uuid4().hex)

        async def down(session):
            from tonle.banks.models import Bank

            (await session.get(Bank, self.offline)).online = False

        server.in_session(down)

    def onboard(self, code="CPO1", **extra):
        body = {"supplier_sync_code": code, "name": "Station 1", "name_kh": "ស្ថានីយ៏ទី១", "address": "Phnom Penh", **extra}
        return self.c.post("/on_boarding/on_boarding_supplier", json=body)

    def link_url(self, code="CPO1", currency=None, return_url=RETURN):
        body = {"supplier_sync_code": code, "bank_id": self.bank, "return_url": return_url}
        if currency:
            body["currency"] = currency
        return ok(self.c.post("/on_boarding/add_link_account", json=body))["add_link_account"]["web_url"]

    def verify(self, code="CPO1", **extra):
        return self.c.post("/on_boarding/verify_linked_account", json={"supplier_sync_code": code, **extra})

    def approve(self, url, number="000123454411", name="STATION ONE", currency="KHR"):
        with httpx.Client(timeout=30) as web:
            return web.post(
                url, data={"action": "approve", "account_number": number, "account_name": name, "currency": currency}
            )

    def link_active(self, code="CPO1", currency="KHR", number="000123454411"):
        r = self.approve(self.link_url(code), number=number, currency=currency)
        assert r.status_code == 303, r.text

    def portal(self, code="CPO1", **extra):
        return ok(self.c.post("/walletmgnt/url", json={"supplier_sync_code": code, **extra}))["web_url"]

    def events(self, kind_prefix=""):
        async def go(session):
            rows = (
                await session.execute(
                    select(OutboxEvent).where(OutboxEvent.merchant_id == self.m.id).order_by(OutboxEvent.created_at)
                )
            ).scalars()
            return [(r.type, json.loads(r.body), r.target_url) for r in rows if r.type.startswith(kind_prefix)]

        return self.server.in_session(go)


def test_onboarding_without_bank_exact_answer(server):
    o = Onboarding(server)
    got = o.onboard().json()
    number = got["data"].pop("code")
    assert re.fullmatch(r"\d{8}", number)
    assert got == {
        "code": "000",
        "message": "success",
        "message_kh": "ជោគជ័យ",
        "data": {
            "supplier_sync_code": "CPO1",
            "name": "Station 1",
            "name_kh": "ស្ថានីយ៏ទី១",
            "address": "Phnom Penh",
            "add_link_account": None,
        },
    }
    # At once a valid payment_to.
    assert o.shop.push(o.shop.body(ref="S1", to="CPO1")).json()["code"] == "SUCCESS"


def test_onboarding_with_bank_answers_a_web_url(server):
    o = Onboarding(server)
    got = ok(o.onboard(bank_id=o.bank, return_url=RETURN, currency="KHR"))
    assert got["add_link_account"]["web_url"].startswith(server.base_url + "/sandbox/bank/link/")
    linked = ok(o.verify())["bank_account_linked"]
    assert linked == [
        {
            "account_number": "",
            "status": "pending",
            "currency": "KHR",
            "bank_code": o.bank,
            "bank_name": "ACLEDA Sandbox",
            "bank_name_kh": "",
            "bank_logo": "",
        }
    ]


def test_onboarding_errors_create_nothing(server):
    o = Onboarding(server)
    r = o.onboard(bank_id=o.bank).json()
    assert (r["code"], r["message"], r["data"]) == ("ERR_MISSED_FIELD", "Please provide [return_url].", None)
    assert (
        o.onboard(bank_id=o.bank, return_url="javascript:alert(1)").json()["message"]
        == "[return_url] must be an http(s) URL."
    )
    assert o.onboard(currency="EUR").json()["message"] == "[currency] must be KHR or USD."
    r = o.c.post("/on_boarding/on_boarding_supplier", json={}).json()
    assert r["message"] == "Please provide [supplier_sync_code]., Please provide [name]."
    r = o.onboard(bank_id="NOPE", return_url=RETURN).json()
    assert (r["code"], r["message"], r["message_kh"]) == ("312", "Bank not found", "មិនមានធនាគារនេះទេ")
    r = o.onboard(bank_id=o.offline, return_url=RETURN).json()
    assert (r["code"], r["message"], r["message_kh"]) == (
        "001",
        "The connection to the bank has a problem",
        "តំណភ្ជាប់ទៅកាន់ធានាគាមានបញ្ហា",
    )
    assert o.verify().json()["code"] == "314"  # nothing was created
    ok(o.onboard())
    r = o.onboard(name="Other").json()
    assert (r["code"], r["message"], r["message_kh"]) == ("310", "Supplier already exist", "ម្ចាស់អាជីវកម្មមានរួចហើយ")


def test_get_available_bank(server):
    o = Onboarding(server)
    banks = ok(o.c.get("/on_boarding/get_available_bank"))
    mine = [b for b in banks if b["bank_id"] == o.bank]
    assert mine == [
        {"bank_id": o.bank, "bank_code": o.bank, "bank_name": "ACLEDA Sandbox", "bank_name_kh": "", "bank_logo": ""}
    ]


def test_add_link_account_and_its_errors(server):
    o = Onboarding(server)
    ok(o.onboard())
    body = {"supplier_sync_code": "CPO1", "bank_id": o.bank, "return_url": RETURN}
    got = ok(o.c.post("/on_boarding/add_link_account", json=body))
    assert got["supplier_sync_code"] == "CPO1" and "/sandbox/bank/link/" in got["add_link_account"]["web_url"]
    assert (
        o.c.post("/on_boarding/add_link_account", json={**body, "supplier_sync_code": "NOPE"}).json()["code"] == "314"
    )
    assert o.c.post("/on_boarding/add_link_account", json={**body, "bank_id": "NOPE"}).json()["code"] == "312"
    assert o.c.post("/on_boarding/add_link_account", json={**body, "bank_id": o.offline}).json()["code"] == "001"
    r = o.c.post("/on_boarding/add_link_account", json={"supplier_sync_code": "CPO1"}).json()
    assert r["message"] == "Please provide [bank_id]."
    assert (
        o.c.post("/on_boarding/verify_linked_account", json={}).json()["message"]
        == "Please provide [supplier_sync_code]."
    )


def test_link_page_approve_then_the_url_is_spent(server, access_log):
    o = Onboarding(server)
    ok(o.onboard())
    url = o.link_url(currency="KHR")
    with httpx.Client(timeout=30) as web:
        shown = web.get(url)
        assert shown.status_code == 200 and "ACLEDA Sandbox" in shown.text and "Station 1" in shown.text
        assert 'id="currency">KHR</strong> only' in shown.text
        assert (
            shown.headers["X-Frame-Options"] == "DENY"
            and "frame-ancestors 'none'" in shown.headers["Content-Security-Policy"]
        )
        bad = web.post(url, data={"action": "approve", "account_number": "12ab", "account_name": "X"})
        assert bad.status_code == 200 and "6 to 20 digits" in bad.text  # nothing spent: the URL still works
        r = web.post(
            url,
            data={
                "action": "approve",
                "account_number": "0001 2345 4411",
                "account_name": "STATION ONE",
                "currency": "USD",
            },
        )
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://merchant.example/return"
    assert parse_qs(target.query) == {
        "session": ["42"],
        "status": ["active"],
        "supplier_sync_code": ["CPO1"],
        "bank_id": [o.bank],
        "currency": ["KHR"],
        "account_number": ["0001****4411"],
    }
    linked = ok(o.verify(bank_id=o.bank))["bank_account_linked"]
    assert [(x["account_number"], x["status"], x["currency"]) for x in linked] == [("0001****4411", "active", "KHR")]
    assert ok(o.verify(bank_id="OTHER"))["bank_account_linked"] == []
    # Used once: a replay shows a clear page and changes nothing.
    again = o.approve(url, number="999999999999")
    assert again.status_code == 410 and "already used" in again.text
    assert ok(o.verify())["bank_account_linked"][0]["account_number"] == "0001****4411"
    events = o.events("sub_biller.link")
    assert len(events) == 1
    kind, body, target_url = events[0]
    assert kind == "sub_biller.link.active" and target_url is None  # no webhook_url set for this merchant
    assert body["event_type"] == "sub_biller.link.active" and body["supplier_sync_code"] == "CPO1"
    assert (body["status"], body["bank_id"], body["currency"], body["account_number"]) == (
        "active",
        o.bank,
        "KHR",
        "0001****4411",
    )
    assert "999999999999" not in json.dumps(events) and "000123454411" not in json.dumps(events)
    one_time = url.rsplit("/", 1)[1]
    assert any("POST /sandbox/bank/link/<redacted>" in line for line in access_log)
    assert not any(one_time in line for line in access_log)


def test_link_page_reject_and_expiry(server):
    o = Onboarding(server)
    ok(o.onboard())
    url = o.link_url()
    with httpx.Client(timeout=30) as web:
        r = web.post(url, data={"action": "reject"})
    assert r.status_code == 303 and parse_qs(urlsplit(r.headers["location"]).query)["status"] == ["rejected"]
    assert ok(o.verify())["bank_account_linked"][0]["status"] == "rejected"
    assert o.events("sub_biller.link")[-1][0] == "sub_biller.link.rejected"
    late = o.link_url()
    clock.advance(server.settings.link_url_ttl_seconds + 1)
    o.c.headers["Authorization"] = "Bearer " + server.authorize(o.m)["token"]
    with httpx.Client(timeout=30) as web:
        page = web.get(late)
        assert page.status_code == 410 and "expired" in page.text and "status=expired" in page.text
        assert (
            web.post(
                late, data={"action": "approve", "account_number": "123456789", "account_name": "X", "currency": "KHR"}
            ).status_code
            == 410
        )
    statuses = [x["status"] for x in ok(o.verify())["bank_account_linked"]]
    assert statuses == ["rejected", "expired"]
    with httpx.Client(timeout=30) as web:
        assert web.get(server.base_url + "/sandbox/bank/link/not-a-token").status_code == 410


def test_settlement_link_requirement_316(server):
    o = Onboarding(server)
    ok(o.onboard())
    set_merchant(server, o.m.id, require_settlement_link=True)
    r = o.shop.push(o.shop.body(ref="L1", to="CPO1")).json()
    assert (r["code"], r["message"]) == ("316", "Settlement supplier link not found")
    o.link_active()
    assert o.shop.push(o.shop.body(ref="L1", to="CPO1")).json()["code"] == "SUCCESS"
    set_merchant(server, o.m.id, require_settlement_link=False)
    ok(o.onboard("CPO2"))
    assert o.shop.push(o.shop.body(ref="L2", to="CPO2")).json()["code"] == "SUCCESS"  # no link needed when off


def test_portal_url_and_page(server, access_log):
    o = Onboarding(server)
    ok(o.onboard())
    o.link_active()
    assert o.shop.push(o.shop.body(ref="P1", total=2500, to="CPO1")).json()["code"] == "SUCCESS"
    got = ok(
        o.c.post(
            "/walletmgnt/url",
            json={"supplier_sync_code": "CPO1", "language": "en", "logo": "https://cdn.example/logo.png"},
        )
    )
    assert (
        got["web_url"] == got["url"] and got["web_url"].startswith(server.base_url + "/portal/") and got["expire_date"]
    )
    with httpx.Client(timeout=30) as web:
        page = web.get(got["web_url"])
        assert page.status_code == 200
        assert 'id="balance-KHR">2,500 ៛<' in page.text and "P1" in page.text and "0001****4411" in page.text
        assert "https://cdn.example/logo.png" in page.text and "Settlement balances" in page.text
        km = web.get(o.portal(language="km"))
        assert "សមតុល្យទូទាត់" in km.text
        assert web.get(got["web_url"][:-3] + "xyz").status_code == 410  # tampered
        clock.advance(server.settings.portal_ttl_seconds + 1)
        assert web.get(got["web_url"]).status_code == 410  # expired
    clock.reset()
    token = got["web_url"].rsplit("/", 1)[1]
    assert any("GET /portal/<redacted>" in line for line in access_log)
    assert not any(token in line for line in access_log)  # the portal's credential never reaches the log
    assert o.c.post("/walletmgnt/url", json={"supplier_sync_code": "NOPE"}).json()["code"] == "314"
    assert (
        o.c.post("/walletmgnt/url", json={"supplier_sync_code": "CPO1", "language": "fr"}).json()["code"]
        == "ERR_MISSED_FIELD"
    )


def _link_id(o, url):
    with httpx.Client(timeout=30) as web:
        return re.search(r'<option value="([^"]+)"', web.get(url).text).group(1)


def test_portal_payout_paid_and_failed(server):
    o = Onboarding(server)
    ok(o.onboard())
    o.link_active(number="000123454411")
    assert o.shop.push(o.shop.body(ref="P1", total=3000, to="CPO1")).json()["code"] == "SUCCESS"
    url = o.portal()
    link_id = _link_id(o, url)
    with httpx.Client(timeout=30) as web:
        too_much = web.post(url + "/payout", data={"link_id": link_id, "amount": "3001"})
        assert too_much.status_code == 400 and "Insufficient" in too_much.text
        r = web.post(url + "/payout", data={"link_id": link_id, "amount": "1000"})
        assert r.status_code == 303
        page = web.get(server.base_url + r.headers["location"])
        assert 'id="balance-KHR">2,000 ៛<' in page.text and ">Paid<" in page.text
    paid = o.events("payout")
    assert [(k, b["status"], b["amount"], b["currency"], b["account_number"]) for k, b, _ in paid] == [
        ("payout.paid", "paid", 1000, "KHR", "0001****4411")
    ]
    # The sandbox bank refuses accounts ending in 0000: the payout fails and the money comes back.
    o.link_active(number="000100000000")
    url = o.portal()
    with httpx.Client(timeout=30) as web:
        page = web.get(url).text
        bad_link = re.findall(r'<option value="([^"]+)"[^>]*>[^<]*0001\*+0000', page)[0]
        web.post(url + "/payout", data={"link_id": bad_link, "amount": "500"})
        after = web.get(url).text
    assert 'id="balance-KHR">2,000 ៛<' in after and ">Failed<" in after
    assert o.events("payout")[-1][0] == "payout.failed"
    assert server.cli("ledger", "verify").returncode == 0


def test_manual_payouts_complete_through_the_bank_api(manual_payout_server):
    server = manual_payout_server
    o = Onboarding(server)
    ok(o.onboard())
    o.link_active()
    assert o.shop.push(o.shop.body(ref="M1", total=4000, to="CPO1")).json()["code"] == "SUCCESS"
    url = o.portal()
    with httpx.Client(timeout=30) as web:
        web.post(url + "/payout", data={"link_id": _link_id(o, url), "amount": "4000"})
        assert ">Pending<" in web.get(url).text

    async def pending(session):
        from tonle.subbillers.models import Payout

        return (await session.execute(select(Payout.id).where(Payout.merchant_id == o.m.id))).scalar_one()

    payout_id = server.in_session(pending)
    other_token = "tok-" + uuid.uuid4().hex
    add_bank(server, "X" + uuid.uuid4().hex[:5], other_token)
    with server.client() as cl:
        r = cl.post(
            "/payment/v3/payout/result", json={"payout_id": payout_id, "status": "paid"}, headers={"token": other_token}
        )
        assert r.json()["code"] == "PAYOUT_NOT_FOUND"
    proc = server.cli(
        "sandbox",
        "payout",
        payout_id,
        "--fail",
        "--bank-token",
        o.bank_token,
        "--base-url",
        server.base_url,
        check=True,
    )
    assert "failed (4000 KHR)" in proc.stdout
    again = server.cli("sandbox", "payout", payout_id, "--bank-token", o.bank_token, "--base-url", server.base_url)
    assert again.returncode == 1 and "PAYOUT_ALREADY_COMPLETED" in again.stderr
    with httpx.Client(timeout=30) as web:
        assert 'id="balance-KHR">4,000 ៛<' in web.get(url).text  # reversed


def test_payouts_run_pays_balances_above_the_threshold(manual_payout_server):
    server = manual_payout_server
    o = Onboarding(server)
    ok(o.onboard("RICH"))
    ok(o.onboard("POOR"))
    ok(o.onboard("NOLINK"))
    o.link_active("RICH")
    o.link_active("POOR")
    for ref, to, amount in (("R1", "RICH", 20000), ("R2", "POOR", 500), ("R3", "NOLINK", 15000)):
        assert o.shop.push(o.shop.body(ref=ref, total=amount, to=to)).json()["code"] == "SUCCESS"
    proc = server.cli("payouts", "run", "--min-khr", "10000", check=True)
    assert re.search(r"payout \S+: RICH 20,000.00 KHR -> " + o.bank, proc.stdout)
    assert "skip NOLINK: no active KHR account" in proc.stdout and "POOR" not in proc.stdout
    again = server.cli("payouts", "run", "--min-khr", "10000", check=True)
    assert "RICH" not in again.stdout  # already paid out (pending at the bank)
    assert server.cli("ledger", "verify").returncode == 0


def test_sub_biller_isolation(server):
    a, b = Onboarding(server), Onboarding(server)
    ok(a.onboard())
    a.link_active()
    # B cannot read, link or open the portal of A's sub-biller...
    assert b.verify().json()["code"] == "314"
    assert (
        b.c.post(
            "/on_boarding/add_link_account",
            json={"supplier_sync_code": "CPO1", "bank_id": b.bank, "return_url": RETURN},
        ).json()["code"]
        == "314"
    )
    assert b.c.post("/walletmgnt/url", json={"supplier_sync_code": "CPO1"}).json()["code"] == "314"
    # ...and onboarding "CPO1" at B creates B's own, leaving A's as it was.
    assert ok(b.onboard(name="B's station"))["name"] == "B's station"
    assert ok(a.verify())["name"] == "Station 1" and len(ok(a.verify())["bank_account_linked"]) == 1
    assert ok(b.verify())["bank_account_linked"] == []


def test_concurrent_payouts_take_the_balance_once(pg_server):
    o = Onboarding(pg_server)
    ok(o.onboard())
    o.link_active()
    assert o.shop.push(o.shop.body(ref="C1", total=6000, to="CPO1")).json()["code"] == "SUCCESS"
    url = o.portal()
    link_id = _link_id(o, url)

    def one(_):
        with httpx.Client(timeout=30) as web:
            return web.post(url + "/payout", data={"link_id": link_id, "amount": "6000"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(8)))
    assert statuses.count(303) == 1 and statuses.count(400) == 7, statuses
    with httpx.Client(timeout=30) as web:
        assert 'id="balance-KHR">0 ៛<' in web.get(url).text
    assert len(o.events("payout")) == 1
