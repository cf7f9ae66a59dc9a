"""The sandbox CLI's HTTP side: drives the same endpoints a merchant's SDK and a bank call, over HTTP."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from tonle.wire import sdkcrypto, wirejson


class SandboxError(RuntimeError):
    """A refusal: ``code`` and the texts of the answer, when there was one."""

    def __init__(self, message: str, code: str = "", kh: str = "", data: Any = None) -> None:
        super().__init__(message)
        self.code, self.en, self.kh, self.data = code, message.partition(": ")[2] or message, kh, data


@dataclass
class MerchantCreds:
    merchant_token: str
    client_id: str
    client_secret: str
    referrer_key: str
    sdk_secret: str


# The demo sandbox's credentials (fixtures/demo.json): public by design, the CLI's defaults.
DEMO = MerchantCreds(
    merchant_token="3687203e-1cf4-43de-8a1c-c2192248132a",  # noqa: S106
    client_id="demo-client",
    client_secret="demo-secret",  # noqa: S106
    referrer_key="demo-referrer",
    sdk_secret="demo-sdk-shared-secret",  # noqa: S106
)
DEMO_BANK_TOKEN = "demo-bank-token"  # noqa: S105


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = wirejson.loads(r.content)
    except wirejson.InvalidJSON:
        raise SandboxError(f"HTTP {r.status_code}: {r.text[:200]}") from None
    if r.status_code >= 400 or not isinstance(body, dict):
        raise SandboxError(f"HTTP {r.status_code}: {r.text[:300]}")
    return body


def _ok(r: httpx.Response, *success: object) -> Any:
    body = _json(r)
    if body.get("code") not in success:
        raise SandboxError(
            f"{body.get('code')}: {body.get('message')}",
            str(body.get("code")),
            str(body.get("message_kh") or ""),
            body.get("data"),
        )
    return body.get("data")


def topup(base_url: str, creds: MerchantCreds, sync_code: str, amount: Decimal, currency: str) -> dict[str, Any]:
    """Authorize, find the customer's wallet in ``currency``, and open a top-up through the encrypted SDK endpoint."""
    with httpx.Client(base_url=base_url, timeout=30) as c:
        auth = _ok(
            c.post(
                "/merchantsecurity/authorize",
                json={
                    "token": creds.merchant_token,
                    "clientId": creds.client_id,
                    "secret": creds.client_secret,
                    "refreshToken": "",
                },
            ),
            200,
        )
        detail = _ok(
            c.post(
                "/customer/get_customer_detail",
                json={"sync_code": sync_code},
                headers={"Authorization": f"Bearer {auth['token']}"},
            ),
            "000",
        )
        wallet = next((w for w in detail["walletBalances"] if w["currency"] == currency.upper()), None)
        if wallet is None:
            raise SandboxError(f"customer {sync_code} has no {currency.upper()} wallet")
        blob = sdkcrypto.encrypt(creds.sdk_secret, {"id": wallet["id"], "amount": amount})
        data = _ok(
            c.post(
                "/instantpaymentsdk/wallet/topup",
                content=wirejson.dumps({"encrypted": blob}),
                headers={
                    "token": creds.merchant_token,
                    "X-Referrer-Key": creds.referrer_key,
                    "Content-Type": "application/json",
                },
            ),
            "000",
        )
        return sdkcrypto.decrypt(creds.sdk_secret, data["encrypted"])


def pay(base_url: str, bank_token: str, tran_id: str, bank_ref: str | None = None) -> dict[str, Any]:
    """What a bank does: inquiry for the amounts and a payment token, then confirm with them."""
    headers = {"token": bank_token, "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        found = _ok(
            c.post("/payment/v5/inquiry", json={"identity_code": tran_id, "fee_channel": "MERCHANT"}, headers=headers),
            "SUCCESS",
        )
        t = found["transaction"]
        confirm = {
            "identity_code": tran_id,
            "fee_channel": t["fee_channel"],
            "bank_ref": bank_ref or f"SBX{uuid.uuid4().hex[:12].upper()}",
            "bank_date": dt.date.today().isoformat(),
            "original_amount": t["original_amount"],
            "convenience_fee_amount": 0,
            "sponsor_fee_amount": 0,
            "total_amount": t["total_amount"],
            "currency": t["currency"],
            "description": "sandbox payment",
            "payment_token": t["payment_token"],
            "payer_account_no": "000111222",
            "payer_account_name": "SANDBOX PAYER",
            "payer_phone": "012000000",
        }
        return _ok(c.post("/payment/v3/confirm", content=wirejson.dumps(confirm), headers=headers), "SUCCESS")


def bill_lookup(base_url: str, bank_token: str, biller_code: str, consumer_code: str) -> dict[str, Any]:
    """A bank's look-up of a bill by biller code and consumer code."""
    headers = {"token": bank_token, "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, timeout=30) as c:
        body = {"bill_code": biller_code, "customer_code": consumer_code}
        return _ok(c.post("/payment/v3/inquiry/single", json=body, headers=headers), "SUCCESS")


def bill_confirm(
    base_url: str,
    bank_token: str,
    tran_id: str,
    payment_token: str,
    amount: object,
    currency: str,
    bank_ref: str | None = None,
) -> dict[str, Any]:
    """A bank's confirm of a looked-up bill, for ``amount``."""
    headers = {"token": bank_token, "Content-Type": "application/json"}
    confirm = {
        "identity_code": tran_id,
        "fee_channel": "MERCHANT",
        "bank_ref": bank_ref or f"SBX{uuid.uuid4().hex[:12].upper()}",
        "bank_date": dt.date.today().isoformat(),
        "total_amount": amount,
        "currency": currency,
        "description": "sandbox bill payment",
        "payment_token": payment_token,
        "payer_account_no": "000111222",
        "payer_account_name": "SANDBOX PAYER",
        "payer_phone": "012000000",
    }
    with httpx.Client(base_url=base_url, timeout=30) as c:
        return _ok(c.post("/payment/v3/confirm", content=wirejson.dumps(confirm), headers=headers), "SUCCESS")


def pay_bill(
    base_url: str,
    bank_token: str,
    biller_code: str,
    consumer_code: str,
    amount: Decimal | None = None,
    bank_ref: str | None = None,
) -> dict[str, Any]:
    """What a bank app does for a bill: look it up, then confirm the amount due (or ``amount``). Answers both."""
    found = bill_lookup(base_url, bank_token, biller_code, consumer_code)
    t = found["transaction"]
    total = amount if amount is not None else t["total_amount"]
    paid = bill_confirm(base_url, bank_token, t["tran_id"], t["payment_token"], total, t["currency"], bank_ref)
    return {"lookup": found, "paid": paid}


def payout_result(base_url: str, bank_token: str, payout_id: str, *, paid: bool, reason: str = "") -> dict[str, Any]:
    """What the bank does when a payout lands (or bounces)."""
    body = {
        "payout_id": payout_id,
        "status": "paid" if paid else "failed",
        "bank_ref": f"SBX{uuid.uuid4().hex[:12].upper()}" if paid else "",
        "reason": reason,
    }
    with httpx.Client(base_url=base_url, timeout=30) as c:
        return _ok(c.post("/payment/v3/payout/result", json=body, headers={"token": bank_token}), "SUCCESS")


def subscribe(
    base: str, referrer_key: str, subscription_no: str, bank: str, account: str, *, decline: bool = False
) -> dict[str, str]:
    """Consent to a direct debit as the customer would: the subscription page (as the ADD SDK opens it), the
    bank's link on it, the bank's consent page, approve or decline with the account. Answers where it ended."""
    import re

    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as c:
        r = c.get(
            f"/checkoutv2/subscription/number/{subscription_no}?lang=en", headers={"X-Referrer-Key": referrer_key}
        )
        if r.status_code != 303:
            raise SandboxError(f"no subscription {subscription_no} for this referrer key (HTTP {r.status_code})")
        page = c.get(r.headers["location"])
        if page.status_code != 200:
            raise SandboxError(f"the subscription page cannot be used (HTTP {page.status_code})")
        link = re.search(rf'id="bank-{re.escape(bank)}" href="([^"]+)"', page.text)
        if link is None:
            raise SandboxError(f"bank {bank} is not offered on the subscription page")
        href = link.group(1).replace("&amp;", "&")
        consent = c.get(href)
        if consent.status_code != 200:
            raise SandboxError(f"the bank's consent page cannot be used (HTTP {consent.status_code})")
        if not decline and f'value="{account}"' not in consent.text:
            raise SandboxError(f"bank {bank} has no open account {account}")
        done = c.post(href, data={"action": "decline" if decline else "approve", "account": account})
        if done.status_code == 303:
            return {"outcome": "Declined" if decline else "Active", "returned_to": done.headers["location"]}
        if done.status_code == 200 and 'id="outcome"' in done.text:
            return {"outcome": "Declined" if decline else "Active", "returned_to": ""}
        raise SandboxError(f"the bank did not take the decision (HTTP {done.status_code})")


def clock(base: str, action: str, by: str = "0s") -> dict[str, Any]:
    with httpx.Client(base_url=base, timeout=600) as c:
        r = c.get("/sandbox/clock") if action == "show" else c.post(f"/sandbox/clock/{action}", json={"by": by})
    body = _json_any(r)
    if r.status_code != 200:
        raise SandboxError(str(body.get("error") or f"HTTP {r.status_code}"))
    return body


def _json_any(r: httpx.Response) -> dict[str, Any]:
    try:
        body = wirejson.loads(r.content)
    except wirejson.InvalidJSON:
        raise SandboxError(f"HTTP {r.status_code}: {r.text[:200]}") from None
    return body if isinstance(body, dict) else {}
