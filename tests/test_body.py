"""One description per body (wire/body.py): the model that documents a body parses it, with Bill24's messages in the
model's field order, and writes the constraints it enforces into the OpenAPI document."""

from decimal import Decimal

import pytest

from tonle.banks.router import ConfirmRequest
from tonle.subbillers.bank_api import PayoutResultRequest
from tonle.wire.body import parse
from tonle.wire.errors import MissedField


def messages(model, body):
    with pytest.raises(MissedField) as err:
        parse(model, body)
    return [m[0] for m in err.value.messages]


def test_every_message_at_once_in_field_order():
    assert messages(ConfirmRequest, {"bank_ref": "  ", "payer_phone": "x" * 201}) == [
        "Please provide [identity_code].",
        "Please provide [payment_token].",
        "Please provide [bank_ref].",
        "Please provide [currency].",
        "[payer_phone] must have 200 or fewer characters. Please adjust and retry.",
        "Please provide [total_amount].",
    ]


def test_choices_are_named_after_the_other_checks():
    assert messages(PayoutResultRequest, {"payout_id": "p", "status": "maybe", "reason": "r" * 256}) == [
        "[reason] must have 255 or fewer characters. Please adjust and retry.",
        "[status] must be paid or failed.",
    ]


def test_a_good_body_is_the_model_with_its_values_as_sent():
    body = {
        "identity_code": "T1",
        "payment_token": "tok",
        "bank_ref": "FT1",
        "currency": "KHR",
        "total_amount": Decimal("12.50"),
        "description": "kept",
    }
    req = parse(ConfirmRequest, body)
    assert (req.identity_code, req.total_amount, req.description, req.bank_date) == (
        "T1",
        Decimal("12.50"),
        "kept",
        None,
    )


def test_the_document_says_what_the_parser_enforces():
    schema = ConfirmRequest.model_json_schema()
    props = schema["properties"]
    assert props["identity_code"]["maxLength"] == 100 and props["identity_code"]["minLength"] == 1
    assert props["payer_phone"]["anyOf"][0]["maxLength"] == 200
    assert set(schema["required"]) >= {"identity_code", "payment_token", "bank_ref", "currency", "total_amount"}
    assert PayoutResultRequest.model_json_schema()["properties"]["status"]["enum"] == ["paid", "failed"]
