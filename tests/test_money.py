"""Money parsing and exact JSON: no float anywhere between the wire and the ledger."""

from decimal import Decimal

import pytest

from tonle.kit.money import AmountError, display, to_major, to_minor
from tonle.wire import wirejson


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (5000, "KHR", 5000),
        (Decimal("250.00"), "USD", 25000),
        ("250.10", "USD", 25010),
        (Decimal("12.5"), "USD", 1250),
        ("0", "USD", 0),
        (" 7 ", "KHR", 7),
        (Decimal("1E+3"), "KHR", 1000),
        (Decimal("100.0"), "KHR", 100),
    ],
)
def test_to_minor(value, currency, minor):
    assert to_minor(value, currency) == minor


@pytest.mark.parametrize(
    ("value", "currency", "reason"),
    [
        (Decimal("1.234"), "USD", "precision"),
        (Decimal("10.5"), "KHR", "precision"),
        (-1, "USD", "negative"),
        ("abc", "USD", "format"),
        ("", "USD", "format"),
        ("NaN", "USD", "format"),
        ("Infinity", "KHR", "format"),
        (1.5, "USD", "type"),
        (True, "USD", "type"),
        (None, "USD", "type"),
        (10**16, "KHR", "range"),
        (Decimal("1E+40"), "KHR", "range"),
        (Decimal("1E-40"), "USD", "range"),
        (5, "EUR", "currency"),
    ],
)
def test_to_minor_refuses(value, currency, reason):
    with pytest.raises(AmountError) as err:
        to_minor(value, currency)
    assert err.value.reason == reason


def test_to_major_and_display():
    assert to_major(106001, "KHR") == 106001
    assert to_major(25000, "USD") == 250 and isinstance(to_major(25000, "USD"), int)
    assert to_major(1250, "USD") == Decimal("12.5")
    assert to_major(1, "USD") == Decimal("0.01")
    assert display(106001, "KHR") == "106,001.00"
    assert display(15000, "USD") == "150.00"
    assert display(123456789, "USD") == "1,234,567.89"


def test_wirejson_is_exact_both_ways():
    body = wirejson.loads(b'{"a": 0.1, "b": 12345678901234567890.123456789, "c": 5}')
    assert body == {"a": Decimal("0.1"), "b": Decimal("12345678901234567890.123456789"), "c": 5}
    assert wirejson.dumps(body) == '{"a":0.1,"b":12345678901234567890.123456789,"c":5}'
    assert (
        wirejson.dumps({"kh": "ជោគជ័យ", "n": None, "t": True, "l": [1, Decimal("0.01")]})
        == '{"kh":"ជោគជ័យ","n":null,"t":true,"l":[1,0.01]}'
    )
    with pytest.raises(TypeError):
        wirejson.dumps({"x": 0.1})
    for bad in (b"NaN", b'{"a": -Infinity}', b"{", b"[" * 50000):
        with pytest.raises(wirejson.InvalidJSON):
            wirejson.loads(bad)
