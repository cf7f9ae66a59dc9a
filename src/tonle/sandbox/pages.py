"""Pages a person opens. For now: the checkout link of a bill kept unpaid (the hosted checkout issue makes it
payable; until then it says what is owed)."""

from __future__ import annotations

import html

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import HTMLResponse

from tonle.kit.http import Session
from tonle.kit.money import display
from tonle.kit.timefmt import dotnet
from tonle.merchants.models import Merchant
from tonle.payments.models import Bill

router = APIRouter(tags=["Pages"])

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b2b34}}
.card{{border:1px solid #d5dde2;border-radius:12px;padding:1.5rem}}.amount{{font-size:2rem;font-weight:600}}
.status{{display:inline-block;padding:.2rem .6rem;border-radius:1rem;background:#fdecc8;color:#7a4b00}}
dt{{color:#5b6b74;font-size:.85rem}}dd{{margin:0 0 .8rem}}</style></head>
<body><div class="card">{body}</div></body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status, headers=SECURITY_HEADERS)


@router.get("/checkoutv2/{checkout_ref}", include_in_schema=False)
async def bill_checkout(checkout_ref: str, session: Session) -> HTMLResponse:
    row = (
        await session.execute(
            select(Bill, Merchant.name)
            .join(Merchant, Merchant.id == Bill.merchant_id)
            .where(Bill.checkout_ref == checkout_ref)
        )
    ).first()
    if row is None:
        return page("Not found", "<h1>Checkout not found</h1><p>This payment link does not exist.</p>", 404)
    bill, merchant_name = row
    e = html.escape
    state = "Paid / បានបង់" if bill.status == "paid" else "Unpaid / មិនទាន់បង់"
    body = (
        f"<p>{e(merchant_name)}</p>"
        f'<p class="amount">{e(display(bill.total_amount, bill.currency))} {e(bill.currency)}</p>'
        f'<p><span class="status" id="bill-status">{e(state)}</span></p>'
        f"<dl><dt>Bill / វិក្កយបត្រ</dt><dd>{e(bill.ref_id)}</dd>"
        f"<dt>Due / ថ្ងៃផុតកំណត់</dt><dd>{e(dotnet(bill.due_date)[:10])}</dd>"
        f"<dt>Description</dt><dd>{e(bill.description or '-')}</dd></dl>"
        "<p>Online payment of this bill is not available yet.</p>"
    )
    return page(f"Bill {bill.ref_id}", body)
