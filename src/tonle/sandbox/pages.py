"""The sandbox banks' pages: the account-linking page, and the payment page a checkout sends a customer to."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tonle.checkout import service as checkout
from tonle.kit.http import Session
from tonle.kit.money import CURRENCIES, display
from tonle.kit.pages import e, form, page, redirect
from tonle.payments.topup import effective_status
from tonle.sandbox import client
from tonle.sandbox.models import Bank
from tonle.subbillers import service as subbillers
from tonle.subbillers.models import SettlementLink, SubBiller

router = APIRouter(tags=["Pages"], include_in_schema=False)

_ACCOUNT = re.compile(r"^\d{6,20}$")


def _link_problem(err: subbillers.LinkPageError, sub: SubBiller | None) -> HTMLResponse:
    text = {
        "unknown": "This link does not exist.",
        "used": "This link was already used. Nothing was changed.",
        "expired": "This link has expired. Nothing was changed; ask for a new one.",
    }[err.reason]
    back = ""
    if err.link is not None and sub is not None and err.reason == "expired":
        href = e(subbillers.return_redirect(err.link, sub, "expired"))
        back = f'<p><a id="return" href="{href}">Return to the merchant</a></p>'
    return page(
        "Link unavailable", f'<div class="card"><h1>Link unavailable</h1><p id="reason">{e(text)}</p>{back}</div>', 410
    )


async def _sub_of(session: Session, err: subbillers.LinkPageError) -> SubBiller | None:
    return await session.get(SubBiller, err.link.sub_biller_id) if err.link is not None else None


def _link_form(
    link: SettlementLink, sub: SubBiller, bank: Bank, error: str = "", values: dict[str, str] | None = None
) -> HTMLResponse:
    v = values or {}
    logo = f'<img class="logo" src="{e(bank.logo)}" alt="">' if bank.logo else ""
    restriction = link.currency_restriction
    if restriction:
        currency_field = f'<p>Currency: <strong id="currency">{e(restriction)}</strong> only</p>'
    else:
        options = "".join(
            f'<option value="{c}"{" selected" if v.get("currency") == c else ""}>{c}</option>' for c in CURRENCIES
        )
        currency_field = (
            f'<label for="currency">Account currency</label><select id="currency" name="currency">{options}</select>'
        )
    err = f'<p class="error" id="error">{e(error)}</p>' if error else ""
    body = (
        f'<div class="card">{logo}<h1 id="bank-name">{e(bank.name)}</h1>'
        f'<p>Link a settlement account for <strong id="sub-biller">{e(sub.name)}</strong>'
        f"{' (' + e(sub.name_kh) + ')' if sub.name_kh else ''}.</p>{err}"
        '<form method="post">'
        '<label for="account_number">Account number</label>'
        '<input id="account_number" name="account_number" inputmode="numeric" '
        f'value="{e(v.get("account_number", ""))}">'
        '<label for="account_name">Account holder name</label>'
        f'<input id="account_name" name="account_name" value="{e(v.get("account_name", ""))}">'
        f"{currency_field}"
        '<button class="primary" id="approve" name="action" value="approve">Approve</button>'
        '<button id="reject" name="action" value="reject">Reject</button>'
        "</form></div>"
    )
    return page(f"{bank.name}: link an account", body)


@router.get("/sandbox/bank/link/{token}")
async def link_page(token: str, session: Session) -> Response:
    try:
        link, sub, bank = await subbillers.open_link(session, token)
    except subbillers.LinkPageError as err:
        return _link_problem(err, await _sub_of(session, err))
    return _link_form(link, sub, bank)


@router.post("/sandbox/bank/link/{token}")
async def link_decide(token: str, request: Request, session: Session) -> Response:
    try:
        link, sub, bank = await subbillers.open_link(session, token)
    except subbillers.LinkPageError as err:
        return _link_problem(err, await _sub_of(session, err))
    fields = await form(request)
    if fields.get("action") == "reject":
        decided = await subbillers.decide(session, link, sub, approve=False)
        return redirect(subbillers.return_redirect(decided, sub, "rejected"))
    number = fields.get("account_number", "").replace(" ", "")
    name = fields.get("account_name", "").strip()
    currency = link.currency_restriction or fields.get("currency", "")
    if not _ACCOUNT.match(number):
        return _link_form(link, sub, bank, "The account number must be 6 to 20 digits.", fields)
    if not name or len(name) > 100:
        return _link_form(link, sub, bank, "Enter the account holder's name.", fields)
    if currency not in CURRENCIES:
        return _link_form(link, sub, bank, "Choose the account currency.", fields)
    try:
        decided = await subbillers.decide(
            session, link, sub, approve=True, account_number=number, account_name=name, currency=currency
        )
    except subbillers.LinkPageError as err:
        return _link_problem(err, sub)
    return redirect(subbillers.return_redirect(decided, sub, "active"))


@router.get("/sandbox/bank/{bank_code}/pay/{tran_id}")
async def bank_pay_page(bank_code: str, tran_id: str, session: Session) -> Response:

    bank = await session.get(Bank, bank_code)
    found = await checkout.by_tran_id(session, tran_id)
    if bank is None or found is None:
        return page("Not found", '<div class="card"><h1>Payment not found</h1></div>', 404)
    tran, co, merchant = found
    state = effective_status(tran)
    total = f"{display(tran.amount + tran.fee, tran.currency)} {tran.currency}"
    action = (
        '<form method="post"><button class="primary" id="pay" name="action" value="pay">Pay</button>'
        f'<a href="/checkout/{e(tran.id)}" id="decline">Decline</a></form>'
        if state == "pending"
        else f'<p class="status" id="state">{e(state)}</p>'
    )
    body = (
        f'<div class="card"><h1 id="bank-name">{e(bank.name)}</h1><p>Pay <strong>{e(merchant.name)}</strong></p>'
        f'<p class="amount" id="total">{e(total)}</p><p>{e(co.identity_code)}</p>{action}</div>'
    )
    return page(f"{bank.name}: pay", body)


@router.post("/sandbox/bank/{bank_code}/pay/{tran_id}")
async def bank_pay(bank_code: str, tran_id: str, request: Request, session: Session) -> Response:
    """The sandbox bank pays as a real bank would: inquiry, then confirm, over HTTP against Tonle's bank API, with
    the bank's own token. Then the customer is sent back to the checkout page."""

    bank = await session.get(Bank, bank_code)
    if bank is None or not bank.sandbox_token:
        return page(
            "Bank unavailable", '<div class="card"><p id="reason">This bank cannot pay from its page.</p></div>', 400
        )
    token = bank.sandbox_token
    await session.commit()  # hold nothing while the bank API (this same server) is called
    base = request.app.state.settings.issuer
    try:
        await asyncio.to_thread(client.pay, base, token, tran_id)
    except client.SandboxError as exc:
        return page("Payment refused", f'<div class="card"><p class="error" id="error">{e(str(exc))}</p></div>', 400)
    return redirect(f"/checkout/{tran_id}")
