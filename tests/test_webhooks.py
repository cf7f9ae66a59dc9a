"""Webhook delivery: signed, exact, retried on schedule, logged, survives outages and worker crashes."""

import base64
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from helpers import ok
from receiver import Receiver, free_port, wait_until
from test_topup import Setup
from tonle.config import Compat
from tonle.kit.clock import clock
from tonle.merchants.models import Merchant
from tonle.webhooks import WebhookVerificationError, verify
from tonle.webhooks.outbox import emit

FAST = dict(
    worker_in_process=True,
    worker_poll_seconds=0.05,
    webhook_allow_private_targets=True,
    webhook_timeout_seconds=2.0,
    webhook_lease_margin_seconds=5.0,  # a loaded CI machine must not outlive its own lease
)


@pytest.fixture
def hook_server(backend):
    with backend.running_server(Compat.live, **FAST) as server:
        yield server


@pytest.fixture
def quiet_server(backend):
    """Loopback targets allowed, but no in-process worker: the test runs its own worker processes."""
    yield backend.server(Compat.live, webhook_allow_private_targets=True)
    clock.reset()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def independent_signature(secret: str, msg_id: str, ts: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()


def set_url(client, url, **extra):
    return ok(client.post("/tonle/v1/webhooks/endpoint", json={"url": url, **extra}))


def emit_events(server, merchant_id, n=1, kind="test.event"):
    async def go(session):
        merchant = await session.get(Merchant, merchant_id)
        return [(await emit(session, merchant, kind, {"n": i})).id for i in range(n)]

    return server.in_session(go)


def deliveries(client, **params):
    return ok(client.get("/tonle/v1/webhooks/deliveries", params=params))["items"]


def detail(client, event_id):
    return ok(client.get(f"/tonle/v1/webhooks/deliveries/{event_id}"))


def test_a_top_up_is_delivered_signed_and_exact(hook_server, receiver):
    s = Setup(hook_server)
    endpoint = set_url(s.c, receiver.url)
    secret = endpoint["secret"]
    assert secret.startswith("whsec_") and endpoint["enabled"] and endpoint["retry_profile"] == "standard"
    tran_id = s.start(12000)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    assert s.confirm(tran_id, token, 12000, bank_ref="FT777").json()["code"] == "SUCCESS"
    [got] = receiver.wait_for(1)
    assert got.headers["content-type"] == "application/json"  # exactly, no charset
    assert got.headers["accept"] == "application/json"
    body = got.json()
    event_id = got.headers["webhook-id"]
    assert body["event_id"] == event_id
    assert got.headers["webhook-signature"] == "v1," + independent_signature(
        secret, event_id, got.headers["webhook-timestamp"], got.body
    )
    verify(got.body, got.headers, secret)
    assert list(body)[:14] == [
        "tran_id",
        "tran_no",
        "payment_service_type",
        "tran_date",
        "tran_amount",
        "currency",
        "bank_code",
        "bank_name",
        "bank_ref",
        "identity_code",
        "purpose_of_transaction",
        "device_code",
        "status",
        "customers",
    ]
    assert (
        body["tran_id"],
        body["payment_service_type"],
        body["tran_amount"],
        body["currency"],
        body["bank_ref"],
        body["status"],
    ) == (tran_id, "Bank Channel", 12000, "KHR", "FT777", "success")
    assert len(body["tran_no"]) == 12 and body["bank_code"] == s.bank_code
    assert body["customers"][0]["customer_code"] == "T1" and body["customers"][0]["amount"] == 12000
    # The bytes sent are the bytes stored.
    stored = wait_until(lambda: (d := detail(s.c, event_id))["status"] == "delivered" and d)
    assert stored["body"] == body and stored["event_type"] == "topup.success" and stored["attempts"] == 1
    [attempt] = stored["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["delivered"] and '"status":"Success"' in attempt["response"]


def test_legacy_body_format(hook_server, receiver):
    s = Setup(hook_server)
    set_url(s.c, receiver.url, body_format="legacy")
    tran_id = s.start(500)["tran_id"]
    token = s.inquiry(tran_id).json()["data"]["transaction"]["payment_token"]
    s.confirm(tran_id, token, 500)
    body = receiver.wait_for(1)[0].json()
    assert {"fee_amount", "total_amount", "channel_code", "description"} <= set(body) and "tran_no" not in body


def test_receiver_down_then_up_is_delivered_with_the_attempt_log(hook_server):
    s = Setup(hook_server)
    port = free_port()
    set_url(s.c, f"http://127.0.0.1:{port}/webhook")
    [event_id] = emit_events(hook_server, s.m.id)
    wait_until(lambda: detail(s.c, event_id)["attempts"] == 1 and detail(s.c, event_id)["last_error"])
    clock.advance(6)  # past the first retry (5 s ± 10%)
    wait_until(lambda: detail(s.c, event_id)["attempts"] == 2 and detail(s.c, event_id)["last_error"])
    receiver = Receiver(port).start()
    try:
        clock.advance(6 * 60)  # past the second retry (5 min ± 10%)
        receiver.wait_for(1)
        d = wait_until(lambda: (x := detail(s.c, event_id))["status"] == "delivered" and x)
    finally:
        receiver.stop()
    log = d["attempt_log"]
    assert [a["delivered"] for a in log] == [False, False, True]
    assert all("ConnectError" in a["error"] for a in log[:2]) and log[2]["status_code"] == 200, log
    assert all(a["latency_ms"] >= 0 for a in log)


def test_500_slow_and_garbage_answers(hook_server, receiver):
    s = Setup(hook_server)
    set_url(s.c, receiver.url)
    receiver.plan.extend([("status", 500, b"boom"), ("sleep", 3, 200), ("status", 200, b"<html>not json</html>")])
    [event_id] = emit_events(hook_server, s.m.id)
    wait_until(lambda: detail(s.c, event_id)["attempts"] == 1 and detail(s.c, event_id)["last_status_code"] == 500)
    clock.advance(6)
    wait_until(
        lambda: detail(s.c, event_id)["attempts"] == 2 and "Timeout" in (detail(s.c, event_id)["last_error"] or ""),
        timeout=20,
    )
    clock.advance(6 * 60)
    d = wait_until(lambda: (x := detail(s.c, event_id))["status"] == "delivered" and x)
    log = d["attempt_log"]
    assert (log[0]["status_code"], log[0]["response"]) == (500, "boom")
    assert log[1]["status_code"] is None and "Timeout" in log[1]["error"]
    assert log[2]["status_code"] == 200 and log[2]["delivered"]  # any 2xx is an acknowledgement


def test_bill24_profile_gives_up_after_five_retries(hook_server, receiver):
    s = Setup(hook_server)
    set_url(s.c, receiver.url, retry_profile="bill24")
    receiver.plan.extend([("status", 503, b"down")] * 10)
    [event_id] = emit_events(hook_server, s.m.id)
    for n in range(1, 7):
        receiver.wait_for(n)  # the attempt reached the receiver...
        wait_until(  # ...and its outcome is recorded
            lambda n=n: detail(s.c, event_id)["attempts"] == n and detail(s.c, event_id)["last_status_code"] == 503
        )
        clock.advance(2 * 3600)
        s.c.headers["Authorization"] = "Bearer " + hook_server.authorize(s.m)["token"]  # the hours ended the token
    d = wait_until(lambda: (x := detail(s.c, event_id))["status"] == "failed" and x)
    assert d["attempts"] == 6 and len(receiver.requests) == 6


def test_endpoint_disabled_after_repeated_failures_then_resumed(backend, receiver):
    with backend.running_server(Compat.live, **FAST, webhook_disable_after_failures=3) as server:
        s = Setup(server)
        set_url(s.c, receiver.url)
        receiver.plan.extend([("status", 500, b"no")] * 3)
        ids = emit_events(server, s.m.id, 3)
        wait_until(lambda: not ok(s.c.get("/tonle/v1/webhooks/endpoint"))["enabled"])
        endpoint = ok(s.c.get("/tonle/v1/webhooks/endpoint"))
        assert endpoint["disabled_reason"] == "3 failed deliveries in a row"
        note = deliveries(s.c, event_type="webhook.endpoint.disabled")
        assert len(note) == 1 and note[0]["status"] == "info"
        before = len(receiver.requests)
        clock.advance(3 * 24 * 3600)
        s.c.headers["Authorization"] = "Bearer " + server.authorize(s.m)["token"]
        time.sleep(0.5)
        assert len(receiver.requests) == before  # held while disabled
        ok(s.c.post("/tonle/v1/webhooks/endpoint/enable"))
        wait_until(lambda: all(detail(s.c, i)["status"] == "delivered" for i in ids))
        assert ok(s.c.get("/tonle/v1/webhooks/endpoint"))["consecutive_failures"] == 0


def test_secret_rotation_signs_with_both_during_the_overlap(hook_server, receiver):
    s = Setup(hook_server)
    old = set_url(s.c, receiver.url)["secret"]
    rotated = ok(s.c.post("/tonle/v1/webhooks/secret/rotate"))
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_valid_until"]
    emit_events(hook_server, s.m.id)
    got = receiver.wait_for(1)[0]
    assert len(got.headers["webhook-signature"].split()) == 2
    verify(got.body, got.headers, new)
    verify(got.body, got.headers, old)
    clock.advance(hook_server.settings.webhook_secret_overlap_seconds + 1)
    s.c.headers["Authorization"] = "Bearer " + hook_server.authorize(s.m)["token"]
    emit_events(hook_server, s.m.id)
    later = receiver.wait_for(2)[1]
    assert len(later.headers["webhook-signature"].split()) == 1
    now = float(later.headers["webhook-timestamp"])
    verify(later.body, later.headers, new, now=now)
    with pytest.raises(WebhookVerificationError):
        verify(later.body, later.headers, old, now=now)


def test_verify_recipe():
    from tonle.kit.signing import headers as sign_headers
    from tonle.kit.signing import new_secret

    secret = new_secret()
    body = b'{"tran_id":"x"}'
    ts = int(time.time())
    h = sign_headers([secret], "evt_1", ts, body)
    verify(body, h, secret)
    verify(body.decode(), {k.upper(): v for k, v in h.items()}, secret)
    for bad_body, bad_headers, why in (
        (b'{"tran_id":"y"}', h, "no signature matches"),
        (body, {**h, "webhook-timestamp": str(ts - 301)}, "too far"),
        (body, {k: v for k, v in h.items() if k != "webhook-id"}, "missing"),
    ):
        with pytest.raises(WebhookVerificationError, match=why):
            verify(bad_body, bad_headers, secret)
    verify(body, sign_headers([secret], "evt_1", ts - 250, body), secret)  # inside the 5-minute tolerance


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "http://no-such-host.invalid/hook",
    ],
)
def test_ssrf_refusals_in_production_mode(server, url):
    c, _ = server.merchant_client()
    r = c.post("/tonle/v1/webhooks/endpoint", json={"url": url}).json()
    assert r["code"] == "ERR_INVALID_WEBHOOK_URL", (url, r)
    assert r["message"].startswith("The webhook URL was refused:")


def test_delivery_log_filters_cursor_resend_and_isolation(hook_server, receiver):
    a = Setup(hook_server)
    set_url(a.c, receiver.url)
    ids = emit_events(hook_server, a.m.id, 5, kind="log.test")
    receiver.wait_for(5)
    wait_until(lambda: len(deliveries(a.c, status="delivered", event_type="log.test")) == 5)
    page1 = ok(a.c.get("/tonle/v1/webhooks/deliveries", params={"limit": 2, "event_type": "log.test"}))
    page2 = ok(
        a.c.get(
            "/tonle/v1/webhooks/deliveries",
            params={"limit": 2, "event_type": "log.test", "cursor": page1["next_cursor"]},
        )
    )
    page3 = ok(
        a.c.get(
            "/tonle/v1/webhooks/deliveries",
            params={"limit": 2, "event_type": "log.test", "cursor": page2["next_cursor"]},
        )
    )
    seen = [e["event_id"] for e in page1["items"] + page2["items"] + page3["items"]]
    assert sorted(seen) == sorted(ids) and page3["next_cursor"] is None
    assert a.c.get("/tonle/v1/webhooks/deliveries", params={"cursor": "garbage!"}).json()["code"] == "ERR_MISSED_FIELD"
    assert ok(a.c.post(f"/tonle/v1/webhooks/deliveries/{ids[0]}/resend")) == {"resent": 1}
    receiver.wait_for(6)
    assert receiver.requests[-1].headers["webhook-id"] == ids[0]
    assert (
        ok(a.c.post("/tonle/v1/webhooks/deliveries/resend", json={"status": "delivered", "since": "2000-01-01"}))[
            "resent"
        ]
        >= 4
    )
    # Another merchant sees none of it.
    b = Setup(hook_server)
    assert deliveries(b.c) == []
    r = b.c.get(f"/tonle/v1/webhooks/deliveries/{ids[0]}").json()
    assert r["code"] == "ERR_EVENT_NOT_FOUND"
    assert b.c.post(f"/tonle/v1/webhooks/deliveries/{ids[0]}/resend").json()["code"] == "ERR_EVENT_NOT_FOUND"


def _worker(backend, **env):
    environment = {
        **backend.env(),
        "TONLE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "TONLE_WEBHOOK_LEASE_MARGIN_SECONDS": "1",
        "TONLE_WORKER_POLL_SECONDS": "0.1",
        "TONLE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tonle.cli", "worker"],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_worker_killed_mid_delivery_is_retried_after_its_lease(quiet_server, receiver):
    server = quiet_server
    s = Setup(server)
    set_url(s.c, receiver.url)
    receiver.plan.append(("sleep", 6, 200))  # the first delivery hangs while the worker is killed
    [event_id] = emit_events(server, s.m.id)
    first = _worker(server.backend)
    try:
        receiver.wait_for(1, timeout=30)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    second = _worker(server.backend)
    try:
        got = receiver.wait_for(2, timeout=30)
        d = wait_until(lambda: (x := detail(s.c, event_id))["status"] == "delivered" and x, timeout=30)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    assert [r.headers["webhook-id"] for r in got[:2]] == [event_id, event_id]  # at least once, same event id
    assert d["attempts"] == 2 and d["attempt_log"][-1]["delivered"]


def test_two_workers_deliver_a_thousand_events_once_each(quiet_server):
    pg_server = quiet_server
    if pg_server.name != "postgres":
        pytest.skip("several workers share one PostgreSQL; SQLite runs one")
    s = Setup(pg_server)
    r = Receiver().start()
    try:
        set_url(s.c, r.url)
        ids = set(emit_events(pg_server, s.m.id, 1000, kind="bulk.test"))
        workers = [_worker(pg_server.backend), _worker(pg_server.backend)]
        try:
            r.wait_for(1000, timeout=120)
            time.sleep(1)  # anything sent twice would arrive now
        finally:
            for w in workers:
                os.killpg(w.pid, signal.SIGTERM)
            for w in workers:
                w.wait(30)
        received = [x.headers["webhook-id"] for x in r.requests if x.headers["webhook-id"] in ids]
        assert len(received) == 1000 and set(received) == ids  # none lost, none twice
        assert len(deliveries(s.c, status="delivered", event_type="bulk.test", limit=200)) == 200
    finally:
        r.stop()


def _listener(port: int, secret: str) -> subprocess.Popen:
    """`tonle webhooks listen` in a process of its own (stopped with SIGINT to its group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tonle.cli", "webhooks", "listen", "--port", str(port), "--secret", secret],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_tonle_webhooks_listen_prints_and_verifies(hook_server):
    s = Setup(hook_server)
    port = free_port()
    secret = set_url(s.c, f"http://127.0.0.1:{port}/webhook")["secret"]
    listener = _listener(port, secret)
    try:
        assert "listening on" in listener.stdout.readline()
        [event_id] = emit_events(hook_server, s.m.id, kind="listen.test")
        d = wait_until(lambda: (x := detail(s.c, event_id))["status"] == "delivered" and x)
        assert '"status":"Success"' in d["attempt_log"][0]["response"]
    finally:
        os.killpg(listener.pid, signal.SIGINT)
        out, _ = listener.communicate(timeout=10)
    assert f"webhook-id={event_id}  signature OK" in out and '"event_type": "listen.test"' in out


def test_tonle_webhooks_listen_refuses_a_bad_signature_and_the_failure_is_logged(hook_server, caplog):
    """A listener given the wrong secret answers 400 with the reason, so the gateway records a failed attempt (not
    a delivery), and the server log says why."""
    s = Setup(hook_server)
    port = free_port()
    set_url(s.c, f"http://127.0.0.1:{port}/webhook")
    wrong = "whsec_" + base64.b64encode(b"not-the-merchant-secret-0123456").decode()
    listener = _listener(port, wrong)
    try:
        assert "listening on" in listener.stdout.readline()
        with caplog.at_level("WARNING", logger="tonle.webhooks"):
            [event_id] = emit_events(hook_server, s.m.id, kind="listen.forged")
            d = wait_until(lambda: (x := detail(s.c, event_id))["attempt_log"] and x)
            wait_until(lambda: any(event_id in r.getMessage() for r in caplog.records))
    finally:
        os.killpg(listener.pid, signal.SIGINT)
        out, _ = listener.communicate(timeout=10)
    attempt = d["attempt_log"][0]
    assert d["status"] != "delivered" and attempt["status_code"] == 400
    assert "invalid signature" in attempt["response"]
    assert f"webhook-id={event_id}  signature INVALID" in out
    [line] = [r.getMessage() for r in caplog.records if event_id in r.getMessage()][:1]
    assert "webhook delivery failed" in line and "HTTP 400" in line and "invalid signature" in line
