"""Checkout / Deeplink and KHQR (other-apis §2, §7): init, verify, legacy v1, SDK helpers, pages, money, webhook."""

import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from helpers import add_bank, ok, set_merchant
from tonle.khqr.codec import decode, md5
from tonle.kit.clock import clock
from tonle.ledger.models import Account
from tonle.webhooks.models import OutboxEvent

LINE = {
    "branch_code": "GB",
    "branch_name": "BBB",
    "customer_code": "C01",
    "customer_name": "BOT",
    "customer_name_latin": "BOT",
    "bill_no": "123",
    "amount": 10000,
}


class Shop:
    def __init__(self, server):
        self.server = server
        self.c, self.m = server.merchant_client()
        self.token = self.c.headers["Authorization"].split()[1]
        self.bank, self.bank_token = "B" + uuid.uuid4().hex[:6].upper(), "tok-" + uuid.uuid4().hex
        add_bank(server, self.bank, self.bank_token, name="Sandbox Bank")

        async def sandbox_token(session):
            from tonle.banks.models import Bank

            (await session.get(Bank, self.bank)).sandbox_token = self.bank_token

        server.in_session(sandbox_token)

    def init(self, identity="ORDER-1", amount=10000, currency="KHR", headers=None, **extra):
        body = {
            "identity_code": identity,
            "purpose_of_transaction": "INV-13",
            "device_code": "1113",
            "description": "",
            "currency": currency,
            "amount": amount,
            "language": "km",
            "cancel_url": "",
            "redirect_url": "https://merchant.example/done",
            "channel_code": "CH1",
            "user_ref": "x111",
            "customers": [{**LINE, "amount": amount}],
            **extra,
        }
        with self.server.client() as cl:
            return cl.post("/transaction/v2/init", json=body, headers=headers or {"token": f"Bearer {self.token}"})

    def verify(self, **keys):
        return self.c.post(
            "/transaction/v2/verify",
            json={"identity_code": "", "purpose_of_transaction": "", "tran_id": "", "bank_ref": "", **keys},
        )

    def pay(self, identity, total, currency="KHR", bank_ref="FT1"):
        with self.server.client() as cl:
            found = cl.post(
                "/payment/v5/inquiry", json={"identity_code": identity}, headers={"token": self.bank_token}
            ).json()
            assert found["code"] == "SUCCESS", found
            t = found["data"]["transaction"]
            return cl.post(
                "/payment/v3/confirm",
                headers={"token": self.bank_token},
                json={
                    "identity_code": t["tran_id"],
                    "payment_token": t["payment_token"],
                    "bank_ref": bank_ref,
                    "total_amount": total,
                    "original_amount": t["original_amount"],
                    "currency": currency,
                },
            ).json()

    def balance(self, kind, currency="KHR"):
        async def go(session):
            q = select(Account.balance).where(
                Account.merchant_id == self.m.id, Account.kind == kind, Account.currency == currency
            )
            return (await session.execute(q)).scalar_one_or_none() or 0

        return self.server.in_session(go)


def test_init_exact_answer_and_its_khqr(server):
    shop = Shop(server)
    r = shop.init().json()
    assert (r["code"], r["message"], r["message_kh"]) == (
        "SUCCESS",
        "Transaction init successful",
        "បង្កើតប្រតិបត្តិការជោគជ័យ",
    )
    d = r["data"]
    assert re.fullmatch(r"[0-9A-F]{12}", d["tran_id"]) and d["identity_code"] == "ORDER-1"
    assert d["payment_link"] == f"{server.base_url}/checkout/{d['tran_id']}"
    qr = decode(d["khqr_string"])
    assert (qr.kind, qr.currency, qr.amount, qr.bill_number, qr.terminal_label, qr.purpose) == (
        "merchant",
        "KHR",
        Decimal(10000),
        "ORDER-1",
        "1113",
        "INV-13",
    )
    assert qr.expires_ms - qr.created_ms == server.settings.checkout_ttl_seconds * 1000


def test_the_three_auth_forms_and_none(server):
    shop = Shop(server)
    assert shop.init("A1", headers={"Authorization": f"Bearer {shop.token}"}).json()["code"] == "SUCCESS"
    assert shop.init("A2", headers={"token": f"Bearer {shop.token}"}).json()["code"] == "SUCCESS"
    assert shop.init("A3", headers={"token": shop.m.creds.merchant_token}).json()["code"] == "SUCCESS"
    for headers in ({"X-None": "1"}, {"token": "not-a-token"}, {"token": "Bearer garbage"}):
        assert shop.init("A4", headers=headers).status_code == 401


def test_khqr_flavour_with_camel_case_keys(server):
    shop = Shop(server)
    body = {
        "identityCode": "K1",
        "currency": "USD",
        "amount": Decimal("10.5"),
        "deviceCode": "T1",
        "channel_code": "1",
        "purpose_of_transaction": "INV23001",
        "customer_code": "12340001",
        "customerName": "Chea Samnang",
        "customer_phone": "010888999",
        "cancelUrl": "https://example.com/cancel",
        "redirectUrl": "https://example.com/ok",
    }
    from tonle.wire.wirejson import dumps

    with server.client() as cl:
        r = cl.post("/transaction/v2/init", content=dumps(body), headers={"token": shop.m.creds.merchant_token}).json()
    assert (r["code"], r["message"], r["message_kh"]) == (
        "SUCCESS",
        "Transaction initiation success.",
        "ប្រតិបត្តិការបង្កើតជោគជ័យ",
    )
    v = shop.verify(identity_code="K1").json()
    assert v["message"] == "Transaction found."
    assert (v["data"]["customer_name"], v["data"]["tran_amount"], v["data"]["device_code"]) == (
        "Chea Samnang",
        10.5,
        "T1",
    )
    assert decode(r["data"]["khqr_string"]).amount == Decimal("10.50")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"identity_code": ""}, "Please provide [identity_code]."),
        ({"currency": "EUR"}, "[currency] must be KHR or USD."),
        ({"amount": 0, "customers": []}, "[amount] must be greater than 0."),
        ({"amount": -5, "customers": []}, "[amount] must not be negative."),
        ({"amount": Decimal("10.5"), "customers": []}, "[amount] must be a whole number of KHR."),
        (
            {"currency": "USD", "amount": Decimal("1.234"), "customers": []},
            "[amount] must have at most 2 decimal places for USD.",
        ),
        (
            {"customers": [{**LINE, "amount": 4000}, {**LINE, "amount": 5000}]},
            "The [amount] field must be equal to 9000.",
        ),
        ({"redirect_url": "javascript:alert(1)"}, "[redirect_url] must be an http(s) URL."),
    ],
)
def test_init_validation(server, over, message):
    from tonle.wire.wirejson import dumps

    shop = Shop(server)
    body = {"identity_code": "V1", "currency": "KHR", "amount": 10000, "customers": [{**LINE}], **over}
    with server.client() as cl:
        r = cl.post("/transaction/v2/init", content=dumps(body), headers={"token": shop.m.creds.merchant_token}).json()
    assert (r["code"], r["message"], r["data"]) == ("ERR_MISSED_FIELD", message, None)
    assert shop.verify(identity_code="V1").json()["code"] == "TRANSACTION_NOT_FOUND"


def test_duplicate_identity_code_while_pending_or_paid(server):
    shop = Shop(server)
    assert shop.init("D1").json()["code"] == "SUCCESS"
    dup = shop.init("D1").json()
    assert (dup["code"], dup["message"]) == (
        "DUPLICATE_IDENTITY_CODE",
        "A transaction with this identity_code is already pending or paid.",
    )
    clock.advance(server.settings.checkout_ttl_seconds + 1)
    shop.token = server.authorize(shop.m)["token"]
    assert shop.init("D1").json()["code"] == "SUCCESS"  # the first one expired


def test_fee_verify_and_payment_moves_money_once(server):
    shop = Shop(server)
    set_merchant(server, shop.m.id, checkout_fee_fixed_khr=500, checkout_fee_bps=300)  # 500 + 3%
    tran_id = shop.init("F1", amount=10000).json()["data"]["tran_id"]
    v = ok(shop.verify(identity_code="F1", purpose_of_transaction="INV-13"), "SUCCESS")
    assert (v["tran_amount"], v["fee_amount"], v["total_amount"], v["status"], v["bank_code"], v["bank_ref"]) == (
        10000,
        800,
        10800,
        "pending",
        "",
        "",
    )
    assert v["customers"] == [LINE] and v["channel_code"] == "CH1"
    assert shop.pay(tran_id, 10800, bank_ref="FT55")["code"] == "SUCCESS"
    for keys in ({"tran_id": tran_id}, {"bank_ref": "FT55"}, {"identity_code": "F1"}):
        v = ok(shop.verify(**keys), "SUCCESS")
        assert (v["status"], v["bank_code"], v["bank_ref"]) == ("success", shop.bank, "FT55")
    assert shop.balance("merchant_collection") == 10000 and shop.balance("fee") == 800
    assert server.cli("ledger", "verify").returncode == 0


def test_the_payment_webhook_is_queued_with_bills24_body(server):
    shop = Shop(server)
    set_merchant(server, shop.m.id, webhook_url="http://127.0.0.1:9/hook")
    tran_id = shop.init("W1", amount=10000).json()["data"]["tran_id"]
    shop.pay(tran_id, 10000, bank_ref="FT9")

    async def events(session):
        return (await session.execute(select(OutboxEvent).where(OutboxEvent.merchant_id == shop.m.id))).scalars().all()

    [event] = server.in_session(events)
    body = json.loads(event.body)
    assert (
        event.type == "payment.success" and event.status == "pending" and event.target_url == "http://127.0.0.1:9/hook"
    )
    assert body["payment_service_type"] == "Deeplink/Checkout" and body["identity_code"] == "W1"
    assert (
        body["tran_id"],
        body["tran_amount"],
        body["currency"],
        body["bank_code"],
        body["bank_ref"],
        body["status"],
    ) == (tran_id, 10000, "KHR", shop.bank, "FT9", "success")
    assert body["customers"] == [LINE] and body["purpose_of_transaction"] == "INV-13" and body["event_id"] == event.id
    # The init's device_code travels to the webhook (it was always "").
    assert body["device_code"] == "1113"


def test_the_legacy_webhook_body_carries_device_code_and_description(server):
    shop = Shop(server)
    set_merchant(server, shop.m.id, webhook_url="http://127.0.0.1:9/hook", webhook_body_format="legacy")
    tran_id = shop.init("W2", amount=10000, device_code="POS-7", description="two bowls").json()["data"]["tran_id"]
    shop.pay(tran_id, 10000, bank_ref="FT10")

    async def events(session):
        return (await session.execute(select(OutboxEvent).where(OutboxEvent.merchant_id == shop.m.id))).scalars().all()

    [event] = server.in_session(events)
    body = json.loads(event.body)
    assert (body["tran_id"], body["device_code"], body["description"]) == (tran_id, "POS-7", "two bowls")


def test_a_scanned_khqr_is_found_by_its_md5_and_paid_as_khqr(server):
    shop = Shop(server)
    set_merchant(server, shop.m.id, webhook_url="http://127.0.0.1:9/hook")
    qr = shop.init("Q1", amount=2500).json()["data"]["khqr_string"]
    assert shop.pay(md5(qr), 2500)["code"] == "SUCCESS"

    async def body(session):
        e = (await session.execute(select(OutboxEvent).where(OutboxEvent.merchant_id == shop.m.id))).scalar_one()
        return json.loads(e.body)

    assert server.in_session(body)["payment_service_type"] == "KHQR"


def test_verify_is_scoped_to_the_merchant(server):
    a, b = Shop(server), Shop(server)
    tran_id = a.init("S1").json()["data"]["tran_id"]
    for keys in ({"tran_id": tran_id}, {"identity_code": "S1"}):
        r = b.verify(**keys).json()
        assert (r["code"], r["message"]) == ("TRANSACTION_NOT_FOUND", "Transaction not found")
    assert b.verify().json()["message"] == "Please provide [identity_code]."


def test_legacy_v1_init_with_a_string_amount_and_only_a_token(server):
    shop = Shop(server)
    body = {
        "reference_id": "WOO-77",
        "amount": "12.30",
        "currency": "USD",
        "description": "Order 77",
        "language": "en",
        "confirm_url": "https://shop.example/confirm",
        "cancel_url": "https://shop.example/cancel",
    }
    with httpx.Client(timeout=30) as raw:
        r = raw.post(
            server.base_url + "//transaction/init", json=body, headers={"token": shop.m.creds.merchant_token}
        ).json()
    assert r["code"] == "SUCCESS"
    tran_id = r["data"]["tran_id"]
    assert r["data"]["payment_url"] == f"{server.base_url}/checkout/{tran_id}"
    shop.pay(tran_id, "12.30", "USD", bank_ref="AC123")
    with server.client() as cl:
        v = cl.post(
            "/transaction/verify", json={"tran_id": tran_id}, headers={"token": shop.m.creds.merchant_token}
        ).json()["data"]
    assert (v["reference_id"], v["tran_amount"], v["total_amount"], v["bank_reference_no"], v["status"]) == (
        "WOO-77",
        12.3,
        12.3,
        "AC123",
        "success",
    )


def test_sdk_helpers(server):
    shop = Shop(server)
    tran_id = shop.init("H1").json()["data"]["tran_id"]
    with server.client() as cl:
        d = ok(cl.post("/checkout/detail", json={"tran_id": tran_id}), "SUCCESS")
        info = d["trans_info"]
        assert (info["tran_id"], info["tran_amount"], info["tran_amount_display"], info["status"]) == (
            tran_id,
            10000,
            "10,000.00",
            "pending",
        )
        assert info["khqr_image"].endswith(f"/khqr/{tran_id}.png") and info["khqr_string"]
        banks = info["bank_payment_method"][0]["items"]
        assert shop.bank in [b["id"] for b in banks]
        links = ok(
            cl.post("/checkout/generate_links", json={"bank_id": shop.bank, "transaction_id": tran_id}), "SUCCESS"
        )
        assert (
            links["web_payment_url"].endswith(f"/sandbox/bank/{shop.bank}/pay/{tran_id}") and links["mobile_deep_link"]
        )
        assert (
            cl.post("/checkout/generatelinks", json={"bank_id": "NOPE", "transaction_id": tran_id}).json()["code"]
            == "BANK_NOT_FOUND"
        )
        before = info["khqr_string"]
        clock.advance(600)
        extended = ok(cl.post("/checkout/extend_expire_date", json={"tran_id": tran_id}), "SUCCESS")["expired_date"]
        after = ok(cl.post("/checkout/detail", json={"tran_id": tran_id}), "SUCCESS")["trans_info"]
        assert after["expired_date"] == extended and after["khqr_string"] != before
        ok(
            cl.post("/checkout/favorite_bank", json={"tran_id": tran_id, "bank_id": shop.bank, "is_favorite": True}),
            "SUCCESS",
        )
        fav = ok(cl.post("/checkout/detail", json={"tran_id": tran_id}), "SUCCESS")["trans_info"][
            "bank_payment_method"
        ][0]["items"]
        assert [b["is_favorite"] for b in fav if b["id"] == shop.bank] == [True]
        assert cl.post("/checkout/detail", json={"tran_id": "000000000000"}).json()["code"] == "TRANSACTION_NOT_FOUND"
        png, svg = cl.get(f"/khqr/{tran_id}.png"), cl.get(f"/khqr/{tran_id}.svg")
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
        assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
        shop.pay(tran_id, 10000)
        assert (
            cl.post("/checkout/extend_expire_date", json={"tran_id": tran_id}).json()["code"]
            == "TRANSACTION_NOT_PENDING"
        )


def test_expired_checkouts_cannot_be_paid(server):
    shop = Shop(server)
    tran_id = shop.init("E1").json()["data"]["tran_id"]
    clock.advance(server.settings.checkout_ttl_seconds + 1)
    with server.client() as cl:
        r = cl.post("/payment/v5/inquiry", json={"identity_code": tran_id}, headers={"token": shop.bank_token}).json()
    assert r["code"] == "TRANSACTION_EXPIRED"
    shop.c.headers["Authorization"] = "Bearer " + server.authorize(shop.m)["token"]
    assert ok(shop.verify(tran_id=tran_id), "SUCCESS")["status"] == "expired"


def test_hosted_page_languages_and_the_bank_page(server):
    shop = Shop(server)
    km = shop.init("P1").json()["data"]
    en = shop.init("P2", language="en", cancel_url="https://merchant.example/cancel").json()["data"]
    with httpx.Client(timeout=30) as web:
        page = web.get(km["payment_link"]).text
        assert "កំពុងរង់ចាំការបង់ប្រាក់" in page and "10,000 <small>៛</small>" in page and f"/khqr/{km['tran_id']}.svg" in page
        page_en = web.get(en["payment_link"])
        assert (
            "Waiting for payment" in page_en.text and "script-src 'self'" in page_en.headers["Content-Security-Policy"]
        )
        cancel = re.search(r'id="cancel" href="([^"]+)"', page_en.text).group(1).replace("&amp;", "&")
        assert parse_qs(urlsplit(cancel).query)["code"] == ["CANCELLED"]
        bank_page = web.get(f"{server.base_url}/sandbox/bank/{shop.bank}/pay/{km['tran_id']}")
        assert "Sandbox Bank" in bank_page.text and "10,000 ៛" in bank_page.text
        paid = web.post(
            f"{server.base_url}/sandbox/bank/{shop.bank}/pay/{km['tran_id']}",
            data={"action": "pay"},
            follow_redirects=False,
        )
        assert paid.status_code == 303 and paid.headers["location"] == f"/checkout/{km['tran_id']}?lang=km"
        assert 'data-state="success"' in web.get(km["payment_link"]).text
        events = web.get(f"{server.base_url}/checkout/{km['tran_id']}/events").text
        assert "event: status" in events and '"status": "success"' in events
        redirect = json.loads(events.split("data: ", 1)[1].split("\n", 1)[0])["redirect"]
        q = parse_qs(urlsplit(redirect).query)
        assert q["code"] == ["SUCCESS"] and json.loads(q["data"][0])["tran_id"] == km["tran_id"]
    assert ok(shop.verify(tran_id=km["tran_id"]), "SUCCESS")["status"] == "success"


def test_an_unpaid_bill_is_paid_through_its_checkout_link(server):
    from test_settle import Shop as Wallets

    shop = Wallets(server, khr=100)
    add_bank(server, "BL" + uuid.uuid4().hex[:5], "bl-" + uuid.uuid4().hex)
    assert shop.push(shop.body(ref="UB1", total=700)).json()["code"] == "401"
    link = ok(shop.c.get("/instant_payment/get_single_bill/UB1"))["payment"]["checkout_link"]
    with httpx.Client(timeout=30) as web:
        page = web.get(link).text
    tran_id = re.search(r'data-events="/checkout/([0-9A-F]{12})/events"', page).group(1)
    bank_code, bank_token = "PB" + uuid.uuid4().hex[:5], "pb-" + uuid.uuid4().hex
    add_bank(server, bank_code, bank_token)
    with server.client() as cl:
        t = cl.post("/payment/v5/inquiry", json={"identity_code": tran_id}, headers={"token": bank_token}).json()[
            "data"
        ]["transaction"]
        r = cl.post(
            "/payment/v3/confirm",
            headers={"token": bank_token},
            json={
                "identity_code": tran_id,
                "payment_token": t["payment_token"],
                "bank_ref": "BX1",
                "total_amount": 700,
                "currency": "KHR",
            },
        ).json()
    assert r["code"] == "SUCCESS"
    bill = ok(shop.c.get("/instant_payment/get_single_bill/UB1"))
    assert (bill["bill_status"], bill["payment"]["payment_method"]) == ("paid", "checkout") and bill["payment"][
        "payment_date"
    ]
    assert shop.balances()["KHR"] == 100  # the wallet did not pay; the bank did
    with httpx.Client(timeout=30) as web:
        assert 'id="bill-status">បានបង់<' in web.get(link).text  # Khmer unless asked otherwise, as Bill24
        assert 'id="bill-status">Paid<' in web.get(link, params={"lang": "en"}).text


def test_concurrent_confirms_of_one_checkout_pay_once(pg_server):
    shop = Shop(pg_server)
    tran_id = shop.init("C1", amount=5000).json()["data"]["tran_id"]
    with pg_server.client() as cl:
        t = cl.post("/payment/v5/inquiry", json={"identity_code": tran_id}, headers={"token": shop.bank_token}).json()[
            "data"
        ]["transaction"]

    def one(_):
        with pg_server.client() as cl:
            return cl.post(
                "/payment/v3/confirm",
                headers={"token": shop.bank_token},
                json={
                    "identity_code": tran_id,
                    "payment_token": t["payment_token"],
                    "bank_ref": "SAME",
                    "total_amount": 5000,
                    "currency": "KHR",
                },
            ).json()["message"]

    with ThreadPoolExecutor(8) as pool:
        messages = list(pool.map(one, range(8)))
    assert messages.count("Payment confirmed") == 1 and messages.count("Payment already confirmed") == 7
    assert shop.balance("merchant_collection") == 5000
