"""The subscription page (``subscription_link``): who is subscribing, to which biller, and the banks to consent
at; each bank's consent page takes it from there and returns to the biller."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import HTMLResponse, Response

from tonle.banks.models import Bank
from tonle.directdebit import service
from tonle.directdebit.models import Subscription
from tonle.kit import crypto
from tonle.merchants.models import Merchant
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, page, pick_lang, problem_of, redirect

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "title": "Set up automatic payment",
        "intro": "{biller} asks to collect these bills automatically from your bank account:",
        "pick": "Choose your bank",
        "note": "Your bank will ask you to approve. You can stop automatic payment at any time.",
        "cancel": "Cancel and return",
        "unavailable": "Subscription unavailable",
        "unknown": "This subscription link does not exist.",
        "expired": "This subscription link has expired. Nothing was changed; ask the biller for a new one.",
        "decided": "This subscription was already decided. Nothing was changed.",
        "return": "Return to the biller",
        "code": "Customer code",
    },
    "km": {
        "title": "រៀបចំការបង់ប្រាក់ស្វ័យប្រវត្តិ",
        "intro": "{biller} សុំកាត់ប្រាក់វិក្កយបត្រទាំងនេះដោយស្វ័យប្រវត្តិពីគណនីធនាគាររបស់អ្នក៖",
        "pick": "ជ្រើសរើសធនាគាររបស់អ្នក",
        "note": "ធនាគាររបស់អ្នកនឹងសុំការយល់ព្រម។ អ្នកអាចបញ្ឈប់ការបង់ប្រាក់ស្វ័យប្រវត្តិបានគ្រប់ពេល។",
        "cancel": "បោះបង់ ហើយត្រឡប់ក្រោយ",
        "unavailable": "ការជាវមិនអាចប្រើបាន",
        "unknown": "តំណការជាវនេះមិនមានទេ។",
        "expired": "តំណការជាវនេះផុតកំណត់ហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។ សូមស្នើតំណថ្មីពីអ្នកផ្តល់សេវា។",
        "decided": "ការជាវនេះត្រូវបានសម្រេចរួចហើយ។ គ្មានអ្វីត្រូវបានផ្លាស់ប្តូរទេ។",
        "return": "ត្រឡប់ទៅអ្នកផ្តល់សេវា",
        "code": "លេខកូដអតិថិជន",
    },
}


def unavailable(request: Request, err: service.PageUnavailable, lang: str, sandbox: bool = False) -> HTMLResponse:
    sub = err.facts.get("subscription")
    back = ""
    if sub is not None:
        back = service.return_url(sub, service.status_of(sub))
    status = 404 if err.facts["reason"] == "unknown" else 410
    return problem_of(
        TEXT,
        lang,
        "unavailable",
        err.facts["reason"],
        status,
        request=request,
        back=back,
        back_label=TEXT[lang]["return"],
        sandbox=sandbox,
    )


def consumer_list(consumers: list, lang: str) -> str:
    t = TEXT[lang]
    items = []
    for c in consumers:
        name = c.consumer_name if lang == "km" and c.consumer_name else (c.consumer_name_latin or c.consumer_name)
        other = c.consumer_name_latin if name == c.consumer_name and c.consumer_name_latin != name else ""
        info = f'<div class="muted small">{e(c.additional_information)}</div>' if c.additional_information else ""
        items.append(
            '<li class="consumer"><div class="line-main"><span class="item">'
            f"<strong>{e(name or c.consumer_code)}</strong>"
            f"{' · ' + e(other) if other else ''}</span></div>"
            f'<div class="muted small">{e(t["code"])}: <span class="num">{e(c.consumer_code)}</span></div>{info}</li>'
        )
    return f'<ul class="bill-lines" id="consumers">{"".join(items)}</ul>'


@router.get("/checkoutv2/subscription/{page_ref}")
async def subscription_page(page_ref: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    try:
        sub = await service.open_page(session, page_ref)
    except service.PageUnavailable as err:
        return unavailable(request, err, lang)
    merchant = await session.get(Merchant, sub.merchant_id)
    assert merchant is not None
    consumers = await service.consumers_of(session, sub)
    banks = list(await session.scalars(select(Bank).order_by(Bank.name)))
    rows = "".join(
        f'<li class="bank-row"><a class="bank" id="bank-{e(b.code)}" '
        f'href="/sandbox/bank/{e(b.code)}/direct-debit/{e(sub.page_ref)}?lang={lang}">'
        + (
            f'<img src="{e(b.logo)}" alt="">'
            if b.logo
            else f'<span class="mark" aria-hidden="true">{e(b.code[:3])}</span>'
        )
        + f"<span>{e(b.name_kh if lang == 'km' and b.name_kh else b.name)}</span>"
        + '<span class="go" aria-hidden="true">›</span></a></li>'
        for b in banks
    )
    back = service.return_url(sub, "Cancelled")
    cancel = (
        f'<div class="actions"><a class="btn" id="cancel" href="{e(back)}">{e(t["cancel"])}</a></div>' if back else ""
    )
    body = (
        f'<section class="card"><h1>{e(t["title"])}</h1>'
        f'<p id="intro">{e(t["intro"]).replace("{biller}", "<strong>" + e(merchant.name) + "</strong>")}</p>'
        f"{consumer_list(consumers, lang)}"
        f'<h2>{e(t["pick"])}</h2><ul class="banks" id="banks">{rows}</ul>'
        f'<p class="muted small">{e(t["note"])}</p>{cancel}</section>'
    )
    brand = brand_html(merchant.name, merchant.logo_url)
    return page(t["title"], body, lang=lang, request=request, brand=brand)


@router.get("/checkoutv2/subscription/number/{subscription_no}")
async def by_number(subscription_no: str, request: Request, session: Session) -> Response:
    """What the ADD SDK opens (it takes the subscription number and the merchant's referrer key): the page."""
    lang = pick_lang(request, "km")
    sub = await session.scalar(select(Subscription).where(Subscription.subscription_no == subscription_no))
    merchant = await session.get(Merchant, sub.merchant_id) if sub is not None else None
    key = request.headers.get("X-Referrer-Key", "")
    if sub is None or merchant is None or not key or not crypto.same(crypto.digest(key), merchant.referrer_key_digest):
        return unavailable(request, service.PageUnavailable(reason="unknown"), lang)
    return redirect(f"/checkoutv2/subscription/{sub.page_ref}?lang={lang}")
