"""Failed-attempt limits on the endpoints that take a bare token or id: the SDK (merchant token + referrer key), the
bank-facing API (bank token) and the SDK checkout helpers (a transaction id). Per source address, shared by all
processes through the database; at the limit, 429 with Retry-After, even with the right credentials."""

import secrets

import pytest

from helpers import add_bank


@pytest.fixture
def limited(backend):
    return backend.server(auth_fail_limit_per_address=3)


def _address():
    return f"10.77.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def _blocked(r):
    assert r.status_code == 429, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["code"] == "UNAUTHORIZED" and "Too many failed attempts" in r.json()["message"]


def test_sdk_token_guessing_is_limited_per_address(limited):
    _, m = limited.merchant_client()
    good = {"token": m.creds.merchant_token, "X-Referrer-Key": m.creds.referrer_key}
    address = _address()
    with limited.client(address=address) as c:
        for guess in ("a" * 36, "b" * 36, "c" * 36):
            r = c.post("/instantpaymentsdk/wallet/topup", json={"encrypted": "x"}, headers={**good, "token": guess})
            assert r.status_code == 401
        _blocked(c.post("/instantpaymentsdk/wallet/topup", json={"encrypted": "x"}, headers=good))
    with limited.client(address=_address()) as other:  # another address is not affected (past auth: a bad body)
        assert other.post("/instantpaymentsdk/wallet/topup", json={"encrypted": "x"}, headers=good).status_code == 400


def test_bank_token_guessing_is_limited_per_address(limited):
    token = "bank-" + secrets.token_hex(8)
    add_bank(limited, "LIM" + secrets.token_hex(2).upper(), token)
    body = {"identity_code": "NOPE", "fee_channel": "MERCHANT"}
    with limited.client(address=_address()) as c:
        for i in range(3):
            assert c.post("/payment/v5/inquiry", json=body, headers={"token": f"guess-{i}"}).status_code == 401
        _blocked(c.post("/payment/v5/inquiry", json=body, headers={"token": token}))


def test_walking_checkout_ids_is_limited_per_address(limited):
    with limited.client(address=_address()) as c:
        for i in range(3):
            r = c.post("/checkout/detail", json={"tran_id": f"{i:012X}"})
            assert r.status_code == 200 and r.json()["code"] != "SUCCESS"
        _blocked(c.post("/checkout/detail", json={"tran_id": "000000000009"}))
