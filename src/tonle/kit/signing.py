"""Standard Webhooks signatures: ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``.

The secret is ``whsec_`` + base64 of the key bytes. During a rotation both the new and the previous secret sign,
and the header carries both signatures separated by a space; a receiver accepts a delivery when any of them
verifies. ``verify`` is the receiving side, for merchants (and ``tonle webhooks listen``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Mapping

PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds of clock skew accepted by verify()


class WebhookVerificationError(ValueError):
    pass


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(24)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        return base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def is_valid_secret(secret: str) -> bool:
    try:
        return len(secret_key(secret)) >= 16
    except ValueError:
        return False


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key(secret), signed, hashlib.sha256).digest()).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }


def verify(
    body: bytes | str,
    headers_: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise WebhookVerificationError unless one of the delivery's signatures was made with ``secret`` over this
    exact body, and its timestamp is within ``tolerance`` seconds of now (replays of old deliveries fail)."""
    lower = {k.lower(): v for k, v in headers_.items()}
    msg_id, ts, sigs = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(ts)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, msg_id, timestamp, raw).split(",", 1)[1]
    for candidate in sigs.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return
    raise WebhookVerificationError("no signature matches")
