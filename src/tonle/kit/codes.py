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
INVALID_JSON = Code("ERR_INVALID_JSON", "The request body is not valid JSON.", "ទិន្នន័យដែលផ្ញើមកមិនមែនជា JSON ត្រឹមត្រូវទេ។")
BODY_TOO_LARGE = Code("ERR_BODY_TOO_LARGE", "The request body is too large.", "ទិន្នន័យដែលផ្ញើមកធំពេក។")
ROUTE_NOT_FOUND = Code("ERR_NOT_FOUND", "No such endpoint.", "រកមិនឃើញ endpoint នេះទេ។")
METHOD_NOT_ALLOWED = Code("ERR_METHOD_NOT_ALLOWED", "Method not allowed.", "មិនអនុញ្ញាតវិធីសាស្ត្រនេះទេ។")
UNSUPPORTED_MEDIA = Code(
    "ERR_UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json.", "ទិន្នន័យត្រូវតែជា application/json។"
)
INTERNAL = Code("ERR_INTERNAL", "Internal error. Quote the request id when reporting it.", "មានបញ្ហាខាងក្នុង។")
UNAVAILABLE = Code(
    "ERR_UNAVAILABLE", "The service is temporarily unavailable. Retry later.", "សេវាកម្មមិនអាចប្រើបានបណ្ដោះអាសន្ន។"
)
