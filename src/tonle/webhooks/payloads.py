"""Bill24's webhook bodies for payments (other-apis §2.4): the current payload, and the older checkout payload
for merchants whose code still reads it (merchant setting ``webhook_body_format = legacy``)."""

from __future__ import annotations

import hashlib
from typing import Any

from tonle.kit.money import to_major
from tonle.wire.dates import dotnet_local

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def tran_no(tran_id: str) -> str:
    """Bill24's 12-character transaction number, derived from the transaction id (stable, so never stored)."""
    n = int.from_bytes(hashlib.sha256(tran_id.encode()).digest()[:16])
    out = []
    for _ in range(12):
        n, r = divmod(n, 62)
        out.append(_ALNUM[r])
    return "".join(out)


def payment_body(
    fmt: str,
    *,
    tran_id: str,
    paid_at: Any,
    amount: int,
    fee: int,
    currency: str,
    bank_code: str,
    bank_name: str,
    bank_ref: str,
    identity_code: str,
    channel: str,
    purpose: str,
    customer_code: str,
    customer_name: str,
    description: str = "",
    device_code: str = "",
    customers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``customers`` are a checkout's bill lines as the merchant sent them; otherwise one line for the payer."""
    customers = customers or [
        {
            "branch_code": "",
            "branch_name": "",
            "customer_code": customer_code,
            "customer_name": customer_name,
            "customer_name_latin": "",
            "bill_no": "",
            "amount": to_major(amount, currency),
        }
    ]
    if fmt == "legacy":
        return {
            "tran_id": tran_id,
            "tran_date": dotnet_local(paid_at),
            "tran_amount": to_major(amount, currency),
            "fee_amount": to_major(fee, currency),
            "total_amount": to_major(amount + fee, currency),
            "currency": currency,
            "identity_code": identity_code,
            "bank_code": bank_code,
            "bank_ref": bank_ref,
            "purpose_of_transaction": purpose,
            "device_code": device_code,
            "channel_code": "",
            "status": "success",
            "description": description,
            "customers": customers,
        }
    return {
        "tran_id": tran_id,
        "tran_no": tran_no(tran_id),
        "payment_service_type": channel,
        "tran_date": dotnet_local(paid_at),
        "tran_amount": to_major(amount, currency),
        "currency": currency,
        "bank_code": bank_code,
        "bank_name": bank_name,
        "bank_ref": bank_ref,
        "identity_code": identity_code,
        "purpose_of_transaction": purpose,
        "device_code": device_code,
        "status": "success",
        "customers": customers,
    }
