"""Checkout transactions: initiated by a merchant, paid by a bank (hosted page, deeplink or KHQR scan)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import service as banks
from tonle.banks.models import Bank
from tonle.bills.models import Bill
from tonle.checkout.models import Checkout
from tonle.config import Settings
from tonle.khqr import codec
from tonle.kit.clock import clock, epoch
from tonle.kit.domain import DomainError
from tonle.kit.money import to_major
from tonle.kit.urls import with_query
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry
from tonle.merchants.models import Merchant
from tonle.merchants.service import khqr_account
from tonle.transactions.models import Transaction, effective_status
from tonle.wire.dates import dotnet_local


class DuplicateIdentityCode(DomainError):
    """The identity_code has a pending or paid transaction already."""


class TransactionNotPending(DomainError):
    pass


@dataclass
class InitInput:
    flavour: str  # checkout | khqr | legacy
    identity_code: str
    currency: str
    amount: int
    purpose: str = ""
    device_code: str = ""
    channel_code: str = ""
    user_ref: str = ""
    description: str = ""
    language: str = "km"
    cancel_url: str = ""
    redirect_url: str = ""
    customers: list[dict[str, Any]] = field(default_factory=list)
    customer_code: str = ""
    customer_name: str = ""
    customer_phone: str = ""
    customer_email: str = ""


def fee_for(merchant: Merchant, currency: str, amount: int) -> int:
    fixed = merchant.checkout_fee_fixed_khr if currency == "KHR" else merchant.checkout_fee_fixed_usd
    # Basis points of the amount, rounded half up to the currency's minor unit.
    return fixed + (amount * merchant.checkout_fee_bps + 5000) // 10000


def make_khqr(merchant: Merchant, tran: Transaction, checkout: Checkout) -> str:
    data = codec.KHQR(
        **khqr_account(merchant),
        currency=tran.currency,
        amount=Decimal(to_major(tran.amount + tran.fee, tran.currency)),
        bill_number=(checkout.identity_code or tran.id)[:25],
        store_label=merchant.name[:25],
        terminal_label=checkout.device_code[:25] or None,
        purpose=checkout.purpose[:25] or None,
        created_ms=epoch(tran.tran_date) * 1000,
        expires_ms=epoch(tran.expire_date) * 1000,
    )
    return codec.encode(data)


async def _duplicate(session: AsyncSession, merchant_id: str, identity_code: str) -> bool:
    q = (
        select(Transaction.status, Transaction.expire_date)
        .join(Checkout, Checkout.tran_id == Transaction.id)
        .where(Checkout.merchant_id == merchant_id, Checkout.identity_code == identity_code)
    )
    now = clock.now()
    return any(s == "success" or (s == "pending" and exp > now) for s, exp in (await session.execute(q)).all())


async def init(
    session: AsyncSession, settings: Settings, merchant: Merchant, inp: InitInput, *, bill: Bill | None = None
) -> tuple[Transaction, Checkout]:
    """Open a pending checkout transaction. One identity_code has at most one pending-or-paid transaction: the
    merchant row is locked while we look, so two inits with the same code cannot both pass."""
    await session.execute(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    if bill is None and await _duplicate(session, merchant.id, inp.identity_code):
        raise DuplicateIdentityCode()
    now = clock.now()
    fee = fee_for(merchant, inp.currency, inp.amount)
    tran_id = secrets.token_hex(6).upper()
    while await session.get(Transaction, tran_id) is not None:  # 48 random bits: a repeat is all but impossible
        tran_id = secrets.token_hex(6).upper()
    tran = Transaction(
        id=tran_id,
        merchant_id=merchant.id,
        type="checkout",
        reference=inp.identity_code,
        amount=inp.amount,
        fee=fee,
        currency=inp.currency,
        status="pending",
        tran_date=now,
        expire_date=now + timedelta(seconds=settings.checkout_ttl_seconds),
        description=inp.description,
        bill_id=bill.id if bill else None,
        sub_biller_id=bill.sub_biller_id if bill else None,
        customer_id=bill.customer_id if bill else None,
        created_at=now,
    )
    session.add(tran)
    await session.flush()  # the transaction first: the checkout row references it
    checkout = Checkout(
        tran_id=tran_id,
        merchant_id=merchant.id,
        flavour=inp.flavour,
        identity_code=inp.identity_code,
        purpose=inp.purpose,
        device_code=inp.device_code,
        channel_code=inp.channel_code,
        user_ref=inp.user_ref,
        language=inp.language,
        cancel_url=inp.cancel_url,
        redirect_url=inp.redirect_url,
        customers=json.dumps(inp.customers, default=str),
        customer_code=inp.customer_code,
        customer_name=inp.customer_name,
        customer_phone=inp.customer_phone,
        customer_email=inp.customer_email,
        khqr_string="",
        khqr_md5="",
        created_at=now,
    )
    checkout.khqr_string = make_khqr(merchant, tran, checkout)
    checkout.khqr_md5 = codec.md5(checkout.khqr_string)
    session.add(checkout)
    await session.flush()
    return tran, checkout


async def find(session: AsyncSession, merchant_id: str, keys: dict[str, str]) -> tuple[Transaction, Checkout] | None:
    """Verify: every non-empty key must match; the newest match wins. Only the calling merchant's transactions."""
    q = (
        select(Transaction, Checkout)
        .join(Checkout, Checkout.tran_id == Transaction.id)
        .where(Checkout.merchant_id == merchant_id, Transaction.merchant_id == merchant_id)
    )
    conditions = {
        "identity_code": Checkout.identity_code,
        "purpose_of_transaction": Checkout.purpose,
        "tran_id": Transaction.id,
        "bank_ref": Transaction.bank_ref,
    }
    given = [(col == keys[k]) for k, col in conditions.items() if keys.get(k)]
    if not given:
        return None
    row = (await session.execute(q.where(and_(*given)).order_by(Transaction.created_at.desc()).limit(1))).first()
    return (row[0], row[1]) if row else None


async def by_tran_id(session: AsyncSession, tran_id: str) -> tuple[Transaction, Checkout, Merchant] | None:
    row = (
        await session.execute(
            select(Transaction, Checkout, Merchant)
            .join(Checkout, Checkout.tran_id == Transaction.id)
            .join(Merchant, Merchant.id == Transaction.merchant_id)
            .where(Transaction.id == tran_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def by_md5(session: AsyncSession, md5: str) -> Transaction | None:
    row = (
        await session.execute(
            select(Transaction)
            .join(Checkout, Checkout.tran_id == Transaction.id)
            .where(Checkout.khqr_md5 == md5.lower())
        )
    ).first()
    return row[0] if row else None


async def extend(
    session: AsyncSession, settings: Settings, tran: Transaction, checkout: Checkout, merchant: Merchant
) -> datetime:
    """A still-pending transaction gets another full period; its KHQR is made again with the new expiry."""
    if effective_status(tran) != "pending":
        raise TransactionNotPending()
    new_expiry = clock.now() + timedelta(seconds=settings.checkout_ttl_seconds)
    done = await session.execute(
        update(Transaction)
        .where(Transaction.id == tran.id, Transaction.status == "pending")
        .values(expire_date=new_expiry)
    )
    if done.rowcount != 1:
        raise TransactionNotPending()
    tran.expire_date = new_expiry
    checkout.khqr_string = make_khqr(merchant, tran, checkout)
    checkout.khqr_md5 = codec.md5(checkout.khqr_string)
    await session.flush()
    return new_expiry


async def credit(session: AsyncSession, tran: Transaction, bank: Bank, clearing: Account) -> Entry:
    """Money of a paid checkout: from the bank's clearing account to the merchant's collection account (or, for a
    bill, the sub-biller's settlement account), the fee to the merchant's fee account; the bill becomes paid."""
    kind, owner = ledger.AccountKind.merchant_collection, ""
    if tran.bill_id and tran.sub_biller_id:
        kind, owner = ledger.AccountKind.subbiller_settlement, tran.sub_biller_id
    target = await ledger.open_account(
        session, merchant_id=tran.merchant_id, kind=kind, currency=tran.currency, owner_ref=owner
    )
    legs = [ledger.Leg(clearing, -(tran.amount + tran.fee)), ledger.Leg(target, tran.amount)]
    if tran.fee:
        fees = await ledger.open_account(
            session, merchant_id=tran.merchant_id, kind=ledger.AccountKind.fee, currency=tran.currency
        )
        legs.append(ledger.Leg(fees, tran.fee))
    entry = await ledger.post(
        session,
        merchant_id=tran.merchant_id,
        kind="checkout_payment",
        memo=f"checkout {tran.id} via {bank.code}",
        legs=legs,
    )
    if tran.bill_id:
        await session.execute(
            update(Bill)
            .where(Bill.id == tran.bill_id, Bill.status == "unpaid")
            .values(status="paid", payment_method="checkout", payment_date=clock.now(), payment_ref=tran.id)
        )
    return entry


async def for_bill(session: AsyncSession, settings: Settings, bill: Bill) -> tuple[Transaction, Checkout]:
    """The checkout transaction that pays an unpaid bill: the pending one, or a new one."""
    from tonle.customers.models import Customer

    row = (
        await session.execute(
            select(Transaction, Checkout)
            .join(Checkout, Checkout.tran_id == Transaction.id)
            .where(
                Transaction.bill_id == bill.id, Transaction.status == "pending", Transaction.expire_date > clock.now()
            )
            .order_by(Transaction.created_at.desc())
            .limit(1)
        )
    ).first()
    if row:
        return row[0], row[1]
    merchant = await session.get(Merchant, bill.merchant_id)
    customer = await session.get(Customer, bill.customer_id)
    assert merchant is not None
    inp = InitInput(
        flavour="bill",
        identity_code=bill.ref_id,
        currency=bill.currency,
        amount=bill.total_amount,
        description=bill.description,
        language="km",
        customer_code=customer.sync_code if customer else "",
        customer_name=customer.name if customer else "",
    )
    return await init(session, settings, merchant, inp, bill=bill)


def outcome_data(tran: Transaction, checkout: Checkout) -> dict[str, Any]:
    """The ``data`` the legacy v1 redirect carries (a JSON string in the query)."""
    cur = tran.currency
    return {
        "reference_id": checkout.identity_code,
        "tran_id": tran.id,
        "tran_date": dotnet_local(tran.paid_at or tran.tran_date),
        "tran_amount": to_major(tran.amount, cur),
        "fee_amount": to_major(tran.fee, cur),
        "total_amount": to_major(tran.amount + tran.fee, cur),
        "currency": cur,
        "bank_reference_no": tran.bank_ref,
    }


def back_to_merchant(url: str, code: str, message: str, data: dict[str, Any]) -> str:
    from tonle.wire import wirejson

    return with_query(url, {"code": code, "message": message, "data": wirejson.dumps(data)})


# ---------------------------------------------------------------- paid through a bank


async def _announce(session: AsyncSession, tran: Transaction, _bank: Bank) -> banks.Announcement:
    checkout = await session.get(Checkout, tran.id)
    assert checkout is not None
    return banks.Announcement(
        "payment.success",
        checkout.channel,
        checkout.purpose,
        checkout.identity_code,
        customers=json.loads(checkout.customers or "[]") or None,
        device_code=checkout.device_code,
    )


async def _on_inquiry(session: AsyncSession, tran: Transaction, channel: str | None) -> None:
    """The channel the payment comes by: KHQR when the bank named it by the scanned code's MD5."""
    await session.execute(
        update(Checkout).where(Checkout.tran_id == tran.id).values(channel=channel or "Deeplink/Checkout")
    )


async def _by_scanned_code(session: AsyncSession, identity: str) -> tuple[str, str] | None:
    if len(identity) == 32 and all(ch in "0123456789abcdefABCDEF" for ch in identity):
        found = await by_md5(session, identity)
        if found is not None:
            return found.id, "KHQR"
    return None


banks.register(
    banks.PayableKind("checkout", credit=credit, announce=_announce, on_inquiry=_on_inquiry), alias=_by_scanned_code
)
