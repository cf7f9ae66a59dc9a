"""Pages a person opens: a bill's checkout link, and the sandbox bank's account-linking page."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from tonle.kit.http import Session
from tonle.kit.money import CURRENCIES, display
from tonle.kit.pages import e, form, page, redirect
from tonle.kit.timefmt import dotnet
from tonle.merchants.models import Merchant
from tonle.payments.models import Bill
from tonle.sandbox.models import Bank
from tonle.subbillers import service as subbillers
from tonle.subbillers.models import SettlementLink, SubBiller

router = APIRouter(tags=["Pages"], include_in_schema=False)

_ACCOUNT = re.compile(r"^\d{6,20}$")


@router.get("/checkoutv2/{checkout_ref}")
async def bill_checkout(checkout_ref: str, session: Session) -> HTMLResponse:
    row = (
        await session.execute(
            select(Bill, Merchant.name)
            .join(Merchant, Merchant.id == Bill.merchant_id)
            .where(Bill.checkout_ref == checkout_ref)
        )
    ).first()
    if row is None:
        return page(
            "Not found",
            '<div class="card"><h1>Checkout not found</h1><p>This payment link does not exist.</p></div>',
            404,
        )
    bill, merchant_name = row
    state = "Paid / បានបង់" if bill.status == "paid" else "Unpaid / មិនទាន់បង់"
    body = (
        f'<div class="card"><p>{e(merchant_name)}</p>'
        f'<p class="amount">{e(display(bill.total_amount, bill.currency))} {e(bill.currency)}</p>'
        f'<p><span class="status" id="bill-status">{e(state)}</span></p>'
        f"<dl><dt>Bill / វិក្កយបត្រ</dt><dd>{e(bill.ref_id)}</dd>"
        f"<dt>Due / ថ្ងៃផុតកំណត់</dt><dd>{e(dotnet(bill.due_date)[:10])}</dd>"
        f"<dt>Description</dt><dd>{e(bill.description or '-')}</dd></dl>"
        "<p>Online payment of this bill is not available yet.</p></div>"
    )
    return page(f"Bill {bill.ref_id}", body)


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
