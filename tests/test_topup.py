"""Money in: the encrypted SDK top-up, the bank-facing inquiry/confirm, and the sandbox CLI that drives them."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from helpers import add_bank, add_sub_biller, ok
from tonle.kit.clock import clock


# An implementation of the SDK scheme written from the spec, independent of Tonle's.
def key_of(secret: str) -> bytes:
    return hmac.new(secret.encode(), secret.encode(), hashlib.sha256).digest()


def encrypt(secret: str, payload: dict) -> str:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(json.dumps(payload).encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(key_of(secret)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode()


def decrypt(secret: str, blob: str) -> dict:
    raw = base64.b64decode(blob)
    dec = Cipher(algorithms.AES(key_of(secret)), modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    return json.loads(unpadder.update(dec.update(raw[16:]) + dec.finalize()) + unpadder.finalize())


class Setup:
    def __init__(self, server):
        self.server = server
        self.c, self.m = server.merchant_client()
        ok(
            self.c.post(
                "/customer/create",
                json={
                    "sync_code": "T1",
                    "name": "Top",
                    "wallet": [{"name": "K", "currency": "KHR"}, {"name": "U", "currency": "USD"}],
                },
            ),
            "SUCCESS",
        )
        self.wallets = {
            w["currency"]: w["id"]
            for w in ok(self.c.post("/customer/get_customer_detail", json={"sync_code": "T1"}))["walletBalances"]
        }
        self.bank_code = "B" + uuid.uuid4().hex[:6]
        self.bank_token = "bank-" + uuid.uuid4().hex
        add_bank(server, self.bank_code, self.bank_token)

    def sdk(self, payload=None, blob=None, **headers):
        h = {"token": self.m.creds.merchant_token, "X-Referrer-Key": self.m.creds.referrer_key, **headers}
        body = {"encrypted": blob if blob is not None else encrypt(self.m.creds.sdk_secret, payload)}
        with self.server.client() as cl:
            return cl.post("/instantpaymentsdk/wallet/topup", json=body, headers=h)

    def start(self, amount=12000, currency="KHR"):
        r = self.sdk({"id": self.wallets[currency], "amount": amount})
        body = r.json()
        assert body["code"] == "000", body
        return decrypt(self.m.creds.sdk_secret, body["data"]["encrypted"])

    def bank(self, path, body, token=None):
        with self.server.client() as cl:
            return cl.post(path, json=body, headers={"token": token or self.bank_token})

    def inquiry(self, tran_id, token=None):
        return self.bank("/payment/v5/inquiry", {"identity_code": tran_id, "fee_channel": "MERCHANT"}, token)

    def confirm(
        self, tran_id, payment_token, total, currency="KHR", bank_ref="FT123", path="/payment/v3/confirm", **over
    ):
        body = {
            "identity_code": tran_id,
            "fee_channel": "MERCHANT",
            "bank_ref": bank_ref,
            "bank_date": "2026-11-26",
            "original_amount": total,
            "convenience_fee_amount": 0,
            "sponsor_fee_amount": 0,
            "total_amount": total,
            "currency": currency,
            "description": "",
            "payment_token": payment_token,
            "payer_account_no": "001",
            "payer_account_name": "PAYER",
            "payer_phone": "012",
        }
        body.update(over)
        return self.bank(path, body)

    def balance(self, currency="KHR"):
        return {
            w["currency"]: w["balance"]
            for w in ok(self.c.post("/instant_payment/get_wallet_balance", json={"customer_sync_code": "T1"}))
        }[currency]


def test_topup_round_trip_with_an_independent_key(server):
    s = Setup(server)
    answer = s.start(12000)
    assert answer["amount"] == 12000 and answer["currency"] == "KHR" and answer["status"] == "pending"
    assert answer["wallet_id"] == s.wallets["KHR"] and len(answer["tran_id"]) == 36
    assert s.balance() == 0  # nothing moves before the bank confirms
    detail = ok(s.c.post("/transaction/instant_payment/detail", json={"reference": answer["tran_id"]}))
    assert (detail["transaction_type"], detail["status"], detail["tran_amount"]) == ("wallet_topup", "pending", 12000)


def test_bank_inquiry_and_confirm_credit_the_wallet_once(server):
    s = Setup(server)
    tran_id = s.start(5000)["tran_id"]
    found = s.inquiry(tran_id).json()
    assert (found["code"], found["message"]) == ("SUCCESS", "Success")
    t = found["data"]["transaction"]
    assert (
        t["tran_id"],
        t["currency"],
        t["original_amount"],
        t["fee_amount"],
        t["total_amount"],
        t["fee_channel"],
    ) == (tran_id, "KHR", 5000, 0, 5000, "MERCHANT")
    assert (
        found["data"]["customer"]["customer_code"] == "T1"
        and found["data"]["customer"]["payment_token"] == t["payment_token"]
    )
    r = s.confirm(tran_id, t["payment_token"], 5000).json()
    assert (r["code"], r["message"], r["data"]["status"], r["data"]["bank_ref"]) == (
        "SUCCESS",
        "Payment confirmed",
        "success",
        "FT123",
    )
    assert s.balance() == 5000
    again = s.confirm(tran_id, t["payment_token"], 5000).json()
    assert (again["code"], again["message"]) == ("SUCCESS", "Payment already confirmed")
    other = s.confirm(tran_id, t["payment_token"], 5000, bank_ref="FT999").json()
    assert other["code"] == "TRANSACTION_ALREADY_PAID"
    assert s.inquiry(tran_id).json()["code"] == "TRANSACTION_ALREADY_PAID"
    assert s.balance() == 5000
    detail = ok(s.c.post("/transaction/instant_payment/detail", json={"reference": tran_id}))
    assert (detail["status"], detail["bank_id"], detail["bank_ref"]) == ("success", s.bank_code, "FT123")
    assert server.cli("ledger", "verify").returncode == 0


def test_confirm_refusals_move_nothing(server):
    s = Setup(server)
    tran_id = s.start(2500, "USD")["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    cases = [
        (dict(payment_token="wrong"), "INVALID_PAYMENT_TOKEN"),
        (dict(total=2400, original_amount=2400), "AMOUNT_MISMATCH"),
        (dict(total="25.001"), "AMOUNT_MISMATCH"),
        (dict(currency="KHR"), "CURRENCY_MISMATCH"),
        (dict(tran_id=str(uuid.uuid4())), "TRANSACTION_NOT_FOUND"),
    ]
    for over, code in cases:
        args = {"tran_id": tran_id, "payment_token": token, "total": 2500, "currency": "USD"}
        args.update(over)
        extra = {k: v for k, v in args.items() if k not in ("tran_id", "payment_token", "total", "currency")}
        r = s.confirm(args["tran_id"], args["payment_token"], args["total"], args["currency"], **extra).json()
        assert r["code"] == code, (over, r)
    missing = s.bank("/payment/v3/confirm", {"identity_code": tran_id}).json()
    assert missing["code"] == "ERR_MISSED_FIELD" and "Please provide [payment_token]." in missing["message"]
    assert s.balance("USD") == 0
    # A second inquiry re-issues the token; the old one stops working.
    token2 = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    assert s.confirm(tran_id, token, 2500, "USD").json()["code"] == "INVALID_PAYMENT_TOKEN"
    assert s.confirm(tran_id, token2, 2500, "USD", path="/payment/v2/confirm").json()["code"] == "SUCCESS"
    assert s.balance("USD") == 2500


def test_expired_and_unknown_transactions(server):
    s = Setup(server)
    tran_id = s.start(100)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    clock.advance(server.settings.topup_ttl_seconds + 1)
    assert s.inquiry(tran_id).json()["code"] == "TRANSACTION_EXPIRED"
    assert s.confirm(tran_id, token, 100).json()["code"] == "TRANSACTION_EXPIRED"
    s.c.headers["Authorization"] = "Bearer " + server.authorize(s.m)["token"]  # the hour also ended the access token
    assert ok(s.c.post("/transaction/instant_payment/detail", json={"reference": tran_id}))["status"] == "expired"
    assert s.bank("/payment/v4/inquiry", {"identity_code": "nope"}).json()["code"] == "TRANSACTION_NOT_FOUND"
    assert s.balance() == 0


def test_another_banks_token_cannot_confirm(server):
    s = Setup(server)
    tran_id = s.start(100)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    other_code, other_token = "O" + uuid.uuid4().hex[:6], "other-" + uuid.uuid4().hex
    add_bank(server, other_code, other_token)
    r = s.bank(
        "/payment/v3/confirm",
        {"identity_code": tran_id, "payment_token": token, "bank_ref": "X", "total_amount": 100, "currency": "KHR"},
        token=other_token,
    )
    assert r.json()["code"] == "INVALID_PAYMENT_TOKEN"


def test_bank_and_sdk_authentication(server):
    s = Setup(server)
    for headers in ({}, {"token": "wrong"}):
        with server.client() as cl:
            r = cl.post("/payment/v5/inquiry", json={"identity_code": "x"}, headers=headers)
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    payload = {"id": s.wallets["KHR"], "amount": 100}
    assert s.sdk(payload, **{"X-Referrer-Key": "wrong"}).status_code == 401
    assert s.sdk(payload, token="wrong").status_code == 401
    # The older header spelling is accepted.
    with server.client() as cl:
        r = cl.post(
            "/instantpaymentsdk/wallet/topup",
            json={"encrypted": encrypt(s.m.creds.sdk_secret, payload)},
            headers={"token": s.m.creds.merchant_token, "Referer-Key": s.m.creds.referrer_key},
        )
    assert r.json()["code"] == "000"


def test_sdk_bad_bodies(server):
    s = Setup(server)
    for blob in (
        "not base64!",
        base64.b64encode(b"short").decode(),
        encrypt("another secret", {"id": "x", "amount": 1}),
    ):
        r = s.sdk(blob=blob)
        assert r.status_code == 400 and r.json()["code"] == "ERR_INVALID_ENCRYPTED_BODY", blob
    assert s.sdk(blob="").json()["message"] == "Please provide [encrypted]."
    assert s.sdk({"id": str(uuid.uuid4()), "amount": 100}).json()["code"] == "312"
    assert s.sdk({"id": s.wallets["KHR"], "amount": 0}).json()["message"] == "[amount] must be greater than 0."
    assert s.sdk({"id": s.wallets["KHR"], "amount": -5}).json()["code"] == "ERR_MISSED_FIELD"
    assert s.sdk({"id": s.wallets["USD"], "amount": "1.234"}).json()["code"] == "ERR_MISSED_FIELD"
    assert s.sdk({"amount": 5}).json()["message"] == "Please provide [id]."
    # Another merchant's wallet is not found.
    other = Setup(server)
    assert other.sdk({"id": s.wallets["KHR"], "amount": 100}).json()["code"] == "312"


def test_concurrent_confirms_pay_once(pg_server):
    s = Setup(pg_server)
    tran_id = s.start(7000)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]

    def one(_):
        body = s.confirm(tran_id, token, 7000).json()
        return body["message"] if body["code"] == "SUCCESS" else f"{body['code']}: {body['message']}"

    with ThreadPoolExecutor(8) as pool:
        messages = list(pool.map(one, range(8)))
    assert messages.count("Payment confirmed") == 1, messages
    assert messages.count("Payment already confirmed") == 7, messages
    assert s.balance() == 7000


def test_full_journey_over_http(server):
    """create customer -> top-up via SDK -> bank inquiry -> confirm -> balance -> settle to a sub-biller ->
    single bill paid -> transaction detail -> wallet history shows both lines -> ledger verify."""
    s = Setup(server)
    add_sub_biller(server, s.m.id, "CPO7")
    tran_id = s.start(20000)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    assert s.confirm(tran_id, token, 20000).json()["code"] == "SUCCESS"
    assert s.balance() == 20000
    msg = f"J1{'20260101000000'}KHR5000T1CPO7"
    body = {
        "ref_id": "J1",
        "date": "2026-01-01",
        "due_date": "2026-02-01",
        "currency": "KHR",
        "total_amount": 5000,
        "customer_sync_code": "T1",
        "payment_to": "CPO7",
        "hash": base64.b64encode(
            hmac.new(s.m.creds.bill_hash_key.encode(), msg.encode(), hashlib.sha512).digest()
        ).decode(),
        "details": [{"item_name": "100KWh", "description": "for charge", "quantity": 1, "price": 5000, "amount": 5000}],
    }
    assert s.c.post("/bill_payment/push_bill_with_payment", json=body).json()["code"] == "SUCCESS"
    assert s.balance() == 15000
    assert ok(s.c.get("/instant_payment/get_single_bill/J1"))["bill_status"] == "paid"
    assert ok(s.c.post("/transaction/instant_payment/detail", json={"reference": "J1"}))["status"] == "success"
    lines = ok(s.c.post("/instant_payment/get_wallet_histories", json={"customer_sync_code": "T1"}))["items"]
    assert [(i["tran_type"], i["amount"], i["balance_after"]) for i in lines] == [
        ("wallet_payment", -5000, 15000),
        ("wallet_topup", 20000, 20000),
    ]
    assert lines[1]["transaction_id"] == tran_id and lines[0]["reference"] == "J1"
    assert server.cli("ledger", "verify").returncode == 0


def _login(creds) -> list[str]:
    """The sandbox CLI's credential flags for a merchant."""
    return [
        "--merchant-token",
        creds.merchant_token,
        "--client-id",
        creds.client_id,
        "--client-secret",
        creds.client_secret,
        "--referrer-key",
        creds.referrer_key,
        "--sdk-secret",
        creds.sdk_secret,
    ]


def test_sandbox_cli_drives_topup_and_pay_over_http(server, tmp_path):
    s = Setup(server)
    creds = s.m.creds
    proc = server.cli(
        "sandbox", "topup", "T1", "2.50", "USD", "--base-url", server.base_url, *_login(creds), check=True
    )
    tran_id = proc.stdout.split("tran_id: ", 1)[1].split()[0]
    paid = server.cli(
        "sandbox",
        "pay",
        tran_id,
        "--bank",
        s.bank_code,
        "--bank-token",
        s.bank_token,
        "--base-url",
        server.base_url,
        check=True,
    )
    assert f"paid {tran_id}" in paid.stdout and "2.5 USD" in paid.stdout
    assert s.balance("USD") == 2.5
    again = server.cli("sandbox", "pay", tran_id, "--bank-token", s.bank_token, "--base-url", server.base_url)
    assert again.returncode == 1 and "TRANSACTION_ALREADY_PAID" in again.stderr


def test_sandbox_cli_errors_are_one_clear_line(server):
    s = Setup(server)
    creds = s.m.creds
    login = _login(creds)
    # The server's message names the field: "[amount]" must not be eaten as console markup.
    bad = server.cli("sandbox", "topup", "T1", "5.555", "USD", "--base-url", server.base_url, *login)
    assert bad.returncode == 1 and "[amount] is not a valid USD amount" in bad.stderr, bad.stderr
    # Nothing listens on port 9 of loopback.
    for args in (["topup", "T1", "5", "USD", *login], ["pay", "TRAN1"]):
        down = server.cli("sandbox", *args, "--base-url", "http://127.0.0.1:9")
        assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr
        assert down.stderr.strip().splitlines() == [
            "cannot reach Tonle at http://127.0.0.1:9 (ConnectError: [Errno 111] Connection refused); "
            "is `tonle serve` running?"
        ]


def test_a_bad_setting_is_one_line_not_a_traceback(server):
    env = {**server.backend.env(), "TONLE_CHECKOUT_TTL_SECONDS": "25"}
    proc = subprocess.run(
        [sys.executable, "-m", "tonle.cli", "ledger", "verify"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "error: bad setting: TONLE_CHECKOUT_TTL_SECONDS: Input should be greater than or equal to 60 (got '25')"
    )


def test_help_shows_arguments_and_flags_as_people_expect(server):
    seed = server.cli("seed", "--help", check=True).stdout
    assert "Usage: tonle seed [OPTIONS] FILE" in seed and "{file}" not in seed and "<bool>" not in seed
    listen = server.cli("webhooks", "listen", "--help", check=True).stdout
    assert "<bool>" not in listen and "INTEGER" in listen and "--fail" in listen
