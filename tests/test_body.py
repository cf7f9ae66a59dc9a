"""One description per body (wire/body.py): the model that documents a body parses it, with Bill24's messages in the
model's field order, and writes the constraints it enforces into the OpenAPI document."""

from decimal import Decimal

import pytest

from tonle.banks.router import ConfirmRequest
from tonle.checkout.router import InitRequest, LegacyInitRequest
from tonle.customers.schemas import CreateCustomerRequest, UpdateCustomerRequest
from tonle.payments.schemas import DetailIn, SettleRequest
from tonle.subbillers.bank_api import PayoutResultRequest
from tonle.subbillers.router import OnboardRequest, PortalRequest
from tonle.webhooks.router import DeliveriesQuery, EndpointRequest
from tonle.wire.body import WireBody, parse
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


# ---------------------------------------------------------------- every body of the API is read by its model


def test_every_documented_body_is_a_model_that_parses():
    """The models named in the OpenAPI document are the parsers (WireBody); the few others answer in an envelope of
    their own, not ERR_MISSED_FIELD, and say why here."""
    from tonle.app import create_app
    from tonle.wire import http

    own_envelope = {
        "AuthorizeRequest": "merchant authorize answers an integer-coded security error (spec §1.3)",
        "EncryptedBody": "the SDK's encrypted blob: a body that does not decrypt is the SDK's own error",
        "TranIdRequest": "SDK helpers: an id that is no known transaction answers not-found, whatever its type",
        "LinksRequest": "SDK helpers, as above",
        "FavoriteRequest": "SDK helpers, as above",
        "SendRequest": "the Notification API answers in family G with English-only texts",
    }
    create_app()
    plain = {name for name, model in http._BODY_MODELS.items() if not issubclass(model, WireBody)}
    assert plain == set(own_envelope)


def test_the_product_code_constructs_no_checker_of_its_own():
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src" / "tonle"
    users = [p.relative_to(src).as_posix() for p in src.rglob("*.py") if "Checker(" in p.read_text()]
    assert sorted(users) == ["wire/body.py"]


# ---------------------------------------------------------------- the rules, on the API's own models


def test_nested_lists_are_labelled_by_position_and_checked_in_order():
    assert messages(CreateCustomerRequest, {"sync_code": "C", "name": "N", "wallet": [5, {"currency": "eur"}]}) == [
        "The [wallet[0]] field must be a object.",
        "Please provide [wallet[1].name].",
        "[wallet[1].currency] must be KHR or USD.",
    ]
    got = parse(CreateCustomerRequest, {"sync_code": "C", "name": "N", "wallet": [{"name": "W", "currency": "usd"}]})
    assert [(w.name, w.currency) for w in got.wallet] == [("W", "USD")]


def test_an_update_checks_and_keeps_only_what_was_sent():
    got = parse(UpdateCustomerRequest, {"sync_code": "C", "phone": None})
    assert got.model_fields_set == {"sync_code", "phone"}
    assert messages(UpdateCustomerRequest, {"sync_code": "C", "name": " "}) == ["Please provide [name]."]


def test_a_line_amount_is_read_in_its_body_currency():
    body = {"identity_code": "I", "currency": "usd", "amount": 1, "customers": [{"amount": "0.555"}]}
    assert messages(InitRequest, body) == ["[customers[0].amount] must have at most 2 decimal places for USD."]
    body["customers"] = [{"amount": "0.40"}, {"amount": "0.50"}]
    assert messages(InitRequest, body) == ["The [amount] field must be equal to 0.9."]
    body["customers"] = [{"amount": "0.50"}, {"amount": "0.50"}]
    got = parse(InitRequest, body)
    assert (got.currency, got.amount, [line.amount for line in got.customers]) == ("USD", 100, [50, 50])


def test_an_older_key_stands_in_for_a_missing_one():
    got = parse(LegacyInitRequest, {"reference_id": "R", "currency": "KHR", "amount": 1, "callback_url": "http://b/"})
    assert got.confirm_url == "http://b/"
    # the message names the key that was read
    assert messages(LegacyInitRequest, {"reference_id": "R", "currency": "KHR", "amount": 1, "callback_url": "x:"}) == [
        "[callback_url] must be an http(s) URL."
    ]
    line = {"item_mame": "Water", "amount": 1}
    assert parse(DetailIn, line).item_name == "Water"


def test_required_with_and_https_only():
    assert messages(OnboardRequest, {"supplier_sync_code": "S", "name": "N", "bank_id": "ABA"}) == [
        "Please provide [return_url]."
    ]
    assert messages(PortalRequest, {"supplier_sync_code": "S", "language": "fr", "logo": "http://x/l.png"}) == [
        "[language] must be en or km.",
        "[logo] must be an https URL.",
    ]
    assert parse(PortalRequest, {"supplier_sync_code": "S"}).language == "en"


def test_choices_named_late_where_the_endpoint_names_them_late():
    assert messages(EndpointRequest, {"retry_profile": "often", "body_format": "xml"}) == [
        "Please provide [url].",
        "[retry_profile] must be standard or bill24.",
        "[body_format] must be current or legacy.",
    ]
    assert messages(DeliveriesQuery, {"since": "yesterday", "cursor": "???"}) == [
        "[since] is not a valid date.",
        "[cursor] is not valid.",
    ]


def test_the_settle_document_carries_the_rules():
    props = SettleRequest.model_json_schema()["properties"]
    assert props["ref_id"]["maxLength"] == 100 and props["ref_id"]["minLength"] == 1
    assert props["currency"]["enum"] == ["KHR", "USD"]
    assert props["date"]["pattern"].startswith("^(19|20)")  # a field's own pattern is kept, not made "\\S"
    assert list(props)[:8] == [
        "ref_id",
        "date",
        "due_date",
        "currency",
        "total_amount",
        "customer_sync_code",
        "payment_to",
        "hash",
    ]
