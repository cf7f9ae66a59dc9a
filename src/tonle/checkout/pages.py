"""The hosted checkout page, its live status stream, KHQR images, and the bill checkout link."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path

import segno
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import FileResponse, Response, StreamingResponse

from tonle.checkout import service
from tonle.checkout.router import bank_links
from tonle.kit.http import Session
from tonle.kit.money import display
from tonle.kit.pages import SECURITY_HEADERS, e, page
from tonle.kit.timefmt import epoch
from tonle.payments.models import Bill
from tonle.payments.topup import effective_status
from tonle.sandbox.models import Bank

router = APIRouter(tags=["Pages"], include_in_schema=False)
STATIC = Path(__file__).parent / "static"
STREAM_LIMIT_SECONDS = 15 * 60  # an event stream ends by itself; the browser's EventSource reconnects

TEXT = {
    "en": {
        "pay": "Pay",
        "fee": "Fee",
        "total": "Total",
        "scan": "Scan with any KHQR banking app",
        "banks": "Or pay with",
        "expires": "Expires in",
        "pending": "Waiting for payment",
        "success": "Paid. Returning to the merchant…",
        "expired": "This payment has expired.",
        "cancel": "Cancel",
        "bill": "Reference",
    },
    "km": {
        "pay": "បង់ប្រាក់",
        "fee": "កម្រៃសេវា",
        "total": "សរុប",
        "scan": "ស្កេនជាមួយកម្មវិធីធនាគារ KHQR",
        "banks": "ឬបង់តាម",
        "expires": "ផុតកំណត់ក្នុង",
        "pending": "កំពុងរង់ចាំការបង់ប្រាក់",
        "success": "បានបង់។ កំពុងត្រឡប់ទៅអ្នកលក់…",
        "expired": "ការបង់ប្រាក់នេះផុតកំណត់ហើយ។",
        "cancel": "បោះបង់",
        "bill": "លេខយោង",
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


async def _render(request: Request, session: Session, tran_id: str) -> Response:
    found = await service.by_tran_id(session, tran_id)
    if found is None:
        return page("Not found", '<div class="card"><h1>Checkout not found</h1></div>', 404)
    tran, checkout, merchant = found
    lang = checkout.language if checkout.language in TEXT else "km"
    t = TEXT[lang]
    settings = request.app.state.settings
    state = effective_status(tran)
    cur = tran.currency
    banks = (await session.execute(select(Bank).where(Bank.online.is_(True)).order_by(Bank.code))).scalars().all()
    bank_items = "".join(
        f'<li><a class="bank" id="bank-{e(b.code)}" href="{e(_pay_url(settings, b.code, tran.id))}">'
        + (f'<img class="logo" src="{e(b.logo)}" alt=""> ' if b.logo else "")
        + f"{e(b.name_kh if lang == 'km' and b.name_kh else b.name)}</a></li>"
        for b in banks
    )
    cancel = ""
    if checkout.cancel_url:
        href = service.back_to_merchant(
            checkout.cancel_url, "CANCELLED", "Transaction cancelled", service.outcome_data(tran, checkout)
        )
        cancel = f'<p class="pay-options"><a id="cancel" href="{e(href)}">{e(t["cancel"])}</a></p>'
    status_text = {"success": t["success"], "expired": t["expired"]}.get(state, t["pending"])
    status_class = {"success": "ok", "expired": "bad"}.get(state, "")
    logo = f'<img class="logo" src="{e(merchant.logo_url)}" alt="">' if merchant.logo_url else ""
    live_texts = json.dumps({"success": t["success"], "expired": t["expired"]}, ensure_ascii=False)
    fee_line = f'<dt>{e(t["fee"])}</dt><dd id="fee">{e(display(tran.fee, cur))} {cur}</dd>' if tran.fee else ""
    body = (
        f'<div class="card" id="checkout" data-state="{e(state)}" data-expires="{epoch(tran.expire_date) * 1000}" '
        f'data-events="/checkout/{e(tran.id)}/events" data-texts="{e(live_texts)}">'
        f'{logo}<p id="merchant">{e(merchant.name)}</p>'
        f'<p class="amount" id="total">{e(display(tran.amount + tran.fee, cur))} {cur}</p>'
        f'<dl><dt>{e(t["pay"])}</dt><dd id="amount">{e(display(tran.amount, cur))} {cur}</dd>{fee_line}'
        f"<dt>{e(t['bill'])}</dt><dd>{e(checkout.identity_code)}</dd>"
        f"<dt>{e((tran.description and 'Description') or '')}</dt><dd>{e(tran.description)}</dd></dl>"
        f'<p><span class="status {status_class}" id="status">{e(status_text)}</span></p>'
        f'<div class="pay-options"{" hidden" if state != "pending" else ""}>'
        f'<p>{e(t["expires"])} <strong id="countdown"></strong></p>'
        f'<p>{e(t["scan"])}</p><p><img id="khqr" src="/khqr/{e(tran.id)}.svg" alt="KHQR" width="240" height="240"></p>'
        f"<p>{e(t['banks'])}</p><ul>{bank_items}</ul></div>{cancel}</div>"
        '<script src="/static/checkout.js"></script>'
    )
    return page(f"{merchant.name}: {t['pay']}", body, lang=lang, scripted=True)


@router.get("/checkout/{tran_id}")
async def checkout_page(tran_id: str, request: Request, session: Session) -> Response:
    return await _render(request, session, tran_id)


@router.get("/checkoutv2/{checkout_ref}")
async def bill_checkout(checkout_ref: str, request: Request, session: Session) -> Response:
    """An unpaid bill's checkout link: payable here through a checkout transaction made (or reused) for it."""
    bill = (await session.execute(select(Bill).where(Bill.checkout_ref == checkout_ref))).scalar_one_or_none()
    if bill is None:
        return page(
            "Not found",
            '<div class="card"><h1>Checkout not found</h1><p>This payment link does not exist.</p></div>',
            404,
        )
    if bill.status == "paid":
        paid = (
            f'<div class="card"><h1>{e(bill.ref_id)}</h1>'
            '<p><span class="status ok" id="bill-status">Paid / បានបង់</span></p>'
            f'<p class="amount">{e(display(bill.total_amount, bill.currency))} {e(bill.currency)}</p></div>'
        )
        return page(f"Bill {bill.ref_id}", paid)
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
    qr = segno.make(found[1].khqr_string, error="m")
    out = io.BytesIO()
    if fmt == "png":
        qr.save(out, kind="png", scale=6, border=2)
        media = "image/png"
    else:
        qr.save(out, kind="svg", scale=6, border=2, xmldecl=False)
        media = "image/svg+xml"
    return Response(out.getvalue(), media_type=media, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.get("/static/checkout.js")
async def checkout_js() -> Response:
    return FileResponse(STATIC / "checkout.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})
