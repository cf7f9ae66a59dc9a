"""The hosted checkout page, its live status stream, KHQR images, and the bill checkout link."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import FileResponse, Response, StreamingResponse

from tonle.banks.models import Bank
from tonle.bills.models import Bill
from tonle.checkout import service
from tonle.checkout.router import bank_links
from tonle.khqr import images
from tonle.kit.clock import epoch
from tonle.transactions.models import effective_status
from tonle.wire.http import Session
from tonle.wire.pages import SECURITY_HEADERS, brand_html, e, money, page, pick_lang, problem_of, when

router = APIRouter(tags=["Pages"], include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STREAM_LIMIT_SECONDS = 15 * 60  # an event stream ends by itself; the browser's EventSource reconnects

TEXT = {
    "en": {
        "pay": "Pay",
        "amount": "Amount",
        "fee": "Fee",
        "total": "Total",
        "scan": "Scan with any KHQR banking app",
        "save": "Save QR",
        "banks": "Or pay with your bank",
        "open_app": "App",
        "expires": "Expires in",
        "pending": "Waiting for payment",
        "success": "Paid",
        "returning": "Paid. Returning to the merchant…",
        "expired": "This payment has expired.",
        "expired_help": "Nothing was charged. Ask the merchant for a new payment link.",
        "cancel": "Cancel",
        "bill": "Reference",
        "description": "Description",
        "receipt": "Payment received",
        "bank": "Bank",
        "bank_ref": "Bank reference",
        "paid_at": "Paid at",
        "return": "Return to the merchant",
        "not_found": "Payment not found",
        "not_found_text": "This payment link does not exist. Check the link you were sent, or ask the merchant.",
        "back": "Back",
        "bill_paid": "This bill is paid.",
    },
    "km": {
        "pay": "បង់ប្រាក់",
        "amount": "ចំនួនទឹកប្រាក់",
        "fee": "កម្រៃសេវា",
        "total": "សរុប",
        "scan": "ស្កេនជាមួយកម្មវិធីធនាគារ KHQR",
        "save": "រក្សាទុក QR",
        "banks": "ឬបង់តាមធនាគាររបស់អ្នក",
        "open_app": "កម្មវិធី",
        "expires": "ផុតកំណត់ក្នុង",
        "pending": "កំពុងរង់ចាំការបង់ប្រាក់",
        "success": "បានបង់",
        "returning": "បានបង់។ កំពុងត្រឡប់ទៅអ្នកលក់…",
        "expired": "ការបង់ប្រាក់នេះផុតកំណត់ហើយ។",
        "expired_help": "មិនមានការកាត់ប្រាក់ទេ។ សូមស្នើតំណបង់ប្រាក់ថ្មីពីអ្នកលក់។",
        "cancel": "បោះបង់",
        "bill": "លេខយោង",
        "description": "ការពិពណ៌នា",
        "receipt": "បានទទួលការបង់ប្រាក់",
        "bank": "ធនាគារ",
        "bank_ref": "លេខយោងធនាគារ",
        "paid_at": "បង់នៅ",
        "return": "ត្រឡប់ទៅអ្នកលក់",
        "not_found": "រកមិនឃើញការបង់ប្រាក់",
        "not_found_text": "តំណបង់ប្រាក់នេះមិនមានទេ។ សូមពិនិត្យតំណដែលអ្នកបានទទួល ឬសួរអ្នកលក់។",
        "back": "ត្រឡប់ក្រោយ",
        "bill_paid": "វិក្កយបត្រនេះបានបង់រួចហើយ។",
    },
}


def _pay_url(settings, bank_code: str, tran_id: str) -> str:
    return bank_links(settings, bank_code, tran_id)["web_payment_url"]


def _redirect_after(tran, checkout) -> str:
    if effective_status(tran) != "success" or not checkout.redirect_url:
        return ""
    return service.back_to_merchant(
        checkout.redirect_url, "SUCCESS", "Transaction success", service.outcome_data(tran, checkout)
    )


def not_found(request: Request, lang: str) -> Response:
    return problem_of(TEXT, lang, "not_found", "not_found_text", 404, request=request, icon="?")


def _summary(t: dict[str, str], tran, checkout) -> str:
    cur = tran.currency
    rows = [f'<dt>{e(t["amount"])}</dt><dd id="amount">{e(money(tran.amount, cur))}</dd>']
    if tran.fee:
        rows.append(f'<dt>{e(t["fee"])}</dt><dd id="fee">{e(money(tran.fee, cur))}</dd>')
    total = e(money(tran.amount + tran.fee, cur))
    rows.append(f'<dt class="total">{e(t["total"])}</dt><dd class="total" id="total-line">{total}</dd>')
    rows.append(f'<dt>{e(t["bill"])}</dt><dd id="reference">{e(checkout.identity_code)}</dd>')
    if tran.description:
        rows.append(f'<dt>{e(t["description"])}</dt><dd id="description">{e(tran.description)}</dd>')
    return f'<dl class="summary">{"".join(rows)}</dl>'


async def _render(request: Request, session: Session, tran_id: str) -> Response:
    found = await service.by_tran_id(session, tran_id)
    if found is None:
        return not_found(request, pick_lang(request))
    tran, checkout, merchant = found
    lang = pick_lang(request, checkout.language)
    t = TEXT[lang]
    settings = request.app.state.settings
    state = effective_status(tran)
    cur = tran.currency
    total = money(tran.amount + tran.fee, cur)
    brand = brand_html(merchant.name, merchant.logo_url)
    title = f"{merchant.name}: {t['pay']} {total}"
    cancel_href = ""
    if checkout.cancel_url:
        cancel_href = service.back_to_merchant(
            checkout.cancel_url, "CANCELLED", "Transaction cancelled", service.outcome_data(tran, checkout)
        )
    if state == "success":
        return await _receipt(request, session, t, lang, tran, checkout, brand, title)
    if state != "pending":
        other = "en" if lang == "km" else "km"
        o = TEXT[other]
        back = (
            f'<div class="actions"><a class="btn" id="cancel" href="{e(cancel_href)}">{e(t["back"])}</a></div>'
            if cancel_href
            else ""
        )
        body = (
            f'<section class="card center" id="checkout" data-state="{e(state)}">'
            f'<div class="icon bad" aria-hidden="true">!</div><h1 id="status">{e(t["expired"])}</h1>'
            f'<p>{e(t["expired_help"])}</p><p class="muted small" id="other-lang" lang="{other}">'
            f"<strong>{e(o['expired'])}</strong><br>{e(o['expired_help'])}</p>"
            f'<p class="muted">{e(checkout.identity_code)} · {e(total)}</p>{back}'
            "</section>"
        )
        return page(title, body, lang=lang, request=request, brand=brand)
    banks = (await session.execute(select(Bank).where(Bank.online.is_(True)).order_by(Bank.code))).scalars().all()
    bank_items = []
    for b in banks:
        links = bank_links(settings, b.code, tran.id)
        mark = f'<img src="{e(b.logo)}" alt="">' if b.logo else f'<span class="mark">{e(b.code[:4])}</span>'
        name = b.name_kh if lang == "km" and b.name_kh else b.name
        bank_items.append(
            f'<li class="bank-row"><a class="bank" id="bank-{e(b.code)}" href="{e(links["web_payment_url"])}">'
            f'{mark}<span>{e(name)}</span><span class="go" aria-hidden="true">›</span></a>'
            f'<a class="app" id="app-{e(b.code)}" href="{e(links["mobile_deep_link"])}">{e(t["open_app"])}</a></li>'
        )
    cancel = (
        f'<div class="actions"><a class="btn" id="cancel" href="{e(cancel_href)}">{e(t["cancel"])}</a></div>'
        if cancel_href
        else ""
    )
    live_texts = json.dumps({"success": t["success"], "expired": t["expired"]}, ensure_ascii=False)
    amount_text = money(tran.amount + tran.fee, cur)
    number, _, sign = amount_text.partition(" ") if cur == "KHR" else (amount_text, "", "")
    body = (
        f'<section id="checkout" data-state="{e(state)}" data-expires="{epoch(tran.expire_date) * 1000}" '
        f'data-events="/checkout/{e(tran.id)}/events" data-texts="{e(live_texts)}" data-lang="{e(lang)}">'
        '<div class="card center">'
        f'<p><span class="badge" id="status" role="status" aria-live="polite">{e(t["pending"])}</span></p>'
        f'<p class="muted small">{e(t["expires"])} <strong id="countdown" class="num"></strong></p>'
        '<div class="khqr-card" id="khqr-card"><div class="khqr-head"><span class="khqr-mark">KHQR</span></div>'
        f'<div class="khqr-body"><p class="khqr-name" id="merchant">{e(merchant.name)}</p>'
        f'<p class="khqr-amount" id="total">{e(number)}{" <small>" + e(sign) + "</small>" if sign else ""}</p>'
        '<hr class="khqr-divider">'
        f'<img class="khqr-qr" id="khqr" src="/khqr/{e(tran.id)}.svg" alt="KHQR" width="240" height="240">'
        "</div></div>"
        f'<p class="muted small">{e(t["scan"])}</p>'
        f'<div class="actions"><a class="btn" id="save-qr" href="/khqr/{e(tran.id)}.png" '
        f'download="KHQR-{e(checkout.identity_code[:40])}.png">{e(t["save"])}</a></div>'
        "</div>"
        f'<div class="card">{_summary(t, tran, checkout)}</div>'
        f'<div class="card pay-options"><h2>{e(t["banks"])}</h2><ul class="banks">{"".join(bank_items)}</ul>'
        f"{cancel}</div></section>"
    )
    return page(title, body, lang=lang, request=request, brand=brand, scripts=["/static/checkout.js"])


async def _receipt(request, session, t, lang, tran, checkout, brand, title) -> Response:
    bank = await session.get(Bank, tran.bank_code) if tran.bank_code else None
    bank_name = (bank.name_kh if lang == "km" and bank.name_kh else bank.name) if bank else (tran.bank_code or "")
    redirect_to = _redirect_after(tran, checkout)
    just_paid = request.query_params.get("paid") == "1"
    back = (
        f'<div class="actions"><a class="btn primary" id="return" href="{e(redirect_to)}">{e(t["return"])}</a></div>'
        if redirect_to
        else ""
    )
    status = t["returning"] if (redirect_to and just_paid) else t["success"]
    rows = (
        f'<dt>{e(t["bank"])}</dt><dd id="receipt-bank">{e(bank_name)}</dd>'
        f'<dt>{e(t["bank_ref"])}</dt><dd id="receipt-bank-ref">{e(tran.bank_ref)}</dd>'
        f'<dt>{e(t["paid_at"])}</dt><dd id="receipt-paid-at">{e(when(tran.paid_at, lang))}</dd>'
    )
    # Only the page that watched the payment happen sends the customer on by itself; a later visit just shows
    # the receipt and the way back.
    auto = f' data-redirect="{e(redirect_to)}"' if (redirect_to and just_paid) else ""
    body = (
        f'<section class="card" id="checkout" data-state="success" data-lang="{e(lang)}"{auto}>'
        '<div class="center"><div class="icon ok" aria-hidden="true">✓</div>'
        f'<h1 id="receipt-title">{e(t["receipt"])}</h1>'
        f'<p><span class="badge ok" id="status" role="status">{e(status)}</span></p>'
        f'<p class="amount" id="total">{e(money(tran.amount + tran.fee, tran.currency))}</p></div>'
        f"{_summary(t, tran, checkout).replace('</dl>', rows + '</dl>')}{back}</section>"
    )
    scripts = ["/static/checkout.js"] if (redirect_to and just_paid) else []
    return page(title, body, lang=lang, request=request, brand=brand, scripts=scripts)


@router.get("/checkout/{tran_id}")
async def checkout_page(tran_id: str, request: Request, session: Session) -> Response:
    return await _render(request, session, tran_id)


@router.get("/checkoutv2/{checkout_ref}")
async def bill_checkout(checkout_ref: str, request: Request, session: Session) -> Response:
    """An unpaid bill's checkout link: payable here through a checkout transaction made (or reused) for it."""
    bill = (await session.execute(select(Bill).where(Bill.checkout_ref == checkout_ref))).scalar_one_or_none()
    lang = pick_lang(request)
    if bill is None:
        return not_found(request, lang)
    if bill.status == "paid":
        t = TEXT[lang]
        paid = (
            f'<section class="card center"><div class="icon ok" aria-hidden="true">✓</div><h1>{e(bill.ref_id)}</h1>'
            f'<p><span class="badge ok" id="bill-status">{e(t["success"])}</span></p>'
            f'<p class="amount">{e(money(bill.total_amount, bill.currency))}</p><p>{e(t["bill_paid"])}</p></section>'
        )
        return page(f"{bill.ref_id}", paid, lang=lang, request=request, brand=brand_html("Tonle"))
    tran, _checkout = await service.for_bill(session, request.app.state.settings, bill)
    await session.commit()  # the page's transaction must exist before the browser asks for its QR and events
    return await _render(request, session, tran.id)


@router.get("/checkout/{tran_id}/events")
async def checkout_events(tran_id: str, request: Request) -> Response:
    """Server-sent events: an ``event: status`` line whenever the transaction's status changes; the stream ends
    when it is paid or expired (or after 15 minutes, when the browser reconnects by itself)."""
    db = request.app.state.db

    async def stream():
        last = None
        started = time.monotonic()
        yield "retry: 2000\n\n"
        while time.monotonic() - started < STREAM_LIMIT_SECONDS:
            if await request.is_disconnected():
                return
            async with db.sessions() as session:  # a short read each time: nothing held between polls
                found = await service.by_tran_id(session, tran_id)
                state = effective_status(found[0]) if found else "not_found"
                redirect = _redirect_after(found[0], found[1]) if found else ""
            if found is None:
                yield 'event: status\ndata: {"status": "not_found"}\n\n'
                return
            if state != last:
                last = state
                payload = {"status": state, "redirect": redirect}
                yield f"event: status\ndata: {json.dumps(payload)}\n\n"
                if state in ("success", "expired"):
                    return
            await asyncio.sleep(1)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/khqr/{tran_id}.{fmt}")
async def khqr_image(tran_id: str, fmt: str, session: Session) -> Response:
    found = await service.by_tran_id(session, tran_id)
    if found is None or fmt not in ("png", "svg"):
        return Response(status_code=404)
    return Response(
        images.render(found[1].khqr_string, fmt),
        media_type=images.FORMATS[fmt],
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


@router.get("/static/checkout.js")
async def checkout_js() -> Response:
    return FileResponse(STATIC / "checkout.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})
