"""The Notification API (spec §8) against local fakes: an SMTP server, a Telegram Bot API, an SMS gateway."""

import email
import time

import pytest
from aiosmtpd.controller import Controller

from receiver import Receiver, free_port, wait_until
from tonle.config import Compat
from tonle.kit.clock import clock


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture(scope="module")
def fakes():
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    http = Receiver().start()  # plays the Telegram Bot API and the SMS gateway
    yield inbox, smtp.port, http
    smtp.stop()
    http.stop()


@pytest.fixture
def notify_server(backend, fakes):
    _inbox, smtp_port, http = fakes
    with backend.running_server(
        Compat.live,
        worker_in_process=True,
        worker_poll_seconds=0.05,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        telegram_bot_token="123:TEST",
        telegram_api_url=f"http://127.0.0.1:{http.port}",
        sms_gateway_url=f"http://127.0.0.1:{http.port}/sms",
        sms_gateway_token="gw-secret",
    ) as server:
        yield server


def send(client, messages):
    return client.post("/notification/v1/notificationmessage/send", json=messages)


def status_of(client, notification_id):
    return client.get(f"/notification/v1/notificationmessage/{notification_id}").json()["data"]


def test_email_is_sent_over_smtp(notify_server, fakes):
    inbox = fakes[0]
    c, _ = notify_server.merchant_client()
    before = len(inbox.messages)
    msg = {
        "channels": [
            {
                "channel": "email",
                "to": "dara@example.com",
                "metaData": {
                    "retryOnFailure": True,
                    "cc": "boss@example.com",
                    "bcc": "",
                    "attachments": "",
                    "separateTo": False,
                },
            }
        ],
        "subject": "Receipt",
        "message": "You paid 5,000 KHR.",
        "refId": "REF-MAIL-1",
    }
    r = send(c, [msg])
    body = r.json()
    assert (r.status_code, body["code"], body["message"]) == (200, "SUCCESS", "Request success")
    assert set(body) == {"code", "message", "data"}  # family G: no message_kh
    [answer] = body["data"]
    nid = answer.pop("notificationId")
    assert answer == {"status": 0, "exception": "", **msg}
    wait_until(lambda: len(inbox.messages) > before)
    rcpts, mail = inbox.messages[-1]
    assert sorted(rcpts) == ["boss@example.com", "dara@example.com"]
    assert mail["Subject"] == "Receipt" and mail["Cc"] == "boss@example.com" and "5,000 KHR" in mail.get_payload()
    assert wait_until(lambda: status_of(c, nid)["channels"][0]["status"] == "sent")


def test_telegram_and_sms_through_their_http_apis(notify_server, fakes):
    http = fakes[2]
    c, _ = notify_server.merchant_client()
    http.plan.extend([("status", 200, b'{"ok":true,"result":{}}'), ("status", 200, b'{"accepted":true}')])
    start = len(http.requests)
    r = send(
        c,
        [
            {
                "channels": [
                    {
                        "channel": "telegram",
                        "to": "user_telegram_id",
                        "metaData": {"retryOnFailure": False, "parseMode": "html"},
                    },
                    {"channel": "sms", "to": "0763407346", "metaData": {"retryOnFailure": False}},
                ],
                "subject": "OTP",
                "message": "Your code is <b>0092</b>",
                "refId": "REF0092",
            }
        ],
    ).json()
    nid = r["data"][0]["notificationId"]
    wait_until(lambda: all(ch["status"] == "sent" for ch in status_of(c, nid)["channels"]))
    # Sent in the order queued (the plan above answers Telegram first): on PostgreSQL they once went in storage order.
    assert [x.path for x in http.requests[start:]] == ["/bot123:TEST/sendMessage", "/sms"]
    got = {x.path: x for x in http.requests[start:]}
    tg = got["/bot123:TEST/sendMessage"].json()
    assert tg["chat_id"] == "user_telegram_id" and tg["parse_mode"] == "HTML" and "0092" in tg["text"]
    sms = got["/sms"]
    assert sms.json() == {"to": "0763407346", "message": "Your code is <b>0092</b>"}
    assert sms.headers["authorization"] == "Bearer gw-secret"


def test_retry_on_failure_waits_five_minutes(notify_server, fakes):
    http = fakes[2]
    c, _m = notify_server.merchant_client()
    http.plan.extend([("status", 502, b"bad gateway"), ("status", 200, b"{}")])
    r = send(
        c,
        [
            {
                "channels": [{"channel": "sms", "to": "012", "metaData": {"retryOnFailure": True}}],
                "subject": "S",
                "message": "M",
                "refId": "R",
            }
        ],
    ).json()
    nid = r["data"][0]["notificationId"]
    wait_until(lambda: status_of(c, nid)["channels"][0]["attempts"] == 1)
    time.sleep(0.3)
    first = status_of(c, nid)["channels"][0]
    assert first["status"] == "queued" and "502" in first["error"]
    clock.advance(5 * 60 + 1)
    assert wait_until(lambda: status_of(c, nid)["channels"][0]["status"] == "sent")


def test_without_retry_a_failure_is_final(notify_server, fakes):
    http = fakes[2]
    c, _ = notify_server.merchant_client()
    http.plan.append(("status", 500, b"no"))
    nid = send(
        c,
        [
            {
                "channels": [{"channel": "sms", "to": "012", "metaData": {"retryOnFailure": False}}],
                "subject": "S",
                "message": "M",
                "refId": "R",
            }
        ],
    ).json()["data"][0]["notificationId"]
    ch = wait_until(lambda: (x := status_of(c, nid)["channels"][0])["status"] == "failed" and x)
    assert ch["attempts"] == 1 and "HTTP 500" in ch["error"]


def test_unconfigured_channels_give_a_per_message_error(server):
    c, _ = server.merchant_client()  # this server has no SMTP, Telegram or SMS settings
    r = send(
        c,
        [
            {
                "channels": [{"channel": "email", "to": "a@b.co", "metaData": {}}],
                "subject": "S",
                "message": "M",
                "refId": "R1",
            },
            {
                "channels": [
                    {"channel": "log", "to": "dev", "metaData": {}},
                    {"channel": "sms", "to": "1", "metaData": {}},
                ],
                "subject": "S",
                "message": "M",
                "refId": "R2",
            },
        ],
    ).json()
    first, second = r["data"]
    assert (first["status"], first["exception"]) == (2, "email: the channel is not configured on this gateway")
    assert (second["status"], second["exception"]) == (1, "sms: the channel is not configured on this gateway")


def test_validation_and_isolation(notify_server):
    c, _ = notify_server.merchant_client()
    assert send(c, {"not": "an array"}).json() == {
        "code": "ERR_MISSED_FIELD",
        "message": "The body must be a non-empty JSON array of messages.",
        "data": None,
    }
    bad = send(c, [{"channels": [{"channel": "fax", "to": ""}], "subject": "", "message": "m", "refId": "r"}]).json()
    assert bad["code"] == "ERR_MISSED_FIELD"
    assert (
        bad["message"]
        == "Please provide [0].subject, [0].channels[0].channel must be one of sms, telegram, email, log, "
        "Please provide [0].channels[0].to."
    )
    tg = send(
        c,
        [
            {
                "channels": [{"channel": "telegram", "to": "x", "metaData": {}}],
                "subject": "s",
                "message": "m",
                "refId": "r",
            }
        ],
    ).json()
    assert tg["message"] == "Please provide [0].channels[0].metaData.parseMode."
    nid = send(
        c,
        [{"channels": [{"channel": "log", "to": "dev", "metaData": {}}], "subject": "s", "message": "m", "refId": "r"}],
    ).json()["data"][0]["notificationId"]
    other, _ = notify_server.merchant_client("Other")
    assert other.get(f"/notification/v1/notificationmessage/{nid}").json()["code"] == "404"
