"""How the sub-biller product (Activate Sub Biller API, its portal, the bank's payout result) says the sub-biller
service's refusals."""

from __future__ import annotations

from tonle.subbillers import service
from tonle.wire import codes
from tonle.wire.errors import CodeTable, TonleError

CODES: CodeTable = {
    service.BankNotFound: codes.BANK_NOT_FOUND,
    service.BankOffline: codes.BANK_CONNECTION_PROBLEM,
    service.SubBillerExists: codes.SUPPLIER_EXISTS,
    service.NoFreeNumber: codes.INTERNAL,
    service.PayoutAccountInactive: lambda exc, compat: TonleError(
        codes.MISSED_FIELD, text=("The account is not an active linked account.", "គណនីមិនសកម្ម។")
    ),
    service.PayoutAmountNotPositive: lambda exc, compat: TonleError(
        codes.MISSED_FIELD, text=("[amount] must be greater than 0.", "[amount] ត្រូវតែធំជាង 0។")
    ),
    service.PayoutInsufficientBalance: codes.INSUFFICIENT_BALANCE,
    service.PayoutAlreadyCompleted: codes.PAYOUT_ALREADY_COMPLETED,
}
