"""Bill24 Hosted's endpoints (spec other-apis §4): invoice import (family H), the import's per-row outcomes (a Tonle
extension), the payment report (a bare array) and the invoice list (``{result: [...]}``, paged)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request

from tonle.hosted import imports, report, schemas, service, tasks
from tonle.hosted.codes import CODES
from tonle.hosted.models import BillConsumer, Invoice
from tonle.hosted.schemas import InvoiceRow
from tonle.jobs.runtime import nudge
from tonle.kit.money import CURRENCIES, to_major
from tonle.merchants.auth import CurrentMerchant
from tonle.wire.dates import DOTNET_ZERO, dotnet_local, dotnet_offset, parse_instant, written_unit
from tonle.wire.errors import MissedField, speaking
from tonle.wire.http import EMPTY, Session, SettingsDep, array_body_schema, json_value
from tonle.wire.wirejson import WireJSONResponse

IMPORT_PATH = "/billflow/v1/Bill24Operation/Invoice/Import"
IMPORT_PATHS = (IMPORT_PATH,)
PAGE_LIMIT = 10_000  # the invoice list's largest page: a larger pageSize (the public client asks 999999) reads so

# Family H has no error shape: bad input is HTTP 400 in the product envelope, query parameters included.
_Route = type("HostedRoute", (speaking(CODES),), {"validation_status": 400})
router = APIRouter(tags=["Bill24 Hosted"], route_class=_Route)


@router.post(
    IMPORT_PATH,
    summary="Import invoices: a JSON array, each row created, updated, unchanged or rejected",
    description=(
        f"At most {service.MAX_ROWS} rows. Upsert key: refNumber. Answers `{{id, totalRecord, status}}` (status 1:"
        " accepted). A small batch is applied before the answer; a larger one by the worker within seconds. "
        f"`GET {IMPORT_PATH}/{{id}}` answers each row's outcome."
    ),
    openapi_extra=array_body_schema(InvoiceRow, service.MAX_ROWS),
    response_model=schemas.ImportAnswer,
)
async def import_invoices(request: Request, merchant: CurrentMerchant, session: Session, settings: SettingsDep):
    body = await json_value(request)
    batch = await imports.create(session, settings, merchant.id, None if body is EMPTY else body)
    if batch.status != "done":
        await session.commit()  # the worker this process runs may start on it at once
        nudge(tasks.NAME)
    return WireJSONResponse({"id": batch.id, "totalRecord": batch.total_record, "status": 1})


def _row(r: Any) -> dict[str, Any]:
    return {
        "index": r.position,
        "outcome": r.outcome,
        "reason": r.reason,
        "reason_kh": r.reason_kh,
        "invoiceId": r.invoice_id,
    }


@router.get(
    IMPORT_PATH + "/{import_id}",
    summary="Tonle extension: an import's state and each row's outcome (created, updated, unchanged, rejected)",
    response_model=schemas.ImportOutcomes,
)
async def import_outcomes(
    merchant: CurrentMerchant,
    session: Session,
    import_id: int = Path(ge=1, le=2**31 - 1),
    outcome: str | None = Query(default=None, pattern="^(created|updated|unchanged|rejected)$"),
    offset: int = Query(default=0, ge=0, le=2**31 - 1),
    limit: int = Query(default=service.MAX_ROWS, ge=1, le=service.MAX_ROWS),
):
    batch = await imports.get(session, merchant.id, import_id)
    rows = await imports.rows_of(session, batch, outcome=outcome, offset=offset, limit=limit)
    return WireJSONResponse(
        {
            "id": batch.id,
            "totalRecord": batch.total_record,
            "status": 1,
            "state": batch.status,
            "rowsDone": batch.rows_done,
            "created": batch.created,
            "updated": batch.updated,
            "unchanged": batch.unchanged,
            "rejected": batch.rejected,
            "createdDate": dotnet_local(batch.created_at),
            "finishedDate": dotnet_local(batch.finished_at),
            "rows": [_row(r) for r in rows if r.outcome is not None],
        }
    )


def _when(name: str, raw: str | None, messages: list[tuple[str, str]]) -> Any:
    if raw is None or not raw.strip():
        messages.append((f"Please provide [{name}].", f"សូមផ្តល់ [{name}]។"))
        return None
    at = parse_instant(raw)
    if at is None:
        messages.append((f"[{name}] is not a valid date.", f"[{name}] មិនមែនជាកាលបរិច្ឆេទត្រឹមត្រូវទេ។"))
    return at


def _bill(inv: Any, amount: int, currency: str) -> dict[str, Any]:
    return {
        "id": inv.id,
        "refId": inv.ref_id,
        "refNumber": inv.ref_number,
        "paidAmount": to_major(amount, currency),
        "date": dotnet_local(inv.date) or DOTNET_ZERO,
        "dueDate": dotnet_local(inv.due_date) or DOTNET_ZERO,
    }


@router.get(
    "/billflow/v1/payment",
    summary="Payments of your bills from d1 to d2 (inclusive; no offset: Phnom Penh time), a bare JSON array",
    response_model=list[schemas.PaymentRecord],
)
async def payment_report(
    merchant: CurrentMerchant,
    session: Session,
    d1: str | None = Query(default=None, max_length=40, description="from, e.g. 2024-06-01T00:00:00"),
    d2: str | None = Query(default=None, max_length=40, description="to, inclusive, e.g. 2024-08-30T23:59:00"),
    consumerCode: str | None = Query(default=None, max_length=100),
    paymentMethod: str | None = Query(default=None, max_length=10, description="1 bank channel, 2 KHQR"),
    currencyId: str | None = Query(default=None, max_length=10),
):
    messages: list[tuple[str, str]] = []
    since, until = _when("d1", d1, messages), _when("d2", d2, messages)
    method = None
    if paymentMethod not in (None, ""):
        if not paymentMethod.strip().isdigit():
            messages.append(("[paymentMethod] must be a whole number.", "[paymentMethod] ត្រូវតែជាចំនួនគត់។"))
        else:
            method = int(paymentMethod)
    currency = (currencyId or "").strip().upper() or None
    if currency is not None and currency not in CURRENCIES:
        messages.append(("[currencyId] must be KHR or USD.", "[currencyId] ត្រូវតែជា KHR ឬ USD។"))
    if messages:
        raise MissedField(messages, status=400)
    assert since is not None and until is not None and d2 is not None
    until = until + written_unit(d2)
    paid = await report.payments(
        session, merchant.id, since, until, consumer_code=consumerCode or None, method=method, currency=currency
    )
    code = merchant.biller_code or ""
    out = []
    for p in paid:
        t, cur = p.tran, p.tran.currency
        out.append(
            {
                "code": code + p.lookup.consumer_code,
                "consumerCode": p.lookup.consumer_code,
                "consumerName": p.lookup.consumer_name,
                "billerCode": code,
                "description": t.description,
                "tranDate": dotnet_offset(t.paid_at) if t.paid_at else DOTNET_ZERO,
                "tranId": t.id,
                "paymentMethod": p.method,
                "tranAmount": to_major(t.amount, cur),
                "convenienceFeeAmount": to_major(t.fee, cur),
                "sponserFeeAmount": 0,
                "totalAmount": to_major(t.amount + t.fee, cur),
                "currencyId": cur,
                "overpay": to_major(p.lookup.overpaid, cur),
                "bankRef": t.bank_ref,
                "bankName": p.bank_name,
                "bankId": t.bank_code or "",
                "bills": [_bill(inv, amount, cur) for inv, amount in p.bills],
            }
        )
    return WireJSONResponse(out)


def _invoice(settings: Any, inv: Invoice, consumer: BillConsumer) -> dict[str, Any]:
    cur = inv.currency
    paid = inv.paid_outside + inv.paid_bank
    return {
        "id": inv.id,
        "refId": inv.ref_id,
        "refNumber": inv.ref_number,
        "date": dotnet_local(inv.date),
        "dueDate": dotnet_local(inv.due_date),
        "description": inv.description,
        "currency": cur,
        "totalAmount": to_major(inv.total_amount, cur),
        "totalTax": to_major(inv.total_tax, cur),
        "paidAmount": to_major(paid, cur),
        "dueAmount": to_major(service.due_of(inv.total_amount, inv.paid_outside, inv.paid_bank), cur),
        "exchangeRateKhr": inv.exchange_rate_khr,
        "totalAmountKhr": to_major(inv.total_amount_khr, "KHR") if inv.total_amount_khr is not None else None,
        "state": service.state_of(inv),
        "customer": {
            "code": consumer.code,
            "name": consumer.name,
            "address": consumer.address,
            "phone": consumer.phone,
            "moc": consumer.moc,
            "vat": consumer.vat,
            "email": consumer.email,
        },
        "digitalBillUrl": service.bill_url(settings, inv),
    }


@router.get("/v1/Bill24Operation/Invoice/All", include_in_schema=False)
@router.get(
    "/billflow/v1/Bill24Operation/Invoice/All",
    summary=f"Your invoices, a page at a time (pageSize above {PAGE_LIMIT} reads as {PAGE_LIMIT})",
    response_model=schemas.InvoicePage,
)
async def invoice_list(
    merchant: CurrentMerchant,
    session: Session,
    settings: SettingsDep,
    pageIndex: int = Query(default=1, ge=0, le=2**31 - 1),
    pageSize: int = Query(default=50, ge=0, le=2**31 - 1),
    pageCount: int | None = Query(default=None, description="ignored (the public client sends 0)"),
    rowCount: int | None = Query(default=None, description="ignored (the public client sends 0)"),
    consumerCode: str | None = Query(default=None, max_length=100),
    refNumber: str | None = Query(default=None, max_length=100),
):
    page = max(1, pageIndex)
    size = min(max(1, pageSize), PAGE_LIMIT)
    rows, total = await service.list_invoices(
        session, merchant.id, page=page, size=size, consumer_code=consumerCode, ref_number=refNumber
    )
    return WireJSONResponse(
        {
            "result": [_invoice(settings, inv, consumer) for inv, consumer in rows],
            "pageIndex": page,
            "pageSize": size,
            "pageCount": -(-total // size),
            "rowCount": total,
        }
    )
