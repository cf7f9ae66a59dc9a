"""Merchant isolation, swept over the route table: merchant B, with its own valid credentials, calls every merchant
endpoint with merchant A's identifiers. Nothing of A's comes back and nothing of A's changes.

The sweep is generated from the OpenAPI document, so a new endpoint is covered without editing this file; an
endpoint whose path or body takes an identifier this file does not know fails the sweep until A is given one."""

import re
from typing import Any

from sqlalchemy import select

from helpers import add_bank, add_sub_biller, fund_wallets
from tonle.db import Base
from tonle.payments.hashing import sign
from tonle.sandbox import client as sandbox_client
from tonle.webhooks import outbox

# Not merchant-scoped by design (docs/reliability.md): the bank-facing API authenticates a bank, which addresses any
# merchant's transactions by their id; the SDK checkout helpers take no credential, the transaction id being the
# capability the payer holds (as in the public payment link), and refuse an address that guesses ids; authorize
# takes credentials, not identifiers.
NOT_MERCHANT_SCOPED = ("/payment/", "/checkout/", "/merchantsecurity/authorize", "/healthz")
# Field names that are identifiers of something a merchant owns, and what A's world answers for each.
IDENTIFIER = re.compile(
    r"(_id|_code|^ref|reference|token|sync_code|payment_to|tran_id|subscription_no|consumerCodes)", re.I
)
# Inputs that name nothing merchant A owns (a bank, a device, a payer's own reference shown on a checkout page).
NOT_IDENTIFIERS = {
    "bank_id",
    "currency",
    "device_code",
    "channel_code",
    "user_ref",
    "fee_channel",
    "language",
    "customer_code",
}


ISO_PAYMENT = {
    "sync_code": "ISO-P1",
    "currency_id": "USD",
    "payment_method": "cash",
    "tran_date": "2026-12-01",
    "bill_syncs": "ISO-PB1",
    "total_amount": 10,
}


def drain(server) -> None:
    from tonle.supplier import queues

    while server.run(queues.run_once(server.backend.db, server.settings)):
        pass


def direct_debit(server, c) -> tuple[str, str]:
    """Merchant A's consumer ISO-DD1 subscribed at a sandbox bank: its subscription number and account token."""
    import uuid

    import httpx

    from tonle.sandbox.models import SandboxAccount

    bank = "B" + uuid.uuid4().hex[:6].upper()
    add_bank(server, bank, "bank-" + uuid.uuid4().hex)

    async def account(session):
        session.add(
            SandboxAccount(id=str(uuid.uuid4()), bank_code=bank, number="1234500001", name="Alice", currency="USD")
        )

    server.in_session(account)
    body = {"subscription_ref": "ISO-DD", "consumers": [{"consumer_code": "ISO-DD1", "consumer_name": "Alice Private"}]}
    data = c.post("/direct_debit/subscription/init", json=body).json()["data"]
    ref = data["subscription_link"].rsplit("/", 1)[1]
    done = httpx.post(
        f"{server.base_url}/sandbox/bank/{bank}/direct-debit/{ref}", data={"action": "approve", "account": "1234500001"}
    )
    assert done.status_code == 200, done.text
    subs = c.post("/direct_debit/subscription/subscribers", json={"consumerCodes": ["ISO-DD1"]}).json()["data"]
    return data["subscription_no"], subs["accountInfo"][0]["customerBankAccount"]["accountToken"]


class World:
    """Merchant A with one of everything: a customer with funded wallets, a sub-biller, a paid bill, a checkout,
    a legacy checkout, a webhook event, a notification and an imported invoice (Hosted)."""

    def __init__(self, server):
        self.server = server
        self.c, self.m = server.merchant_client("Merchant A")
        r = self.c.post(
            "/customer/create",
            json={
                "sync_code": "ISO-C1",
                "name": "Alice Private",
                "phone": "012999888",
                "wallet": [{"name": "Alice KHR", "currency": "KHR"}, {"name": "Alice USD", "currency": "USD"}],
            },
        )
        assert r.json()["code"] == "SUCCESS", r.text
        fund_wallets(server, self.m.id, "ISO-C1", {"KHR": 500_000, "USD": 10_000})
        add_sub_biller(server, self.m.id, "ISO-SB1", name="Alice Station")
        methods = self.c.get("/instant_payment/ISO-C1/get_payment_methods").json()["data"]
        self.wallet_id, self.payment_token = methods[0]["id"], methods[0]["token"]
        settle = settle_body("ISO-R1", "ISO-C1", "ISO-SB1", self.m.creds.bill_hash_key)
        assert self.c.post("/bill_payment/push_bill_with_payment", json=settle).json()["code"] == "SUCCESS"
        detail = self.c.post("/transaction/instant_payment/detail", json={"reference": "ISO-R1"}).json()
        self.bill_tran_id = detail["data"]["transaction_id"]
        init = self.c.post(
            "/transaction/v2/init",
            json={"identity_code": "ISO-ID1", "currency": "KHR", "amount": 1000, "redirect_url": "https://a.example"},
        ).json()
        assert init["code"] == "SUCCESS", init
        self.tran_id = init["data"]["tran_id"]
        legacy = self.c.post(
            "/transaction/init", json={"reference_id": "ISO-L1", "amount": "1.00", "currency": "USD"}
        ).json()
        assert legacy["code"] == "SUCCESS", legacy
        self.legacy_tran_id = legacy["data"]["tran_id"]
        sent = self.c.post(
            "/notification/v1/notificationmessage/send",
            json=[
                {
                    "channels": [{"channel": "log", "to": "alice"}],
                    "subject": "Hi",
                    "message": "Alice's secret",
                    "refId": "ISO-N1",
                }
            ],
        ).json()
        self.notification_id = sent["data"][0]["notificationId"]

        async def event(session):
            from tonle.merchants.models import Merchant

            merchant = await session.get(Merchant, self.m.id)
            return (await outbox.note(session, merchant, "tonle.test", {"owner": "Alice Private"})).id

        self.event_id = server.in_session(event)
        imported = self.c.post(
            "/billflow/v1/Bill24Operation/Invoice/Import",
            json=[
                {
                    "refNumber": "ISO-INV1",
                    "date": "2026-11-01",
                    "dueDate": "2099-01-01",
                    "currency": "KHR",
                    "totalAmount": 1000,
                    "customer": {"code": "ISO-H1", "name": "Alice Private", "phone": "012999888"},
                }
            ],
        ).json()
        self.import_id = imported["id"]
        # The Supplier API (token header: A's merchant token): a pushed customer, bill and cash payment.
        sup = server.client()
        sup.headers["token"] = self.m.creds.merchant_token
        pushed = [
            (
                "/customer/push",
                {"code": "ISO-S1", "sync_code": "ISO-S1", "name": "Alice Private", "phone": "012999888"},
            ),
            (
                "/bill/push",
                {"sync_code": "ISO-PB1", "total_amount": 30, "currency_id": "USD", "customer_sync_code": "ISO-S1"},
            ),
            ("/payment/push", ISO_PAYMENT),
        ]
        for path, record in pushed:
            r = sup.post(path, json={"data": [record]})
            assert r.status_code == 200, r.text
            self.queue_id = r.json()["id"]
            drain(server)
        assert sup.get(f"/queue/{self.queue_id}").json()["total_added"] == 1
        self.pushed_tran_id = sup.get("/payment/").json()[0]["tran_id"]
        self.subscription_no, self.account_token = direct_debit(server, self.c)
        # A card on file (through the link page and the sandbox vault, as a customer adds one).
        creds = sandbox_client.MerchantCreds(
            self.m.creds.merchant_token, "", "", self.m.creds.referrer_key, self.m.creds.sdk_secret
        )
        assert (
            sandbox_client.add_card(server.base_url, creds, "ISO-C1", "4242424242424242", "12/34")["outcome"]
            == "success"
        )
        methods = self.c.get("/instant_payment/ISO-C1/get_payment_methods").json()["data"]
        self.card_token = next(m["token"] for m in methods if m["type"] == "card")
        listed = self.c.get("/billflow/v1/Bill24Operation/Invoice/All").json()["result"]
        self.bill_page = listed[0]["digitalBillUrl"].rsplit("/", 1)[1]
        self.invoice_id = listed[0]["id"]
        self.values = {
            "sync_code": "ISO-C1",
            "customer_sync_code": "ISO-C1",
            "supplier_sync_code": "ISO-SB1",
            "payment_to": "ISO-SB1",
            "ref_id": "ISO-R1",
            "reference": "ISO-R1",
            "wallet_id": self.wallet_id,
            "payment_method_token": self.payment_token,
            "identity_code": "ISO-ID1",
            "tran_id": self.tran_id,
            "transaction_id": self.tran_id,
            "reference_id": "ISO-L1",
            "event_id": self.event_id,
            "notification_id": self.notification_id,
            "import_id": self.import_id,
            "queue_id": self.queue_id,
            "consumer_code": "ISO-DD1",
            "consumerCodes": ["ISO-DD1"],
            "subscription_no": self.subscription_no,
            "token": self.account_token,
        }
        # What must never reach merchant B: A's names, its generated ids and tokens.
        self.private = {
            "Alice Private",
            "Alice KHR",
            "Alice Station",
            "012999888",
            self.wallet_id,
            self.payment_token,
            self.tran_id,
            self.legacy_tran_id,
            self.event_id,
            self.notification_id,
            self.bill_tran_id,
            self.bill_page,
            self.invoice_id,
            self.queue_id,
            self.pushed_tran_id,
            self.subscription_no,
            self.account_token,
            self.card_token,
        }

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every row of every table that carries A's merchant id, and the postings of A's accounts."""

        async def go(session):
            out = {}
            for table in Base.metadata.sorted_tables:
                if "merchant_id" in table.c:
                    rows = (await session.execute(select(table).where(table.c.merchant_id == self.m.id))).all()
                    out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
            postings = Base.metadata.tables["ledger_postings"]
            accounts = Base.metadata.tables["ledger_accounts"]
            rows = await session.execute(
                select(postings)
                .join(accounts, accounts.c.id == postings.c.account_id)
                .where(accounts.c.merchant_id == self.m.id)
            )
            out["ledger_postings"] = sorted(tuple(map(repr, r)) for r in rows.all())
            return out

        return self.server.in_session(go)


def settle_body(ref, customer, to, key, amount=100):
    date = "2025-11-06"
    msg = f"{ref}20251106000000KHR{amount}{customer}{to}"
    digest = sign(msg, key)
    return {
        "ref_id": ref,
        "date": date,
        "due_date": "2099-01-01",
        "currency": "KHR",
        "total_amount": amount,
        "customer_sync_code": customer,
        "payment_to": to,
        "hash": digest,
    }


def filler(name: str, prop: dict[str, Any]) -> Any:
    """A plausible value for a field that is not an identifier, so that requests get past validation to the lookup."""
    known = {
        "date": "2025-11-06",
        "due_date": "2099-01-01",
        "d1": "2025-01-01",
        "d2": "2099-01-01",
        "currency": "KHR",
        "amount": 1000,
        "total_amount": 100,
        "name": "B's name",
        "url": "https://b.example/hook",
        "bank_id": "ABA",
        "return_url": "https://b.example/back",
        "status": "failed",
        "is_favorite": True,
        "language": "en",
    }
    if name in known:
        return known[name]
    kind = prop.get("type") or next((a.get("type") for a in prop.get("anyOf", []) if a.get("type") != "null"), None)
    return {"integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(kind, "x")


def operations(server):
    schema = server_client(server).get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for path, ops in schema["paths"].items():
        if path.startswith(NOT_MERCHANT_SCOPED):
            continue
        for method, op in ops.items():
            body_ref = (
                op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            )
            body = components[body_ref.rsplit("/", 1)[1]] if body_ref else None
            yield method.upper(), path, op, body


def server_client(server):
    return server.client()


def request_for(world: World, b_key: str, path: str, op: dict, body_schema: dict | None) -> tuple[str, Any]:
    def value(name: str) -> Any:
        if name not in world.values:
            raise AssertionError(f"{path} takes the identifier {name!r}: give merchant A one in World.values")
        return world.values[name]

    url = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", str(value(p["name"])))
    if body_schema is None:
        return url, None
    props = body_schema.get("properties", {})
    if "root" in props or body_schema.get("type") == "array":
        return url, [{"channels": [{"channel": "log", "to": "b"}], "subject": "s", "message": "m", "refId": "ISO-N1"}]
    body = {}
    for name, prop in props.items():
        if IDENTIFIER.search(name) and name not in NOT_IDENTIFIERS:
            body[name] = value(name)
        elif name in body_schema.get("required", []) or name in ("date", "due_date"):
            body[name] = filler(name, prop)
    if "hash" in props:  # a valid signature with B's key, so the request reaches its look-ups
        body = settle_body(body["ref_id"], body["customer_sync_code"], body["payment_to"], b_key) | {
            k: v for k, v in body.items() if k not in ("hash", "date", "due_date", "currency", "total_amount")
        }
    if path in ("/payment/push", "/bill/push"):  # B's records naming A's bill and customer
        record = ISO_PAYMENT if path == "/payment/push" else {"sync_code": "ISO-PB1", "total_amount": 5}
        return url, {"data": [{**record, "currency_id": "USD", "customer_sync_code": "ISO-S1"}]}
    if "encrypted" in props:
        from tonle.wire import sdkcrypto

        # B's SDK secret, A's wallet: the top-up must not find it.
        body = {"encrypted": sdkcrypto.encrypt(world.b_sdk_secret, {"id": world.wallet_id, "amount": 1000})}
    return url, body


def test_merchant_b_reaches_nothing_of_merchant_a(server):
    world = World(server)
    before = world.snapshot()
    covered, answered = [], {}
    for method, path, op, body_schema in operations(server):
        # A new merchant B for every operation: what B created with A's identifiers (its own customer "ISO-C1")
        # must not make a later read look like a find.
        b_client, b = server.merchant_client("Merchant B")
        world.b_sdk_secret = b.creds.sdk_secret
        url, body = request_for(world, b.creds.bill_hash_key, path, op, body_schema)
        headers = {"token": b.creds.merchant_token, "X-Referrer-Key": b.creds.referrer_key}
        if path.startswith("/instantpaymentsdk/"):
            headers["Authorization"] = ""
        r = b_client.request(method, url, json=body, headers=headers)
        text = r.text
        leaked = sorted(v for v in world.private if v and v in text)
        assert not leaked, f"{method} {path} gave merchant B {leaked}: {text[:300]}"
        assert r.status_code < 500, f"{method} {path}: {r.status_code} {text[:300]}"
        covered.append(f"{method} {path}")
        json_body = r.headers.get("content-type", "").startswith("application/json")
        got = r.json() if json_body else r.status_code
        answered[f"{method} {path}"] = got.get("code", got.get("status")) if isinstance(got, dict) else got
    drain(server)  # B's pushes applied: to B's own store
    assert world.snapshot() == before, "merchant B's requests changed merchant A's rows"
    # Reads by A's identifiers find nothing for B.
    for key in (
        "POST /customer/get_customer_detail",
        "POST /instant_payment/get_wallet_balance",
        "GET /instant_payment/get_single_bill/{ref_id}",
        "POST /transaction/instant_payment/detail",
        "POST /transaction/v2/verify",
        "POST /transaction/verify",
        "GET /tonle/v1/webhooks/deliveries/{event_id}",
        "GET /notification/v1/notificationmessage/{notification_id}",
        "GET /billflow/v1/Bill24Operation/Invoice/Import/{import_id}",
        "GET /queue/{queue_id}",
        "GET /queue/detail/{queue_id}",
        "POST /direct_debit/subscription/verify",
        "POST /direct_debit/subscription/subscribers",
        "POST /direct_debit/customer/bank_account/set_default",
        "POST /direct_debit/customer/bank_account/unsubscribe",
    ):
        assert answered[key] not in ("SUCCESS", "000"), (key, answered[key])
    # A's card on file, named by B: not charged, made default or removed (the snapshot holds A's methods and charges).
    b_client, b = server.merchant_client("Merchant B")
    ok_body = {"customer_sync_code": "ISO-C1", "payment_method_token": world.card_token}
    assert b_client.post("/customer/create", json={"sync_code": "ISO-C1", "name": "B's own"}).json()["code"] in (
        "SUCCESS",
        "000",
    )
    for path in ("/instant_payment/payment_method/remove", "/instant_payment/payment_method/set_default"):
        assert b_client.post(path, json=ok_body).json()["code"] == "314", path
    charge = settle_body("ISO-CARD", "ISO-C1", "ISO-SB1", b.creds.bill_hash_key) | {
        "payment_method_token": world.card_token
    }
    add_sub_biller(server, b.id, "ISO-SB1")
    assert b_client.post("/bill_payment/push_bill_with_payment", json=charge).json()["code"] == "314"
    assert world.snapshot() == before, "merchant B's use of A's card changed merchant A's rows"
    assert len(covered) >= 30, covered
    print(f"isolation sweep covered {len(covered)} operations")
