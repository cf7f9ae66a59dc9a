"""The Checkout / Deeplink and KHQR product's codes (other-apis §2, §7): its success answers, its own errors, and how
it says the checkout service's refusals."""

from __future__ import annotations

from tonle.checkout import service
from tonle.wire import codes
from tonle.wire.codes import Code
from tonle.wire.errors import CodeTable

INIT_OK = Code("SUCCESS", "Transaction init successful", "បង្កើតប្រតិបត្តិការជោគជ័យ")
INIT_OK_KHQR = Code("SUCCESS", "Transaction initiation success.", "ប្រតិបត្តិការបង្កើតជោគជ័យ")
FOUND = Code("SUCCESS", "Transaction found", "ប្រតិបត្តិការបានរកឃើញ")
FOUND_KHQR = Code("SUCCESS", "Transaction found.", "ប្រតិបត្តិការបានរកឃើញ")
OK = Code("SUCCESS", "Success", codes.KH_SUCCESS)
GENERATED = Code("SUCCESS", "Generate Success", codes.KH_SUCCESS)
DUPLICATE = Code(
    "DUPLICATE_IDENTITY_CODE",
    "A transaction with this identity_code is already pending or paid.",
    "ប្រតិបត្តិការដែលមាន identity_code នេះកំពុងរង់ចាំ ឬបានបង់រួចហើយ។",
)
NOT_FOUND = Code("TRANSACTION_NOT_FOUND", "Transaction not found", "រកមិនឃើញប្រតិបត្តិការ")
NOT_PENDING = Code("TRANSACTION_NOT_PENDING", "The transaction is no longer pending", "ប្រតិបត្តិការលែងរង់ចាំទៀតហើយ")
BANK_UNKNOWN = Code("BANK_NOT_FOUND", "Bank not found", "មិនមានធនាគារនេះទេ")

CODES: CodeTable = {
    service.DuplicateIdentityCode: DUPLICATE,
    service.TransactionNotPending: NOT_PENDING,
}
