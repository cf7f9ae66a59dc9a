"""Request-body checks that answer in Bill24's ERR_MISSED_FIELD wording.

The live server is ASP.NET; its texts are reproduced word for word where they were observed (spec §1.5) and
follow the same pattern where they were not. Every check appends to one list, so a request with several problems
gets them all, joined with ", ", in field order.
"""

from __future__ import annotations

import re
from typing import Any

from tonle.kit.money import EXPONENTS, AmountError
from tonle.wire.errors import MissedField

# ASP.NET's [EmailAddress] is lenient: one "@" with text on both sides. We also refuse spaces and require a dot in
# the domain, since a payment receipt sent there would bounce.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def provide(field: str) -> tuple[str, str]:
    return f"Please provide [{field}].", f"សូមផ្តល់ [{field}]។"


def too_long(field: str, limit: int, unit: str = "characters") -> tuple[str, str]:
    return (
        f"[{field}] must have {limit} or fewer {unit}. Please adjust and retry.",
        f"[{field}] ត្រូវមាន {limit} តួ ឬតិចជាងនេះ។ សូមកែតម្រូវ ហើយព្យាយាមម្តងទៀត។",
    )


def wrong_type(field: str, kind: str) -> tuple[str, str]:
    return f"The [{field}] field must be a {kind}.", f"[{field}] ត្រូវតែជា {kind}។"


class Checker:
    """Collects validation messages over a JSON object body; ``done()`` raises them all at once."""

    def __init__(self, body: Any) -> None:
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}
        self.messages: list[tuple[str, str]] = []

    def fail(self, message: tuple[str, str]) -> None:
        self.messages.append(message)

    def string(
        self,
        key: str,
        *,
        required: bool = False,
        max_len: int = 255,
        label: str | None = None,
        unit: str = "characters",
        source: dict[str, Any] | None = None,
    ) -> str | None:
        """A string field; absent, null and blank count as missing. ``label`` is the name used in messages."""
        src = self.body if source is None else source
        name = label or key
        value = src.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(provide(name))
            return None
        if not isinstance(value, str):
            self.fail(wrong_type(name, "string"))
            return None
        if "\x00" in value:  # no database stores it (a JSON body cannot carry one; a query string can)
            self.fail((f"[{name}] must not contain a NUL character.", f"[{name}] មិនអាចមានតួអក្សរ NUL បានទេ។"))
            return None
        if len(value) > max_len:
            self.fail(too_long(name, max_len, unit))
            return None
        return value

    def email(self, key: str, label: str = "Email") -> str | None:
        value = self.string(key, max_len=254)
        if value is not None and not EMAIL_RE.match(value):
            self.fail((f"'{label}' is not a valid email address.", f"'{label}' មិនមែនជាអាសយដ្ឋានអ៊ីមែលត្រឹមត្រូវទេ។"))
            return None
        return value

    def done(self) -> None:
        if self.messages:
            raise MissedField(self.messages)


def amount_message(label: str, exc: AmountError, currency: str) -> tuple[str, str]:
    """Why an amount field was refused, in the ERR_MISSED_FIELD style."""
    if exc.reason == "negative":
        return f"[{label}] must not be negative.", f"[{label}] មិនអាចអវិជ្ជមានបានទេ។"
    if exc.reason == "precision":
        places = EXPONENTS[currency]
        en = (
            f"[{label}] must be a whole number of {currency}."
            if places == 0
            else (f"[{label}] must have at most {places} decimal places for {currency}.")
        )
        return en, f"[{label}] មានខ្ទង់ទសភាគច្រើនពេកសម្រាប់ {currency}។"
    return f"[{label}] is out of range.", f"[{label}] លើសដែនកំណត់។"
