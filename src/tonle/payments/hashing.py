"""The settle-payment signature (spec §2.11): Base64(HMAC-SHA512(key = bill hash key,
msg = ref_id + date(yyyyMMddHHmmss) + currency + total_amount + customer_sync_code + payment_to))."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from decimal import Decimal


def amount_text(value: int | Decimal) -> str:
    """``total_amount`` as JavaScript's String() writes it: ``500``, ``10.5`` (no exponent, no trailing zeros)."""
    if isinstance(value, int):
        return str(value)
    d = value.normalize()
    return format(d, "f") if d != d.to_integral_value() else str(int(d))


def bill_message(
    ref_id: str, date: datetime, currency: str, total: int | Decimal, customer_sync_code: str, payment_to: str
) -> str:
    return f"{ref_id}{date.strftime('%Y%m%d%H%M%S')}{currency}{amount_text(total)}{customer_sync_code}{payment_to}"


def sign(message: str, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha512).digest()).decode()


def verify(message: str, key: str, given: str) -> bool:
    return hmac.compare_digest(sign(message, key).encode(), given.strip().encode())
