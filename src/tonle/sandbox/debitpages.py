"""The sandbox banks' direct-debit pages: the consent page a subscription page hands over to (the customer picks
one of their accounts at the bank and approves or declines), and the bank app's own subscribe (biller code and
customer code, the biller's consumer/validate, an account, approve)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from tonle.banks.debits import Account
from tonle.banks.models import Bank
from tonle.directdebit import biller, service
from tonle.directdebit.pages import consumer_list, unavailable
from tonle.merchants.models import Merchant
from tonle.sandbox.models import SandboxAccount
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, form, page, pick_lang, problem, redirect

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "consent": "Approve automatic payment",
        "asks": "{biller} asks to debit your account automatically for:",
        "account": "Debit from account",
        "approve": "Approve",
        "decline": "Decline",
        "no_accounts": "You have no open account at this bank.",
        "pick_account": "Choose an account.",
        "done": "Automatic payment set up",
        "declined": "Automatic payment declined",
        "bank_app": "Automatic payment (bank app)",
        "biller_code": "Biller code",
        "consumer_code": "Customer code",
        "find": "Find",
        "not_found": "No biller has this code, or it does not offer automatic payment.",
        "refused": "The biller could not confirm this customer code: {why}",
        "back": "Back",
    },
    "km": {
        "consent": "យល់ព្រមការបង់ប្រាក់ស្វ័យប្រវត្តិ",
        "asks": "{biller} សុំកាត់ប្រាក់ពីគណនីរបស់អ្នកដោយស្វ័យប្រវត្តិសម្រាប់៖",
        "account": "កាត់ប្រាក់ពីគណនី",
        "approve": "យល់ព្រម",
        "decline": "បដិសេធ",
        "no_accounts": "អ្នកមិនមានគណនីបើកនៅធនាគារនេះទេ។",
        "pick_account": "សូមជ្រើសរើសគណនី។",
        "done": "ការបង់ប្រាក់ស្វ័យប្រវត្តិត្រូវបានរៀបចំ",
        "declined": "ការបង់ប្រាក់ស្វ័យប្រវត្តិត្រូវបានបដិសេធ",
        "bank_app": "ការបង់ប្រាក់ស្វ័យប្រវត្តិ (កម្មវិធីធនាគារ)",
        "biller_code": "លេខកូដអ្នកផ្តល់សេវា",
        "consumer_code": "លេខកូដអតិថិជន",
        "find": "ស្វែងរក",
        "not_found": "គ្មានអ្នកផ្តល់សេវាមានលេខកូដនេះ ឬមិនផ្តល់ការបង់ប្រាក់ស្វ័យប្រវត្តិទេ។",
        "refused": "អ្នកផ្តល់សេវាមិនអាចបញ្ជាក់លេខកូដអតិថិជននេះបានទេ៖ {why}",
        "back": "ត្រឡប់ក្រោយ",
    },
}


def _brand(bank: Bank, lang: str) -> str:
    return brand_html(bank.name_kh if lang == "km" and bank.name_kh else bank.name, bank.logo)


async def _accounts(session: Session, bank: Bank) -> list[SandboxAccount]:
    return list(
        await session.scalars(
            select(SandboxAccount)
            .where(SandboxAccount.bank_code == bank.code, SandboxAccount.status == "open")
            .order_by(SandboxAccount.number)
        )
    )


def _account_choices(accounts: list[SandboxAccount], lang: str) -> str:
    t = TEXT[lang]
    if not accounts:
        return f'<p class="error" id="no-accounts" role="alert">{e(t["no_accounts"])}</p>'
    radios = "".join(
        f'<label class="choice"><input type="radio" name="account" value="{e(a.number)}"{" checked" if i == 0 else ""}>'
        f'<span><strong class="num">{e(service.masked(a.number))}</strong> · {e(a.name)} · {e(a.currency)}</span>'
        "</label>"
        for i, a in enumerate(accounts)
    )
    return f'<fieldset class="choices" id="accounts"><legend>{e(t["account"])}</legend>{radios}</fieldset>'


def _bank_missing(request: Request, lang: str) -> HTMLResponse:
    return problem("Bank not found" if lang == "en" else "រកមិនឃើញធនាគារ", "", 404, lang, request=request, sandbox=True)


@router.get("/sandbox/bank/{bank_code}/direct-debit/{page_ref}")
async def consent_page(bank_code: str, page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    try:
        sub = await service.open_page(session, page_ref)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang, sandbox=True)
    return await _consent_form(request, session, bank, sub, lang)


async def _consent_form(
    request: Request, session: Session, bank: Bank, sub, lang: str, error: str = ""
) -> HTMLResponse:
    t = TEXT[lang]
    merchant = await session.get(Merchant, sub.merchant_id)
    assert merchant is not None
    accounts = await _accounts(session, bank)
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    approve = (
        f'<button class="btn primary" id="approve" name="action" value="approve">{e(t["approve"])}</button>'
        if accounts
        else ""
    )
    body = (
        f'<section class="card"><h1 id="bank-name">{e(t["consent"])}</h1>'
        f"<p>{e(t['asks']).replace('{biller}', '<strong>' + e(merchant.name) + '</strong>')}</p>"
        f"{consumer_list(await service.consumers_of(session, sub), lang)}{err}"
        f'<form method="post">{_account_choices(accounts, lang)}<div class="actions">{approve}'
        f'<button class="btn danger" id="decline" name="action" value="decline">{e(t["decline"])}</button></div>'
        "</form></section>"
    )
    back = service.return_url(sub, "Active")
    return page(
        t["consent"],
        body,
        lang=lang,
        request=request,
        brand=_brand(bank, lang),
        sandbox=True,
        form_to=[back] if back else [],
    )


def _outcome_page(request: Request, bank: Bank, lang: str, sub, approved: bool) -> Response:
    outcome = "Active" if approved else "Declined"
    back = service.return_url(sub, outcome)
    if back:
        return redirect(back)
    t = TEXT[lang]
    title = t["done"] if approved else t["declined"]
    body = (
        f'<section class="card center" id="outcome"><div class="icon {"ok" if approved else "bad"}" aria-hidden="true">'
        f"{'✓' if approved else '!'}</div><h1>{e(title)}</h1>"
        f'<p class="num" id="subscription-no">{e(sub.subscription_no)}</p></section>'
    )
    return page(title, body, lang=lang, request=request, brand=_brand(bank, lang), sandbox=True)


@router.post("/sandbox/bank/{bank_code}/direct-debit/{page_ref}")
async def consent_decide(bank_code: str, page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    fields = await form(request)
    try:
        sub = await service.open_page(session, page_ref, for_update=True)
        if fields.get("action") == "decline":
            await service.decline(session, sub)
            await session.commit()
            return _outcome_page(request, bank, lang, sub, False)
        acct = next((a for a in await _accounts(session, bank) if a.number == fields.get("account")), None)
        if acct is None:
            return await _consent_form(request, session, bank, sub, lang, TEXT[lang]["pick_account"])
        await service.consent(session, sub, bank, Account(acct.number, acct.name, acct.currency))
        await session.commit()
    except service.PageUnavailable as err:  # nothing was written: the guarded updates changed no row
        return unavailable(request, err, lang, sandbox=True)
    return _outcome_page(request, bank, lang, sub, True)


def _app_form(
    request: Request, bank: Bank, lang: str, error: str = "", values: dict[str, str] | None = None
) -> HTMLResponse:
    t = TEXT[lang]
    v = values or {}
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'<section class="card"><h1>{e(t["bank_app"])}</h1>{err}<form method="post">'
        f'<label for="biller_code">{e(t["biller_code"])}</label>'
        f'<input id="biller_code" name="biller_code" inputmode="numeric" value="{e(v.get("biller_code", ""))}">'
        f'<label for="consumer_code">{e(t["consumer_code"])}</label>'
        f'<input id="consumer_code" name="consumer_code" value="{e(v.get("consumer_code", ""))}">'
        '<div class="actions">'
        f'<button class="btn primary" id="find" name="action" value="find">{e(t["find"])}</button></div>'
        "</form></section>"
    )
    return page(t["bank_app"], body, lang=lang, request=request, brand=_brand(bank, lang), sandbox=True)


@router.get("/sandbox/bank/{bank_code}/direct-debit")
async def app_page(bank_code: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    return _app_form(request, bank, lang)


@router.post("/sandbox/bank/{bank_code}/direct-debit")
async def app_subscribe(bank_code: str, request: Request, session: Session) -> Response:
    """Find (the biller's consumer/validate, shown with the accounts), then subscribe (validated again: what the
    customer approves is what the biller answers now)."""
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None:
        return _bank_missing(request, lang)
    fields = await form(request)
    code = fields.get("consumer_code", "").strip()
    merchant = await session.scalar(
        select(Merchant).where(Merchant.biller_code == fields.get("biller_code", "").strip())
    )
    if merchant is None or not merchant.biller_api_url or not code:
        return _app_form(request, bank, lang, t["not_found"], fields)
    settings = request.app.state.settings
    await session.commit()  # no transaction open while the biller answers (it wrote nothing; objects stay loaded)
    who, why = await biller.validate(settings, merchant, code)
    if who is None:
        return _app_form(request, bank, lang, t["refused"].replace("{why}", why), fields)
    consumer = service.NewConsumer(who.code, who.name, who.name_latin, who.info)
    accounts = await _accounts(session, bank)
    if fields.get("action") == "approve":
        acct = next((a for a in accounts if a.number == fields.get("account")), None)
        if acct is not None:
            sub = await service.subscribe_from_bank(
                session, settings, merchant, bank, consumer, Account(acct.number, acct.name, acct.currency)
            )
            await session.commit()
            return _outcome_page(request, bank, lang, sub, True)
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{e(fields.get(k, ""))}">' for k in ("biller_code", "consumer_code")
    )

    class _Shown:  # the consumer list's shape
        consumer_code, consumer_name, consumer_name_latin, additional_information = (
            who.code,
            who.name,
            who.name_latin,
            who.info,
        )

    approve = (
        f'<button class="btn primary" id="approve" name="action" value="approve">{e(t["approve"])}</button>'
        if accounts
        else ""
    )
    body = (
        f'<section class="card"><h1>{e(t["consent"])}</h1>'
        f"<p>{e(t['asks']).replace('{biller}', '<strong>' + e(merchant.name) + '</strong>')}</p>"
        f'{consumer_list([_Shown()], lang)}<form method="post">{hidden}{_account_choices(accounts, lang)}'
        f'<div class="actions">{approve}<a class="btn" id="back" '
        f'href="/sandbox/bank/{e(bank.code)}/direct-debit?lang={lang}">{e(t["back"])}</a></div>'
        "</form></section>"
    )
    return page(t["consent"], body, lang=lang, request=request, brand=_brand(bank, lang), sandbox=True)
