"""The sandbox banks' pages: the account-linking page, and the payment page a checkout sends a customer to."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tonle.banks.models import Bank
from tonle.checkout import service as checkout
from tonle.kit.money import CURRENCIES
from tonle.sandbox import client
from tonle.subbillers import service as subbillers
from tonle.subbillers.models import SettlementLink, SubBiller
from tonle.transactions.models import effective_status
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, form, money, page, pick_lang, problem, problem_of, redirect

router = APIRouter(tags=["Pages"], include_in_schema=False)

_ACCOUNT = re.compile(r"^\d{6,20}$")

TEXT = {
    "en": {
        "unknown": "This link does not exist.",
        "used": "This link was already used. Nothing was changed.",
        "expired": "This link has expired. Nothing was changed; ask for a new one.",
        "unavailable": "Link unavailable",
        "return": "Return to the merchant",
        "link_for": "Link a settlement account for",
        "account_number": "Account number",
        "account_name": "Account holder name",
        "currency": "Account currency",
        "currency_only": "Currency: {cur} only",
        "approve": "Approve",
        "reject": "Reject",
        "bad_number": "The account number must be 6 to 20 digits.",
        "bad_name": "Enter the account holder's name.",
        "bad_currency": "Choose the account currency.",
        "pay_to": "Pay",
        "amount": "Amount",
        "fee": "Fee",
        "total": "Total",
        "reference": "Reference",
        "pay": "Pay",
        "decline": "Decline",
        "not_found": "Payment not found",
        "not_found_text": "This bank has no such payment to make.",
        "refused": "Payment refused",
        "cannot_pay": "This bank cannot pay from its page.",
        "back": "Back to the checkout",
        "state": {"pending": "Waiting for payment", "success": "Paid", "expired": "Expired", "failed": "Failed"},
    },
    "km": {
        "unknown": "តំណនេះមិនមានទេ។",
        "used": "តំណនេះត្រូវបានប្រើរួចហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។",
        "expired": "តំណនេះផុតកំណត់ហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។ សូមស្នើតំណថ្មី។",
        "unavailable": "តំណមិនអាចប្រើបាន",
        "return": "ត្រឡប់ទៅអ្នកលក់",
        "link_for": "ភ្ជាប់គណនីទូទាត់សម្រាប់",
        "account_number": "លេខគណនី",
        "account_name": "ឈ្មោះម្ចាស់គណនី",
        "currency": "រូបិយប័ណ្ណគណនី",
        "currency_only": "រូបិយប័ណ្ណ៖ {cur} តែប៉ុណ្ណោះ",
        "approve": "យល់ព្រម",
        "reject": "បដិសេធ",
        "bad_number": "លេខគណនីត្រូវមាន 6 ដល់ 20 ខ្ទង់។",
        "bad_name": "សូមបញ្ចូលឈ្មោះម្ចាស់គណនី។",
        "bad_currency": "សូមជ្រើសរើសរូបិយប័ណ្ណគណនី។",
        "pay_to": "បង់ទៅ",
        "amount": "ចំនួនទឹកប្រាក់",
        "fee": "កម្រៃសេវា",
        "total": "សរុប",
        "reference": "លេខយោង",
        "pay": "បង់ប្រាក់",
        "decline": "បដិសេធ",
        "not_found": "រកមិនឃើញការបង់ប្រាក់",
        "not_found_text": "ធនាគារនេះគ្មានការបង់ប្រាក់នេះទេ។",
        "refused": "ការបង់ប្រាក់ត្រូវបានបដិសេធ",
        "cannot_pay": "ធនាគារនេះមិនអាចបង់ពីទំព័ររបស់ខ្លួនបានទេ។",
        "back": "ត្រឡប់ទៅ checkout",
        "state": {"pending": "កំពុងរង់ចាំការបង់ប្រាក់", "success": "បានបង់", "expired": "ផុតកំណត់", "failed": "បរាជ័យ"},
    },
}
STATE_CLASS = {"success": "ok", "expired": "bad", "failed": "bad", "pending": ""}


def _bank_brand(bank: Bank | None, lang: str) -> str:
    if bank is None:
        return brand_html("Sandbox bank")
    return brand_html(bank.name_kh if lang == "km" and bank.name_kh else bank.name, bank.logo)


def _link_problem(request: Request, err: subbillers.LinkPageError, sub: SubBiller | None, lang: str) -> HTMLResponse:
    t = TEXT[lang]
    back = ""
    if err.link is not None and sub is not None and err.reason == "expired":
        back = subbillers.return_redirect(err.link, sub, "expired")
    return problem_of(
        TEXT, lang, "unavailable", err.reason, 410, request=request, back=back, back_label=t["return"], sandbox=True
    )


async def _sub_of(session: Session, err: subbillers.LinkPageError) -> SubBiller | None:
    return await session.get(SubBiller, err.link.sub_biller_id) if err.link is not None else None


def _link_form(
    request: Request,
    link: SettlementLink,
    sub: SubBiller,
    bank: Bank,
    lang: str,
    error: str = "",
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    t = TEXT[lang]
    v = values or {}
    restriction = link.currency_restriction
    if restriction:
        only = e(t["currency_only"]).replace("{cur}", f'<strong id="currency">{e(restriction)}</strong>')
        currency_field = f"<p>{only}</p>"
    else:
        options = "".join(
            f'<option value="{c}"{" selected" if v.get("currency") == c else ""}>{c}</option>' for c in CURRENCIES
        )
        currency_field = (
            f'<label for="currency">{e(t["currency"])}</label><select id="currency" name="currency">{options}</select>'
        )
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    sub_name = sub.name_kh if lang == "km" and sub.name_kh else sub.name
    other = sub.name if sub_name != sub.name else (sub.name_kh or "")
    body = (
        f'<section class="card"><h1 id="bank-name">{e(bank.name)}</h1>'
        f'<p>{e(t["link_for"])} <strong id="sub-biller">{e(sub_name)}</strong>'
        f"{' (' + e(other) + ')' if other else ''}.</p>{err}"
        '<form method="post">'
        f'<label for="account_number">{e(t["account_number"])}</label>'
        '<input id="account_number" name="account_number" inputmode="numeric" autocomplete="off" '
        f'value="{e(v.get("account_number", ""))}">'
        f'<label for="account_name">{e(t["account_name"])}</label>'
        f'<input id="account_name" name="account_name" autocomplete="name" value="{e(v.get("account_name", ""))}">'
        f"{currency_field}"
        '<div class="actions">'
        f'<button class="btn primary" id="approve" name="action" value="approve">{e(t["approve"])}</button>'
        f'<button class="btn danger" id="reject" name="action" value="reject">{e(t["reject"])}</button></div>'
        "</form></section>"
    )
    return page(
        f"{bank.name}: {t['link_for']}",
        body,
        lang=lang,
        request=request,
        brand=_bank_brand(bank, lang),
        sandbox=True,
        form_to=[link.return_url] if link.return_url else [],
    )


@router.get("/sandbox/bank/link/{token}")
async def link_page(token: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "en")
    try:
        link, sub, bank = await subbillers.open_link(session, token)
    except subbillers.LinkPageError as err:
        return _link_problem(request, err, await _sub_of(session, err), lang)
    return _link_form(request, link, sub, bank, lang)


@router.post("/sandbox/bank/link/{token}")
async def link_decide(token: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "en")
    t = TEXT[lang]
    try:
        link, sub, bank = await subbillers.open_link(session, token)
    except subbillers.LinkPageError as err:
        return _link_problem(request, err, await _sub_of(session, err), lang)
    fields = await form(request)
    if fields.get("action") == "reject":
        decided = await subbillers.decide(session, link, sub, approve=False)
        return redirect(subbillers.return_redirect(decided, sub, "rejected"))
    number = fields.get("account_number", "").replace(" ", "")
    name = fields.get("account_name", "").strip()
    currency = link.currency_restriction or fields.get("currency", "")
    if not _ACCOUNT.match(number):
        return _link_form(request, link, sub, bank, lang, t["bad_number"], fields)
    if not name or len(name) > 100:
        return _link_form(request, link, sub, bank, lang, t["bad_name"], fields)
    if currency not in CURRENCIES:
        return _link_form(request, link, sub, bank, lang, t["bad_currency"], fields)
    try:
        decided = await subbillers.decide(
            session, link, sub, approve=True, account_number=number, account_name=name, currency=currency
        )
    except subbillers.LinkPageError as err:
        return _link_problem(request, err, sub, lang)
    return redirect(subbillers.return_redirect(decided, sub, "active"))


@router.get("/sandbox/bank/{bank_code}/pay/{tran_id}")
async def bank_pay_page(bank_code: str, tran_id: str, request: Request, session: Session) -> Response:
    bank = await session.get(Bank, bank_code)
    found = await checkout.by_tran_id(session, tran_id)
    lang = pick_lang(request, found[1].language if found else "km")
    t = TEXT[lang]
    if bank is None or found is None:
        return problem_of(TEXT, lang, "not_found", "not_found_text", 404, request=request, icon="?", sandbox=True)
    tran, co, merchant = found
    state = effective_status(tran)
    cur = tran.currency
    rows = f'<dt>{e(t["amount"])}</dt><dd id="amount">{e(money(tran.amount, cur))}</dd>'
    if tran.fee:
        rows += f'<dt>{e(t["fee"])}</dt><dd id="fee">{e(money(tran.fee, cur))}</dd>'
    rows += (
        f'<dt class="total">{e(t["total"])}</dt><dd class="total">{e(money(tran.amount + tran.fee, cur))}</dd>'
        f"<dt>{e(t['reference'])}</dt><dd>{e(co.identity_code)}</dd>"
    )
    back = f"/checkout/{tran.id}?lang={lang}"
    action = (
        f'<form method="post" action="?lang={lang}"><div class="actions">'
        f'<button class="btn primary" id="pay">{e(t["pay"])} {e(money(tran.amount + tran.fee, cur))}</button>'
        f'<a class="btn" href="{e(back)}" id="decline">{e(t["decline"])}</a></div></form>'
        if state == "pending"
        else f'<div class="actions"><a class="btn" href="{e(back)}" id="back">{e(t["back"])}</a></div>'
    )
    body = (
        f'<section class="card"><h1 id="bank-name">{e(bank.name)}</h1>'
        f'<p>{e(t["pay_to"])} <strong id="merchant">{e(merchant.name)}</strong></p>'
        f'<p class="amount" id="total">{e(money(tran.amount + tran.fee, cur))}</p>'
        f'<p><span class="badge {STATE_CLASS.get(state, "")}" id="state" data-state="{e(state)}">'
        f"{e(t['state'].get(state, state))}</span></p>"
        f'<dl class="summary">{rows}</dl>{action}</section>'
    )
    return page(
        f"{bank.name}: {t['pay']}", body, lang=lang, request=request, brand=_bank_brand(bank, lang), sandbox=True
    )


@router.post("/sandbox/bank/{bank_code}/pay/{tran_id}")
async def bank_pay(bank_code: str, tran_id: str, request: Request, session: Session) -> Response:
    """The sandbox bank pays as a real bank would: inquiry, then confirm, over HTTP against Tonle's bank API, with
    the bank's own token. Then the customer is sent back to the checkout page."""
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None or not bank.sandbox_token:
        return problem(t["refused"], t["cannot_pay"], 400, lang, request=request, sandbox=True)
    token = bank.sandbox_token
    await session.commit()  # hold nothing while the bank API (this same server) is called
    base = request.app.state.settings.issuer
    try:
        await asyncio.to_thread(client.pay, base, token, tran_id)
    except client.SandboxError as exc:
        return problem(
            t["refused"],
            str(exc),
            400,
            lang,
            request=request,
            sandbox=True,
            reason_id="error",
            back=f"/checkout/{tran_id}?lang={lang}",
            back_label=t["back"],
        )
    return redirect(f"/checkout/{tran_id}?lang={lang}")
