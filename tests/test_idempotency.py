"""Idempotency-Key on POST endpoints: replay, mismatch, in progress, expiry, and per-merchant scope."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from helpers import ok
from test_settle import Shop
from tonle.idempotency.models import IdempotencyKey
from tonle.kit.clock import clock


def test_same_key_same_body_replays_the_first_answer(server):
    shop = Shop(server)
    body = shop.body(ref="I1")
    first = shop.push(body, headers={"Idempotency-Key": "order-1"})
    assert first.json()["code"] == "SUCCESS" and "Idempotent-Replayed" not in first.headers
    again = shop.push(body, headers={"Idempotency-Key": "order-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert shop.balances()["KHR"] == 99_500  # one effect
    # Without the key, the ref_id rule answers instead.
    assert shop.push(body).json()["code"] == "327"


def test_business_errors_are_replayed_too(server):
    shop = Shop(server, khr=100)
    token = shop.tokens()["KHR W"]
    body = shop.body(ref="I2", payment_method_token=token)
    first = shop.push(body, headers={"Idempotency-Key": "k-401"})
    assert first.json()["code"] == "401"
    from helpers import fund_wallets

    fund_wallets(server, shop.m.id, "C1", {"KHR": 1000})
    again = shop.push(body, headers={"Idempotency-Key": "k-401"})
    assert again.json()["code"] == "401" and again.headers["Idempotent-Replayed"] == "true"
    # A new key is a new attempt, which now succeeds.
    assert shop.push(body, headers={"Idempotency-Key": "k-401-retry"}).json()["code"] == "SUCCESS"


def test_same_key_different_body_is_refused(server):
    shop = Shop(server)
    assert shop.push(shop.body(ref="I3"), headers={"Idempotency-Key": "k3"}).json()["code"] == "SUCCESS"
    r = shop.push(shop.body(ref="I4"), headers={"Idempotency-Key": "k3"})
    assert r.status_code == 422
    assert r.json()["code"] == "ERR_IDEMPOTENCY_KEY_REUSED"
    assert shop.c.get("/instant_payment/get_single_bill/I4").json()["code"] == "324"


def test_invalid_key_is_refused(server):
    shop = Shop(server)
    for key in ("x" * 256, "has space"):
        r = shop.push(shop.body(ref="I5"), headers={"Idempotency-Key": key})
        assert r.status_code == 400 and r.json()["code"] == "ERR_IDEMPOTENCY_KEY_INVALID"


def test_in_progress_then_taken_over_after_the_lease(server):
    shop = Shop(server)
    body = shop.body(ref="I6")
    from tonle.idempotency.service import fingerprint
    from tonle.wire.wirejson import dumps

    fp = fingerprint("POST", "/bill_payment/push_bill_with_payment", dumps(body).encode())
    now = clock.now()

    async def plant(session):  # a claim whose request is still running (or died) elsewhere
        session.add(
            IdempotencyKey(
                scope=f"m:{shop.m.id}",
                key="busy",
                fingerprint=fp,
                state="running",
                locked_until=now + timedelta(seconds=30),
                expires_at=now + timedelta(days=7),
            )
        )

    server.in_session(plant)
    r = shop.push(body, headers={"Idempotency-Key": "busy"})
    assert (
        r.status_code == 409 and r.json()["code"] == "ERR_IDEMPOTENCY_IN_PROGRESS" and r.headers["Retry-After"] == "1"
    )
    clock.advance(31)
    r = shop.push(body, headers={"Idempotency-Key": "busy"})
    assert r.json()["code"] == "SUCCESS"


def test_keys_expire_after_their_ttl_and_are_per_merchant(server):
    a, b = Shop(server), Shop(server)
    assert a.push(a.body(ref="E1"), headers={"Idempotency-Key": "shared"}).json()["code"] == "SUCCESS"
    # The same key string of another merchant is another key.
    assert b.push(b.body(ref="E1"), headers={"Idempotency-Key": "shared"}).json()["code"] == "SUCCESS"
    clock.advance(server.settings.idempotency_ttl_seconds + 1)
    a.c.headers["Authorization"] = "Bearer " + server.authorize(a.m)["token"]
    r = a.push(a.body(ref="E1"), headers={"Idempotency-Key": "shared"})
    assert "Idempotent-Replayed" not in r.headers and r.json()["code"] == "327"

    async def count(session):
        return len((await session.execute(select(IdempotencyKey).where(IdempotencyKey.scope == f"m:{a.m.id}"))).all())

    assert server.in_session(count) == 1


def test_concurrent_requests_with_one_key_have_one_effect(pg_server):
    shop = Shop(pg_server)
    auth = shop.c.headers["Authorization"]
    body = shop.body(ref="CK", total=900)

    def one(_):
        from tonle.wire.wirejson import dumps

        with pg_server.client() as cl:
            r = cl.post(
                "/bill_payment/push_bill_with_payment",
                content=dumps(body),
                headers={"Authorization": auth, "Idempotency-Key": "same", "Content-Type": "application/json"},
            )
            return r.status_code, r.json()["code"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert [r for r in results if r == (200, "SUCCESS")], results
    assert all(r in ((200, "SUCCESS"), (409, "ERR_IDEMPOTENCY_IN_PROGRESS")) for r in results), results
    assert shop.balances()["KHR"] == 99_100
    ok(shop.c.get("/instant_payment/get_single_bill/CK"))
