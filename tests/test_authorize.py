"""POST /merchantsecurity/authorize and the bearer token (spec §2.3, §1.2)."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select

from tonle.kit.clock import clock, epoch
from tonle.merchants.models import Merchant as MerchantRow
from tonle.merchants.models import RefreshToken

EXPIRE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+07:00$")


def _body(m, **over):
    body = {
        "token": m.creds.merchant_token,
        "clientId": m.creds.client_id,
        "secret": m.creds.client_secret,
        "refreshToken": "",
    }
    body.update(over)
    return body


def test_authorize_success_shape(server):
    m = server.new_merchant()
    with server.client() as c:
        r = c.post("/merchantsecurity/authorize", json=_body(m), headers={"Accept": "application/json"})
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == 200 and isinstance(body["code"], int)
    assert body["message"] == ""
    assert "message_kh" not in body
    data = body["data"]
    assert set(data) == {"issuer", "token", "refreshToken", "tokenExpireTime"}
    assert re.fullmatch(r"[0-9A-F]{64}", data["refreshToken"])
    assert EXPIRE_RE.match(data["tokenExpireTime"]), data["tokenExpireTime"]
    expires = datetime.fromisoformat(data["tokenExpireTime"][:26] + "+07:00")
    lifetime = expires - datetime.now(UTC)
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1, seconds=5)
    claims = jwt.decode(data["token"], server.settings.signing_key, algorithms=["HS256"], audience="tonle-merchant-api")
    assert claims["sub"] == m.id
    assert data["issuer"] == server.settings.issuer


def test_bad_credentials_are_401_with_a_reason(server):
    m = server.new_merchant()
    with server.client() as c:
        for over in (
            {"secret": "wrong-secret"},
            {"token": "00000000-0000-0000-0000-000000000000"},
            {"clientId": "nobody"},
        ):
            r = c.post("/merchantsecurity/authorize", json=_body(m, **over))
            assert r.status_code == 401, over
            assert r.json() == {"code": 401, "message": "Invalid client credentials", "data": None}


def test_missing_or_mistyped_fields_are_400(server):
    m = server.new_merchant()
    with server.client() as c:
        r = c.post("/merchantsecurity/authorize", json={"token": m.creds.merchant_token, "secret": "x"})
        assert r.status_code == 400
        assert r.json() == {"code": 400, "message": "Please provide [clientId].", "data": None}
        r = c.post("/merchantsecurity/authorize", json=_body(m, secret=12345))
        assert r.status_code == 400 and r.json()["message"] == "The [secret] field must be a string."
        # Not JSON: still this endpoint's own envelope, with an integer code (its documented 400).
        r = c.post("/merchantsecurity/authorize", content=b"not json")
        assert r.status_code == 400
        assert r.json() == {"code": 400, "message": "The request body is not valid JSON.", "data": None}


def test_refresh_token_is_one_use_and_reuse_revokes_the_chain(server):
    m = server.new_merchant()
    first = server.authorize(m)
    second = server.authorize(m, refresh=first["refreshToken"])
    assert second["token"] != first["token"] and second["refreshToken"] != first["refreshToken"]
    with server.client() as c:
        r = c.post("/merchantsecurity/authorize", json=_body(m, refreshToken=first["refreshToken"]))
        assert r.status_code == 401
        assert r.json() == {"code": 401, "message": "Refresh token already used", "data": None}
        # The reuse may mean the token leaked: the chain's live token is retired too.
        r = c.post("/merchantsecurity/authorize", json=_body(m, refreshToken=second["refreshToken"]))
        assert r.status_code == 401 and r.json()["message"] == "Refresh token revoked"
    # A fresh login still works.
    assert server.authorize(m)["token"]


def test_refresh_token_of_another_merchant_or_unknown_or_expired(server):
    a, b = server.new_merchant("A"), server.new_merchant("B")
    a_grant = server.authorize(a)
    with server.client() as c:
        r = c.post("/merchantsecurity/authorize", json=_body(b, refreshToken=a_grant["refreshToken"]))
        assert r.status_code == 401 and r.json()["message"] == "Invalid refresh token"
        r = c.post("/merchantsecurity/authorize", json=_body(a, refreshToken="AB" * 32))
        assert r.status_code == 401 and r.json()["message"] == "Invalid refresh token"
        clock.advance(server.settings.refresh_token_ttl_seconds + 1)
        r = c.post("/merchantsecurity/authorize", json=_body(a, refreshToken=a_grant["refreshToken"]))
        assert r.status_code == 401 and r.json()["message"] == "Refresh token expired"
    # The other merchant's token was not spent by the failed attempt.
    clock.reset()
    assert server.authorize(a, refresh=a_grant["refreshToken"])["token"]


def _fresh_window(server) -> None:
    """Move the clock to just after a limit window begins, so that a test's failures all fall in one fixed window
    (a run that straddled a boundary saw its count start again: a rare flake)."""
    size = server.settings.auth_fail_window_seconds
    clock.advance(size - epoch(clock.now()) % size + 1)


def test_failed_attempts_are_rate_limited_per_client_id(server):
    _fresh_window(server)
    m = server.new_merchant()
    limit = server.settings.auth_fail_limit_per_client
    for i in range(limit):
        with server.client(address=f"192.0.2.{i + 1}") as c:  # a new address each time: the client id is what counts
            assert c.post("/merchantsecurity/authorize", json=_body(m, secret="nope-nope")).status_code == 401
    with server.client(address="192.0.2.200") as c:
        r = c.post("/merchantsecurity/authorize", json=_body(m))  # even the right secret waits out the window
        assert r.status_code == 429
        retry = int(r.headers["Retry-After"])
        assert 1 <= retry <= server.settings.auth_fail_window_seconds
        assert r.json()["code"] == 429 and "Too many failed attempts" in r.json()["message"]
        clock.advance(server.settings.auth_fail_window_seconds)
        assert c.post("/merchantsecurity/authorize", json=_body(m)).status_code == 200


def test_failed_attempts_are_rate_limited_per_address(server):
    _fresh_window(server)
    limit = server.settings.auth_fail_limit_per_address
    with server.client(address="198.51.100.7") as c:
        for i in range(limit):
            r = c.post(
                "/merchantsecurity/authorize", json={"token": "t" * 10, "clientId": f"guess-{i}", "secret": "s" * 10}
            )
            assert r.status_code == 401
        r = c.post("/merchantsecurity/authorize", json={"token": "t" * 10, "clientId": "guess-x", "secret": "s" * 10})
        assert r.status_code == 429 and "Retry-After" in r.headers
    m = server.new_merchant()
    assert server.authorize(m)["token"]  # other addresses are not affected


def test_credentials_are_not_stored_in_clear(server):
    m = server.new_merchant()

    async def row(session):
        return (await session.execute(select(MerchantRow).where(MerchantRow.id == m.id))).scalar_one()

    r = server.in_session(row)
    assert r.client_secret_hash.startswith("scrypt$") and m.creds.client_secret not in r.client_secret_hash
    assert m.creds.merchant_token not in r.merchant_token_digest
    assert m.creds.referrer_key not in r.referrer_key_digest
    grant = server.authorize(m)

    async def tokens(session):
        return (
            (await session.execute(select(RefreshToken.token_digest).where(RefreshToken.merchant_id == m.id)))
            .scalars()
            .all()
        )

    assert grant["refreshToken"] not in server.in_session(tokens)


def _forge(claims, key="another-key-of-the-right-length-0123456789", alg="HS256"):
    return jwt.encode(claims, key, algorithm=alg)


def test_bearer_failures_are_401_with_a_json_body(server):
    m = server.new_merchant()
    token = server.authorize(m)["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    header, payload, sig = token.split(".")
    tampered_claims = dict(claims, sub="someone-else")
    tampered = ".".join(
        [header, base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).decode().rstrip("="), sig]
    )
    none_alg = ".".join(
        [
            base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("="),
            payload,
            "",
        ]
    )
    cases = {
        None: "Missing bearer token",
        "Basic abc": "Malformed Authorization header: expected 'Bearer <token>'",
        "Bearer": "Malformed Authorization header: expected 'Bearer <token>'",
        "Bearer not-a-jwt": "Invalid token",
        f"Bearer {_forge(claims)}": "Invalid token",
        f"Bearer {tampered}": "Invalid token",
        f"Bearer {none_alg}": "Invalid token",
        f"Bearer {_forge(dict(claims, typ='refresh'), server.settings.signing_key)}": "Invalid token",
        f"Bearer {_forge(dict(claims, sub='no-such-merchant'), server.settings.signing_key)}": "Invalid token",
    }
    with server.client() as c:
        for header_value, reason in cases.items():
            headers = {"Authorization": header_value} if header_value else {}
            r = c.post("/customer/get_customer_detail", json={"sync_code": "C1"}, headers=headers)
            assert r.status_code == 401, header_value
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            assert r.json() == {"code": "UNAUTHORIZED", "message": reason, "message_kh": "មិនមានសិទ្ធិ", "data": None}
        # Two spaces after "Bearer", as one Bill24 sample sends, is still a bearer token.
        r = c.post(
            "/customer/get_customer_detail", json={"sync_code": "C1"}, headers={"Authorization": f"Bearer  {token}"}
        )
        assert r.status_code == 200


def test_access_token_expires_after_its_lifetime(server):
    m = server.new_merchant()
    token = server.authorize(m)["token"]
    with server.client(token) as c:
        assert c.post("/customer/get_customer_detail", json={"sync_code": "C1"}).status_code == 200
        clock.advance(server.settings.access_token_ttl_seconds + 1)
        r = c.post("/customer/get_customer_detail", json={"sync_code": "C1"})
        assert r.status_code == 401 and r.json()["message"] == "Token expired"


def test_concurrent_uses_of_one_refresh_token_grant_once(pg_server):
    from concurrent.futures import ThreadPoolExecutor

    server = pg_server
    m = server.new_merchant()
    first = server.authorize(m)

    def spend(_):
        with server.client() as c:
            return c.post("/merchantsecurity/authorize", json=_body(m, refreshToken=first["refreshToken"])).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(spend, range(6)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 401}


def test_authentication_comes_before_body_parsing(server):
    with server.client() as c:
        r = c.post("/customer/create", content=b"{not json")
    assert r.status_code == 401 and r.json()["message"] == "Missing bearer token"
