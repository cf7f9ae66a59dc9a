"""How the bank-facing API says the bank service's refusals (sdk-and-bank-api §2)."""

from __future__ import annotations

from tonle.banks import service as banks
from tonle.wire import codes
from tonle.wire.errors import CodeTable

CODES: CodeTable = {
    banks.TransactionNotFound: codes.TRAN_NOT_FOUND,
    banks.TransactionAlreadyPaid: codes.TRAN_ALREADY_PAID,
    banks.TransactionExpired: codes.TRAN_EXPIRED,
    banks.TransactionNotPayable: codes.TRAN_NOT_PAYABLE,
    banks.PaymentTokenInvalid: codes.BANK_PAYMENT_TOKEN_INVALID,
    banks.CurrencyMismatch: codes.BANK_CURRENCY_MISMATCH,
    banks.AmountMismatch: codes.BANK_AMOUNT_MISMATCH,
}
