"""The one code catalogue: every code Tonle answers, with its English and Khmer text.

Codes are scoped per endpoint on Bill24 (310 means "customer exists" on create customer and "supplier exists" on
onboarding), so entries are named by meaning, not by number. Where the live server and the docs differ, an entry
carries the live form too and the ``TONLE_COMPAT`` setting picks one at render time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tonle.config import Compat


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    en: str
    kh: str
    live_code: str | None = None  # the code the live server answers instead, when it differs from the docs
    live_en: str | None = None  # the English text the live server answers instead

    def render(self, compat: Compat) -> tuple[str, str, str]:
        if compat is Compat.live:
            return self.live_code or self.code, self.live_en or self.en, self.kh
        return self.code, self.en, self.kh


KH_SUCCESS = "ជោគជ័យ"

# --- success ---
SUCCESS = Code("000", "Success", KH_SUCCESS)
CUSTOMER_CREATED = Code("000", "Success", KH_SUCCESS, live_code="SUCCESS")
# Surrounding spaces are verbatim from the docs (and, for the English delete text, from the live server).
CUSTOMER_UPDATED = Code("000", "Customer profile updated successfully.", " អតិថិជនបានកែប្រែជោគជ័យ។ ")
CUSTOMER_DELETED = Code("000", " Customer deleted successfully. ", " អតិថិជនបានលុបជោគជ័យ។ ")

# --- validation ---
MISSED_FIELD = Code("ERR_MISSED_FIELD", "", "")

# --- customers ---
CUSTOMER_EXISTS = Code("310", "This customer already exists", "អតិថិជននេះមានរួចហើយ", live_en="This customer already exist")
CUSTOMER_NOT_FOUND = Code("311", "Customer not found", "រកមិនឃើញអតិថិជន")
WALLET_CURRENCY_REPEATED = Code("319", "Not allow create multiple wallets", "មិនអនុញ្ញាតឱ្យបង្កើតកាបូបលុយច្រើនទេ")
WALLETS_TOO_MANY = Code("320", "A customer can have at most 2 wallets", "អតិថិជនអាចមាន 2 wallet យ៉ាងច្រើនបំផុត")
CUSTOMER_HAS_BALANCE = Code(
    "407",
    "Cannot delete customer: wallet balance not zero.",
    "មិនអាចលុបអតិថិជននេះបានទេ ទឹកប្រាក់នៅសល់ក្នុងកាបូបលុយ។",
)
WALLET_FEATURE_DISABLED = Code("511", "Wallet feature not enabled", "មុខងារកាបូបលុយអេឡិចត្រូនិចមិនទាន់បានបើកដំណើរការ")

# --- Tonle's own (the wire edge that Bill24 leaves undocumented; see docs/compatibility.md) ---
UNAUTHORIZED = Code("UNAUTHORIZED", "Unauthorized", "មិនមានសិទ្ធិ")
NUL_IN_URL = Code("ERR_INVALID_URL", "The request URL holds a NUL character (%00).", "URL នៃសំណើមានតួអក្សរ NUL (%00)។")
INVALID_JSON = Code("ERR_INVALID_JSON", "The request body is not valid JSON.", "ទិន្នន័យដែលផ្ញើមកមិនមែនជា JSON ត្រឹមត្រូវទេ។")
BODY_TOO_LARGE = Code("ERR_BODY_TOO_LARGE", "The request body is too large.", "ទិន្នន័យដែលផ្ញើមកធំពេក។")
BODY_TIMEOUT = Code(
    "ERR_REQUEST_TIMEOUT", "The request body did not arrive in time.", "ទិន្នន័យដែលផ្ញើមកមិនបានមកដល់ទាន់ពេលទេ។"
)
ROUTE_NOT_FOUND = Code("ERR_NOT_FOUND", "No such endpoint.", "រកមិនឃើញ endpoint នេះទេ។")
METHOD_NOT_ALLOWED = Code("ERR_METHOD_NOT_ALLOWED", "Method not allowed.", "មិនអនុញ្ញាតវិធីសាស្ត្រនេះទេ។")
INTERNAL = Code("ERR_INTERNAL", "Internal error. Quote the request id when reporting it.", "មានបញ្ហាខាងក្នុង។")
UNAVAILABLE = Code(
    "ERR_UNAVAILABLE", "The service is temporarily unavailable. Retry later.", "សេវាកម្មមិនអាចប្រើបានបណ្ដោះអាសន្ន។"
)

# --- settle payment, bills, transactions ---
SETTLED = Code(
    "000",
    "Push bill and capture payment successfully !",
    "បញ្ជូនវិក័យ្យបត្រនិងធ្វើការទូទាត់រួចរាល់ !",
    live_code="SUCCESS",
    live_en="Bill pushed and payment captured successfully.",
)
# Σ details ≠ total: the docs answer 101; the live server answers ERR_MISSED_FIELD (see payments.schemas).
TOTAL_MISMATCH = Code("101", "", "")
BILLFLOW_DISABLED = Code(
    "310",
    "Biller has not enabled BILLFLOW. Please enable and try again",
    "ម្ចាស់អជីវកម្មពុំទាន់បើកដំណើរការBILLFLOW។សូមបើកដំណើរការជាមុននិងសាកល្បងម្តងទៀត",
)
PAYMENT_METHOD_NOT_FOUND = Code("312", "Payment method not found", "រកមិនឃើញវិធីបង់ប្រាក់នេះ")
PAYMENT_TOKEN_INVALID = Code("314", "Payment method token invalid", "Payment Token មិនត្រឹមត្រូវ")
SETTLEMENT_SUPPLIER_NOT_FOUND = Code(
    "315",
    "Settlement supplier not found",
    "រកមិនឃើញម្ចាស់អជីវកម្មដែលត្រូវទូទាត់ទៅកាន់",
    live_en="Invalid payment_to.Supplier not found.",
)
SETTLEMENT_LINK_NOT_FOUND = Code(
    "316", "Settlement supplier link not found", "រកមិនឃើញការភ្ចាប់ការទូរទាត់ រវាងម្ចាស់អជីវកម្មដែលត្រូវទូទាត់ទៅ"
)
HASH_CONFIG_NOT_FOUND = Code("317", "Hash token config not found", "មិនមាន config hash token")
HASH_INVALID = Code("318", "Invalid hash token", "Hash token មិនត្រឹមត្រូវ")
BILL_ALREADY_PAID = Code("323", "Bill(s) already paid.", "វិក្កយបត្របានទូទាត់រួចរាល់")
BILL_NOT_FOUND = Code("324", "Bill not found.", "វិក្កយបត្ររកមិនឃើញ។")
BILL_EXISTS = Code("327", "Bill already exist", "វិក្កយបត្រនេះមានរួចហើយ")
INSUFFICIENT_BALANCE = Code(
    "401",
    "Insufficient balance in the wallet to proceed with payment.",
    "កាបូបលុយអេឡិចត្រូនិចសមតុល្យមិនគ្រប់គ្រាន់សូមធ្វើការបញ្ចូលលុយដើម្បីបន្តការទូទាត់",
)
CURRENCY_MISMATCH = Code(
    "ERR_CURRENCY_MISMATCH",
    "The payment method's currency does not match the bill's currency.",
    "រូបិយប័ណ្ណនៃវិធីបង់ប្រាក់មិនត្រូវនឹងរូបិយប័ណ្ណនៃវិក្កយបត្រទេ។",
)
# A card or account on file that its vault or bank refused to charge: Tonle's codes [INF], docs/payments.md.
CARD_DECLINED = Code(
    "ERR_CARD_DECLINED", "The card was declined. Nothing was charged.", "កាតត្រូវបានបដិសេធ។ មិនមានការកាត់ប្រាក់ទេ។"
)
FUNDS_INSUFFICIENT = Code(
    "ERR_INSUFFICIENT_FUNDS",
    "The card or account has insufficient funds. Nothing was charged.",
    "កាត ឬគណនីមានទឹកប្រាក់មិនគ្រប់គ្រាន់។ មិនមានការកាត់ប្រាក់ទេ។",
)
CARD_REPORTED_STOLEN = Code(
    "ERR_CARD_LOST_OR_STOLEN",
    "The card was declined: it is reported lost or stolen. Nothing was charged.",
    "កាតត្រូវបានបដិសេធ៖ វាត្រូវបានរាយការណ៍ថាបាត់ ឬត្រូវបានលួច។ មិនមានការកាត់ប្រាក់ទេ។",
)
CARD_EXPIRED = Code("ERR_CARD_EXPIRED", "The card has expired. Nothing was charged.", "កាតផុតកំណត់ហើយ។ មិនមានការកាត់ប្រាក់ទេ។")
ACCOUNT_UNAVAILABLE = Code(
    "ERR_ACCOUNT_UNAVAILABLE",
    "The bank account cannot be charged (closed, unknown or in another currency). Nothing was charged.",
    "គណនីធនាគារមិនអាចកាត់ប្រាក់បានទេ។ មិនមានការកាត់ប្រាក់ទេ។",
)
PAYER_BANK_UNAVAILABLE = Code(
    "ERR_BANK_UNAVAILABLE",
    "The card's or account's bank is unavailable. Nothing was charged; try again later.",
    "ធនាគារមិនដំណើរការ។ មិនមានការកាត់ប្រាក់ទេ។ សូមព្យាយាមម្តងទៀតពេលក្រោយ។",
)
CHARGE_REVERSED = Code(
    "ERR_CHARGE_REVERSED",
    "The payment took too long to record and its charge was given back. Nothing was charged; try again.",
    "ការទូទាត់យឺតពេក ហើយការកាត់ប្រាក់ត្រូវបានបង្វិលវិញ។ សូមព្យាយាមម្តងទៀត។",
)
TRANSACTION_FOUND = Code("000", "Transaction found", "ប្រតិបត្តិការបានរកឃើញ")
RECORD_NOT_FOUND = Code("404", "Record not found", "រកមិនឃើញទិន្នន័យ")

# --- Idempotency-Key (Tonle) ---
IDEMPOTENCY_KEY_INVALID = Code(
    "ERR_IDEMPOTENCY_KEY_INVALID",
    "Idempotency-Key must be 1 to 255 visible ASCII characters.",
    "Idempotency-Key ត្រូវមាន 1 ដល់ 255 តួអក្សរ ASCII។",
)
IDEMPOTENCY_KEY_REUSED = Code(
    "ERR_IDEMPOTENCY_KEY_REUSED",
    "This Idempotency-Key was already used with a different request.",
    "Idempotency-Key នេះត្រូវបានប្រើរួចហើយជាមួយសំណើផ្សេង។",
)
IDEMPOTENCY_IN_PROGRESS = Code(
    "ERR_IDEMPOTENCY_IN_PROGRESS",
    "A request with this Idempotency-Key is still in progress. Retry shortly.",
    "សំណើដែលមាន Idempotency-Key នេះកំពុងដំណើរការ។ សូមព្យាយាមម្តងទៀតបន្តិចទៀត។",
)

# --- SDK endpoints ---
UNDECRYPTABLE = Code(
    "ERR_INVALID_ENCRYPTED_BODY",
    "The encrypted body could not be decrypted with this merchant's SDK key.",
    "មិនអាចឌិគ្រីបទិន្នន័យបានទេ។",
)

# --- bank-facing API (its envelope answers "SUCCESS"; error codes are Tonle's, see docs/compatibility.md) ---
BANK_SUCCESS = Code("SUCCESS", "Success", KH_SUCCESS)
BANK_CONFIRMED = Code("SUCCESS", "Payment confirmed", "ការទូទាត់ត្រូវបានបញ្ជាក់")
BANK_ALREADY_CONFIRMED = Code("SUCCESS", "Payment already confirmed", "ការទូទាត់ត្រូវបានបញ្ជាក់រួចហើយ")
TRAN_NOT_FOUND = Code("TRANSACTION_NOT_FOUND", "Transaction not found", "រកមិនឃើញប្រតិបត្តិការ")
TRAN_EXPIRED = Code("TRANSACTION_EXPIRED", "Transaction expired", "ប្រតិបត្តិការផុតកំណត់")
TRAN_ALREADY_PAID = Code("TRANSACTION_ALREADY_PAID", "Transaction already paid", "ប្រតិបត្តិការបានទូទាត់រួចហើយ")
TRAN_NOT_PAYABLE = Code("TRANSACTION_NOT_PAYABLE", "Transaction cannot be paid", "ប្រតិបត្តិការមិនអាចទូទាត់បានទេ")
BANK_PAYMENT_TOKEN_INVALID = Code(
    "INVALID_PAYMENT_TOKEN", "Invalid payment token: make an inquiry first", "Payment token មិនត្រឹមត្រូវ"
)
BANK_AMOUNT_MISMATCH = Code("AMOUNT_MISMATCH", "Amount does not match the transaction", "ចំនួនទឹកប្រាក់មិនត្រូវគ្នា")
BANK_CURRENCY_MISMATCH = Code("CURRENCY_MISMATCH", "Currency does not match the transaction", "រូបិយប័ណ្ណមិនត្រូវគ្នា")
# The bank channel for bills (inquiry/single): the biller's own refusals keep the Merchant Proxy's English texts.
BILLER_NOT_FOUND = Code("BILLER_NOT_FOUND", "Biller not found", "រកមិនឃើញអ្នកផ្តល់សេវា")
CONSUMER_NOT_FOUND = Code("CONSUMER_NOT_FOUND", "Error Not Found", "រកមិនឃើញអតិថិជន")
BILL_OVERDUE = Code("BILL_OVERDUE", "Error Bill Over Due", "វិក្កយបត្រហួសកាលកំណត់")
NO_AMOUNT_TO_PAY = Code("NO_AMOUNT_TO_PAY", "Error No Amount To Pay", "គ្មានទឹកប្រាក់ត្រូវបង់")
CURRENCY_NOT_ALLOWED = Code("CURRENCY_NOT_ALLOWED", "Error Currency Not Allow", "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត")
BILLER_UNAVAILABLE = Code(
    "BILLER_UNAVAILABLE",
    "The biller's system is unavailable. Please try again later.",
    "ប្រព័ន្ធអ្នកផ្តល់សេវាមិនដំណើរការ។ សូមព្យាយាមម្តងទៀតពេលក្រោយ។",
)
BANK_AMOUNT_OUT_OF_RANGE = Code(
    "AMOUNT_OUT_OF_RANGE", "Amount is outside what this bill accepts", "ចំនួនទឹកប្រាក់មិនស្ថិតក្នុងដែនកំណត់"
)

# --- sub-billers (Activate Sub Biller API) ---
ONBOARDED = Code("000", "success", KH_SUCCESS)  # lower-case, as documented
BANK_CONNECTION_PROBLEM = Code("001", "The connection to the bank has a problem", "តំណភ្ជាប់ទៅកាន់ធានាគាមានបញ្ហា")
SUPPLIER_EXISTS = Code("310", "Supplier already exist", "ម្ចាស់អាជីវកម្មមានរួចហើយ")
BANK_NOT_FOUND = Code("312", "Bank not found", "មិនមានធនាគារនេះទេ")
SUPPLIER_NOT_FOUND = Code("314", "Supplier not found", "ស្វែងរកម្ជាស់អាជីវកម្មមិនឃើញ")
PAYOUT_NOT_FOUND = Code("PAYOUT_NOT_FOUND", "Payout not found", "រកមិនឃើញការទូទាត់ចេញ")
PAYOUT_ALREADY_COMPLETED = Code("PAYOUT_ALREADY_COMPLETED", "Payout already completed", "ការទូទាត់ចេញបានបញ្ចប់រួចហើយ")

# --- Bill24 Hosted (family H answers; its errors are the product envelope with HTTP 400 / 404) ---
IMPORT_NOT_A_LIST = Code(
    "ERR_INVALID_BODY",
    "The body must be a JSON array of invoice objects.",
    "ទិន្នន័យដែលផ្ញើមកត្រូវតែជា JSON array នៃវិក្កយបត្រ។",
)
IMPORT_TOO_MANY_ROWS = Code(
    "ERR_TOO_MANY_ROWS", "An import takes at most 10000 invoices.", "ការនាំចូលមួយទទួលវិក្កយបត្របានច្រើនបំផុត 10000។"
)
IMPORT_NOT_FOUND = Code("ERR_IMPORT_NOT_FOUND", "Import not found.", "រកមិនឃើញការនាំចូលនេះទេ។")

# Supplier API (other-apis §5): family F has no error shape either; bad input is HTTP 400 in the product envelope.
PUSH_NO_DATA = Code(
    "ERR_INVALID_BODY",
    "The body must be a JSON object whose [data] is a list of records.",
    "ទិន្នន័យដែលផ្ញើមកត្រូវតែជា JSON object ដែល [data] ជាបញ្ជីកំណត់ត្រា។",
)
PUSH_TOO_MANY = Code(
    "ERR_TOO_MANY_RECORDS", "A push takes at most 10000 records.", "ការផ្ញើមួយទទួលកំណត់ត្រាបានច្រើនបំផុត 10000។"
)
QUEUE_NOT_FOUND = Code("ERR_QUEUE_NOT_FOUND", "Queue not found.", "រកមិនឃើញ queue នេះទេ។")

# --- Auto Direct Debit (family C; spec other-apis §6). Successes as documented; refusals are Tonle's [INF] ---
DD_INIT = Code("000", "success !", "ជោគជ័យ! ")
DD_SIGNAL = Code("000", "success!", "ជោគជ័យ!")
DD_SET_DEFAULT = Code("000", "Set default account successfully", "កំណត់គណនីលំនាំដើមបានដោយជោគជ័យ")
DD_UNSUBSCRIBED = Code("000", "Direct Debit Unsubscribed successfully.", "សេវាកម្មទូទាត់ប្រាក់ស្វ័យប្រវត្តិបានផ្ដាច់ជោគជ័យ")
DD_DUPLICATE_REF = Code(
    "ERR_DUPLICATE_SUBSCRIPTION_REF",
    "A subscription with this subscription_ref already exists.",
    "មានការជាវដែលមាន subscription_ref នេះរួចហើយ។",
)
DD_SUBSCRIPTION_NOT_FOUND = Code("ERR_SUBSCRIPTION_NOT_FOUND", "Subscription not found.", "រកមិនឃើញការជាវនេះទេ។")
DD_TOKEN_NOT_FOUND = Code(
    "ERR_ACCOUNT_TOKEN_NOT_FOUND", "No subscribed account has this token.", "គ្មានគណនីដែលបានជាវមាន token នេះទេ។"
)
DD_ALREADY_UNSUBSCRIBED = Code(
    "ERR_ALREADY_UNSUBSCRIBED", "This account is already unsubscribed.", "គណនីនេះបានឈប់ជាវរួចហើយ។"
)
DD_CONSUMER_NOT_FOUND = Code(
    "ERR_CONSUMER_NOT_FOUND", "No subscribed consumer has these codes.", "គ្មានអតិថិជនដែលបានជាវមានលេខកូដទាំងនេះទេ។"
)
