"""Cards and bank accounts on file (payment-method-api Get Payment Methods and Settle Payment; docs/payments.md):
added through the link page, the card vault and the bank's one-time code, listed, charged for a settle payment and
a wallet top-up, declined with nothing kept, made default, removed; never a card number in the database or logs."""

from __future__ import annotations

import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text

from helpers import add_bank, add_sandbox_account, ok
from test_settle import Shop
from test_topup import decrypt, encrypt
from tonle.banks import cards, debits
from tonle.ledger.models import Account, Entry
from tonle.methods import service as methods
from tonle.methods.models import MethodCharge
from tonle.sandbox import client
from tonle.sandbox.models import SandboxAccount, SandboxCardCharge, SandboxDebit

VISA, MASTERCARD = "4242424242424242", "5555555555554444"
NO_FUNDS, STOLEN, ASKS_CODE = "4000000000009995", "4000000000009979", "4000000000003220"
EXP = "12/34"


class Payer(Shop):
    """A merchant with customer C1 (Dara: KHR and USD wallets), sub-biller SP001, and a sandbox bank holding two
    accounts (KHR 0007654321 with 500,000 riel, USD 0001234567 with $120)."""

    def __init__(self, server):
        super().__init__(server)
        self.creds = client.MerchantCreds(
            self.m.creds.merchant_token, "", "", self.m.creds.referrer_key, self.m.creds.sdk_secret
        )
        self.bank = "B" + uuid.uuid4().hex[:6].upper()
        add_bank(server, self.bank, "bank-" + uuid.uuid4().hex, name="ACLEDA Bank")
        for number, cur, balance in (("0007654321", "KHR", 500_000), ("0001234567", "USD", 12_000)):
            self.add_account(number, cur, balance)

    def add_account(self, number: str, currency: str, balance: int) -> None:
        add_sandbox_account(self.server, self.bank, number, "Sok Dara", currency, balance)

    def bank_balance(self, number: str) -> int:
        async def go(session):
            return await session.scalar(
                select(SandboxAccount.balance).where(
                    SandboxAccount.bank_code == self.bank, SandboxAccount.number == number
                )
            )

        return self.server.in_session(go)

    def methods(self, sync_code="C1"):
        return ok(self.c.get(f"/instant_payment/{sync_code}/get_payment_methods"))

    def card(self, number=VISA, exp=EXP, sync_code="C1", **kw) -> dict:
        done = client.add_card(self.server.base_url, self.creds, sync_code, number, exp, **kw)
        assert done["outcome"] == "success", done
        return next(m for m in self.methods(sync_code) if m["type"] == "card" and m["sub_title"].endswith(number[-4:]))

    def account(self, number="0007654321", sync_code="C1") -> dict:
        done = client.add_account(self.server.base_url, self.creds, sync_code, self.bank, number)
        assert done["outcome"] == "success", done
        return next(m for m in self.methods(sync_code) if m["type"] == "bank_account" and number[-4:] in m["sub_title"])

    def settle(self, ref: str, token: str, total=500, currency="KHR", **over):
        return self.push(self.body(ref, total=total, currency=currency, payment_method_token=token, **over)).json()

    def sdk(self, path: str, plain: dict) -> dict:
        r = httpx.post(
            self.server.base_url + path,
            json={"encrypted": encrypt(self.m.creds.sdk_secret, plain)},
            headers={"token": self.m.creds.merchant_token, "X-Referrer-Key": self.m.creds.referrer_key},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        if isinstance(body.get("data"), dict) and "encrypted" in body["data"]:
            body["data"] = decrypt(self.m.creds.sdk_secret, body["data"]["encrypted"])
        return body

    def wallet_id(self, currency: str) -> str:
        detail = ok(self.c.post("/customer/get_customer_detail", json={"sync_code": "C1"}))
        return next(w["id"] for w in detail["walletBalances"] if w["currency"] == currency)

    def charges(self) -> list[SandboxCardCharge]:
        from tonle.customers.models import PaymentMethod

        async def go(session):
            mine = select(PaymentMethod.vault_token).where(PaymentMethod.merchant_id == self.m.id)
            q = select(SandboxCardCharge).where(SandboxCardCharge.card_token.in_(mine)).order_by(SandboxCardCharge.at)
            return list(await session.scalars(q))

        return self.server.in_session(go)

    def clearing(self, code: str, currency="KHR") -> int:
        async def go(session):
            return await session.scalar(
                select(func.coalesce(func.sum(Account.balance), 0)).where(
                    Account.merchant_id == self.m.id,
                    Account.kind == "bank_clearing",
                    Account.owner_ref == code,
                    Account.currency == currency,
                )
            )

        return self.server.in_session(go)


@pytest.fixture
def payer(server):
    return Payer(server)


def test_card_on_file_listed_settled_declined_then_account_settled_and_topped_up(payer, server):
    """The issue's journey, end to end over HTTP on both databases."""
    visa = payer.card(VISA)
    assert visa == {
        "id": visa["id"],
        "type": "card",
        "name": "Dara's Visa card",
        "sub_title": "Account No : **********4242",
        "sub_title_kh": "លេខ account : **********4242",
        "token": visa["token"],
        "is_default": False,
        "logo": "",
    }
    listed = payer.methods()
    assert [m["type"] for m in listed] == ["wallet", "wallet", "card"] and listed[0]["is_default"]

    before = payer.balances()
    answer = payer.settle("CARD-1", visa["token"], total=500)
    assert answer["code"] == "SUCCESS" and answer["data"] == {
        "bill": {"status": "success"},
        "payment": {"status": "success"},
    }
    assert payer.balances() == before  # the card paid, not a wallet
    bill = ok(payer.c.get("/instant_payment/get_single_bill/CARD-1"))
    assert bill["bill_status"] == "paid" and bill["payment"]["payment_method"] == "card"
    tran = ok(payer.c.post("/transaction/instant_payment/detail", json={"reference": "CARD-1"}), "000")
    assert tran["transaction_type"] == "card_payment" and tran["bank_id"] == cards.vault().code
    assert tran["bank_ref"].startswith("CRD") and tran["tran_amount"] == 500
    assert payer.clearing(cards.vault().code) == -500  # the money came in through the acquirer's clearing account
    (charge,) = [c for c in payer.charges() if c.card_token and c.ok]
    assert charge.amount == 500 and charge.reference == methods.reference_for(tran["transaction_id"])

    declining = payer.card(NO_FUNDS)
    refused = payer.settle("CARD-2", declining["token"])
    assert refused == {
        "code": "ERR_INSUFFICIENT_FUNDS",
        "message": "The card or account has insufficient funds. Nothing was charged.",
        "message_kh": "កាត ឬគណនីមានទឹកប្រាក់មិនគ្រប់គ្រាន់។ មិនមានការកាត់ប្រាក់ទេ។",
        "data": {"bill": None, "payment": None},
    }
    assert payer.c.get("/instant_payment/get_single_bill/CARD-2").json()["code"] == "324"  # nothing kept
    stolen = payer.card(STOLEN)
    assert payer.settle("CARD-3", stolen["token"])["code"] == "ERR_CARD_LOST_OR_STOLEN"
    assert payer.clearing(cards.vault().code) == -500

    account = payer.account("0007654321")
    assert account["type"] == "bank_account" and account["name"] == "Dara's ACLEDA Bank account"
    assert account["sub_title"] == "Account No : ******4321" and account["sub_title_kh"] == "លេខ account : ******4321"
    assert payer.settle("ACCT-1", account["token"], total=20_000)["code"] == "SUCCESS"
    assert payer.bank_balance("0007654321") == 500_000 - 20_000
    assert ok(payer.c.get("/instant_payment/get_single_bill/ACCT-1"))["payment"]["payment_method"] == "bank_account"
    tran = ok(payer.c.post("/transaction/instant_payment/detail", json={"reference": "ACCT-1"}), "000")
    assert tran["transaction_type"] == "bank_account_payment" and tran["bank_id"] == payer.bank
    assert payer.clearing(payer.bank) == -20_000

    # A top-up of the KHR wallet from the account on file: through the bank path, the merchant told.
    top = payer.sdk(
        "/instantpaymentsdk/wallet/topup",
        {"id": payer.wallet_id("KHR"), "amount": 30_000, "payment_method_id": account["id"]},
    )
    assert top["code"] == "000" and top["data"]["status"] == "success", top
    assert payer.balances()["KHR"] == before["KHR"] + 30_000
    assert payer.bank_balance("0007654321") == 500_000 - 50_000
    topped = ok(payer.c.post("/transaction/instant_payment/detail", json={"reference": top["data"]["tran_id"]}), "000")
    assert topped["status"] == "success" and topped["bank_id"] == payer.bank

    # A top-up from the card, and one from a declining card (the top-up fails, nothing moves).
    top = payer.sdk(
        "/instantpaymentsdk/wallet/topup",
        {"id": payer.wallet_id("USD"), "amount": "5.00", "payment_method_id": visa["id"]},
    )
    assert top["code"] == "000" and payer.balances()["USD"] == before["USD"] + Decimal("5.00")
    top = payer.sdk(
        "/instantpaymentsdk/wallet/topup",
        {"id": payer.wallet_id("USD"), "amount": "5.00", "payment_method_id": declining["id"]},
    )
    assert top["code"] == "ERR_INSUFFICIENT_FUNDS" and payer.balances()["USD"] == before["USD"] + Decimal("5.00")

    # The ledger still balances to zero: every entry above was one balanced entry.
    async def unbalanced(session):
        return (
            await session.execute(
                text(
                    "SELECT count(*) FROM (SELECT entry_id FROM ledger_postings "
                    "GROUP BY entry_id HAVING sum(amount) <> 0) x"
                )
            )
        ).scalar_one()

    assert server.in_session(unbalanced) == 0


def test_the_link_page_returns_to_the_biller_with_the_method(payer, server):
    back = "https://biller.example/methods?session=7"
    link = ok(
        payer.c.post(
            "/instant_payment/payment_method/link",
            json={"customer_sync_code": "C1", "type": "card", "web_url": back},
        )
    )
    assert link["link_url"].startswith(server.base_url + "/pay/methods/")
    with httpx.Client(follow_redirects=False) as web:
        page = web.get(link["link_url"] + "?lang=en")
        assert page.status_code == 200 and 'id="card-form"' in page.text
        assert 'action="/sandbox/vault/cards' in page.text  # the card goes to the vault, not to Tonle
        ref = link["link_url"].rsplit("/", 1)[1]
        r = web.post(
            server.base_url + "/sandbox/vault/cards?lang=en",
            data={"link": ref, "number": MASTERCARD, "exp": EXP, "cvc": "321"},
        )
        assert (
            r.status_code == 303 and "card_token=" in r.headers["location"] and MASTERCARD not in r.headers["location"]
        )
        done = web.get(server.base_url + r.headers["location"])
        assert done.status_code == 303
        landed = urlsplit(done.headers["location"])
        assert f"{landed.scheme}://{landed.netloc}{landed.path}" == "https://biller.example/methods"
        query = parse_qs(landed.query)
        assert query["session"] == ["7"] and query["status"] == ["success"] and query["type"] == ["card"]
        (card,) = [m for m in payer.methods() if m["type"] == "card"]
        assert query["payment_method_id"] == [card["id"]] and query["payment_method_token"] == [card["token"]]
        assert card["name"] == "Dara's Mastercard card"
        again = web.get(link["link_url"] + "?lang=en")  # used once: the page says so, with the way back
        assert again.status_code == 410 and 'id="return"' in again.text


def test_a_card_that_asks_for_a_code(payer, server):
    payer.card(ASKS_CODE)  # the code the sandbox shows
    with pytest.raises(client.SandboxError, match="could not confirm"):
        client.add_card(server.base_url, payer.creds, "C1", ASKS_CODE, EXP, code="")  # no code given
    with pytest.raises(client.SandboxError, match="could not confirm"):
        # Wrong three times: the vault gives up (each wrong try shows a fresh code, ignored here).
        link = client.method_link(server.base_url, payer.creds, "C1", "card")
        ref = link.rsplit("/", 1)[1]
        with httpx.Client(base_url=server.base_url, follow_redirects=False) as web:
            r = web.post(
                "/sandbox/vault/cards?lang=en", data={"link": ref, "number": ASKS_CODE, "exp": EXP, "cvc": "1"}
            )
            assert r.status_code == 303 and "invalid_cvc" in r.headers["location"]
            r = web.post(
                "/sandbox/vault/cards?lang=en", data={"link": ref, "number": ASKS_CODE, "exp": EXP, "cvc": "123"}
            )
            action = r.text.split('<form method="post" action="', 1)[1].split('"', 1)[0]
            for _ in range(3):
                r = web.post(action, data={"code": "000000"})
            assert r.status_code == 303
            page = web.get(r.headers["location"])
            assert page.status_code == 200
            raise client.SandboxError(page.text.split('id="error" role="alert">', 1)[1].split("<", 1)[0])
    assert len([m for m in payer.methods() if m["type"] == "card"]) == 1


@pytest.mark.parametrize(
    ("number", "exp", "error"),
    [("4242424242424241", EXP, "not valid"), (VISA, "01/20", "expired"), (VISA, "13/30", "MM/YY")],
)
def test_the_vault_refuses_a_bad_card(payer, server, number, exp, error):
    with pytest.raises(client.SandboxError, match=error):
        client.add_card(server.base_url, payer.creds, "C1", number, exp)
    assert [m["type"] for m in payer.methods()] == ["wallet", "wallet"]


def test_a_card_that_expired_since_it_was_added(payer, server):
    now = httpx.get(server.base_url + "/sandbox/clock").json()
    this_month = now["now"][5:7] + "/" + now["now"][2:4]
    card = payer.card(VISA, exp=this_month)
    try:
        httpx.post(server.base_url + "/sandbox/clock/advance", json={"by": "40d"}, timeout=120)
        payer.c.headers["Authorization"] = "Bearer " + server.authorize(payer.m)["token"]
        assert payer.settle("EXP-1", card["token"])["code"] == "ERR_CARD_EXPIRED"
    finally:
        httpx.post(server.base_url + "/sandbox/clock/reset", timeout=30)
    assert payer.c.get("/instant_payment/get_single_bill/EXP-1").json()["code"] == "324"


def test_tokens_of_others_removed_ones_and_a_bank_that_is_down(payer, server):
    card = payer.card(VISA)
    other = server.merchant_client("Other Biller")[0]
    ok(
        other.post(
            "/customer/create", json={"sync_code": "C1", "name": "Vanna", "wallet": [{"name": "K", "currency": "KHR"}]}
        ),
        "SUCCESS",
    )
    assert [m["type"] for m in ok(other.get("/instant_payment/C1/get_payment_methods"))] == ["wallet"]
    ok(
        payer.c.post(
            "/customer/create", json={"sync_code": "C2", "name": "Bopha", "wallet": [{"name": "K", "currency": "KHR"}]}
        ),
        "SUCCESS",
    )
    # Another customer's card: refused as an unknown token, nothing charged.
    assert payer.settle("T-1", card["token"], customer="C2")["code"] == "314"
    assert [c for c in payer.charges() if c.reference.startswith("pm-")] == []

    account = payer.account("0007654321")

    async def down(session):
        from tonle.banks.models import Bank

        (await session.get(Bank, payer.bank)).online = False

    server.in_session(down)
    assert payer.settle("T-2", account["token"])["code"] == "ERR_BANK_UNAVAILABLE"
    assert payer.bank_balance("0007654321") == 500_000 and payer.clearing(payer.bank) == 0
    assert payer.c.get("/instant_payment/get_single_bill/T-2").json()["code"] == "324"
    # A USD account cannot pay a KHR bill.
    usd = payer.account("0001234567")
    assert payer.settle("T-3", usd["token"])["code"] == "ERR_CURRENCY_MISMATCH"

    ok(
        payer.c.post(
            "/instant_payment/payment_method/remove",
            json={"customer_sync_code": "C1", "payment_method_token": card["token"]},
        )
    )
    assert card["token"] not in [m["token"] for m in payer.methods()]
    assert payer.settle("T-4", card["token"])["code"] == "314"
    again = payer.c.post(
        "/instant_payment/payment_method/remove",
        json={"customer_sync_code": "C1", "payment_method_token": card["token"]},
    )
    assert again.json()["code"] == "314"
    # The customer removes one through the SDK.
    gone = payer.sdk(
        "/instantpaymentsdk/payment_method/remove", {"customer_sync_code": "C1", "payment_method_token": usd["token"]}
    )
    assert gone["code"] == "000" and usd["token"] not in [m["token"] for m in payer.methods()]
    # Another merchant cannot remove or use this customer's account.
    assert (
        other.post(
            "/instant_payment/payment_method/remove",
            json={"customer_sync_code": "C1", "payment_method_token": account["token"]},
        ).json()["code"]
        == "314"
    )


def test_the_default_method_and_deleting_a_customer_with_methods(payer, server):
    card = payer.card(VISA)
    wallets = {m["name"]: m["token"] for m in payer.methods() if m["type"] == "wallet"}
    ok(
        payer.c.post(
            "/instant_payment/payment_method/set_default",
            json={"customer_sync_code": "C1", "payment_method_token": card["token"]},
        )
    )
    listed = payer.methods()
    assert listed[0]["token"] == card["token"] and listed[0]["is_default"]
    assert [m["is_default"] for m in listed] == [True, False, False]
    before = payer.balances()
    assert payer.push(payer.body("DEF-1", total=700)).json()["code"] == "SUCCESS"  # no token: the default card pays
    assert payer.balances() == before
    assert ok(payer.c.get("/instant_payment/get_single_bill/DEF-1"))["payment"]["payment_method"] == "card"
    ok(
        payer.c.post(
            "/instant_payment/payment_method/set_default",
            json={"customer_sync_code": "C1", "payment_method_token": wallets["USD W"]},
        )
    )
    listed = payer.methods()
    assert listed[0]["name"] == "USD W" and listed[0]["is_default"] and not any(m["is_default"] for m in listed[1:])
    # A default account pays the bills in its currency; a bill in another currency is paid by the wallet of that one.
    usd = payer.account("0001234567")
    ok(
        payer.c.post(
            "/instant_payment/payment_method/set_default",
            json={"customer_sync_code": "C1", "payment_method_token": usd["token"]},
        )
    )
    before = payer.balances()
    assert payer.push(payer.body("DEF-2", total=300)).json()["code"] == "SUCCESS"
    assert payer.balances()["KHR"] == before["KHR"] - 300
    assert payer.push(payer.body("DEF-3", total=Decimal("1.50"), currency="USD")).json()["code"] == "SUCCESS"
    assert payer.balances()["USD"] == before["USD"] and payer.bank_balance("0001234567") == 12_000 - 150
    unknown = payer.c.post(
        "/instant_payment/payment_method/set_default", json={"customer_sync_code": "C1", "payment_method_token": "nope"}
    )
    assert unknown.json()["code"] == "314"

    ok(
        payer.c.post(
            "/customer/create", json={"sync_code": "C9", "name": "Empty", "wallet": [{"name": "K", "currency": "KHR"}]}
        ),
        "SUCCESS",
    )
    nine = payer.card(VISA, sync_code="C9")
    ok(payer.c.post("/customer/delete", json={"sync_code": "C9"}))

    async def live(session):
        from tonle.customers.models import PaymentMethod

        m = await session.scalar(select(PaymentMethod).where(PaymentMethod.payment_token == nine["token"]))
        return m.removed_at

    assert server.in_session(live) is not None
    assert payer.settle("DEL-1", nine["token"], customer="C9")["code"] == "311"


def test_no_card_number_cvc_or_expiry_in_the_database_or_logs(payer, server, caplog):
    caplog.set_level("DEBUG")
    number, cvc, exp = "5555555555554444", "739", "07/33"
    payer.card(number, exp=exp, cvc=cvc)
    assert payer.settle("PAN-1", payer.methods()[-1]["token"])["code"] == "SUCCESS"
    spaced = " ".join(number[i : i + 4] for i in range(0, 16, 4))

    async def rows(session):
        names = (
            (
                await session.execute(
                    text("SELECT name FROM sqlite_master WHERE type='table'")
                    if server.name == "sqlite"
                    else text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            )
            .scalars()
            .all()
        )
        found = []
        for name in names:
            for row in (await session.execute(text(f'SELECT * FROM "{name}"'))).all():
                for value in row:
                    if isinstance(value, str) and (number in value or spaced in value or exp in value or value == cvc):
                        found.append((name, value))
        return found

    assert server.in_session(rows) == []
    if server.name == "sqlite":
        # The files as they are on disk (the database, its WAL and shared memory), searched by grep in a process of
        # its own: opening and closing them here would drop this process's POSIX locks on them, and a server
        # process could then truncate the shared memory this process still maps.
        files = [str(p) for p in server.settings.data_dir.glob("*.db*")]
        assert files
        found = subprocess.run(
            ["grep", "-a", "-F", "-l", "-e", number, "-e", spaced, "-e", exp, *files], capture_output=True, text=True
        )
        assert found.returncode == 1 and found.stdout == "", found.stdout
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged and number not in logged and spaced not in logged and f"cvc={cvc}" not in logged


def test_one_card_charged_at_once_by_many_settles_is_charged_once_each(payer, server):
    if server.name != "postgres":
        pytest.skip("concurrency test: PostgreSQL only")
    card = payer.card(VISA)
    token = payer.c.headers["Authorization"]

    def settle(body):
        with httpx.Client(base_url=server.base_url, headers={"Authorization": token}, timeout=60) as c:
            return c.post("/bill_payment/push_bill_with_payment", json=body).json()["code"]

    distinct = [payer.body(f"CC-{i}", total=100, payment_method_token=card["token"]) for i in range(16)]
    same = [payer.body("CC-SAME", total=100, payment_method_token=card["token"]) for _ in range(8)]
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(settle, distinct + same))
    assert codes[:16] == ["SUCCESS"] * 16
    assert sorted(codes[16:]) == ["327"] * 7 + ["SUCCESS"]
    kept = [c for c in payer.charges() if c.ok and not c.reversed]
    assert len(kept) == 17 and sum(c.amount for c in kept) == 1_700  # each bill charged once, the repeats not at all
    assert payer.clearing(cards.vault().code) == -1_700

    async def recorded(session):
        return await session.scalar(
            select(func.count())
            .select_from(MethodCharge)
            .where(MethodCharge.merchant_id == payer.m.id, MethodCharge.state == "recorded")
        )

    assert server.in_session(recorded) == 17


class Crash(BaseException):
    """The process dies here: nothing after it runs, not even the request's own clean-up."""


def test_a_server_killed_between_the_charge_and_the_ledger_is_given_back_once(payer, server):
    card = payer.card(VISA)
    account = payer.account("0007654321")
    real_vault, real_rail = cards.vault(), debits.rail()

    class DyingVault:
        code, name, form_action = real_vault.code, real_vault.name, real_vault.form_action

        async def card(self, db, token):
            return await real_vault.card(db, token)

        async def charge(self, db, **kw):
            await real_vault.charge(db, **kw)  # the vault takes the money ...
            raise Crash()  # ... and the server dies before the ledger entry

        async def reverse(self, db, reference):
            return await real_vault.reverse(db, reference)

        async def unreversed(self, db, *a):
            return await real_vault.unreversed(db, *a)

    class DyingRail:
        async def debit(self, db, **kw):
            await real_rail.debit(db, **kw)
            raise Crash()

        async def account(self, db, **kw):
            return await real_rail.account(db, **kw)

        async def reverse(self, db, reference):
            return await real_rail.reverse(db, reference)

        async def unreversed(self, db, *a):
            return await real_rail.unreversed(db, *a)

    cards.install(DyingVault())
    debits.install(DyingRail())
    try:
        # The dying handler answers nothing of a payment (the server's last words are a 500).
        assert payer.push(payer.body("KILL-1", total=900, payment_method_token=card["token"])).status_code == 500
        assert payer.push(payer.body("KILL-2", total=900, payment_method_token=account["token"])).status_code == 500
    finally:
        cards.install(real_vault)
        debits.install(real_rail)
    assert payer.c.get("/instant_payment/get_single_bill/KILL-1").json()["code"] == "324"
    assert payer.bank_balance("0007654321") == 500_000 - 900  # the bank took it; Tonle recorded nothing
    db = server.backend.db
    early = server.run(methods.reconcile(db, server.settings))
    assert early == 0  # too young: a request might still record it
    settings = server.settings.model_copy(update={"charge_reconcile_after_seconds": 0.001})
    assert server.run(methods.reconcile(db, settings)) == 2
    assert server.run(methods.reconcile(db, settings)) == 0  # given back once
    assert payer.bank_balance("0007654321") == 500_000
    assert [c.reversed for c in payer.charges() if c.ok] == [True]
    assert payer.clearing(cards.vault().code) == 0 and payer.clearing(payer.bank) == 0
    # The biller retries: charged once, recorded once.
    assert payer.settle("KILL-1", card["token"], total=900)["code"] == "SUCCESS"
    assert server.run(methods.reconcile(db, settings)) == 0
    assert payer.clearing(cards.vault().code) == -900

    async def entries(session):
        return await session.scalar(
            select(func.count()).select_from(Entry).where(Entry.merchant_id == payer.m.id, Entry.kind == "card_payment")
        )

    assert server.in_session(entries) == 1

    async def debited(session):
        return await session.scalar(
            select(func.count())
            .select_from(SandboxDebit)
            .where(
                SandboxDebit.reference.like("pm-%"),
                SandboxDebit.reversed.is_(False),
                SandboxDebit.ok.is_(True),
                SandboxDebit.bank_code == payer.bank,
            )
        )

    assert server.in_session(debited) == 0


def test_the_sandbox_commands_walk_the_pages(payer, server):
    creds = [
        "--base-url",
        server.base_url,
        "--merchant-token",
        payer.m.creds.merchant_token,
        "--referrer-key",
        payer.m.creds.referrer_key,
        "--sdk-secret",
        payer.m.creds.sdk_secret,
    ]
    added = server.cli("sandbox", "add-card", "C1", "--number", ASKS_CODE, *creds, check=True)
    assert added.stdout.strip() == "card ****3220 of C1: success"
    added = server.cli(
        "sandbox", "add-account", "C1", "--bank", payer.bank, "--account", "0007654321", *creds, check=True
    )
    assert added.stdout.strip() == f"account 0007654321 at {payer.bank} of C1: success"
    assert [m["type"] for m in payer.methods()] == ["wallet", "wallet", "card", "bank_account"]
    refused = server.cli("sandbox", "add-card", "C1", "--number", "4242424242424241", *creds)
    assert refused.returncode == 1 and "card not added: That card number is not valid." in refused.stderr
    unknown = server.cli("sandbox", "add-account", "C1", "--bank", payer.bank, "--account", "999", *creds)
    assert unknown.returncode == 1 and f"bank {payer.bank} has no open account 999" in unknown.stderr
