"""The bank channel for bills the Supplier API pushed: found and paid as the Hosted store's bills are (one store),
but announced to the biller in this product's own webhook body (spec other-apis §5.6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import bills
from tonle.banks.models import Bank, BillLookup
from tonle.hosted import channel as store
from tonle.hosted.models import BillConsumer
from tonle.supplier.report import paid_bills, webhook_fields
from tonle.supplier.service import SOURCE
from tonle.transactions.models import Transaction


async def body(session: AsyncSession, tran: Transaction, lookup: BillLookup, bank: Bank) -> dict[str, Any]:
    """The §5.6 body: the payment, its payer (masked), its customer and the bills it paid (ids and sync codes)."""
    consumer = (
        await session.execute(
            select(BillConsumer).where(
                BillConsumer.merchant_id == tran.merchant_id, BillConsumer.code == lookup.consumer_code
            )
        )
    ).scalar_one_or_none()
    fields = webhook_fields(tran, lookup, consumer, bank.name)
    del fields["tran_id"]  # §5.6 names the payment by tnx_id alone
    return {**fields, "bills": await paid_bills(session, tran.id)}


bills.register_source(SOURCE, store.look_up, settle=store.settle, lines=store.lines, body=body)
