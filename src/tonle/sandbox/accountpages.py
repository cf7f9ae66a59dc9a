"""The sandbox banks' page for putting an account on file with a biller (Tonle's link page hands over to it): the
customer picks one of their accounts, the bank "sends" a one-time code (shown on this sandbox page), and the
customer types it to approve; the bank then tells Tonle and sends the browser back."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tonle.banks.debits import Account
from tonle.banks.models import Bank
from tonle.kit import crypto
from tonle.kit.crypto import masked
from tonle.merchants.models import Merchant
from tonle.methods import service
from tonle.methods.pages import outcome_page, unavailable
from tonle.sandbox.debitpages import _account_choices, _accounts, _bank_missing, _brand
from tonle.sandbox.models import SandboxAccountCode
from tonle.wire.http import Session
from tonle.wire.pages import e, form, page, pick_lang

router = APIRouter(tags=["Pages"], include_in_schema=False)
CODE_TRIES = 3

TEXT = {
    "en": {
        "title": "Link your account",
        "asks": "{biller} asks to charge an account of yours when you pay it.",
        "continue": "Send me a code",
        "decline": "Decline",
        "pick_account": "Choose an account.",
        "sent": "We sent a one-time code to your phone for account {account}.",
        "sandbox_code": "Sandbox: the code is {code}",
        "code": "One-time code",
        "approve": "Approve",
        "wrong": "That code is not right. We sent a new one.",
        "failed": "The code was wrong too many times. Nothing was linked.",
    },
    "km": {
        "title": "ភ្ជាប់គណនីរបស់អ្នក",
        "asks": "{biller} សុំកាត់ប្រាក់ពីគណនីរបស់អ្នក នៅពេលអ្នកបង់ប្រាក់។",
        "continue": "ផ្ញើលេខកូដមកខ្ញុំ",
        "decline": "បដិសេធ",
        "pick_account": "សូមជ្រើសរើសគណនី។",
        "sent": "យើងបានផ្ញើលេខកូដប្រើម្តងទៅទូរស័ព្ទរបស់អ្នកសម្រាប់គណនី {account}។",
        "sandbox_code": "សាកល្បង៖ លេខកូដគឺ {code}",
        "code": "លេខកូដប្រើម្តង",
        "approve": "យល់ព្រម",
        "wrong": "លេខកូដនេះមិនត្រឹមត្រូវទេ។ យើងបានផ្ញើលេខកូដថ្មី។",
        "failed": "លេខកូដខុសច្រើនដងពេក។ គ្មានអ្វីត្រូវបានភ្ជាប់ទេ។",
    },
}


def _frame(request: Request, bank: Bank, lang: str, body: str, back: str) -> HTMLResponse:
    return page(
        TEXT[lang]["title"],
        body,
        lang=lang,
        request=request,
        brand=_brand(bank, lang),
        sandbox=True,
        form_to=[back] if back else [],
    )


async def _pick_form(request: Request, session: Session, bank: Bank, link, lang: str, error: str = "") -> HTMLResponse:
    t = TEXT[lang]
    merchant = await session.get(Merchant, link.merchant_id)
    assert merchant is not None
    accounts = await _accounts(session, bank)
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    go = (
        f'<button class="btn primary" id="send-code" name="action" value="send">{e(t["continue"])}</button>'
        if accounts
        else ""
    )
    body = (
        f'<section class="card"><h1 id="bank-title">{e(t["title"])}</h1>'
        f"<p>{e(t['asks']).replace('{biller}', '<strong>' + e(merchant.name) + '</strong>')}</p>{err}"
        f'<form method="post">{_account_choices(accounts, lang)}<div class="actions">{go}'
        f'<button class="btn danger" id="decline" name="action" value="decline">{e(t["decline"])}</button></div>'
        "</form></section>"
    )
    return _frame(request, bank, lang, body, service.return_url(link, "success"))


def _code_form(request: Request, bank: Bank, link, lang: str, number: str, code: str, error: str = "") -> HTMLResponse:
    t = TEXT[lang]
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'<section class="card"><h1 id="bank-title">{e(t["title"])}</h1>'
        f"<p>{e(t['sent'].replace('{account}', masked(number)))}</p>"
        f'<p class="notice ok" id="sandbox-code">{e(t["sandbox_code"].replace("{code}", code))}</p>{err}'
        '<form method="post"><input type="hidden" name="action" value="confirm">'
        f'<label for="code">{e(t["code"])}</label>'
        '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6">'
        f'<div class="actions"><button class="btn primary" id="approve">{e(t["approve"])}</button></div>'
        "</form></section>"
    )
    return _frame(request, bank, lang, body, service.return_url(link, "success"))


def _new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@router.get("/sandbox/bank/{bank_code}/link-account/{page_ref}")
async def link_page(bank_code: str, page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    try:
        link = await service.open_page(session, page_ref)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang, sandbox=True)
    return await _pick_form(request, session, bank, link, lang)


@router.post("/sandbox/bank/{bank_code}/link-account/{page_ref}")
async def link_decide(bank_code: str, page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    fields = await form(request)
    try:
        link = await service.open_page(session, page_ref, for_update=True)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang, sandbox=True)
    merchant = await session.get(Merchant, link.merchant_id)
    assert merchant is not None
    action = fields.get("action")
    if action == "decline":
        await service.cancel(session, link)
        await session.commit()
        return outcome_page(request, lang, merchant, link, "cancelled", sandbox=True)
    if action == "send":
        acct = next((a for a in await _accounts(session, bank) if a.number == fields.get("account")), None)
        if acct is None:
            return await _pick_form(request, session, bank, link, lang, t["pick_account"])
        code = _new_code()
        sent = await session.get(SandboxAccountCode, link.page_ref)
        if sent is None:
            sent = SandboxAccountCode(link_ref=link.page_ref)
            session.add(sent)
        sent.bank_code, sent.account_number, sent.code_digest, sent.tries = (
            bank.code,
            acct.number,
            crypto.digest(code),
            0,
        )
        await session.commit()
        return _code_form(request, bank, link, lang, acct.number, code)
    sent = await session.get(SandboxAccountCode, link.page_ref)
    if action != "confirm" or sent is None or sent.bank_code != bank.code:
        return await _pick_form(request, session, bank, link, lang)
    typed = fields.get("code", "").strip()
    if not typed or not crypto.same(crypto.digest(typed), sent.code_digest):
        sent.tries += 1
        if sent.tries >= CODE_TRIES:
            await session.delete(sent)
            await session.commit()
            return await _pick_form(request, session, bank, link, lang, t["failed"])
        code = _new_code()
        sent.code_digest = crypto.digest(code)
        await session.commit()
        return _code_form(request, bank, link, lang, sent.account_number, code, t["wrong"])
    acct = next((a for a in await _accounts(session, bank) if a.number == sent.account_number), None)
    if acct is None:  # closed since the code was sent
        return await _pick_form(request, session, bank, link, lang, t["pick_account"])
    await session.delete(sent)
    try:
        method = await service.add_account(session, link, bank, Account(acct.number, acct.name, acct.currency))
        await session.commit()
    except service.PageUnavailable as err:
        return unavailable(request, err, lang, sandbox=True)
    return outcome_page(request, lang, merchant, link, "success", method, sandbox=True)
