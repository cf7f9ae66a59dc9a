"""How the Payment Method API says the payments service's refusals (payment-method-api, Settle Payment §2.11)."""

from __future__ import annotations

from typing import Any

from tonle.config import Compat
from tonle.methods import service as methods
from tonle.payments import service
from tonle.wire import codes
from tonle.wire.codes import Code
from tonle.wire.errors import CodeTable, TonleError

# What settle-payment business errors carry in `data` [OBS].
NO_BILL = {"bill": None, "payment": None}


def _settle(code: Code) -> Any:
    return lambda exc, compat: TonleError(code, dict(NO_BILL))


def _duplicate(exc: service.DuplicateBill, compat: Compat) -> TonleError:
    # The live server answers 327 to any repeated ref_id; the docs know only 323 (already paid).
    if compat is Compat.docs and exc.facts["paid"]:
        return TonleError(codes.BILL_ALREADY_PAID, dict(NO_BILL))
    return TonleError(codes.BILL_EXISTS, dict(NO_BILL))


# Why a vault or bank refused a charge → what the biller is told.
DECLINES = {
    "insufficient_funds": codes.FUNDS_INSUFFICIENT,
    "stolen_card": codes.CARD_REPORTED_STOLEN,
    "expired_card": codes.CARD_EXPIRED,
    "bank_unavailable": codes.PAYER_BANK_UNAVAILABLE,
    "vault_unavailable": codes.PAYER_BANK_UNAVAILABLE,
    "account_closed": codes.ACCOUNT_UNAVAILABLE,
    "account_unknown": codes.ACCOUNT_UNAVAILABLE,
    "currency_mismatch": codes.ACCOUNT_UNAVAILABLE,
}


def declined(exc: methods.Declined, compat: Compat, data: Any = None) -> TonleError:
    return TonleError(DECLINES.get(exc.facts["reason"], codes.CARD_DECLINED), data)


CODES: CodeTable = {
    methods.Declined: lambda exc, compat: declined(exc, compat, dict(NO_BILL)),
    methods.ChargeReversed: _settle(codes.CHARGE_REVERSED),
    methods.MethodNotFound: lambda exc, compat: TonleError(codes.PAYMENT_TOKEN_INVALID),
    service.BillflowDisabled: _settle(codes.BILLFLOW_DISABLED),
    service.HashKeyMissing: _settle(codes.HASH_CONFIG_NOT_FOUND),
    service.HashInvalid: _settle(codes.HASH_INVALID),
    service.CustomerUnknown: _settle(codes.CUSTOMER_NOT_FOUND),
    service.SubBillerUnknown: _settle(codes.SETTLEMENT_SUPPLIER_NOT_FOUND),
    service.SettlementLinkMissing: _settle(codes.SETTLEMENT_LINK_NOT_FOUND),
    service.PaymentTokenUnknown: _settle(codes.PAYMENT_TOKEN_INVALID),
    service.PaymentCurrencyMismatch: _settle(codes.CURRENCY_MISMATCH),
    service.NoPaymentMethod: _settle(codes.PAYMENT_METHOD_NOT_FOUND),
    service.InsufficientBalance: _settle(codes.INSUFFICIENT_BALANCE),
    service.DuplicateBill: _duplicate,
}
