"""Money: integer minor units, exact parsing, exact rendering.

Exponents: USD has 2 decimals (cents). KHR is kept in whole riels (exponent 0): riel coins have not circulated
for decades, Cambodian prices and bank transfers are whole riels, and Bill24's examples only show whole KHR
amounts. A KHR amount with a fractional part is therefore refused, not rounded (docs/money.md).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

EXPONENTS: dict[str, int] = {"KHR": 0, "USD": 2}
CURRENCIES = tuple(EXPONENTS)
# Largest amount accepted anywhere, in minor units: far above any real payment, far below BIGINT.
MAX_MINOR = 10**15


class AmountError(ValueError):
    """Why an amount was refused; ``reason`` is one of: type, format, negative, precision, range, currency."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def to_decimal(value: object) -> Decimal:
    """A JSON number (int or Decimal, never float) or a decimal string, as an exact Decimal."""
    if isinstance(value, bool):
        raise AmountError("type", "a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        s = value.strip()
        if not s or len(s) > 40:
            raise AmountError("format", "not a decimal number")
        try:
            d = Decimal(s)
        except InvalidOperation as exc:
            raise AmountError("format", "not a decimal number") from exc
    else:
        raise AmountError("type", f"{type(value).__name__} is not an amount")
    if not d.is_finite():
        raise AmountError("format", "not a finite number")
    return d


def to_minor(value: object, currency: str, *, allow_negative: bool = False) -> int:
    """Parse an amount in the currency's major unit into integer minor units, refusing excess precision."""
    if currency not in EXPONENTS:
        raise AmountError("currency", f"unknown currency {currency!r}")
    d = to_decimal(value)
    if d < 0 and not allow_negative:
        raise AmountError("negative", "must not be negative")
    if abs(d.adjusted()) > 30:
        raise AmountError("range", "out of range")
    scaled = d.scaleb(EXPONENTS[currency])
    if scaled != scaled.to_integral_value():
        raise AmountError("precision", f"{currency} allows at most {EXPONENTS[currency]} decimal places")
    minor = int(scaled)
    if abs(minor) > MAX_MINOR:
        raise AmountError("range", "out of range")
    return minor


def to_major(minor: int, currency: str) -> int | Decimal:
    """The wire form of an amount: an integer when whole (``5000``), else exact decimals (``12.5``)."""
    exp = EXPONENTS[currency]
    if exp == 0 or minor % (10**exp) == 0:
        return minor // (10**exp)
    return (Decimal(minor).scaleb(-exp)).normalize()


def display(minor: int, currency: str) -> str:
    """Thousands separators and two decimals, as Bill24 shows balances: ``106,001.00``."""
    d = Decimal(minor).scaleb(-EXPONENTS[currency])
    return f"{d:,.2f}"
