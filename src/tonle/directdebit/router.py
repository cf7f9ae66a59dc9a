"""Auto Direct Debit's endpoints (spec other-apis §6), family C ("000"), every one behind the merchant's Bearer
token and scoped to it: init, signal, subscribers, set_default, unsubscribe, histories, verify."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tonle.directdebit import collect, schemas, service
from tonle.directdebit import tasks as _tasks  # noqa: F401  (the collection task, listed by the worker)
from tonle.directdebit.codes import CODES
from tonle.idempotency.service import idempotent
from tonle.jobs.runtime import nudge
from tonle.merchants.auth import CurrentMerchant
from tonle.wire import codes, envelope
from tonle.wire.body import parse
from tonle.wire.errors import speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema
from tonle.wire.wirejson import WireJSONResponse

router = APIRouter(prefix="/direct_debit", tags=["Auto Direct Debit"], route_class=speaking(CODES))


def by_merchant(kwargs: dict) -> str:
    return f"m:{kwargs['merchant'].id}"


@router.post(
    "/subscription/init",
    summary="Init Subscription: a subscription number and the page where the customer consents at a bank",
    openapi_extra=body_schema(schemas.InitRequest),
    response_model=schemas.InitAnswer,
)
@idempotent(by_merchant)
async def init(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(schemas.InitRequest, body)
    urls = req.redirect_url
    sub = await service.init(
        session,
        settings,
        merchant,
        ref=req.subscription_ref,
        web_url=(urls.web_url or "") if urls else "",
        deeplink_url=(urls.deeplink_url or "") if urls else "",
        consumers=[
            service.NewConsumer(
                c.consumer_code,
                c.consumer_name or "",
                c.consumer_name_latin or "",
                c.additional_information or "",
                c.max_amount,
            )
            for c in req.consumers
        ],
    )
    data = {"subscription_no": sub.subscription_no, "subscription_link": service.page_url(settings, sub)}
    return envelope.product(codes.DD_INIT, data, compat)


@router.post(
    "/signal",
    summary="Consumer's Debt Update: Tonle asks the biller's consumer/inquiry and debits what is owed",
    openapi_extra=body_schema(schemas.SignalRequest),
    response_model=schemas.SignalAnswer,
)
async def signal(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.SignalRequest, body)
    await collect.signal(session, merchant, req.consumer_code)
    await session.commit()
    nudge(collect.TASK)
    code, en, kh = codes.DD_SIGNAL.render(compat)
    return WireJSONResponse({"code": code, "message": en, "message_kh": kh})  # no data, as documented


@router.post(
    "/subscription/subscribers",
    summary="Subscription Subscribers: the consumers' subscribed accounts (camelCase answer)",
    openapi_extra=body_schema(schemas.SubscribersRequest),
    response_model=schemas.AnyAnswer,
)
async def subscribers(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.SubscribersRequest, body)
    found = await service.subscribers(session, merchant.id, req.consumerCodes)
    # One code asked: the object of the docs' example; several: a list of them [INF].
    data = found[0] if len(set(req.consumerCodes)) == 1 else found
    return envelope.product(codes.SUCCESS, data, compat)


@router.post(
    "/customer/bank_account/set_default",
    summary="Set Default Bank Account: the account is debited first",
    openapi_extra=body_schema(schemas.TokenRequest),
    response_model=schemas.NullAnswer,
)
async def set_default(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.TokenRequest, body)
    await service.set_default(session, merchant.id, req.token)
    return envelope.product(codes.DD_SET_DEFAULT, None, compat)


@router.post(
    "/customer/bank_account/unsubscribe",
    summary="Unsubscribe Bank Account: now, or on a future unsubscribe_date",
    openapi_extra=body_schema(schemas.UnsubscribeRequest),
    response_model=schemas.NullAnswer,
)
async def unsubscribe(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.UnsubscribeRequest, body)
    await service.unsubscribe(session, merchant.id, req.token, req.unsubscribe_date)
    return envelope.product(codes.DD_UNSUBSCRIBED, None, compat)


@router.post(
    "/subscription/histories",
    summary="Subscription Histories: a consumer's subscribes, default changes and unsubscribes",
    openapi_extra=body_schema(schemas.HistoriesRequest),
    response_model=schemas.AnyAnswer,
)
async def histories(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.HistoriesRequest, body)
    rows = await service.histories(session, merchant.id, req.consumer_code)
    return envelope.product(codes.SUCCESS, {"histories": rows}, compat)


@router.post(
    "/subscription/verify",
    summary="Subscription Verify: Pending, Active (with the bank), Declined, Expired or Unsubscribed",
    openapi_extra=body_schema(schemas.VerifyRequest),
    response_model=schemas.AnyAnswer,
)
async def verify(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(schemas.VerifyRequest, body)
    return envelope.product(codes.SUCCESS, await service.verify(session, merchant.id, req.subscription_no), compat)
