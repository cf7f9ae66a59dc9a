"""Every table, imported once so that Alembic and ``Base.metadata`` see the whole schema."""

from tonle.banks.models import Bank, BillLookup
from tonle.bills.models import Bill, BillDetail
from tonle.checkout.models import Checkout
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.db import Base
from tonle.directdebit.models import Collector, Debit, DebitAccount, History, Subscription, SubscriptionConsumer
from tonle.hosted.models import (
    BillConsumer,
    Invoice,
    InvoiceAllocation,
    InvoiceImport,
    InvoiceImportRow,
    InvoiceLine,
    PushedPayment,
)
from tonle.idempotency.models import IdempotencyKey
from tonle.jobs.models import JobSchedule, SandboxClock
from tonle.ledger.models import Account, Entry, Posting
from tonle.merchants.models import AuthFailure, Merchant, RefreshToken
from tonle.methods.models import MethodCharge, MethodLink
from tonle.notifications.models import Notification, NotificationDelivery
from tonle.proxy.models import ProxyCall
from tonle.sandbox.models import SandboxAccount, SandboxAccountCode, SandboxCard, SandboxCardCharge, SandboxDebit
from tonle.subbillers.models import Payout, SettlementLink, SubBiller
from tonle.supplier.models import SupplierQueue, SupplierRecord
from tonle.transactions.models import Transaction
from tonle.webhooks.models import OutboxEvent, WebhookAttempt

__all__ = [
    "Account",
    "AuthFailure",
    "Bank",
    "Base",
    "Bill",
    "BillConsumer",
    "BillDetail",
    "BillLookup",
    "Checkout",
    "Collector",
    "Customer",
    "Debit",
    "DebitAccount",
    "Entry",
    "History",
    "IdempotencyKey",
    "Invoice",
    "InvoiceAllocation",
    "InvoiceImport",
    "InvoiceImportRow",
    "InvoiceLine",
    "JobSchedule",
    "Merchant",
    "MethodCharge",
    "MethodLink",
    "Notification",
    "NotificationDelivery",
    "OutboxEvent",
    "PaymentMethod",
    "Payout",
    "Posting",
    "ProxyCall",
    "PushedPayment",
    "RefreshToken",
    "SandboxAccount",
    "SandboxAccountCode",
    "SandboxCard",
    "SandboxCardCharge",
    "SandboxClock",
    "SandboxDebit",
    "SettlementLink",
    "SubBiller",
    "Subscription",
    "SubscriptionConsumer",
    "SupplierQueue",
    "SupplierRecord",
    "Transaction",
    "Wallet",
    "WebhookAttempt",
]
