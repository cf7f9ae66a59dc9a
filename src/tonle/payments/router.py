from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.bills.models import Bill, BillDetail
from tonle.customers import repository as customers
from tonle.customers.models import Customer
from tonle.customers.router import wallet_balance_out
from tonle.idempotency.service import idempotent
from tonle.kit.money import display, to_major
from tonle.merchants.auth import CurrentMerchant
from tonle.merchants.models import Merchant
from tonle.methods import service as methods
from tonle.payments import codes as product
from tonle.payments import repository as repo
from tonle.payments import schemas, service
from tonle.transactions.models import Transaction, effective_status
from tonle.wire import codes, envelope
from tonle.wire.body import parse
from tonle.wire.dates import DOTNET_ZERO, dotnet, dotnet_local
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema

router = APIRouter(tags=["Payments"], route_class=speaking(product.CODES))


async def customer_or_311(session: AsyncSession, merchant: Merchant, sync_code: str, data: object = None) -> Customer:
    """The merchant's live customer, else 311 with the endpoint's empty ``data`` (a list or null)."""
    customer = await customers.live_customer(session, merchant.id, sync_code)
    if customer is None:
        raise TonleError(codes.CUSTOMER_NOT_FOUND, data)
    return customer


MAX_PAGE_SIZE = 100


def by_merchant(kwargs: dict[str, Any]) -> str:
    return f"m:{kwargs['merchant'].id}"


# ---------------------------------------------------------------- payment methods and balances


@router.get(
    "/instant_payment/{customer_sync_code}/get_payment_methods",
    summary="Get Payment Methods: the wallets, then the cards and accounts on file; the default one first",
)
async def get_payment_methods(customer_sync_code: str, merchant: CurrentMerchant, session: Session, compat: CompatDep):
    customer = await customer_or_311(session, merchant, customer_sync_code, [])
    on_file = await methods.methods_of(session, merchant.id, customer.id)
    wallet_default = not any(m.is_default for m in on_file)  # no card or account is: the first wallet is

    def item(id_: str, type_: str, name: str, titles: tuple[str, str], token: str, default: bool) -> dict[str, Any]:
        return {
            "id": id_,
            "type": type_,
            "name": name,
            "sub_title": titles[0],
            "sub_title_kh": titles[1],
            "token": token,
            "is_default": default,
            "logo": "",
        }

    items = []
    for i, (w, balance) in enumerate(await customers.wallets_with_balances(session, merchant.id, customer.id)):
        shown = f"{display(balance, w.currency)} {w.currency}"
        titles = (f"Balance : {shown}", f"សមតុល្យ : {shown}")
        items.append(item(w.id, "wallet", w.name, titles, w.payment_token, wallet_default and i == 0))
    for m in on_file:
        items.append(item(m.id, m.type, m.name, methods.sub_titles(m), m.payment_token, m.is_default))
    # The default first (the spec's example lists it first) [INF].
    items.sort(key=lambda item: not item["is_default"])
    return envelope.product(codes.SUCCESS, items, compat)


@router.post(
    "/instant_payment/payment_method/link",
    summary="Tonle: a page for the customer to put a card or a bank account on file (answers its link_url)",
    openapi_extra=body_schema(schemas.MethodLinkRequest),
)
@idempotent(by_merchant)
async def link_payment_method(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(schemas.MethodLinkRequest, body)
    customer = await customer_or_311(session, merchant, req.customer_sync_code, None)
    link = await methods.open_link(session, settings, merchant, customer, req.type or "", req.web_url or "")
    data = {"link_url": methods.link_url(settings, link), "expire_date": dotnet_local(link.expires_at)}
    return envelope.product(codes.SUCCESS, data, compat)


@router.post(
    "/instant_payment/payment_method/set_default",
    summary="Tonle: make a wallet, card or account (by its token) the customer's default payment method",
    openapi_extra=body_schema(schemas.MethodTokenRequest),
)
@idempotent(by_merchant)
async def set_default_payment_method(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    req = parse(schemas.MethodTokenRequest, body)
    customer = await customer_or_311(session, merchant, req.customer_sync_code, None)
    await methods.set_default(session, merchant, customer, req.payment_method_token)
    return envelope.product(codes.SUCCESS, None, compat)


@router.post(
    "/instant_payment/payment_method/remove",
    summary="Tonle: remove a card or account on file; its token pays nothing afterwards",
    openapi_extra=body_schema(schemas.MethodTokenRequest),
)
@idempotent(by_merchant)
async def remove_payment_method(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    req = parse(schemas.MethodTokenRequest, body)
    customer = await customer_or_311(session, merchant, req.customer_sync_code, None)
    await methods.remove(session, merchant, customer, req.payment_method_token)
    return envelope.product(codes.SUCCESS, None, compat)


@router.post(
    "/instant_payment/get_wallet_balance",
    summary="Get Wallet Balance",
    openapi_extra=body_schema(schemas.CustomerSyncCodeRequest),
)
@idempotent(by_merchant)
async def get_wallet_balance(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    customer = await customer_or_311(session, merchant, schemas.parse_customer_code(body), [])
    wallets = await customers.wallets_with_balances(session, merchant.id, customer.id)
    data = [wallet_balance_out(w, b) for w, b in wallets]
    return envelope.product(codes.SUCCESS, data, compat)


@router.post(
    "/instant_payment/get_wallet_histories",
    summary="Get Wallet History: postings of the customer's wallets, newest first, with running balance",
    openapi_extra=body_schema(schemas.WalletHistoryRequest),
)
@idempotent(by_merchant)
async def get_wallet_histories(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    req = parse(schemas.WalletHistoryRequest, body)
    customer = await customer_or_311(session, merchant, req.customer_sync_code, None)
    page = req.pagination or schemas.Pagination()
    index, size = page.page_index, min(page.page_size, MAX_PAGE_SIZE)
    result = await service.wallet_history(
        session,
        merchant,
        customer,
        wallet_id=req.wallet_id,
        tran_type=req.tran_type,
        since=req.d1,
        until=req.d2,
        page_index=index,
        page_size=size,
    )
    items = []
    for posting, wallet, entry, tran in result.rows:
        items.append(
            {
                "id": str(posting.id),
                "transaction_id": tran.id if tran else None,
                "wallet_id": wallet.id,
                "wallet_name": wallet.name,
                "tran_type": tran.type if tran else entry.kind,
                "reference": tran.reference if tran else "",
                "description": tran.description if tran else entry.memo,
                "direction": "credit" if posting.amount > 0 else "debit",
                "amount": to_major(posting.amount, posting.currency),
                "balance_after": to_major(posting.balance_after, posting.currency),
                "currency": posting.currency,
                "tran_date": dotnet_local(posting.created_at),
            }
        )
    pages = (result.total + size - 1) // size
    data = {
        "items": items,
        "pagination": {"page_index": index, "page_size": size, "total_count": result.total, "total_pages": pages},
    }
    return envelope.product(codes.SUCCESS, data, compat)


# ---------------------------------------------------------------- settle payment


@router.post(
    "/bill_payment/push_bill_with_payment",
    summary="Settle Payment: push a bill and pay it from the customer's wallet to a sub-biller",
    openapi_extra=body_schema(schemas.SettleRequest),
)
@idempotent(by_merchant)
async def push_bill_with_payment(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    inp = schemas.parse_settle(body, compat)
    outcome = await service.settle(session, merchant, inp, request.app.state.db)
    if not outcome.paid:
        # Kept unpaid with a checkout link; the answer is still "insufficient balance" with no bill [OBS/INF].
        return envelope.product(codes.INSUFFICIENT_BALANCE, dict(product.NO_BILL), compat)
    return envelope.product(codes.SETTLED, {"bill": {"status": "success"}, "payment": {"status": "success"}}, compat)


# ---------------------------------------------------------------- bills and transactions


def checkout_link(settings: Any, bill: Bill) -> str:
    return f"{settings.issuer}/checkoutv2/{bill.checkout_ref}" if bill.checkout_ref else ""


def _single_bill(settings: Any, bill: Bill, sync_code: str, details: list[BillDetail]) -> dict[str, Any]:
    cur = bill.currency
    return {
        "ref_id": bill.ref_id,
        "date": dotnet(bill.date),
        "due_date": dotnet(bill.due_date),
        "description": bill.description,
        "currency": cur,
        "total_amount": to_major(bill.total_amount, cur),
        "customer_sync_code": sync_code,
        "bill_status": bill.status,
        "details": [
            {
                "item_name": d.item_name,
                "description": d.description,
                "quantity": d.quantity,
                "price": to_major(d.price, cur),
                "amount": to_major(d.amount, cur),
            }
            for d in details
        ],
        "payment": {
            "checkout_link": checkout_link(settings, bill),
            "checkout_ref": bill.checkout_ref or "",
            "payment_date": dotnet_local(bill.payment_date),
            "payment_method": bill.payment_method,
        },
    }


def _listed_bill(settings: Any, bill: Bill, sync_code: str, details: list[BillDetail]) -> dict[str, Any]:
    """The Gen 1 list shape: the single-bill fields plus total_tax, invoice_status, tax lines and payment_ref."""
    out = _single_bill(settings, bill, sync_code, [])
    cur = bill.currency
    out["total_tax"] = to_major(bill.total_tax, cur)
    out["invoice_status"] = "success" if bill.status == "paid" else bill.status
    out["details"] = [
        {
            "item_name": d.item_name,
            "description": d.description,
            "quantity": d.quantity,
            "price": to_major(d.price, cur),
            "amount": to_major(d.amount, cur),
            "tax_amount": to_major(d.tax_amount, cur),
            "tax_name": d.tax_name,
        }
        for d in details
    ]
    out["payment"]["payment_ref"] = bill.payment_ref
    return out


EMPTY_BILL = {
    "ref_id": "",
    "date": DOTNET_ZERO,
    "due_date": DOTNET_ZERO,
    "description": "",
    "currency": "",
    "total_amount": 0,
    "customer_sync_code": "",
    "bill_status": "",
    "details": [],
    "payment": {"checkout_link": "", "checkout_ref": "", "payment_date": None, "payment_method": ""},
}


@router.get("/bill_payment/{customer_sync_code}/get_bills", summary="Get list bills, newest first")
async def get_bills(
    customer_sync_code: str, merchant: CurrentMerchant, session: Session, compat: CompatDep, settings: SettingsDep
):
    customer = await customer_or_311(session, merchant, customer_sync_code, [])
    bills = await repo.bills_of(session, merchant.id, customer.id)
    details = await repo.details_of(session, [b.id for b in bills])
    data = [_listed_bill(settings, b, customer.sync_code, details[b.id]) for b in bills]
    return envelope.product(codes.SUCCESS, data, compat)


@router.get("/instant_payment/get_single_bill/{ref_id}", summary="Get single bill")
async def get_single_bill(
    ref_id: str, merchant: CurrentMerchant, session: Session, compat: CompatDep, settings: SettingsDep
):
    bill = await repo.bill_by_ref(session, merchant.id, ref_id)
    if bill is None:
        raise TonleError(codes.BILL_NOT_FOUND, EMPTY_BILL)
    customer = await repo.customer_by_id(session, merchant.id, bill.customer_id)
    details = (await repo.details_of(session, [bill.id]))[bill.id]
    return envelope.product(
        codes.SUCCESS, _single_bill(settings, bill, customer.sync_code if customer else "", details), compat
    )


def transaction_out(
    tran: Transaction, customer_name: str, customer_name_kh: str | None, merchant_id: str
) -> dict[str, Any]:
    cur = tran.currency
    return {
        "reference_id": tran.reference,
        "transaction_id": tran.id,
        "supplier_id": tran.sub_biller_id or merchant_id,
        "transaction_type": tran.type,
        "tran_amount": to_major(tran.amount, cur),
        "total_amount": to_major(tran.amount + tran.fee, cur),
        "currency": cur,
        "tran_date": dotnet_local(tran.tran_date),
        "expire_date": dotnet_local(tran.expire_date),
        "status": effective_status(tran),
        "customer_name": customer_name,
        "customer_name_kh": customer_name_kh or "",
        "bank_id": tran.bank_code,
        "bank_ref": tran.bank_ref,
    }


@router.post(
    "/transaction/instant_payment/detail",
    summary="Get Transaction Detail by bill reference (or top-up tran_id)",
    openapi_extra=body_schema(schemas.ReferenceRequest),
)
@idempotent(by_merchant)
async def transaction_detail(
    request: Request, merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep
):
    tran = await repo.transaction_by_reference(session, merchant.id, schemas.parse_reference(body))
    if tran is None:
        raise TonleError(codes.RECORD_NOT_FOUND)
    customer = await repo.customer_by_id(session, merchant.id, tran.customer_id) if tran.customer_id else None
    data = transaction_out(tran, customer.name if customer else "", customer.name_kh if customer else None, merchant.id)
    return envelope.product(codes.TRANSACTION_FOUND, data, compat)
