"""Customers and wallets (spec §2.4–2.7): exact wire shapes, codes, messages and quirks."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import fund_wallets, ok

KH_SUCCESS = "ជោគជ័យ"


def create(c, sync_code="C0001", **extra):
    body = {"sync_code": sync_code, "name": "Customer A", **extra}
    return c.post("/customer/create", json=body)


def detail(c, sync_code="C0001"):
    return c.post("/customer/get_customer_detail", json={"sync_code": sync_code})


def test_create_customer_exact_answer_live(server):
    c, _ = server.merchant_client()
    body = {
        "sync_code": "C0001",
        "name": "Customer A",
        "name_kh": "អតិថិជន ក",
        "phone": "010 795 790",
        "email": "Sample@gmail.com",
        "wallet": [{"name": "Customer A Wallet", "currency": "KHR"}],
    }
    r = c.post("/customer/create", json=body)
    assert r.status_code == 200
    got = r.json()
    cid = got["data"].pop("id")
    assert len(cid) == 36
    assert got == {
        "code": "SUCCESS",
        "message": "Success",
        "message_kh": KH_SUCCESS,
        "data": {
            "sync_code": "C0001",
            "name": "Customer A",
            "name_kh": "អតិថិជន ក",
            "phone": "010 795 790",
            "email": "Sample@gmail.com",
            "wallet": [{"name": "Customer A Wallet", "currency": "KHR"}],
        },
    }


def test_create_customer_docs_compat_and_nulls(docs_server):
    c, _ = docs_server.merchant_client()
    got = create(c).json()
    assert got["code"] == "000" and got["message"] == "Success" and got["message_kh"] == KH_SUCCESS
    d = got["data"]
    assert (d["name_kh"], d["phone"], d["email"], d["wallet"]) == (None, None, None, [])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "A"}, "Please provide [sync_code]."),
        ({"sync_code": "C1"}, "Please provide [name]."),
        ({}, "Please provide [sync_code]., Please provide [name]."),
        ({"sync_code": "", "name": "A"}, "Please provide [sync_code]."),
        ({"sync_code": "X" * 51, "name": "A"}, "[sync_code] must have 50 or fewer digits. Please adjust and retry."),
        ({"sync_code": "C1", "name": "A", "email": "not-an-email"}, "'Email' is not a valid email address."),
        ({"sync_code": 12, "name": "A"}, "The [sync_code] field must be a string."),
        ({"sync_code": "C1", "name": "A", "wallet": [{"currency": "KHR"}]}, "Please provide [wallet[0].name]."),
        ({"sync_code": "C1", "name": "A", "wallet": [{"name": "W"}]}, "Please provide [wallet[0].currency]."),
        (
            {"sync_code": "C1", "name": "A", "wallet": [{"name": "W", "currency": "EUR"}]},
            "[wallet[0].currency] must be KHR or USD.",
        ),
        ({"sync_code": "C1", "name": "A", "wallet": "KHR"}, "The [wallet] field must be a list."),
        (
            {"sync_code": "X" * 51, "email": "x@"},
            "[sync_code] must have 50 or fewer digits. Please adjust and retry., "
            "Please provide [name]., 'Email' is not a valid email address.",
        ),
    ],
)
def test_create_customer_validation_messages(server, body, message):
    c, _ = server.merchant_client()
    r = c.post("/customer/create", json=body)
    assert r.status_code == 200
    got = r.json()
    assert got["code"] == "ERR_MISSED_FIELD"
    assert got["message"] == message
    assert got["message_kh"] and got["data"] is None
    assert ok(detail(c, "C1"), "311") is None  # nothing was written


def test_wallet_rules(server):
    c, _m = server.merchant_client()
    three = [{"name": f"W{i}", "currency": cur} for i, cur in enumerate(["KHR", "USD", "KHR"])]
    r = create(c, wallet=three).json()
    assert (r["code"], r["message"], r["message_kh"]) == (
        "320",
        "A customer can have at most 2 wallets",
        "អតិថិជនអាចមាន 2 wallet យ៉ាងច្រើនបំផុត",
    )
    r = create(c, wallet=[{"name": "A", "currency": "USD"}, {"name": "B", "currency": "usd"}]).json()
    assert (r["code"], r["message"]) == ("319", "Not allow create multiple wallets")
    assert ok(detail(c), "311") is None
    data = ok(create(c, wallet=[{"name": "U", "currency": "USD"}, {"name": "K", "currency": "KHR"}]), "SUCCESS")
    assert data["wallet"] == [{"name": "U", "currency": "USD"}, {"name": "K", "currency": "KHR"}]
    wallets = ok(detail(c))["walletBalances"]
    assert [(w["name"], w["balance"], w["currency"]) for w in wallets] == [("U", 0, "USD"), ("K", 0, "KHR")]


def test_wallet_feature_disabled_is_511(server):
    c, m = server.merchant_client()

    async def disable(session):
        from tonle.merchants.models import Merchant

        (await session.get(Merchant, m.id)).wallet_enabled = False

    server.in_session(disable)
    r = create(c, wallet=[{"name": "W", "currency": "KHR"}]).json()
    assert (r["code"], r["message"]) == ("511", "Wallet feature not enabled")
    ok(create(c), "SUCCESS")  # a customer without wallets is still fine


def test_existing_customer_is_310_live_and_docs(server, docs_server):
    for srv, text in ((server, "This customer already exist"), (docs_server, "This customer already exists")):
        c, _ = srv.merchant_client()
        first = create(c, wallet=[{"name": "W", "currency": "KHR"}]).json()["data"]
        r = create(c, name="Someone Else").json()
        assert (r["code"], r["message"], r["message_kh"]) == ("310", text, "អតិថិជននេះមានរួចហើយ")
        assert r["data"] == first  # the existing customer, unchanged


def test_get_customer_detail_exact_answer(server):
    c, m = server.merchant_client()
    cust = ok(
        create(
            c,
            name_kh="អតិថិជន ក",
            phone="012",
            email="a@b.co",
            wallet=[{"name": "K", "currency": "KHR"}, {"name": "U", "currency": "USD"}],
        ),
        "SUCCESS",
    )
    fund_wallets(server, m.id, "C0001", {"KHR": 106001, "USD": 1250})
    got = detail(c).json()
    ids = [w.pop("id") for w in got["data"]["walletBalances"]]
    assert all(len(i) == 36 for i in ids) and len(set(ids)) == 2
    assert got == {
        "code": "000",
        "message": "Success",
        "message_kh": KH_SUCCESS,
        "data": {
            "sync_code": "C0001",
            "name": "Customer A",
            "name_kh": "អតិថិជន ក",
            "phone": "012",
            "email": "a@b.co",
            "walletBalances": [
                {"name": "K", "balance": 106001, "currency": "KHR"},
                {"name": "U", "balance": 12.5, "currency": "USD"},
            ],
        },
    }
    assert "id" not in got["data"] and cust["id"]
    assert '"balance":12.5,' in detail(c).text  # an exact JSON number, not a string


def test_get_customer_detail_errors(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/get_customer_detail", json={}).json()
    assert (r["code"], r["message"], r["data"]) == ("ERR_MISSED_FIELD", "Please provide [customer_sync_code].", None)
    r = c.post("/customer/get_customer_detail", content=b"").json()
    assert r["message"] == "Please provide [customer_sync_code]."
    r = detail(c, "NOPE").json()
    assert r == {"code": "311", "message": "Customer not found", "message_kh": "រកមិនឃើញអតិថិជន", "data": None}
    ok(create(c, "C7"), "SUCCESS")
    assert ok(c.post("/customer/get_customer_detail", json={"customer_sync_code": "C7"}))["sync_code"] == "C7"


def test_update_customer_exact_answer_and_partial_update(server):
    c, _ = server.merchant_client()
    created = ok(create(c, phone="012", email="old@example.com", wallet=[{"name": "K", "currency": "KHR"}]), "SUCCESS")
    r = c.post(
        "/customer/update",
        json={"sync_code": "C0001", "name": "Update Customer", "name_kh": "អតិថិជន ខ", "email": "Bill24@gmail.com"},
    )
    assert r.json() == {
        "code": "000",
        "message": "Customer profile updated successfully.",
        "message_kh": " អតិថិជនបានកែប្រែជោគជ័យ។ ",
        "data": {
            "id": created["id"],
            "sync_code": "C0001",
            "name": "Update Customer",
            "name_kh": "អតិថិជន ខ",
            "phone": "012",  # omitted: kept
            "email": "Bill24@gmail.com",
            "wallet": [],  # as the docs answer
        },
    }
    data = ok(c.post("/customer/update", json={"sync_code": "C0001", "phone": None}))
    assert data["phone"] is None and data["name"] == "Update Customer"
    d = ok(detail(c))
    assert (d["name"], d["phone"], d["email"], len(d["walletBalances"])) == (
        "Update Customer",
        None,
        "Bill24@gmail.com",
        1,
    )


def test_update_customer_errors_and_wallet_extension(server):
    c, _ = server.merchant_client()
    r = c.post("/customer/update", json={"name": "X"}).json()
    assert (r["code"], r["message"]) == ("ERR_MISSED_FIELD", "Please provide [sync_code].")
    r = c.post("/customer/update", json={"sync_code": "NOPE", "name": "X"}).json()
    assert (r["code"], r["message"], r["message_kh"]) == ("311", "Customer not found", "រកមិនឃើញអតិថិជន")
    ok(create(c, wallet=[{"name": "K", "currency": "KHR"}]), "SUCCESS")
    r = c.post("/customer/update", json={"sync_code": "C0001", "name": ""}).json()
    assert r["message"] == "Please provide [name]."
    r = c.post("/customer/update", json={"sync_code": "C0001", "email": "nope"}).json()
    assert r["message"] == "'Email' is not a valid email address."
    # A wallet can be opened later (Tonle extension on update): same rules as on create.
    assert (
        c.post("/customer/update", json={"sync_code": "C0001", "wallet": [{"name": "K2", "currency": "KHR"}]}).json()[
            "code"
        ]
        == "319"
    )
    ok(c.post("/customer/update", json={"sync_code": "C0001", "wallet": [{"name": "U", "currency": "USD"}]}))
    assert (
        c.post("/customer/update", json={"sync_code": "C0001", "wallet": [{"name": "X", "currency": "USD"}]}).json()[
            "code"
        ]
        == "320"
    )
    assert [w["currency"] for w in ok(detail(c))["walletBalances"]] == ["KHR", "USD"]


def test_delete_customer_exact_answer_and_afterlife(server):
    c, _m = server.merchant_client()
    first = ok(create(c, wallet=[{"name": "K", "currency": "KHR"}]), "SUCCESS")
    r = c.post("/customer/delete", json={"sync_code": "C0001"})
    assert r.json() == {
        "code": "000",
        "message": " Customer deleted successfully. ",
        "message_kh": " អតិថិជនបានលុបជោគជ័យ។ ",
        "data": {"id": "", "sync_code": "", "name": "", "name_kh": None, "phone": None, "email": None, "wallet": []},
    }
    # Gone for every endpoint.
    assert detail(c).json()["code"] == "311"
    assert c.post("/customer/update", json={"sync_code": "C0001", "name": "X"}).json()["code"] == "311"
    assert c.post("/customer/delete", json={"sync_code": "C0001"}).json()["code"] == "311"
    # The sync code can be registered again: a new customer with new, empty wallets.
    again = ok(create(c, wallet=[{"name": "K", "currency": "KHR"}]), "SUCCESS")
    assert again["id"] != first["id"]
    assert ok(detail(c))["walletBalances"][0]["balance"] == 0


def test_delete_customer_with_money_is_407(server):
    c, m = server.merchant_client()
    ok(create(c, wallet=[{"name": "K", "currency": "KHR"}, {"name": "U", "currency": "USD"}]), "SUCCESS")
    fund_wallets(server, m.id, "C0001", {"USD": 1})
    r = c.post("/customer/delete", json={"sync_code": "C0001"}).json()
    assert r == {
        "code": "407",
        "message": "Cannot delete customer: wallet balance not zero.",
        "message_kh": "មិនអាចលុបអតិថិជននេះបានទេ ទឹកប្រាក់នៅសល់ក្នុងកាបូបលុយ។",
        "data": None,
    }
    assert '"balance":0.01,"currency":"USD"' in detail(c).text  # still there, untouched
    r = c.post("/customer/delete", json={}).json()
    assert (r["code"], r["message"]) == ("ERR_MISSED_FIELD", "Please provide [customer_sync_code].")


def test_merchant_isolation(server):
    a, _ma = server.merchant_client("A")
    b, _mb = server.merchant_client("B")
    a_customer = ok(create(a, "C0001", wallet=[{"name": "K", "currency": "KHR"}]), "SUCCESS")
    # B cannot see, change or delete A's customer...
    assert detail(b).json()["code"] == "311"
    assert b.post("/customer/update", json={"sync_code": "C0001", "name": "Hijack"}).json()["code"] == "311"
    assert b.post("/customer/delete", json={"sync_code": "C0001"}).json()["code"] == "311"
    # ...and may register its own C0001, which is a different customer.
    b_customer = ok(create(b, "C0001", name="B's own"), "SUCCESS")
    assert b_customer["id"] != a_customer["id"]
    assert ok(detail(a))["name"] == "Customer A" and len(ok(detail(a))["walletBalances"]) == 1
    assert ok(detail(b))["name"] == "B's own" and ok(detail(b))["walletBalances"] == []


def test_concurrent_creates_of_one_sync_code_make_one_customer(server):
    c, _m = server.merchant_client()
    token = c.headers["Authorization"]

    def one(i):
        with server.client() as cl:
            cl.headers["Authorization"] = token
            return create(cl, "RACE", wallet=[{"name": f"W{i}", "currency": "KHR"}]).json()["code"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert results.count("SUCCESS") == 1, results
    assert set(results) == {"SUCCESS", "310"}
    assert len(ok(detail(c, "RACE"))["walletBalances"]) == 1
