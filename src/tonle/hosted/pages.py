"""The digital bill: one page per invoice, at an unguessable address (``/bill/<token>``), in Khmer and English. It
shows who bills whom for what, what was paid and what is due, and a KHQR code for the amount due that any KHQR
bank app can pay (a bank that scans it sends its MD5, which opens the payment: see ``service._by_scanned_bill``).
It is the ``digital_bill_url`` of the bank channel's pending bills."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from tonle.hosted import channel, service
from tonle.hosted.models import BillConsumer, Invoice
from tonle.khqr import images
from tonle.merchants.models import Merchant
from tonle.wire.http import Session
from tonle.wire.pages import SECURITY_HEADERS, brand_html, e, money, page, pick_lang, problem_of, when

router = APIRouter(include_in_schema=False)

TEXT: dict[str, dict[str, str]] = {
    "km": {
        "invoice": "វិក្កយបត្រ",
        "number": "លេខវិក្កយបត្រ",
        "to": "ជូនចំពោះ",
        "code": "លេខកូដអតិថិជន",
        "vat": "លេខ VAT",
        "date": "កាលបរិច្ឆេទ",
        "due_date": "ថ្ងៃផុតកំណត់",
        "item": "មុខទំនិញ",
        "total": "សរុប",
        "tax": "ពន្ធ",
        "paid": "បានបង់",
        "due": "ត្រូវបង់",
        "scan": "ស្កេនដោយកម្មវិធីធនាគារណាមួយដែលគាំទ្រ KHQR ដើម្បីបង់ចំនួនដែលត្រូវបង់។",
        "save": "រក្សាទុក QR",
        "nothing_due": "វិក្កយបត្រនេះបានបង់រួចរាល់។ អរគុណ!",
        "void_text": "វិក្កយបត្រនេះត្រូវបានលុបចោល។ មិនចាំបាច់បង់ទេ។",
        "state_open": "មិនទាន់បង់",
        "state_partially_paid": "បានបង់ខ្លះ",
        "state_paid": "បានបង់រួច",
        "state_overdue": "ហួសកំណត់",
        "state_void": "បានលុបចោល",
        "not_found": "រកមិនឃើញវិក្កយបត្រ",
        "not_found_text": "តំណនេះមិនត្រឹមត្រូវ ឬវិក្កយបត្រលែងមានទៀតហើយ។ សូមទាក់ទងអ្នកផ្តល់សេវា។",
    },
    "en": {
        "invoice": "Invoice",
        "number": "Invoice number",
        "to": "Billed to",
        "code": "Customer code",
        "vat": "VAT number",
        "date": "Date",
        "due_date": "Due date",
        "item": "Items",
        "total": "Total",
        "tax": "Tax",
        "paid": "Paid",
        "due": "Amount due",
        "scan": "Scan with any KHQR bank app to pay the amount due.",
        "save": "Save QR",
        "nothing_due": "This invoice is paid in full. Thank you!",
        "void_text": "This invoice was cancelled. Nothing is to be paid.",
        "state_open": "Unpaid",
        "state_partially_paid": "Partly paid",
        "state_paid": "Paid",
        "state_overdue": "Overdue",
        "state_void": "Cancelled",
        "not_found": "Invoice not found",
        "not_found_text": "This link is not valid, or the invoice is no longer here. Please contact the biller.",
    },
}
BADGE = {"open": "", "partially_paid": "warn", "paid": "ok", "overdue": "bad", "void": ""}


async def _find(session: Any, token: str) -> tuple[Invoice, Merchant, BillConsumer] | None:
    inv = await service.invoice_by_token(session, token)
    if inv is None:
        return None
    merchant = await session.get(Merchant, inv.merchant_id)
    consumer = await session.get(BillConsumer, inv.consumer_id)
    if merchant is None or consumer is None or not merchant.active:
        return None
    return inv, merchant, consumer


def _split(amount: str, cur: str) -> tuple[str, str]:
    return (amount.rpartition(" ")[0], "៛") if cur == "KHR" else (amount, "")


@router.get("/bill/{token}")
async def digital_bill(token: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    t = TEXT[lang]
    found = await _find(session, token)
    if found is None:
        return problem_of(TEXT, lang, "not_found", "not_found_text", 404, request=request, icon="?")
    inv, merchant, consumer = found
    cur = inv.currency
    state = service.state_of(inv)
    due = service.due_of(inv.total_amount, inv.paid_outside, inv.paid_bank)
    paid = inv.paid_outside + inv.paid_bank
    lines = await service.invoice_lines(session, inv.id)
    qr = await channel.shown_khqr(session, merchant, inv)

    items = "".join(
        f'<li><div class="line-main"><span class="item">{e(line.item_name)}</span>'
        f'<span class="num">{e(money(line.amount, cur))}</span></div>'
        f'<div class="muted small">{e(line.quantity or "1")} × {e(money(line.price, cur))}'
        + (f" · {e(line.description)}" if line.description else "")
        + "</div></li>"
        for line in lines
    )
    table = (
        f'<h2 class="small muted">{e(t["item"])}</h2><ul class="bill-lines" id="lines">{items}</ul>' if lines else ""
    )
    summary = (
        f'<dl class="summary" id="totals"><dt>{e(t["total"])}</dt><dd id="total-amount">'
        f"{e(money(inv.total_amount, cur))}</dd>"
        + (f'<dt>{e(t["tax"])}</dt><dd id="tax">{e(money(inv.total_tax, cur))}</dd>' if inv.total_tax else "")
        + f'<dt>{e(t["paid"])}</dt><dd id="paid">{e(money(paid, cur))}</dd>'
        f'<dt class="total">{e(t["due"])}</dt><dd class="total" id="due">{e(money(due, cur))}</dd></dl>'
    )
    head = (
        f'<div class="card" id="invoice" data-state="{e(state)}">'
        f'<p><span class="badge {BADGE[state]}" id="state">{e(t["state_" + state])}</span></p>'
        f'<h1>{e(t["invoice"])} <span class="num" id="ref-number">{e(inv.ref_number)}</span></h1>'
        f'<p class="muted" id="description">{e(inv.description)}</p>'
        f'<dl class="summary"><dt>{e(t["to"])}</dt><dd id="consumer-name">{e(consumer.name)}</dd>'
        f'<dt>{e(t["code"])}</dt><dd id="consumer-code">{e(consumer.code)}</dd>'
        + (f"<dt>{e(t['vat'])}</dt><dd>{e(consumer.vat)}</dd>" if consumer.vat else "")
        + f'<dt>{e(t["date"])}</dt><dd id="date">{e(when(inv.date, lang))}</dd>'
        f'<dt>{e(t["due_date"])}</dt><dd id="due-date">{e(when(inv.due_date, lang))}</dd></dl>'
        f"{table}{summary}</div>"
    )
    if qr is not None:
        number, sign = _split(money(due, cur), cur)
        pay = (
            f'<div class="card center" id="pay"><div class="khqr-card" id="khqr-card" data-khqr="{e(qr)}">'
            '<div class="khqr-head"><span class="khqr-mark">KHQR</span></div>'
            f'<div class="khqr-body"><p class="khqr-name" id="merchant">{e(merchant.name)}</p>'
            f'<p class="khqr-amount" id="qr-amount">{e(number)}{" <small>" + e(sign) + "</small>" if sign else ""}'
            '</p><hr class="khqr-divider">'
            f'<img class="khqr-qr" id="khqr" src="/bill/{e(token)}/khqr.svg" alt="KHQR" width="240" height="240">'
            f'</div></div><p class="muted small">{e(t["scan"])}</p>'
            f'<div class="actions"><a class="btn" id="save-qr" href="/bill/{e(token)}/khqr.png" '
            f'download="KHQR-{e(inv.ref_number[:40])}.png">{e(t["save"])}</a></div></div>'
        )
    else:
        text = t["void_text"] if state == "void" else t["nothing_due"]
        pay = f'<div class="card center" id="settled"><p>{e(text)}</p></div>'
    title = f"{t['invoice']} {inv.ref_number} · {merchant.name}"
    return page(title, head + pay, lang=lang, request=request, brand=brand_html(merchant.name))


@router.get("/bill/{token}/khqr.{fmt}")
async def bill_khqr(token: str, fmt: str, session: Session) -> Response:
    found = await _find(session, token)
    if found is None or fmt not in ("png", "svg"):
        return Response(status_code=404)
    inv, merchant, _ = found
    qr = await channel.shown_khqr(session, merchant, inv)
    if qr is None:
        return Response(status_code=404)
    return Response(
        images.render(qr, fmt),
        media_type=images.FORMATS[fmt],
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )
