"""How the bank-facing API says the bank service's refusals (sdk-and-bank-api §2)."""

from __future__ import annotations

from typing import Any

from tonle.banks import bills
from tonle.banks import service as banks
from tonle.config import Compat
from tonle.wire import codes
from tonle.wire.errors import CodeTable, TonleError


def _out_of_range(exc: Any, compat: Compat) -> TonleError:
    lo, hi = exc.facts["lowest"], exc.facts["highest"]
    if lo is not None and hi is not None:
        limit, limit_kh = f"from {lo} to {hi}", f"ពី {lo} ដល់ {hi}"
    elif lo is not None:
        limit, limit_kh = f"from {lo} up", f"ពី {lo} ឡើងទៅ"
    else:
        limit, limit_kh = (f"up to {hi}", f"រហូតដល់ {hi}") if hi is not None else ("more than 0", "ធំជាង 0")
    return TonleError(
        codes.BANK_AMOUNT_OUT_OF_RANGE,
        {"min_amount": lo if lo is not None else -1, "max_amount": hi if hi is not None else -1},
        text=(
            f"Amount is outside what this bill accepts ({limit}).",
            f"{codes.BANK_AMOUNT_OUT_OF_RANGE.kh} ({limit_kh})។",
        ),
    )


CODES: CodeTable = {
    banks.TransactionNotFound: codes.TRAN_NOT_FOUND,
    banks.TransactionAlreadyPaid: codes.TRAN_ALREADY_PAID,
    banks.TransactionExpired: codes.TRAN_EXPIRED,
    banks.TransactionNotPayable: codes.TRAN_NOT_PAYABLE,
    banks.PaymentTokenInvalid: codes.BANK_PAYMENT_TOKEN_INVALID,
    banks.CurrencyMismatch: codes.BANK_CURRENCY_MISMATCH,
    banks.AmountMismatch: codes.BANK_AMOUNT_MISMATCH,
    bills.BillerNotFound: codes.BILLER_NOT_FOUND,
    bills.ConsumerNotFound: codes.CONSUMER_NOT_FOUND,
    bills.BillOverdue: codes.BILL_OVERDUE,
    bills.NothingToPay: codes.NO_AMOUNT_TO_PAY,
    bills.CurrencyNotAllowed: codes.CURRENCY_NOT_ALLOWED,
    bills.BillerUnavailable: codes.BILLER_UNAVAILABLE,
    bills.AmountOutOfRange: _out_of_range,
}
