from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.customers import repository as repo
from tonle.customers import schemas, service
from tonle.customers.codes import CODES
from tonle.customers.models import Customer, Wallet
from tonle.kit.money import to_major
from tonle.merchants.auth import CurrentMerchant
from tonle.wire import codes, envelope
from tonle.wire.errors import TonleError, speaking
from tonle.wire.http import Body, CompatDep, Session, body_schema

router = APIRouter(tags=["Customers"], route_class=speaking(CODES))

# The emptied customer object of the delete answer, verbatim from the docs.
DELETED = {"id": "", "sync_code": "", "name": "", "name_kh": None, "phone": None, "email": None, "wallet": []}


def _profile(c: Customer) -> dict[str, Any]:
    return {"sync_code": c.sync_code, "name": c.name, "name_kh": c.name_kh, "phone": c.phone, "email": c.email}


def wallet_balance_out(w: Wallet, balance: int) -> dict[str, Any]:
    """One wallet with its balance, as get_customer_detail's walletBalances and get_wallet_balance answer it."""
    return {"id": w.id, "name": w.name, "balance": to_major(balance, w.currency), "currency": w.currency}


def customer_out(c: Customer, wallets: list[Wallet]) -> dict[str, Any]:
    return {"id": c.id, **_profile(c), "wallet": [{"name": w.name, "currency": w.currency} for w in wallets]}


async def _existing_out(session: AsyncSession, c: Customer | None) -> dict[str, Any] | None:
    if c is None:
        return None
    wallets = [w for w, _ in await repo.wallets_with_balances(session, c.merchant_id, c.id)]
    return customer_out(c, wallets)


@router.post(
    "/customer/create",
    summary="Create Customer (optionally with up to two wallets, one per currency)",
    response_model=schemas.CustomerEnvelope,
    openapi_extra=body_schema(schemas.CreateCustomerRequest),
)
async def create_customer(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    inp = schemas.parse_create(body)
    try:
        customer, wallets = await service.create(session, merchant, inp)
    except service.CustomerExists as exc:
        raise TonleError(codes.CUSTOMER_EXISTS, await _existing_out(session, exc.customer)) from None
    return envelope.product(codes.CUSTOMER_CREATED, customer_out(customer, wallets), compat)


@router.post(
    "/customer/get_customer_detail",
    summary="Get Customer Details, with wallet balances",
    response_model=schemas.CustomerDetailEnvelope,
    openapi_extra=body_schema(schemas.SyncCodeRequest),
)
async def get_customer_detail(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    customer = await service.get(session, merchant, schemas.parse_sync_code(body))
    wallets = await repo.wallets_with_balances(session, merchant.id, customer.id)
    data = {
        **_profile(customer),
        "walletBalances": [wallet_balance_out(w, balance) for w, balance in wallets],
    }
    return envelope.product(codes.SUCCESS, data, compat)


@router.post(
    "/customer/update",
    summary="Update Customer: omitted fields are kept",
    response_model=schemas.CustomerEnvelope,
    openapi_extra=body_schema(schemas.UpdateCustomerRequest),
)
async def update_customer(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    customer = await service.update_profile(session, merchant, schemas.parse_update(body))
    # The docs answer "wallet": [] here even for a customer with wallets; clients read get_customer_detail.
    return envelope.product(codes.CUSTOMER_UPDATED, customer_out(customer, []), compat)


@router.post(
    "/customer/delete",
    summary="Delete Customer: only when every wallet balance is zero",
    response_model=schemas.CustomerEnvelope,
    openapi_extra=body_schema(schemas.SyncCodeRequest),
)
async def delete_customer(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    await service.delete(session, merchant, schemas.parse_sync_code(body))
    return envelope.product(codes.CUSTOMER_DELETED, DELETED, compat)
