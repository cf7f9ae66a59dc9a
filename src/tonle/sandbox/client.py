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


def _sdk(c: httpx.Client, creds: MerchantCreds, path: str, plain: dict[str, Any]) -> Any:
    """An encrypted SDK call: the answer's data, decrypted when it is."""
    blob = sdkcrypto.encrypt(creds.sdk_secret, plain)
    headers = {"token": creds.merchant_token, "X-Referrer-Key": creds.referrer_key}
    data = _ok(c.post(path, json={"encrypted": blob}, headers=headers), "000")
    if isinstance(data, dict) and "encrypted" in data:
        return sdkcrypto.decrypt(creds.sdk_secret, data["encrypted"])
    return data


def method_link(base: str, creds: MerchantCreds, sync_code: str, kind: str, web_url: str = "") -> str:
    """The page a customer puts a card or account on file on, as the SDK opens it."""
    with httpx.Client(base_url=base, timeout=30) as c:
        plain = {"customer_sync_code": sync_code, "type": kind, "web_url": web_url}
        return _sdk(c, creds, "/instantpaymentsdk/payment_method/add", plain)["link_url"]


def _field(html_text: str, pattern: str, what: str) -> str:
    import re

    found = re.search(pattern, html_text)
    if found is None:
        raise SandboxError(what)
    return found.group(1).replace("&amp;", "&")


def _ended(r: httpx.Response, c: httpx.Client, link: str) -> dict[str, str]:
    """Where a link page's journey ended: back at the biller (``returned_to``) or on Tonle's outcome page."""
    from urllib.parse import parse_qs, urlsplit

    if r.status_code == 303:
        where = r.headers["location"]
        if where.startswith("/pay/methods/"):
            return _ended(c.get(httpx.URL(link).join(where)), c, link)
        status = parse_qs(urlsplit(where).query).get("status", [""])[0]
        return {"outcome": status, "returned_to": where}
    if r.status_code == 200 and 'id="outcome"' in r.text:
        return {"outcome": "success" if 'class="icon ok"' in r.text else "cancelled", "returned_to": ""}
    if r.status_code == 200 and 'id="error"' in r.text:
        raise SandboxError(_field(r.text, r'id="error" role="alert">([^<]+)<', "refused"))
    raise SandboxError(f"the page did not finish (HTTP {r.status_code})")


def add_card(
    base: str, creds: MerchantCreds, sync_code: str, number: str, exp: str, cvc: str = "123", code: str | None = None
) -> dict[str, str]:
    """Put a card on file as the customer would: the link page's card form, posted to the card vault, the one-time
    code when the card asks for one (the sandbox shows it; ``code`` overrides it, "" gives none)."""
    link = method_link(base, creds, sync_code, "card")
    with httpx.Client(timeout=30, follow_redirects=False) as c:
        page = c.get(link + "?lang=en")
        if page.status_code != 200:
            raise SandboxError(f"the card page cannot be used (HTTP {page.status_code})")
        action = _field(page.text, r'<form method="post" action="([^"]+)" id="card-form"', "no card form on the page")
        ref = _field(page.text, r'name="link" value="([^"]+)"', "no card form on the page")
        target = httpx.URL(link).join(action)
        r = c.post(target, data={"link": ref, "number": number, "exp": exp, "cvc": cvc})
        if r.status_code == 200 and 'id="sandbox-code"' in r.text:
            shown = _field(r.text, r"the code is (\d{6})", "no code shown")
            confirm = httpx.URL(link).join(_field(r.text, r'<form method="post" action="([^"]+)"', "no code form"))
            r = c.post(confirm, data={"code": shown if code is None else code})
        return _ended(r, c, link)


def add_account(base: str, creds: MerchantCreds, sync_code: str, bank: str, account: str) -> dict[str, str]:
    """Put a bank account on file as the customer would: the link page, the bank's page, the one-time code."""
    link = method_link(base, creds, sync_code, "bank_account")
    with httpx.Client(timeout=30, follow_redirects=False) as c:
        page = c.get(link + "?lang=en")
        if page.status_code != 200:
            raise SandboxError(f"the link page cannot be used (HTTP {page.status_code})")
        href = httpx.URL(link).join(
            _field(page.text, rf'id="bank-{bank}" href="([^"]+)"', f"bank {bank} is not offered on the page")
        )
        at_bank = c.get(href)
        if f'value="{account}"' not in at_bank.text:
            raise SandboxError(f"bank {bank} has no open account {account}")
        sent = c.post(href, data={"action": "send", "account": account})
        shown = _field(sent.text, r"the code is (\d{6})", "the bank sent no code")
        return _ended(c.post(href, data={"action": "confirm", "code": shown}), c, link)


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
