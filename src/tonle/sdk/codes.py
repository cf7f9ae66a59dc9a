"""How the SDK endpoints say the top-up's refusals (sdk-and-bank-api §1.1)."""

from __future__ import annotations

from tonle.config import Compat
from tonle.methods import service as methods
from tonle.payments import topup
from tonle.payments.codes import declined
from tonle.wire import codes
from tonle.wire.errors import CodeTable, MissedField, TonleError


def _bad_amount(exc: topup.BadTopUpAmount, compat: Compat) -> TonleError:
    reason, currency, why = exc.facts["reason"], exc.facts["currency"], exc.facts["why"]
    if reason == "missing":
        return MissedField([("Please provide [amount].", "សូមផ្តល់ [amount]។")])
    if reason == "invalid":
        return MissedField([(f"[amount] is not a valid {currency} amount: {why}.", "[amount] មិនត្រឹមត្រូវ។")])
    return MissedField([("[amount] must be greater than 0.", "[amount] ត្រូវតែធំជាង 0។")])


CODES: CodeTable = {
    topup.WalletNotFound: codes.PAYMENT_METHOD_NOT_FOUND,
    topup.MethodCurrencyMismatch: codes.CURRENCY_MISMATCH,
    methods.MethodNotFound: codes.PAYMENT_METHOD_NOT_FOUND,
    methods.Declined: declined,
    methods.ChargeReversed: codes.CHARGE_REVERSED,
    topup.BadTopUpAmount: _bad_amount,
}
