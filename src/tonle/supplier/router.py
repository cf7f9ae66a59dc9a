"""The Supplier API's endpoints (spec other-apis §5, host ``supplierapi``): the three pushes answer a queue object
(family F) at once, HTTP 200; the queue's detail at both paths seen; the queue list and the payment list, bare
JSON arrays. Authentication: the static ``token`` header alone."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Path, Query, Request

from tonle.jobs.runtime import nudge
from tonle.kit.money import CURRENCIES
from tonle.merchants.auth import SupplierMerchant
from tonle.merchants.ratelimit import address_of
from tonle.supplier import channel as _channel  # noqa: F401  (registers the bank channel's "supplier" source)
from tonle.supplier import queues, report, schemas, service, tasks
from tonle.supplier.codes import CODES
from tonle.wire.dates import parse_instant, written_unit
from tonle.wire.errors import MissedField, speaking
from tonle.wire.http import EMPTY, Session, array_body_schema, json_value
from tonle.wire.wirejson import WireJSONResponse

PUSH_PATHS = ("/customer/push", "/bill/push", "/payment/push")
QUEUE_ID = Path(min_length=1, max_length=8, pattern="^[0-9A-Za-z]+$")

_Route = type("SupplierRoute", (speaking(CODES),), {"validation_status": 400})
router = APIRouter(tags=["Supplier API"], route_class=_Route)


async def _push(request: Request, merchant: SupplierMerchant, session: Session, operation: str) -> WireJSONResponse:
    body = await json_value(request)
    queue = await queues.create(session, merchant.id, operation, None if body is EMPTY else body, address_of(request))
    await session.commit()  # before the answer: the queue exists once its id is read
    nudge(tasks.NAME)
    return WireJSONResponse(queues.answer(queue))


_PUSHED = (
    "Answers at once, HTTP 200, with the queue object; the worker applies the records within seconds (`GET"
    " /queue/detail/{id}` until `ready`, or the signed `queue.completed` event). Each record: added, updated,"
    " unchanged, deleted or error, upserted by `sync_code`."
)


@router.post(
    "/customer/push",
    summary="Push customers: created, updated or removed (is_active false), by sync_code",
    description=_PUSHED,
    openapi_extra=array_body_schema(schemas.CustomerRecord, service.MAX_RECORDS, under="data"),
    response_model=schemas.QueueObject,
)
async def push_customers(request: Request, merchant: SupplierMerchant, session: Session):
    return await _push(request, merchant, session, "cus.push")


@router.post(
    "/bill/push",
    summary="Push bills: draft (kept), approve (payable) or notify (payable, the customer is told)",
    description=_PUSHED + " A bill whose customer was never pushed creates it from `customer_sync_code`.",
    openapi_extra=array_body_schema(schemas.BillRecord, service.MAX_RECORDS, under="data"),
    response_model=schemas.QueueObject,
)
async def push_bills(request: Request, merchant: SupplierMerchant, session: Session):
    return await _push(request, merchant, session, "bill.push")


@router.post(
    "/payment/push",
    summary="Push payments made outside Tonle (cash, online, or from the customer's credit): they clear the bills",
    description=_PUSHED + " A payment sent again (same sync_code) clears nothing twice.",
    openapi_extra=array_body_schema(schemas.PaymentRecord, service.MAX_RECORDS, under="data"),
    response_model=schemas.QueueObject,
)
async def push_payments(request: Request, merchant: SupplierMerchant, session: Session):
    return await _push(request, merchant, session, "pmt.push")


async def _detail(merchant: SupplierMerchant, session: Session, queue_id: str) -> WireJSONResponse:
    queue = await queues.get(session, merchant.id, queue_id)
    return WireJSONResponse(queues.detail(queue, await queues.records_of(session, queue)))


@router.get(
    "/queue/detail/{queue_id}",
    summary="A queue's state, counts and every record's result (the path a public client calls)",
    response_model=schemas.QueueDetail,
)
async def queue_detail(merchant: SupplierMerchant, session: Session, queue_id: str = QUEUE_ID):
    return await _detail(merchant, session, queue_id)


@router.get(
    "/queue/{queue_id}",
    summary="A queue's state, counts and every record's result (the documented path)",
    response_model=schemas.QueueDetail,
)
async def queue_by_id(merchant: SupplierMerchant, session: Session, queue_id: str = QUEUE_ID):
    return await _detail(merchant, session, queue_id)


def _day_range(d1: str | None, d2: str | None) -> tuple[datetime | None, datetime | None]:
    """``d1``/``d2`` as an instant range (no offset: Phnom Penh); ``d2`` takes the whole of what it names."""
    messages: list[tuple[str, str]] = []
    since = until = None
    for name, raw in (("d1", d1), ("d2", d2)):
        if raw is None or not raw.strip():
            continue
        at = parse_instant(raw)
        if at is None:
            messages.append((f"[{name}] is not a valid date.", f"[{name}] មិនមែនជាកាលបរិច្ឆេទត្រឹមត្រូវទេ។"))
        elif name == "d1":
            since = at
        else:
            until = at + written_unit(raw)
    if messages:
        raise MissedField(messages, status=400)
    return since, until


@router.get(
    "/queue",
    summary="Queues, newest first (filters: status, operation, d1..d2 of creation)",
    response_model=list[schemas.QueueObject],
)
async def queue_list(
    merchant: SupplierMerchant,
    session: Session,
    status: str | None = Query(default=None, pattern="^(processing|ready|error)$"),
    operation: str | None = Query(default=None, pattern=r"^(cus|bill|pmt)\.push$"),
    d1: str | None = Query(default=None, max_length=40),
    d2: str | None = Query(default=None, max_length=40),
    offset: int = Query(default=0, ge=0, le=2**31 - 1),
    limit: int = Query(default=100, ge=1, le=1000),
):
    since, until = _day_range(d1, d2)
    found = await queues.listed(
        session, merchant.id, status=status, operation=operation, since=since, until=until, offset=offset, limit=limit
    )
    return WireJSONResponse([queues.answer(q) for q in found])


@router.get("/payment", include_in_schema=False)  # the same without the slash, answered (not redirected)
@router.get(
    "/payment/",
    summary="Payments of the bills Tonle holds: banks' and pushed ones, newest first, with the webhook's fields",
    response_model=list[schemas.PaymentOut],
)
async def payment_list(
    merchant: SupplierMerchant,
    session: Session,
    d1: str | None = Query(default=None, max_length=40, description="`2024-01-10`; no offset: Phnom Penh"),
    d2: str | None = Query(default=None, max_length=40, description="inclusive: `2024-01-11` takes that whole day"),
    customer_sync: str | None = Query(default=None, max_length=100),
    payment_method: str | None = Query(default=None, pattern="^(bank|cash|online|balance)$"),
    currency_id: str | None = Query(default=None, max_length=10),
    source: str | None = Query(default=None, pattern="^(bank|push)$"),
    offset: int = Query(default=0, ge=0, le=2**31 - 1),
    limit: int | None = Query(default=None, ge=1, le=100_000, description="absent: every payment"),
):
    since, until = _day_range(d1, d2)
    currency = currency_id.upper() if currency_id else None
    if currency is not None and currency not in CURRENCIES:
        raise MissedField([("[currency_id] must be KHR or USD.", "[currency_id] ត្រូវតែជា KHR ឬ USD។")], status=400)
    found = await report.payments(
        session,
        merchant.id,
        since=since,
        until=until,
        customer_sync=customer_sync,
        method=payment_method,
        currency=currency,
        source=source,
        offset=offset,
        limit=limit,
    )
    return WireJSONResponse(found)
