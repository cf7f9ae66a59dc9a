"""Hostile bodies and slow clients: every one gets a clear answer in the envelope, never a 500, and the server keeps
serving everyone else with bounded memory."""

import json
import resource
import socket
import threading
import time

import pytest

from helpers import add_sub_biller

SETTLE = "/bill_payment/push_bill_with_payment"


def envelope_error(r, status):
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) >= {"code", "message", "data"}
    assert body["code"] not in ("SUCCESS", "000", "ERR_INTERNAL")
    return body


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("deeply nested arrays", b"[" * 30_000 + b"]" * 30_000),
        ("deeply nested objects", b'{"a":' * 9_000 + b"1" + b"}" * 9_000),
        ("NaN", b'{"sync_code": NaN}'),
        ("Infinity", b'{"sync_code": -Infinity}'),
        ("a number of 5,000 digits", b'{"sync_code": ' + b"9" * 5000 + b"}"),
        ("duplicate keys", b'{"sync_code": "C1", "sync_code": "C2", "name": "x"}'),
        ("UTF-16", '{"sync_code": "C1", "name": "x"}'.encode("utf-16")),
        ("Latin-1 bytes", b'{"sync_code": "C1", "name": "caf\xe9"}'),
        ("a lone surrogate escape", b'{"sync_code": "C1", "name": "\\ud800"}'),
        ("NUL bytes", b'{"sync_code": "C1\x00", "name": "x"}'),
        ("a NUL escape (PostgreSQL text cannot hold it)", b'{"sync_code": "C1\\u0000", "name": "x"}'),
        ("truncated", b'{"sync_code": "C1", "na'),
    ],
)
def test_malformed_json_is_400_with_an_envelope(server, name, raw):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", content=raw, headers={"Content-Type": "application/json"})
    body = envelope_error(r, 400)
    assert body["code"] == "ERR_INVALID_JSON"


def test_duplicate_keys_name_the_key(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", content=b'{"sync_code": "A", "sync_code": "B"}')
    assert r.status_code == 400
    assert r.json()["code"] == "ERR_INVALID_JSON"


@pytest.mark.parametrize(
    "value",
    [
        "1e999999999",
        "-1e999999999",
        "1e-999999999",
        "123456789012345678901234567890",
        "0.000000000000000000000000000001",
        '"1e999999999"',
        "true",
        "[]",
        "{}",
    ],
)
def test_absurd_amounts_are_validation_errors(server, value):
    c, m = server.merchant_client()
    add_sub_biller(server, m.id, "SP001")
    c.post("/customer/create", json={"sync_code": "C1", "name": "A", "wallet": [{"name": "K", "currency": "KHR"}]})
    raw = (
        '{"ref_id": "R1", "date": "2025-11-06", "due_date": "2099-01-01", "currency": "KHR", "total_amount": '
        + value
        + ', "customer_sync_code": "C1", "payment_to": "SP001", "hash": "x"}'
    )
    r = c.post(SETTLE, content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["code"] not in ("SUCCESS", "000", "ERR_INTERNAL")
    assert len(r.content) < 2000  # nothing echoed back at the size of the exponent


def test_huge_strings_are_refused_by_length_rules(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", json={"sync_code": "C" * 60_000, "name": "x"})
    assert r.status_code == 200
    assert r.json()["code"] == "ERR_MISSED_FIELD"
    assert len(r.content) < 2000


def test_a_chunked_body_over_the_limit_is_413(server):
    c, _ = server.merchant_client()

    def chunks():
        for _ in range(200):
            yield b" " * 1024  # 200 KiB of whitespace, no Content-Length: the limit is counted as it arrives

    r = c.post("/customer/create", content=chunks(), headers={"Content-Type": "application/json"})
    envelope_error(r, 413)


def _raw_connection(server):
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_a_trickled_body_is_cut_off_with_408(backend):
    server = backend.server(body_timeout_seconds=1)
    _, m = server.merchant_client()
    token = server.authorize(m)["token"]
    s = _raw_connection(server)
    try:
        body = b'{"sync_code": "C1", "name": "slow"}'
        s.sendall(
            b"POST /customer/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        started = time.monotonic()
        for byte in body[:10]:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break  # the server already answered and closed
            time.sleep(0.3)
        s.settimeout(10)
        answer = s.recv(65536).decode("latin-1")
    finally:
        s.close()
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert "ERR_REQUEST_TIMEOUT" in answer
    assert time.monotonic() - started < 8
    # Nothing of the half-sent request was acted on.
    c = server.client(token)
    assert c.post("/customer/get_customer_detail", json={"sync_code": "C1"}).json()["code"] != "SUCCESS"


def test_slow_clients_do_not_stop_service(server):
    """200 connections that send their headers a byte a second (slowloris) for a few seconds: meanwhile ordinary
    requests are answered promptly, and the server's memory stays bounded. The header phase has no timeout in
    uvicorn itself; docs/reliability.md says to put a proxy with client_header_timeout in front for that."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stop = threading.Event()
    socks = []
    for _ in range(200):
        s = _raw_connection(server)
        s.sendall(b"POST /customer/create HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)

    def trickle():
        while not stop.is_set():
            for s in socks:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            stop.wait(1)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        c, _ = server.merchant_client()
        worst = 0.0
        for i in range(20):
            started = time.monotonic()
            r = c.post("/customer/create", json={"sync_code": f"S{i}", "name": "x"})
            worst = max(worst, time.monotonic() - started)
            assert r.json()["code"] == "SUCCESS", r.text
        assert worst < 2.0, worst
    finally:
        stop.set()
        t.join()
        for s in socks:
            s.close()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, grown_mb


def test_wrong_shapes_everywhere_never_500(server):
    """Every JSON type in place of every field of a settle body: validation answers, never a crash."""
    c, _ = server.merchant_client()
    fields = [
        "ref_id",
        "date",
        "due_date",
        "currency",
        "total_amount",
        "customer_sync_code",
        "payment_to",
        "hash",
        "details",
        "payment_method_token",
        "description",
    ]
    base = {f: "x" for f in fields}
    for field in fields:
        for value in (None, True, 0, -1, 1.5, "", " " * 10, [], {}, [1, 2], {"a": {"b": []}}, "\u202e\u0000"):
            body = dict(base, **{field: value})
            r = c.post(SETTLE, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            assert r.status_code in (200, 400), (field, value, r.status_code, r.text[:200])
            assert r.json()["code"] not in ("SUCCESS", "000", "ERR_INTERNAL"), (field, value)


@pytest.mark.parametrize(
    "url",
    [
        "/tonle/v1/webhooks/deliveries?status=%2B%C3%85%0F%00un",  # the stateful fuzzer's find (a 500 on PostgreSQL)
        "/tonle/v1/webhooks/deliveries?event_type=a%00b",
        "/instant_payment/get_single_bill/%00",
        "/checkout/AB%00CD",
    ],
)
def test_a_nul_in_the_url_is_refused_at_the_edge(server, url):
    c, _ = server.merchant_client()
    body = envelope_error(c.get(url), 400)
    assert (body["code"], body["message"]) == ("ERR_INVALID_URL", "The request URL holds a NUL character (%00).")


def test_the_delivery_log_names_a_state_it_does_not_know(server):
    c, _ = server.merchant_client()
    body = c.get("/tonle/v1/webhooks/deliveries", params={"status": "sent"}).json()
    assert (body["code"], body["message"]) == (
        "ERR_MISSED_FIELD",
        "[status] must be pending, delivered, failed, no_endpoint or info.",
    )
    assert c.get("/tonle/v1/webhooks/deliveries", params={"status": "failed"}).json()["code"] == "000"
