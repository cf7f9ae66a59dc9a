"""Every table, imported once so that Alembic and ``Base.metadata`` see the whole schema."""

from tonle.customers.models import Customer, Wallet
from tonle.db import Base
from tonle.ledger.models import Account, Entry, Posting
from tonle.merchants.models import AuthFailure, Merchant, RefreshToken
from tonle.sandbox.models import Bank
from tonle.subbillers.models import SubBiller

__all__ = [
    "Account",
    "AuthFailure",
    "Bank",
    "Base",
    "Customer",
    "Entry",
    "Merchant",
    "Posting",
    "RefreshToken",
    "SubBiller",
    "Wallet",
]
