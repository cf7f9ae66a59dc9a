"""The sub-biller portal: balances, settlements, linked accounts and payouts, behind a signed expiring URL."""

from __future__ import annotations

from typing import Any

import jwt
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from tonle.kit.http import Session
from tonle.kit.money import CURRENCIES, AmountError, display, to_minor
from tonle.kit.pages import e, form, page, redirect
from tonle.kit.timefmt import clock, dotnet_local, epoch
from tonle.payments.models import Bill
from tonle.subbillers import service
from tonle.subbillers.models import Payout, SettlementLink, SubBiller
from tonle.subbillers.router import PORTAL_AUDIENCE

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "balances": "Settlement balances",
        "settlements": "Recent settlements",
        "accounts": "Linked accounts",
        "payouts": "Payouts",
        "request": "Request a payout",
        "account": "To account",
        "amount": "Amount",
        "submit": "Pay out",
        "none": "Nothing yet.",
        "expired": "This portal link has expired or is not valid.",
        "bill": "Bill",
        "date": "Date",
        "status": "Status",
        "default": "default",
        "requested": "Payout requested",
    },
    "km": {
        "balances": "សមតុល្យទូទាត់",
        "settlements": "ការទូទាត់ថ្មីៗ",
        "accounts": "គណនីដែលបានភ្ជាប់",
        "payouts": "ការដកប្រាក់",
        "request": "ស្នើសុំដកប្រាក់",
        "account": "ទៅគណនី",
        "amount": "ចំនួនទឹកប្រាក់",
        "submit": "ដកប្រាក់",
        "none": "មិនទាន់មាន។",
        "expired": "តំណនេះផុតកំណត់ ឬមិនត្រឹមត្រូវ។",
        "bill": "វិក្កយបត្រ",
        "date": "កាលបរិច្ឆេទ",
        "status": "ស្ថានភាព",
        "default": "លំនាំដើម",
        "requested": "បានស្នើសុំដកប្រាក់",
    },
}


def _claims(request: Request, token: str) -> dict[str, Any] | None:
    try:
        claims = jwt.decode(
            token,
            request.app.state.settings.signing_key,
            algorithms=["HS256"],
            audience=PORTAL_AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sid", "mid"]},
        )
    except jwt.InvalidTokenError:
        return None
    return claims if claims["exp"] > epoch(clock.now()) else None


async def _sub(session: Session, claims: dict[str, Any]) -> SubBiller | None:
    sub = await session.get(SubBiller, claims["sid"])
    return sub if sub is not None and sub.merchant_id == claims["mid"] else None


def _gone(lang: str = "en") -> Response:
    return page("Portal", f'<div class="card"><p id="reason">{e(TEXT[lang]["expired"])}</p></div>', 410, lang)


@router.get("/portal/{token}")
async def portal(token: str, request: Request, session: Session) -> Response:
    claims = _claims(request, token)
    sub = await _sub(session, claims) if claims else None
    if claims is None or sub is None:
        return _gone()
    lang = claims.get("lang") if claims.get("lang") in TEXT else "en"
    t = TEXT[lang]
    balances = await service.settlement_balances(session, sub)
    bills = (
        (
            await session.execute(
                select(Bill)
                .where(Bill.merchant_id == sub.merchant_id, Bill.sub_biller_id == sub.id, Bill.status == "paid")
                .order_by(Bill.payment_date.desc())
                .limit(20)
            )
        )
        .scalars()
        .all()
    )
    links = await service.links_of(session, sub)
    payouts = (
        (
            await session.execute(
                select(Payout).where(Payout.sub_biller_id == sub.id).order_by(Payout.created_at.desc()).limit(20)
            )
        )
        .scalars()
        .all()
    )
    logo = f'<img class="logo" src="{e(claims["logo"])}" alt="">' if claims.get("logo") else ""
    done = request.query_params.get("payout")
    notice = f'<p class="status ok" id="notice">{e(t["requested"])}</p>' if done else ""
    bal_rows = "".join(
        f'<tr><td>{c}</td><td class="balance" id="balance-{c}">{e(display(balances.get(c, 0), c))}</td></tr>'
        for c in CURRENCIES
    )
    bill_rows = (
        "".join(
            f"<tr><td>{e(b.ref_id)}</td><td>{e((dotnet_local(b.payment_date) or '')[:16])}</td>"
            f"<td>{e(display(b.total_amount, b.currency))} {b.currency}</td></tr>"
            for b in bills
        )
        or f'<tr><td colspan="3">{e(t["none"])}</td></tr>'
    )
    link_rows = (
        "".join(
            f"<tr><td>{e(bank.name)}</td><td>{e(link.account_mask or '')}</td><td>{e(link.currency or '')}</td>"
            f"<td>{e(link.status)}{' · ' + e(t['default']) if link.is_default else ''}</td></tr>"
            for link, bank in links
        )
        or f'<tr><td colspan="4">{e(t["none"])}</td></tr>'
    )
    payout_rows = (
        "".join(
            f'<tr class="payout"><td>{e((dotnet_local(p.created_at) or "")[:16])}</td>'
            f"<td>{e(display(p.amount, p.currency))} {p.currency}</td><td>{e(p.status)}</td></tr>"
            for p in payouts
        )
        or f'<tr><td colspan="3">{e(t["none"])}</td></tr>'
    )
    options = "".join(
        f'<option value="{e(link.id)}">{e(bank.name)} {e(link.account_mask or "")} ({e(link.currency or "")})</option>'
        for link, bank in links
        if link.status == "active"
    )
    payout_form = (
        f'<div class="card"><h2>{e(t["request"])}</h2><form method="post" action="/portal/{e(token)}/payout">'
        f'<label for="link">{e(t["account"])}</label><select id="link" name="link_id">{options}</select>'
        f'<label for="amount">{e(t["amount"])}</label><input id="amount" name="amount" inputmode="decimal">'
        f'<button class="primary" id="pay-out">{e(t["submit"])}</button></form></div>'
        if options
        else ""
    )
    body = (
        f'<div class="card">{logo}<h1 id="sub-biller">{e(sub.name)}</h1><p>{e(sub.code)}</p>{notice}</div>'
        f'<div class="card"><h2>{e(t["balances"])}</h2><table>{bal_rows}</table></div>{payout_form}'
        f'<div class="card"><h2>{e(t["settlements"])}</h2><table>{bill_rows}</table></div>'
        f'<div class="card"><h2>{e(t["accounts"])}</h2><table>{link_rows}</table></div>'
        f'<div class="card"><h2>{e(t["payouts"])}</h2><table>{payout_rows}</table></div>'
    )
    return page(sub.name, body, lang=lang)


@router.post("/portal/{token}/payout")
async def portal_payout(token: str, request: Request, session: Session) -> Response:
    claims = _claims(request, token)
    sub = await _sub(session, claims) if claims else None
    if claims is None or sub is None:
        return _gone()
    fields = await form(request)
    link = await session.get(SettlementLink, fields.get("link_id", ""))
    if link is None or link.sub_biller_id != sub.id or link.status != "active" or not link.currency:
        return page("Portal", '<div class="card"><p class="error" id="error">Choose an active account.</p></div>', 400)
    try:
        amount = to_minor(fields.get("amount", "").strip(), link.currency)
    except AmountError as exc:
        return page(
            "Portal", f'<div class="card"><p class="error" id="error">Invalid amount: {e(str(exc))}</p></div>', 400
        )
    try:
        payout = await service.request_payout(session, request.app.state.settings, sub, link, amount, "portal")
    except service.PayoutRefused as exc:
        message = exc.text[0] if exc.text else exc.code.en
        return page("Portal", f'<div class="card"><p class="error" id="error">{e(message)}</p></div>', 400)
    return redirect(f"/portal/{token}?payout={payout.id}")
