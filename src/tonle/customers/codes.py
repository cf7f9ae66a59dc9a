"""How the Customer endpoints say the customer service's refusals (payment-method-api, Customer)."""

from __future__ import annotations

from tonle.customers import service
from tonle.wire import codes
from tonle.wire.errors import CodeTable

# CustomerExists is answered by the create endpoint itself: its data is the existing customer, read again.
CODES: CodeTable = {
    service.CustomerNotFound: codes.CUSTOMER_NOT_FOUND,
    service.TooManyWallets: codes.WALLETS_TOO_MANY,
    service.WalletCurrencyRepeated: codes.WALLET_CURRENCY_REPEATED,
    service.WalletsDisabled: codes.WALLET_FEATURE_DISABLED,
    service.CustomerHasBalance: codes.CUSTOMER_HAS_BALANCE,
}
