"""The sandbox banks' pages: the account-linking page, the payment page a checkout sends a customer to, and the
bank app's bill payment (look a bill up by biller and customer code, pay it, the receipt)."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tonle.banks.models import Bank, BillLookup
from tonle.checkout import service as checkout
from tonle.kit.money import CURRENCIES, AmountError, to_decimal, to_minor
from tonle.merchants.models import Merchant
from tonle.sandbox import client
from tonle.subbillers import service as subbillers
from tonle.subbillers.models import SettlementLink, SubBiller
from tonle.transactions.models import Transaction, effective_status
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, form, money, page, pick_lang, problem, problem_of, redirect, when

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


def _cannot_pay(request: Request, lang: str) -> HTMLResponse:
    """A bank that is not a sandbox bank (no token of its own to call the bank API with) pays from no page."""
    return problem(TEXT[lang]["refused"], TEXT[lang]["cannot_pay"], 400, lang, request=request, sandbox=True)


@router.post("/sandbox/bank/{bank_code}/pay/{tran_id}")
async def bank_pay(bank_code: str, tran_id: str, request: Request, session: Session) -> Response:
    """The sandbox bank pays as a real bank would: inquiry, then confirm, over HTTP against Tonle's bank API, with
    the bank's own token. Then the customer is sent back to the checkout page."""
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None or not bank.sandbox_token:
        return _cannot_pay(request, lang)
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


# ---------------------------------------------------------------- the bank app's bill payment (bank channel)

BILL_TEXT = {
    "en": {
        "title": "Pay a bill",
        "intro": "Choose the biller by its code and type your customer code, as in your bank app.",
        "biller": "Biller code",
        "consumer": "Customer code or invoice number",
        "find": "Find the bill",
        "missing": "Enter the biller code and your customer code.",
        "bill_of": "Bill of",
        "due": "Amount due",
        "due_date": "Due date",
        "description": "For",
        "balance": "Credit already paid",
        "to_pay": "Amount to pay",
        "exact": "Exactly the amount due.",
        "range": "From {lo} to {hi}.",
        "up_to": "Any amount up to {hi}.",
        "from": "At least {lo}.",
        "any": "Any amount.",
        "pay": "Pay",
        "cancel": "Cancel",
        "pending": "Pending bills",
        "opening": "Opening balance",
        "date": "Date",
        "amount": "Amount",
        "running": "Balance",
        "bill": "Bill",
        "refused": "Payment refused",
        "not_paid": "Nothing was paid.",
        "paid": "Paid",
        "paid_to": "Payment sent to",
        "bank_ref": "Bank reference",
        "over": "Paid above the amount due",
        "another": "Pay another bill",
        "bad_amount": "Enter an amount such as 10 or 10.50.",
        "not_found": "Payment not found",
        "not_found_text": "This bank has no such bill payment.",
    },
    "km": {
        "title": "បង់វិក្កយបត្រ",
        "intro": "ជ្រើសរើសអ្នកផ្តល់សេវាតាមលេខកូដ ហើយវាយលេខកូដអតិថិជនរបស់អ្នក ដូចក្នុងកម្មវិធីធនាគារ។",
        "biller": "លេខកូដអ្នកផ្តល់សេវា",
        "consumer": "លេខកូដអតិថិជន ឬលេខវិក្កយបត្រ",
        "find": "ស្វែងរកវិក្កយបត្រ",
        "missing": "សូមបញ្ចូលលេខកូដអ្នកផ្តល់សេវា និងលេខកូដអតិថិជនរបស់អ្នក។",
        "bill_of": "វិក្កយបត្ររបស់",
        "due": "ចំនួនត្រូវបង់",
        "due_date": "ថ្ងៃផុតកំណត់",
        "description": "សម្រាប់",
        "balance": "ប្រាក់បានបង់លើសរួច",
        "to_pay": "ចំនួនទឹកប្រាក់ដែលត្រូវបង់",
        "exact": "ចំនួនត្រូវបង់ពិតប្រាកដ។",
        "range": "ពី {lo} ដល់ {hi}។",
        "up_to": "ចំនួនណាមួយរហូតដល់ {hi}។",
        "from": "យ៉ាងហោចណាស់ {lo}។",
        "any": "ចំនួនណាមួយ។",
        "pay": "បង់ប្រាក់",
        "cancel": "បោះបង់",
        "pending": "វិក្កយបត្រមិនទាន់បង់",
        "opening": "សមតុល្យដើម",
        "date": "កាលបរិច្ឆេទ",
        "amount": "ចំនួនទឹកប្រាក់",
        "running": "សមតុល្យ",
        "bill": "វិក្កយបត្រ",
        "refused": "ការបង់ប្រាក់ត្រូវបានបដិសេធ",
        "not_paid": "គ្មានប្រាក់ត្រូវបានបង់ទេ។",
        "paid": "បានបង់",
        "paid_to": "បានបង់ទៅ",
        "bank_ref": "លេខយោងធនាគារ",
        "over": "បង់លើសចំនួនត្រូវបង់",
        "another": "បង់វិក្កយបត្រផ្សេងទៀត",
        "bad_amount": "សូមបញ្ចូលចំនួនទឹកប្រាក់ ដូចជា 10 ឬ 10.50។",
        "not_found": "រកមិនឃើញការបង់ប្រាក់",
        "not_found_text": "ធនាគារនេះគ្មានការបង់វិក្កយបត្រនេះទេ។",
    },
}


def _shown(value: object, currency: str) -> str:
    """A wire amount (major unit) as people read it."""
    try:
        return money(to_minor(value, currency), currency)
    except AmountError:
        return str(value)


def _bill_form(request: Request, bank: Bank, lang: str, error: str = "", values: dict[str, str] | None = None):
    t = BILL_TEXT[lang]
    v = values or {}
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'<section class="card"><h1 id="bank-name">{e(bank.name)}</h1><h2>{e(t["title"])}</h2>'
        f"<p>{e(t['intro'])}</p>{err}"
        f'<form method="post" action="/sandbox/bank/{e(bank.code)}/bills?lang={lang}">'
        f'<label for="biller">{e(t["biller"])}</label>'
        f'<input id="biller" name="biller" inputmode="numeric" autocomplete="off" value="{e(v.get("biller", ""))}">'
        f'<label for="consumer">{e(t["consumer"])}</label>'
        f'<input id="consumer" name="consumer" autocomplete="off" value="{e(v.get("consumer", ""))}">'
        f'<div class="actions"><button class="btn primary" id="find">{e(t["find"])}</button></div>'
        "</form></section>"
    )
    return page(
        f"{bank.name}: {t['title']}", body, lang=lang, request=request, brand=_bank_brand(bank, lang), sandbox=True
    )


def _refusal(exc: client.SandboxError, lang: str) -> str:
    return (exc.kh if lang == "km" and exc.kh else exc.en) or str(exc)


@router.get("/sandbox/bank/{bank_code}/bills")
async def bank_bills_page(bank_code: str, request: Request, session: Session) -> Response:
    bank = await session.get(Bank, bank_code)
    lang = pick_lang(request, "km")
    if bank is None:
        return problem_of(BILL_TEXT, lang, "not_found", "not_found_text", 404, request=request, icon="?", sandbox=True)
    q = request.query_params
    return _bill_form(request, bank, lang, values={"biller": q.get("biller", ""), "consumer": q.get("consumer", "")})


@router.post("/sandbox/bank/{bank_code}/bills")
async def bank_bill_lookup(bank_code: str, request: Request, session: Session) -> Response:
    """The bank app asks Tonle for the bill, over HTTP with the bank's own token, as a real bank would."""
    lang = pick_lang(request, "km")
    t = BILL_TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None or not bank.sandbox_token:
        return _cannot_pay(request, lang)
    fields = await form(request)
    values = {"biller": fields.get("biller", "").strip(), "consumer": fields.get("consumer", "").strip()}
    if not values["biller"] or not values["consumer"]:
        return _bill_form(request, bank, lang, t["missing"], values)
    token, base = bank.sandbox_token, request.app.state.settings.issuer
    await session.commit()  # hold nothing while the bank API (this same server) is called
    try:
        found = await asyncio.to_thread(client.bill_lookup, base, token, values["biller"], values["consumer"])
    except client.SandboxError as exc:
        return _bill_form(request, bank, lang, _refusal(exc, lang), values)
    return _bill_page(request, bank, lang, found)


def _limits(t: dict[str, str], c: dict, cur: str) -> str:
    lo, hi, due = c["min_amount"], c["max_amount"], c["bill_amount"]
    if lo == hi == due:
        return t["exact"]
    lo_s, hi_s = _shown(lo, cur), _shown(hi, cur)
    if lo != -1 and hi != -1:
        return t["range"].format(lo=lo_s, hi=hi_s)
    if hi != -1:
        return t["up_to"].format(hi=hi_s)
    return t["from"].format(lo=lo_s) if lo != -1 else t["any"]


def _pending_table(t: dict[str, str], pending: dict | None, cur: str) -> str:
    if not pending or not pending.get("pending_bills"):
        return ""

    def row(p: dict) -> str:
        url = p.get("digital_bill_url")
        link = (
            f'<a href="{e(url)}" rel="noopener">{e(t["bill"])}</a>'
            if str(url).startswith(("https://", "http://"))
            else ""
        )
        return (
            f'<tr><td data-label="{e(t["date"])}">{e(p["date"])}</td>'
            f'<td data-label="{e(t["amount"])}">{e(_shown(p["amount"], cur))}</td>'
            f'<td data-label="{e(t["running"])}">{e(_shown(p["balance"], cur))}</td><td>{link}</td></tr>'
        )

    rows = "".join(row(p) for p in pending["pending_bills"])
    opening = pending.get("opening_balance")
    return (
        f'<section class="card" id="pending"><h2>{e(t["pending"])}</h2>'
        + (f"<p>{e(t['opening'])}: <strong>{e(_shown(opening, cur))}</strong></p>" if opening is not None else "")
        + f'<table class="table" id="pending-bills"><thead><tr><th>{e(t["date"])}</th><th>{e(t["amount"])}</th>'
        f"<th>{e(t['running'])}</th><th></th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _bill_page(request: Request, bank: Bank, lang: str, found: dict, error: str = "", amount: str = ""):
    t = BILL_TEXT[lang]
    c, tr, sup = found["customer"], found["transaction"], found["supplier"]
    cur = tr["currency"]
    name = c["customer_name"]
    latin = c.get("customer_name_latin") or ""
    rows = (
        f'<dt>{e(t["due"])}</dt><dd id="due">{e(_shown(c["bill_amount"], cur))}</dd>'
        + (f'<dt>{e(t["due_date"])}</dt><dd id="due-date">{e(c["last_due_date"])}</dd>' if c["last_due_date"] else "")
        + (f'<dt>{e(t["description"])}</dt><dd id="description">{e(c["description"])}</dd>' if c["description"] else "")
        + (
            f'<dt>{e(t["balance"])}</dt><dd id="balance">{e(_shown(found["balance"], cur))}</dd>'
            if found.get("balance")
            else ""
        )
    )
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    body = (
        f'<section class="card"><h1 id="biller-name">{e(sup["supplier_name"])}</h1>'
        f'<p>{e(t["bill_of"])} <strong id="consumer-name">{e(name)}</strong>'
        f'{" (" + e(latin) + ")" if latin and latin != name else ""} · <span id="consumer-code">'
        f"{e(c['customer_code'])}</span></p>"
        f'<p class="amount" id="total">{e(_shown(c["bill_amount"], cur))}</p>'
        f'<dl class="summary">{rows}</dl>{err}'
        f'<form method="post" action="/sandbox/bank/{e(bank.code)}/bills/pay?lang={lang}">'
        f'<input type="hidden" name="tran_id" value="{e(tr["tran_id"])}">'
        f'<input type="hidden" name="payment_token" value="{e(tr["payment_token"])}">'
        f'<input type="hidden" name="currency" value="{e(cur)}">'
        f'<label for="amount">{e(t["to_pay"])} ({e(cur)})</label>'
        f'<input id="amount" name="amount" inputmode="decimal" autocomplete="off" '
        f'value="{e(amount or str(c["bill_amount"]))}">'
        f'<p class="hint" id="limits">{e(_limits(t, c, cur))}</p>'
        f'<div class="actions"><button class="btn primary" id="pay">{e(t["pay"])}</button>'
        f'<a class="btn" id="cancel" href="/sandbox/bank/{e(bank.code)}/bills?lang={lang}">{e(t["cancel"])}</a></div>'
        f"</form></section>{_pending_table(t, found.get('pending_bills'), cur)}"
    )
    return page(
        f"{bank.name}: {t['title']}", body, lang=lang, request=request, brand=_bank_brand(bank, lang), sandbox=True
    )


@router.post("/sandbox/bank/{bank_code}/bills/pay")
async def bank_bill_pay(bank_code: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = BILL_TEXT[lang]
    bank = await session.get(Bank, bank_code)
    if bank is None or not bank.sandbox_token:
        return _cannot_pay(request, lang)
    f = await form(request)
    token, base = bank.sandbox_token, request.app.state.settings.issuer
    tran_id, amount = f.get("tran_id", ""), f.get("amount", "").strip().replace(",", "")
    back = f"/sandbox/bank/{bank.code}/bills?lang={lang}"
    await session.commit()
    try:
        try:
            to_decimal(amount)
        except AmountError:
            raise client.SandboxError(t["bad_amount"], "", t["bad_amount"]) from None
        await asyncio.to_thread(
            client.bill_confirm, base, token, tran_id, f.get("payment_token", ""), amount, f.get("currency", "")
        )
    except client.SandboxError as exc:
        return problem(
            t["refused"],
            f"{_refusal(exc, lang)} {t['not_paid']}",
            400,
            lang,
            request=request,
            sandbox=True,
            reason_id="error",
            back=back,
            back_label=t["another"],
        )
    return redirect(f"/sandbox/bank/{bank.code}/bills/paid/{tran_id}?lang={lang}")


@router.get("/sandbox/bank/{bank_code}/bills/paid/{tran_id}")
async def bank_bill_receipt(bank_code: str, tran_id: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = BILL_TEXT[lang]
    bank = await session.get(Bank, bank_code)
    tran = await session.get(Transaction, tran_id)
    lookup = await session.get(BillLookup, tran_id)
    if bank is None or tran is None or lookup is None or tran.bank_code != bank.code or tran.status != "success":
        return problem_of(BILL_TEXT, lang, "not_found", "not_found_text", 404, request=request, icon="?", sandbox=True)
    merchant = await session.get(Merchant, tran.merchant_id)
    cur = tran.currency
    rows = (
        f'<dt>{e(t["amount"])}</dt><dd id="paid-amount">{e(money(tran.amount, cur))}</dd>'
        f"<dt>{e(t['due'])}</dt><dd>{e(money(lookup.due_amount, cur))}</dd>"
        + (f'<dt>{e(t["over"])}</dt><dd id="overpaid">{e(money(lookup.overpaid, cur))}</dd>' if lookup.overpaid else "")
        + f'<dt>{e(t["bank_ref"])}</dt><dd id="bank-ref">{e(tran.bank_ref)}</dd>'
        f"<dt>{e(t['date'])}</dt><dd>{e(when(tran.paid_at, lang))}</dd>"
    )
    body = (
        f'<section class="card receipt" id="receipt"><p><span class="badge ok" id="state" data-state="success">'
        f"{e(t['paid'])}</span></p>"
        f'<p>{e(t["paid_to"])} <strong id="biller-name">{e(merchant.name if merchant else "")}</strong> · '
        f"{e(lookup.consumer_name)} ({e(lookup.consumer_code)})</p>"
        f'<p class="amount" id="total">{e(money(tran.amount, cur))}</p><dl class="summary">{rows}</dl>'
        f'<div class="actions"><a class="btn" id="another" href="/sandbox/bank/{e(bank.code)}/bills?lang={lang}">'
        f"{e(t['another'])}</a></div></section>"
    )
    return page(
        f"{bank.name}: {t['paid']}", body, lang=lang, request=request, brand=_bank_brand(bank, lang), sandbox=True
    )
