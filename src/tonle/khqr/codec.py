"""KHQR: the EMVCo merchant-presented QR payload as the National Bank of Cambodia specifies it.

A payload is a run of TLV objects (2-digit tag, 2-digit length, value; the length counts characters, as the NBC SDK's
JavaScript does), in this order: 00 format, 01 initiation (11 static, 12 dynamic), 15 UnionPay (optional), 29
individual or 30 merchant account, 52 category, 53 currency, 54 amount, 58 country, 59 name, 60 city, 62 additional
data, 64 language template, 99 timestamps, and 63 the CRC-16/CCITT-FALSE of the UTF-8 bytes before it (tag and
length included). A transaction is found again by the MD5 of the whole string.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal

CURRENCY_CODES = {"KHR": "116", "USD": "840"}
CURRENCY_NAMES = {v: k for k, v in CURRENCY_CODES.items()}
ACCOUNT_ID = re.compile(r"^[^@\s]+@[^@\s]+$")

# Sub-tags of 62 (additional data) and 64 (language template), by field name.
ADDITIONAL = {"bill_number": "01", "mobile_number": "02", "store_label": "03", "terminal_label": "07", "purpose": "08"}
LANGUAGE = {"language_preference": "00", "merchant_name_alt": "01", "merchant_city_alt": "02"}
MAX = {
    "bakong_account_id": 32,
    "merchant_id": 32,
    "acquiring_bank": 32,
    "account_information": 32,
    "merchant_name": 25,
    "merchant_city": 15,
    "bill_number": 25,
    "mobile_number": 25,
    "store_label": 25,
    "terminal_label": 25,
    "purpose": 25,
    "language_preference": 2,
    "merchant_name_alt": 25,
    "merchant_city_alt": 15,
}


class KHQRError(ValueError):
    """What is wrong with a payload or with the data to encode; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class KHQR:
    kind: str  # "individual" (tag 29) or "merchant" (tag 30)
    bakong_account_id: str
    merchant_name: str
    currency: str = "KHR"
    amount: Decimal | None = None  # None: a static QR
    merchant_city: str = "Phnom Penh"
    merchant_id: str | None = None  # merchant QR: required
    acquiring_bank: str | None = None  # merchant QR: required
    account_information: str | None = None  # individual QR: optional
    merchant_category_code: str = "5999"
    bill_number: str | None = None
    mobile_number: str | None = None
    store_label: str | None = None
    terminal_label: str | None = None
    purpose: str | None = None
    language_preference: str | None = None
    merchant_name_alt: str | None = None
    merchant_city_alt: str | None = None
    created_ms: int | None = None
    expires_ms: int | None = None
    upi_account: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # tags this codec does not model, kept by decode

    @property
    def dynamic(self) -> bool:
        return self.amount is not None and self.amount != 0


def tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR; 4 upper-case hex digits."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return f"{crc:04X}"


def md5(payload: str) -> str:
    return hashlib.md5(payload.encode(), usedforsecurity=False).hexdigest()


def format_amount(amount: Decimal, currency: str) -> str:
    """As the NBC SDK writes it: KHR whole, USD as given when whole, else with exactly two decimals."""
    if currency == "KHR":
        if amount != amount.to_integral_value():
            raise KHQRError(["a KHR amount must be a whole number"])
        return str(int(amount))
    if amount != amount.to_integral_value():
        if amount.as_tuple().exponent < -2 and amount.quantize(Decimal("0.01")) != amount:
            raise KHQRError(["a USD amount has at most two decimals"])
        return f"{amount:.2f}"
    return str(int(amount))


def _check(data: KHQR) -> None:
    problems = []
    if data.kind not in ("individual", "merchant"):
        problems.append("kind must be individual or merchant")
    if not data.bakong_account_id or not ACCOUNT_ID.match(data.bakong_account_id):
        problems.append("the Bakong account id must look like name@bank")
    if not data.merchant_name:
        problems.append("the merchant name is required")
    if data.kind == "merchant" and not (data.merchant_id and data.acquiring_bank):
        problems.append("a merchant KHQR needs a merchant id and an acquiring bank")
    if data.currency not in CURRENCY_CODES:
        problems.append("the currency must be KHR or USD")
    if data.upi_account and data.currency == "USD":
        problems.append("a UnionPay account is not allowed with USD")
    for name, limit in MAX.items():
        value = getattr(data, name)
        if value is not None and len(value) > limit:
            problems.append(f"{name} is longer than {limit} characters")
    if data.amount is not None and data.amount < 0:
        problems.append("the amount must not be negative")
    if data.dynamic and not data.expires_ms:
        problems.append("a dynamic KHQR needs an expiry timestamp")
    for name in ("created_ms", "expires_ms"):
        value = getattr(data, name)
        if value is not None and len(str(value)) != 13:
            problems.append(f"{name} must be 13 digits of milliseconds")
    if not re.fullmatch(r"\d{4}", data.merchant_category_code or ""):
        problems.append("the merchant category code must be 4 digits")
    if problems:
        raise KHQRError(problems)


def encode(data: KHQR) -> str:
    _check(data)
    parts = [tlv("00", "01"), tlv("01", "12" if data.dynamic else "11")]
    if data.upi_account:
        parts.append(tlv("15", data.upi_account))
    account = tlv("00", data.bakong_account_id)
    if data.kind == "merchant":
        account += tlv("01", data.merchant_id or "") + tlv("02", data.acquiring_bank or "")
        parts.append(tlv("30", account))
    else:
        if data.account_information:
            account += tlv("01", data.account_information)
        if data.acquiring_bank:
            account += tlv("02", data.acquiring_bank)
        parts.append(tlv("29", account))
    parts.append(tlv("52", data.merchant_category_code))
    parts.append(tlv("53", CURRENCY_CODES[data.currency]))
    if data.dynamic:
        assert data.amount is not None
        amount = format_amount(data.amount, data.currency)
        if len(amount) > 13:
            raise KHQRError(["the amount is longer than 13 characters"])
        parts.append(tlv("54", amount))
    parts += [tlv("58", "KH"), tlv("59", data.merchant_name), tlv("60", data.merchant_city)]
    additional = "".join(tlv(sub, getattr(data, name)) for name, sub in ADDITIONAL.items() if getattr(data, name))
    if additional:
        parts.append(tlv("62", additional))
    language = "".join(tlv(sub, getattr(data, name)) for name, sub in LANGUAGE.items() if getattr(data, name))
    if language:
        parts.append(tlv("64", language))
    if data.dynamic:
        stamps = (tlv("00", str(data.created_ms)) if data.created_ms else "") + tlv("01", str(data.expires_ms))
        parts.append(tlv("99", stamps))
    body = "".join(parts) + "6304"
    return body + crc16(body.encode())


def split(payload: str, where: str = "") -> list[tuple[str, str]]:
    """TLV objects of a payload (or of a template's value); raises KHQRError naming the broken length."""
    out, i = [], 0
    while i < len(payload):
        head = payload[i : i + 4]
        if len(head) < 4 or not head.isdigit():
            raise KHQRError([f"{where}malformed tag/length at position {i}"])
        tag, length = head[:2], int(head[2:])
        value = payload[i + 4 : i + 4 + length]
        if len(value) != length:
            raise KHQRError([f"{where}tag {tag} says {length} characters but {len(value)} remain"])
        out.append((tag, value))
        i += 4 + length
    return out


_ORDER = [
    "00",
    "01",
    "15",
    "29",
    "30",
    "52",
    "53",
    "54",
    "55",
    "56",
    "57",
    "58",
    "59",
    "60",
    "61",
    "62",
    "64",
    "99",
    "63",
]


def decode(payload: str) -> KHQR:
    """Parse and validate: lengths, order, CRC, required tags and their rules. Raises KHQRError listing problems."""
    if len(payload) < 8 or not payload[-8:-4] == "6304":
        raise KHQRError(["the payload must end with tag 63 (6304 and 4 hex digits)"])
    expected = crc16(payload[:-4].encode())
    objects = split(payload)
    tags = [t for t, _ in objects]
    problems = []
    if payload[-4:].upper() != expected:
        problems.append(f"CRC mismatch: the payload says {payload[-4:]}, its content gives {expected}")
    known = [t for t in tags if t in _ORDER]
    if known != sorted(known, key=_ORDER.index):
        problems.append("tags are not in order")
    if len(set(tags)) != len(tags):
        problems.append("a tag appears twice")
    values = dict(objects)
    for required in ("00", "01", "52", "53", "58", "59", "60"):
        if required not in values:
            problems.append(f"tag {required} is missing")
    if "29" not in values and "30" not in values:
        problems.append("tag 29 or 30 (the account) is missing")
    if values.get("00") not in (None, "01"):
        problems.append("tag 00 must be 01")
    if values.get("01") not in (None, "11", "12"):
        problems.append("tag 01 must be 11 or 12")
    currency = CURRENCY_NAMES.get(values.get("53", ""))
    if "53" in values and currency is None:
        problems.append("tag 53 must be 116 (KHR) or 840 (USD)")
    if problems:
        raise KHQRError(problems)
    kind = "merchant" if "30" in values else "individual"
    account = dict(split(values["30" if kind == "merchant" else "29"], f"tag {'30' if kind == 'merchant' else '29'}: "))
    data = KHQR(
        kind=kind, bakong_account_id=account.get("00", ""), merchant_name=values["59"], currency=currency or "KHR"
    )
    data.merchant_city = values["60"]
    data.merchant_category_code = values["52"]
    data.upi_account = values.get("15")
    if kind == "merchant":
        data.merchant_id, data.acquiring_bank = account.get("01"), account.get("02")
    else:
        data.account_information, data.acquiring_bank = account.get("01"), account.get("02")
    if "54" in values:
        try:
            data.amount = Decimal(values["54"])
        except ArithmeticError:
            raise KHQRError(["tag 54 is not a number"]) from None
    if "62" in values:
        sub = dict(split(values["62"], "tag 62: "))
        for name, code in ADDITIONAL.items():
            setattr(data, name, sub.get(code))
    if "64" in values:
        sub = dict(split(values["64"], "tag 64: "))
        for name, code in LANGUAGE.items():
            setattr(data, name, sub.get(code))
    if "99" in values:
        sub = dict(split(values["99"], "tag 99: "))
        data.created_ms = int(sub["00"]) if sub.get("00", "").isdigit() else None
        data.expires_ms = int(sub["01"]) if sub.get("01", "").isdigit() else None
    data.extra = {
        t: v
        for t, v in objects
        if t not in ("00", "01", "15", "29", "30", "52", "53", "54", "58", "59", "60", "62", "64", "99", "63")
    }
    rules = []
    if values["01"] == "12" and data.amount is None:
        rules.append("a dynamic KHQR (01=12) needs tag 54")
    if values["01"] == "11" and data.amount not in (None, Decimal(0)):
        rules.append("a static KHQR (01=11) carries no amount")
    try:
        _check(data)
    except KHQRError as exc:
        rules += [p for p in exc.problems if "expiry" not in p or values["01"] == "12"]
    if rules:
        raise KHQRError(rules)
    return data
