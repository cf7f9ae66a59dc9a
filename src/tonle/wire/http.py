"""Request-side helpers of the wire edge: the JSON body, the settings, the session and OpenAPI body schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, WithJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Compat, Settings
from tonle.wire import wirejson
from tonle.wire.codes import INVALID_JSON
from tonle.wire.errors import TonleError


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed once when the handler returns, rolled back when it raises."""
    db = request.app.state.db  # tonle.db.Database, made by the app at startup
    async with db.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# Committed before the response is sent ("function" scope), so a client never reads ahead of its own write.
Session = Annotated[AsyncSession, Depends(request_session, scope="function")]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_compat(request: Request) -> Compat:
    return request.app.state.settings.compat


EMPTY: Any = object()  # what json_value answers for a body with nothing in it


async def json_value(request: Request) -> Any:
    """The body as any JSON value with exact numbers, or EMPTY; not JSON: HTTP 400."""
    raw = await request.body()
    if not raw.strip():
        return EMPTY
    try:
        return wirejson.loads(raw)
    except wirejson.InvalidJSON as exc:
        raise TonleError(INVALID_JSON, status=400) from exc


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object with exact numbers. An empty body reads as ``{}`` (the endpoint then says which
    fields are missing); anything that is not a JSON object is refused with HTTP 400."""
    body = await json_value(request)
    if body is EMPTY:
        return {}
    if not isinstance(body, dict):
        raise TonleError(
            INVALID_JSON,
            status=400,
            text=("The request body must be a JSON object.", "ទិន្នន័យដែលផ្ញើមកត្រូវតែជា JSON object។"),
        )
    return body


Body = Annotated[dict[str, Any], Depends(json_body)]
AnyBody = Annotated[Any, Depends(json_value)]
CompatDep = Annotated[Compat, Depends(get_compat)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_BODY_MODELS: dict[str, type[BaseModel]] = {}

# An amount in a documentation model: a JSON number on the wire (a string fails binding, as on the live server), not
# pydantic's default number-or-string for Decimal.
WireAmount = Annotated[Decimal, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 10**13})]
# A bill date as documented: a date (1900-2099), optionally with a time and an offset (parse_wire_date takes these;
# a day the month does not have still fails).
WIRE_DATE_PATTERN = (
    r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body. Bodies are parsed by hand (exact numbers,
    Bill24's own validation texts), so FastAPI is only told about them for the documentation."""
    _BODY_MODELS[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def array_body_schema(model: type[BaseModel], max_items: int, *, under: str | None = None) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON array of ``model`` objects as the request body (an invoice import), or
    an object holding that array under the key ``under`` (a Supplier API push: ``{"data": [...]}``)."""
    _BODY_MODELS[model.__name__] = model
    items = {"$ref": f"#/components/schemas/{model.__name__}"}
    schema: dict[str, Any] = {"type": "array", "items": items, "maxItems": max_items}
    if under is not None:
        schema = {"type": "object", "properties": {under: schema}, "required": [under]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _BODY_MODELS.items():
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(js.pop("$defs", {}))
            components[name] = js
        bearer = schema["components"].get("securitySchemes", {}).get("HTTPBearer")
        if bearer is not None:
            bearer["bearerFormat"] = "JWT"
        _document_answers(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# What every answer of the Bill24 surface looks like: the product envelope (business errors are HTTP 200 with
# another code), and the same envelope for what the edge refuses. The Notification API has its own envelope,
# without message_kh. Documented so that a client generator, and the schema-driven tests, see the real shape.
_PRODUCT = {
    "type": "object",
    "required": ["code", "message", "data"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "message_kh": {"type": "string"},
        "data": {},
    },
}
_NOTIFICATION = {
    "type": "object",
    "required": ["code", "message", "data"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "data": {}},
}
_EDGE_ERRORS = {
    "400": "The body is not JSON, or not a JSON object",
    "408": "The body did not arrive in time",
    "413": "The body is over the size limit",
    "429": "Too many failed attempts from this address (Retry-After says when to try again)",
    "503": "The database is unreachable; retry later (Retry-After)",
    "500": "An unexpected error (the request id in X-Request-Id finds it in the log)",
}


def _document_answers(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    components["ProductEnvelope"] = _PRODUCT
    components["NotificationEnvelope"] = _NOTIFICATION
    for path, operations in schema.get("paths", {}).items():
        if path == "/healthz":
            continue
        name = "NotificationEnvelope" if path.startswith("/notification/") else "ProductEnvelope"
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
        for op in operations.values():
            responses = op.setdefault("responses", {})
            # Validation failures answer 200 with ERR_MISSED_FIELD (the live server's way), never FastAPI's 422.
            responses.pop("422", None)
            ok = responses.setdefault("200", {"description": "OK"})
            documented = ok.get("content", {}).get("application/json", {}).get("schema")
            if not documented:  # a route without a response model: its answer is still the envelope
                ok["content"] = content
            for status, text in _EDGE_ERRORS.items():
                responses.setdefault(status, {"description": text, "content": content})
            responses.setdefault("401", {"description": "Missing or invalid credentials", "content": content})
            if "{" in path:  # an empty path parameter leaves a path that names no operation
                responses.setdefault("404", {"description": "No such endpoint (ERR_NOT_FOUND)", "content": content})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _link(schema)


# OpenAPI links: which value of one answer (or its request) another operation takes. They tell a reader, a client
# generator and schemathesis' stateful runs how the calls chain: create a customer, pay from its wallet, then read
# the bill and the transaction. Business errors are HTTP 200 too, so every link hangs off the 200 answer.
_SYNC = "$request.body#/sync_code"
_LINKS: dict[str, dict[str, tuple[str, dict[str, str], dict[str, str]]]] = {
    # source "METHOD path": {link name: (target "METHOD path", parameters, requestBody fields)}
    "POST /customer/create": {
        "CustomerDetail": ("POST /customer/get_customer_detail", {}, {"sync_code": _SYNC}),
        "UpdateCustomer": ("POST /customer/update", {}, {"sync_code": _SYNC}),
        "DeleteCustomer": ("POST /customer/delete", {}, {"sync_code": _SYNC}),
        "PaymentMethods": (
            "GET /instant_payment/{customer_sync_code}/get_payment_methods",
            {"path.customer_sync_code": _SYNC},
            {},
        ),
        "WalletBalance": ("POST /instant_payment/get_wallet_balance", {}, {"customer_sync_code": _SYNC}),
        "WalletHistories": ("POST /instant_payment/get_wallet_histories", {}, {"customer_sync_code": _SYNC}),
        "SettlePayment": ("POST /bill_payment/push_bill_with_payment", {}, {"customer_sync_code": _SYNC}),
    },
    "POST /bill_payment/push_bill_with_payment": {
        "SingleBill": (
            "GET /instant_payment/get_single_bill/{ref_id}",
            {"path.ref_id": "$request.body#/ref_id"},
            {},
        ),
        "TransactionDetail": ("POST /transaction/instant_payment/detail", {}, {"reference": "$request.body#/ref_id"}),
        "CustomerBills": (
            "GET /bill_payment/{customer_sync_code}/get_bills",
            {"path.customer_sync_code": "$request.body#/customer_sync_code"},
            {},
        ),
    },
    "POST /transaction/v2/init": {
        "Verify": ("POST /transaction/v2/verify", {}, {"tran_id": "$response.body#/data/tran_id"}),
        "CheckoutDetail": ("POST /checkout/detail", {}, {"tran_id": "$response.body#/data/tran_id"}),
        "ExtendExpiry": ("POST /checkout/extend_expire_date", {}, {"tran_id": "$response.body#/data/tran_id"}),
    },
    "POST /transaction/init": {
        "Verify": ("POST /transaction/verify", {}, {"tran_id": "$response.body#/data/tran_id"}),
    },
    "POST /notification/v1/notificationmessage/send": {
        "Status": (
            "GET /notification/v1/notificationmessage/{notification_id}",
            {"path.notification_id": "$response.body#/data/0/notificationId"},
            {},
        ),
    },
}


def _link(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})

    def operation(key: str) -> dict[str, Any]:
        method, path = key.split(" ", 1)
        return paths[path][method.lower()]

    for source, links in _LINKS.items():
        if source.split(" ", 1)[1] not in paths:
            continue
        documented = operation(source)["responses"]["200"].setdefault("links", {})
        for name, (target, parameters, body) in links.items():
            link: dict[str, Any] = {"operationId": operation(target)["operationId"]}
            if parameters:
                link["parameters"] = parameters
            if body:
                link["requestBody"] = body
            documented[name] = link
