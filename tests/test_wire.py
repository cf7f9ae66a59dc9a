"""The wire edge: tolerance like the live server, error envelopes instead of 500s, request ids, OpenAPI."""

import json

import pytest


def test_repeated_slashes_reach_the_endpoint(server):
    c, _ = server.merchant_client()
    base = server.base_url  # a full URL, so that the client sends the path as written
    r = c.post(base + "//customer/create", json={"sync_code": "S1", "name": "A"})
    assert r.request.url.raw_path == b"//customer/create"
    assert r.json()["code"] == "SUCCESS"
    assert c.post(base + "///customer//get_customer_detail", json={"sync_code": "S1"}).json()["code"] == "000"
    assert c.get(base + "//healthz").status_code == 200


def test_no_content_type_and_odd_content_types_are_read_as_json(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", content=json.dumps({"sync_code": "S2", "name": "A"}).encode())
    assert "content-type" not in r.request.headers
    assert r.json()["code"] == "SUCCESS"
    r = c.post("/customer/get_customer_detail", content=b'{"sync_code":"S2"}', headers={"Content-Type": "text/plain"})
    assert r.json()["code"] == "000"
    # GET without Content-Type
    r = c.get("/healthz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"sync_code": "S3", "name": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe\x00",
        b"[" * 100000 + b"]" * 100000,
        b'{"a":' * 6000 + b"1" + b"}" * 6000,
    ],
)
def test_malformed_bodies_get_an_envelope(server, raw):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", content=raw)
    assert r.status_code in (400, 413)
    body = r.json()
    assert body["code"] in ("ERR_INVALID_JSON", "ERR_BODY_TOO_LARGE") and body["data"] is None
    assert set(body) == {"code", "message", "message_kh", "data"}


def test_non_object_json_is_refused(server):
    c, _ = server.merchant_client()
    for raw in (b"[]", b'"text"', b"42", b"null"):
        r = c.post("/customer/create", content=raw)
        assert r.status_code == 400
        assert r.json()["message"] == "The request body must be a JSON object."


def test_wrong_types_are_validation_errors(server):
    c, _ = server.merchant_client()
    for body in (
        {"sync_code": ["a"], "name": "A"},
        {"sync_code": {"x": 1}, "name": "A"},
        {"sync_code": True, "name": "A"},
        {"sync_code": 10**40, "name": "A"},
        {"sync_code": "S4", "name": 1.5},
    ):
        r = c.post("/customer/create", json=body)
        assert r.status_code == 200
        assert r.json()["code"] == "ERR_MISSED_FIELD" and "must be a string" in r.json()["message"]


def test_body_size_is_limited(server):
    c, _ = server.merchant_client()
    big = json.dumps({"sync_code": "S5", "name": "x" * (server.settings.max_body_bytes + 10)}).encode()
    r = c.post("/customer/create", content=big)
    assert r.status_code == 413
    assert r.json()["code"] == "ERR_BODY_TOO_LARGE"

    def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(100):
            yield b"x" * 4096

    r = c.post("/customer/create", content=chunks())
    assert r.status_code == 413
    assert c.post("/customer/get_customer_detail", json={"sync_code": "S5"}).json()["code"] == "311"


def test_request_id_header_and_access_log(server, access_log):
    c, _ = server.merchant_client()
    r = c.post("/customer/get_customer_detail", json={"sync_code": "nobody"})
    rid = r.headers["X-Request-Id"]
    assert len(rid) == 32
    r2 = c.post(
        "/customer/get_customer_detail", json={"sync_code": "nobody"}, headers={"X-Request-Id": "client-chosen-id-123"}
    )
    assert r2.headers["X-Request-Id"] == "client-chosen-id-123"
    bad = c.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert bad.headers["X-Request-Id"] != "bad id with spaces"
    assert any(
        f"rid={rid}" in line and "POST /customer/get_customer_detail" in line and " 200 " in line for line in access_log
    )
    assert any("rid=client-chosen-id-123" in line for line in access_log)
    # Errors carry one too.
    r = c.post("/nowhere")
    assert r.headers["X-Request-Id"] and r.status_code == 404


def test_unknown_routes_and_methods_get_envelopes(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/nothing")
    assert r.status_code == 404 and r.json()["code"] == "ERR_NOT_FOUND"
    r = c.get("/customer/create")
    assert r.status_code == 405 and r.json()["code"] == "ERR_METHOD_NOT_ALLOWED"
    assert "server" not in r.headers


def test_openapi_describes_the_real_bodies(server):
    with server.client() as c:
        spec = c.get("/openapi.json").json()
        docs = c.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    create = spec["paths"]["/customer/create"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CreateCustomerRequest"
    schemas = spec["components"]["schemas"]
    assert {"sync_code", "name", "wallet"} <= set(schemas["CreateCustomerRequest"]["properties"])
    assert schemas["CreateCustomerRequest"]["properties"]["sync_code"]["maxLength"] == 50
    assert "walletBalances" in schemas["CustomerDetailOut"]["properties"]
    assert spec["paths"]["/merchantsecurity/authorize"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"
    ].endswith("AuthorizeRequest")
    for path in ("/customer/create", "/customer/get_customer_detail", "/customer/update", "/customer/delete"):
        assert path in spec["paths"]
        assert spec["paths"][path]["post"]["security"] == [{"HTTPBearer": []}]
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "security" not in spec["paths"]["/merchantsecurity/authorize"]["post"]
