"""The sub-biller portal: balances, settlements, linked accounts and payouts, behind a signed expiring URL."""

from __future__ import annotations

from typing import Any

import jwt
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from tonle.bills.models import Bill
from tonle.kit.clock import clock, epoch
from tonle.kit.money import CURRENCIES, AmountError, to_minor
from tonle.subbillers import service
from tonle.subbillers.codes import CODES
from tonle.subbillers.models import Payout, SettlementLink, SubBiller
from tonle.subbillers.router import PORTAL_AUDIENCE
from tonle.wire.errors import translate
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, form, money, page, pick_lang, problem_of, redirect, when

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "balances": "Settlement balances",
        "settlements": "Recent settlements",
        "accounts": "Linked accounts",
        "payouts": "Payouts",
        "request": "Request a payout",
        "account": "To account",
        "account_no": "Account",
        "amount": "Amount",
        "available": "Available",
        "submit": "Pay out",
        "none": "Nothing yet.",
        "expired": "This portal link has expired or is not valid. Ask the merchant for a new portal link.",
        "expired_title": "Portal unavailable",
        "bill": "Bill",
        "date": "Date",
        "status": "Status",
        "bank": "Bank",
        "currency": "Currency",
        "default": "default",
        "requested": "Payout requested",
        "choose": "Choose an active account.",
        "invalid_amount": "Invalid amount: {reason}",
        "statuses": {
            "paid": "Paid",
            "pending": "Pending",
            "failed": "Failed",
            "active": "Active",
            "rejected": "Rejected",
        },
    },
    "km": {
        "balances": "សមតុល្យទូទាត់",
        "settlements": "ការទូទាត់ថ្មីៗ",
        "accounts": "គណនីដែលបានភ្ជាប់",
        "payouts": "ការដកប្រាក់",
        "request": "ស្នើសុំដកប្រាក់",
        "account": "ទៅគណនី",
        "account_no": "គណនី",
        "amount": "ចំនួនទឹកប្រាក់",
        "available": "អាចដកបាន",
        "submit": "ដកប្រាក់",
        "none": "មិនទាន់មាន។",
        "expired": "តំណនេះផុតកំណត់ ឬមិនត្រឹមត្រូវ។ សូមស្នើតំណ portal ថ្មីពីអ្នកលក់។",
        "expired_title": "Portal មិនអាចប្រើបាន",
        "bill": "វិក្កយបត្រ",
        "date": "កាលបរិច្ឆេទ",
        "status": "ស្ថានភាព",
        "bank": "ធនាគារ",
        "currency": "រូបិយប័ណ្ណ",
        "default": "លំនាំដើម",
        "requested": "បានស្នើសុំដកប្រាក់",
        "choose": "សូមជ្រើសរើសគណនីសកម្ម។",
        "invalid_amount": "ចំនួនទឹកប្រាក់មិនត្រឹមត្រូវ៖ {reason}",
        "statuses": {
            "paid": "បានបង់",
            "pending": "កំពុងរង់ចាំ",
            "failed": "បរាជ័យ",
            "active": "សកម្ម",
            "rejected": "បានបដិសេធ",
        },
    },
}
STATUS_CLASS = {"paid": "ok", "active": "ok", "pending": "", "failed": "bad", "rejected": "bad"}


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


def _lang(request: Request, claims: dict[str, Any] | None) -> str:
    given = (claims or {}).get("lang")
    return pick_lang(request, given if given in TEXT else "en")


def _gone(request: Request, lang: str) -> Response:
    return problem_of(TEXT, lang, "expired_title", "expired", 410, request=request)


def _badge(t: dict[str, Any], status: str) -> str:
    return f'<span class="badge {STATUS_CLASS.get(status, "info")}">{e(t["statuses"].get(status, status))}</span>'


def _table(headers: list[tuple[str, str]], rows: list[list[str]], t: dict[str, Any], table_id: str) -> str:
    """A table whose rows stack into labelled cards on a phone (the stylesheet reads ``data-label``)."""
    head = "".join(f'<th class="{cls}">{e(label)}</th>' for label, cls in headers)
    if not rows:
        body = f'<tr><td class="empty" colspan="{len(headers)}">{e(t["none"])}</td></tr>'
    else:
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="{cls}" data-label="{e(label)}"><span>{cell}</span></td>'
                for (label, cls), cell in zip(headers, row, strict=True)
            )
            + "</tr>"
            for row in rows
        )
    return f'<table class="table" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


async def _render(
    request: Request,
    session: Session,
    token: str,
    claims: dict[str, Any],
    sub: SubBiller,
    lang: str,
    *,
    error: str = "",
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    t = TEXT[lang]
    v = values or {}
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
    by_link = {link.id: (link, bank) for link, bank in links}
    payouts = (
        (
            await session.execute(
                select(Payout).where(Payout.sub_biller_id == sub.id).order_by(Payout.created_at.desc()).limit(20)
            )
        )
        .scalars()
        .all()
    )

    def bank_name(bank: Any) -> str:
        return bank.name_kh if lang == "km" and bank.name_kh else bank.name

    done = request.query_params.get("payout")
    notice = f'<p class="notice ok" id="notice" role="status">{e(t["requested"])}</p>' if done else ""
    tiles = "".join(
        f'<div class="balance-tile"><div class="cur">{c}</div>'
        f'<div class="num balance" id="balance-{c}">{e(money(balances.get(c, 0), c))}</div></div>'
        for c in CURRENCIES
    )
    bill_rows = [
        [e(b.ref_id), e(when(b.payment_date, lang)), f'<span class="num">{e(money(b.total_amount, b.currency))}</span>']
        for b in bills
    ]
    link_rows = [
        [
            e(bank_name(bank)),
            e(link.account_mask or "—"),
            e(link.currency or link.currency_restriction or "—"),
            _badge(t, link.status) + (f' <span class="badge info">{e(t["default"])}</span>' if link.is_default else ""),
        ]
        for link, bank in links
    ]
    payout_rows = []
    for p in payouts:
        link, bank = by_link.get(p.link_id, (None, None))
        to = f"{bank_name(bank)} {link.account_mask or ''}" if link is not None else ""
        payout_rows.append(
            [
                f'<span class="payout">{e(when(p.created_at, lang))}</span>',
                e(to.strip()),
                f'<span class="num">{e(money(p.amount, p.currency))}</span>',
                _badge(t, p.status),
            ]
        )
    active = [(link, bank) for link, bank in links if link.status == "active" and link.currency]
    options = "".join(
        f'<option value="{e(link.id)}"{" selected" if v.get("link_id") == link.id else ""}>'
        f"{e(bank_name(bank))} {e(link.account_mask or '')} · {e(link.currency or '')}</option>"
        for link, bank in active
    )
    available = " · ".join(
        f'<span class="num" id="available-{cur}">{cur} {e(money(balances.get(cur, 0), cur))}</span>'
        for cur in dict.fromkeys(link.currency for link, _ in active if link.currency)
    )
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    payout_form = (
        f'<section class="card"><h2>{e(t["request"])}</h2>{err}'
        f'<form method="post" action="/portal/{e(token)}/payout?lang={lang}">'
        f'<label for="link">{e(t["account"])}</label><select id="link" name="link_id">{options}</select>'
        f'<label for="amount">{e(t["amount"])}</label>'
        f'<input id="amount" name="amount" inputmode="decimal" autocomplete="off" value="{e(v.get("amount", ""))}" '
        'aria-describedby="available">'
        f'<p class="hint" id="available">{e(t["available"])}: {available}</p>'
        f'<div class="actions"><button class="btn primary" id="pay-out">{e(t["submit"])}</button></div>'
        "</form></section>"
        if options
        else ""
    )
    name = sub.name_kh if lang == "km" and sub.name_kh else sub.name
    body = (
        f'<section class="card"><h1 id="sub-biller">{e(name)}</h1><p class="muted">{e(sub.code)}</p>{notice}'
        f'<h2>{e(t["balances"])}</h2><div class="balances">{tiles}</div></section>{payout_form}'
        f'<section class="card"><h2>{e(t["settlements"])}</h2>'
        + _table([(t["bill"], ""), (t["date"], ""), (t["amount"], "r")], bill_rows, t, "settlements")
        + f'</section><section class="card"><h2>{e(t["accounts"])}</h2>'
        + _table(
            [(t["bank"], ""), (t["account_no"], ""), (t["currency"], ""), (t["status"], "")], link_rows, t, "accounts"
        )
        + f'</section><section class="card"><h2>{e(t["payouts"])}</h2>'
        + _table(
            [(t["date"], ""), (t["account"], ""), (t["amount"], "r"), (t["status"], "")], payout_rows, t, "payouts"
        )
        + "</section>"
    )
    brand = brand_html(name, claims.get("logo"))
    return page(name, body, status, lang, request=request, brand=brand, wide=True)


async def _open(request: Request, session: Session, token: str) -> tuple[dict[str, Any], SubBiller, str] | Response:
    """The portal's claims, sub-biller and language, or the page that says the link is no good."""
    claims = _claims(request, token)
    sub = await _sub(session, claims) if claims else None
    lang = _lang(request, claims)
    if claims is None or sub is None:
        return _gone(request, lang)
    return claims, sub, lang


@router.get("/portal/{token}")
async def portal(token: str, request: Request, session: Session) -> Response:
    opened = await _open(request, session, token)
    if isinstance(opened, Response):
        return opened
    claims, sub, lang = opened
    return await _render(request, session, token, claims, sub, lang)


@router.post("/portal/{token}/payout")
async def portal_payout(token: str, request: Request, session: Session) -> Response:
    opened = await _open(request, session, token)
    if isinstance(opened, Response):
        return opened
    claims, sub, lang = opened
    t = TEXT[lang]
    fields = await form(request)

    async def again(message: str) -> Response:
        # The form comes back with what was typed and the reason beside it, not a page of its own.
        return await _render(request, session, token, claims, sub, lang, error=message, values=fields, status=400)

    link = await session.get(SettlementLink, fields.get("link_id", ""))
    if link is None or link.sub_biller_id != sub.id or link.status != "active" or not link.currency:
        return await again(t["choose"])
    try:
        amount = to_minor(fields.get("amount", "").strip(), link.currency)
    except AmountError as exc:
        return await again(t["invalid_amount"].format(reason=str(exc)))
    try:
        payout = await service.request_payout(session, request.app.state.settings, sub, link, amount, "portal")
    except service.PayoutRefused as exc:
        said = translate(exc, CODES, request.app.state.settings.compat)  # the product's words, shown in the form
        text = said.text or (said.code.en, said.code.kh)
        return await again(text[1] if lang == "km" and text[1] else text[0])
    return redirect(f"/portal/{token}?payout={payout.id}&lang={lang}")
