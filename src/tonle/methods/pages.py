"""The page a biller or the SDK opens for a customer to put a card or a bank account on file (``link_url``). The card
form posts straight to the card vault, so the card number never passes through Tonle's own code; the vault sends the
browser back here with a token. An account is linked at the customer's bank, which confirms it with a one-time
code and sends the browser back to the biller."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from tonle.banks import cards
from tonle.banks.models import Bank
from tonle.customers.models import Customer
from tonle.merchants.models import Merchant
from tonle.methods import service
from tonle.methods.models import MethodLink
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, page, pick_lang, problem_of, redirect

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "title": "Add a payment method",
        "intro": "{biller} asks you to put a payment method on file. You are paying as {customer}.",
        "card": "Add a card",
        "card_note": "Visa, Mastercard, UnionPay or JCB",
        "account": "Link a bank account",
        "account_note": "Your bank confirms it with a one-time code",
        "card_title": "Add a card",
        "number": "Card number",
        "exp": "Expiry (MM/YY)",
        "cvc": "Security code (CVC)",
        "save": "Save card",
        "safe": "Your card number goes to the card vault only; {biller} and Tonle keep the last four digits.",
        "pick_bank": "Choose your bank",
        "cancel": "Cancel",
        "other": "Another way",
        "done": "Payment method added",
        "cancelled": "Nothing was added",
        "return": "Return to the biller",
        "unavailable": "This page cannot be used",
        "unknown": "This link does not exist.",
        "expired": "This link has expired. Nothing was changed; ask the biller for a new one.",
        "done_already": "This link was already used. Nothing was changed.",
        "errors": {
            "invalid_number": "That card number is not valid.",
            "invalid_expiry": "Enter the expiry as MM/YY.",
            "expired_card": "That card has expired.",
            "invalid_cvc": "The security code is the 3 or 4 digits on the card.",
            "authentication_failed": "Your card's bank could not confirm the card. It was not added.",
            "unknown_card": "The card vault did not recognise that card. It was not added.",
        },
    },
    "km": {
        "title": "បន្ថែមវិធីបង់ប្រាក់",
        "intro": "{biller} សុំឱ្យអ្នករក្សាទុកវិធីបង់ប្រាក់។ អ្នកកំពុងបង់ក្នុងនាម {customer}។",
        "card": "បន្ថែមកាត",
        "card_note": "Visa, Mastercard, UnionPay ឬ JCB",
        "account": "ភ្ជាប់គណនីធនាគារ",
        "account_note": "ធនាគាររបស់អ្នកបញ្ជាក់ដោយលេខកូដប្រើម្តង",
        "card_title": "បន្ថែមកាត",
        "number": "លេខកាត",
        "exp": "ថ្ងៃផុតកំណត់ (MM/YY)",
        "cvc": "លេខកូដសុវត្ថិភាព (CVC)",
        "save": "រក្សាទុកកាត",
        "safe": "លេខកាតរបស់អ្នកទៅកាន់ឃ្លាំងកាតតែប៉ុណ្ណោះ។ {biller} និង Tonle រក្សាទុកតែលេខបួនខ្ទង់ចុងក្រោយ។",
        "pick_bank": "ជ្រើសរើសធនាគាររបស់អ្នក",
        "cancel": "បោះបង់",
        "other": "វិធីផ្សេងទៀត",
        "done": "វិធីបង់ប្រាក់ត្រូវបានបន្ថែម",
        "cancelled": "គ្មានអ្វីត្រូវបានបន្ថែមទេ",
        "return": "ត្រឡប់ទៅអ្នកផ្តល់សេវា",
        "unavailable": "ទំព័រនេះមិនអាចប្រើបានទេ",
        "unknown": "តំណនេះមិនមានទេ។",
        "expired": "តំណនេះផុតកំណត់ហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។ សូមស្នើតំណថ្មីពីអ្នកផ្តល់សេវា។",
        "done_already": "តំណនេះត្រូវបានប្រើរួចហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។",
        "errors": {
            "invalid_number": "លេខកាតនេះមិនត្រឹមត្រូវទេ។",
            "invalid_expiry": "សូមបញ្ចូលថ្ងៃផុតកំណត់ជា MM/YY។",
            "expired_card": "កាតនេះផុតកំណត់ហើយ។",
            "invalid_cvc": "លេខកូដសុវត្ថិភាពគឺលេខ 3 ឬ 4 ខ្ទង់នៅលើកាត។",
            "authentication_failed": "ធនាគារនៃកាតរបស់អ្នកមិនអាចបញ្ជាក់កាតនេះបានទេ។ វាមិនត្រូវបានបន្ថែមទេ។",
            "unknown_card": "ឃ្លាំងកាតមិនស្គាល់កាតនេះទេ។ វាមិនត្រូវបានបន្ថែមទេ។",
        },
    },
}


def unavailable(request: Request, err: service.PageUnavailable, lang: str, sandbox: bool = False) -> HTMLResponse:
    link = err.facts.get("link")
    reason = err.facts["reason"]
    back = service.return_url(link, "expired" if reason == "expired" else "used") if link is not None else ""
    text = "done_already" if reason == "done" else reason
    status = 404 if reason == "unknown" else 410
    return problem_of(
        TEXT,
        lang,
        "unavailable",
        text,
        status,
        request=request,
        back=back,
        back_label=TEXT[lang]["return"],
        sandbox=sandbox,
    )


async def _parties(session: Session, link: MethodLink) -> tuple[Merchant, Customer]:
    merchant = await session.get(Merchant, link.merchant_id)
    customer = await session.get(Customer, link.customer_id)
    assert merchant is not None and customer is not None
    return merchant, customer


def _frame(request: Request, lang: str, merchant: Merchant, title: str, body: str, back: str = "") -> HTMLResponse:
    return page(
        title,
        body,
        lang=lang,
        request=request,
        brand=brand_html(merchant.name, merchant.logo_url),
        form_to=[back] if back else [],
    )


def _intro(t: dict, merchant: Merchant, customer: Customer) -> str:
    text = e(t["intro"]).replace("{biller}", f"<strong>{e(merchant.name)}</strong>")
    return f'<p id="intro">{text.replace("{customer}", f"<strong>{e(customer.name)}</strong>")}</p>'


def _cancel_form(link: MethodLink, lang: str, label: str) -> str:
    return (
        f'<form method="post" action="/pay/methods/{e(link.page_ref)}/cancel?lang={lang}">'
        f'<button class="btn" id="cancel">{e(label)}</button></form>'
    )


async def _banks(session: Session, link: MethodLink, lang: str) -> str:
    banks = list(await session.scalars(select(Bank).order_by(Bank.name)))
    return "".join(
        f'<li class="bank-row"><a class="bank" id="bank-{e(b.code)}" '
        f'href="/sandbox/bank/{e(b.code)}/link-account/{e(link.page_ref)}?lang={lang}">'
        + (
            f'<img src="{e(b.logo)}" alt="">'
            if b.logo
            else f'<span class="mark" aria-hidden="true">{e(b.code[:3])}</span>'
        )
        + f"<span>{e(b.name_kh if lang == 'km' and b.name_kh else b.name)}</span>"
        + '<span class="go" aria-hidden="true">›</span></a></li>'
        for b in banks
    )


def _card_form(t: dict, link: MethodLink, lang: str, merchant: Merchant, error: str = "") -> str:
    err = f'<p class="error" id="error" role="alert">{e(error)}</p>' if error else ""
    action = f"{cards.vault().form_action}?{urlencode({'lang': lang})}"
    return (
        f'<h2 id="card-title">{e(t["card_title"])}</h2>{err}'
        f'<form method="post" action="{e(action)}" id="card-form" autocomplete="on">'
        f'<input type="hidden" name="link" value="{e(link.page_ref)}">'
        f'<label for="number">{e(t["number"])}</label>'
        '<input id="number" name="number" inputmode="numeric" autocomplete="cc-number" maxlength="23" '
        'placeholder="4242 4242 4242 4242" required>'
        f'<label for="exp">{e(t["exp"])}</label>'
        '<input id="exp" name="exp" inputmode="numeric" autocomplete="cc-exp" maxlength="7" '
        'placeholder="MM/YY" required>'
        f'<label for="cvc">{e(t["cvc"])}</label>'
        '<input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" maxlength="4" placeholder="123" required>'
        f'<div class="actions"><button class="btn primary" id="save">{e(t["save"])}</button></div></form>'
        f'<p class="muted small" id="safe">{e(t["safe"]).replace("{biller}", e(merchant.name))}</p>'
    )


@router.get("/pay/methods/{page_ref}")
async def link_page(page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    try:
        link = await service.open_page(session, page_ref)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang)
    merchant, customer = await _parties(session, link)
    kind = request.query_params.get("kind") or link.kind
    parts = [f'<section class="card"><h1>{e(t["title"])}</h1>{_intro(t, merchant, customer)}']
    if kind == "card":
        parts.append(_card_form(t, link, lang, merchant))
    elif kind == "bank_account":
        parts.append(
            f'<h2>{e(t["pick_bank"])}</h2><ul class="banks" id="banks">{await _banks(session, link, lang)}</ul>'
        )
    else:
        base = f"/pay/methods/{e(link.page_ref)}?lang={lang}"
        parts.append(
            '<ul class="banks" id="kinds">'
            f'<li class="bank-row"><a class="bank" id="kind-card" href="{base}&amp;kind=card">'
            f'<span class="mark" aria-hidden="true">▭</span><span>{e(t["card"])}'
            f'<br><span class="muted small">{e(t["card_note"])}</span></span>'
            '<span class="go" aria-hidden="true">›</span></a></li>'
            f'<li class="bank-row"><a class="bank" id="kind-account" href="{base}&amp;kind=bank_account">'
            f'<span class="mark" aria-hidden="true">⌂</span><span>{e(t["account"])}'
            f'<br><span class="muted small">{e(t["account_note"])}</span></span>'
            '<span class="go" aria-hidden="true">›</span></a></li></ul>'
        )
    if kind and not link.kind:
        parts.append(f'<p><a id="other" href="/pay/methods/{e(link.page_ref)}?lang={lang}">{e(t["other"])}</a></p>')
    parts.append(f'<div class="actions">{_cancel_form(link, lang, t["cancel"])}</div></section>')
    return _frame(request, lang, merchant, t["title"], "".join(parts), service.return_url(link, "cancelled"))


def outcome_page(
    request: Request, lang: str, merchant: Merchant, link: MethodLink, outcome: str, method=None, sandbox: bool = False
) -> Response:
    """Back to the biller with the outcome, or (no web_url) a page that says it."""
    back = service.return_url(link, outcome, method)
    if back:
        return redirect(back)
    t = TEXT[lang]
    ok = outcome == "success"
    title = t["done"] if ok else t["cancelled"]
    shown = ""
    if method is not None:
        sub = service.sub_titles(method)[0 if lang == "en" else 1]
        shown = f'<p id="method-name">{e(method.name)}</p><p class="num" id="method-sub">{e(sub)}</p>'
    body = (
        f'<section class="card center" id="outcome"><div class="icon {"ok" if ok else "bad"}" aria-hidden="true">'
        f"{'✓' if ok else '!'}</div><h1>{e(title)}</h1>{shown}</section>"
    )
    return page(
        title, body, lang=lang, request=request, brand=brand_html(merchant.name, merchant.logo_url), sandbox=sandbox
    )


@router.get("/pay/methods/{page_ref}/card")
async def card_back(page_ref: str, request: Request, session: Session) -> Response:
    """Where the vault sends the browser: with ``card_token`` (the card is tokenized) or ``error``."""
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    try:
        link = await service.open_page(session, page_ref, for_update=True)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang)
    merchant, customer = await _parties(session, link)
    token = request.query_params.get("card_token", "")
    error = request.query_params.get("error", "")
    card = None
    if token:
        await session.commit()  # nothing open while the vault is asked
        card = await cards.vault().card(request.app.state.db, token)
        if card is None or card.reference != link.page_ref:
            card, error = None, "unknown_card"
    if card is None:
        message = t["errors"].get(error, t["errors"]["unknown_card"])
        body = (
            f'<section class="card"><h1>{e(t["title"])}</h1>{_intro(t, merchant, customer)}'
            f"{_card_form(t, link, lang, merchant, message)}"
            f'<div class="actions">{_cancel_form(link, lang, t["cancel"])}</div></section>'
        )
        return _frame(request, lang, merchant, t["title"], body, service.return_url(link, "cancelled"))
    try:
        link = await service.open_page(session, page_ref, for_update=True)
        method = await service.add_card(session, link, card)
        await session.commit()
    except service.PageUnavailable as err:
        return unavailable(request, err, lang)
    return outcome_page(request, lang, merchant, link, "success", method)


@router.post("/pay/methods/{page_ref}/cancel")
async def cancel(page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    try:
        link = await service.open_page(session, page_ref, for_update=True)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang)
    merchant, _ = await _parties(session, link)
    await service.cancel(session, link)
    await session.commit()
    return outcome_page(request, lang, merchant, link, "cancelled")
