"""`tonle seed FILE`: validate whole, then upsert; credentials as given; balances through the ledger."""

import json
import uuid

from sqlalchemy import func, select

from helpers import ok
from tonle.banks.models import Bank
from tonle.customers.models import Customer, Wallet
from tonle.ledger.models import Account, Entry, Posting
from tonle.merchants.models import Merchant
from tonle.subbillers.models import SubBiller


def fixture(tag: str) -> dict:
    return {
        "merchants": [
            {
                "name": f"Fixture Biller {tag}",
                "merchant_token": str(uuid.uuid4()),
                "client_id": f"fx-client-{tag}",
                "client_secret": "fixture-secret",
                "bill_hash_key": "0123456789abcdef0123456789abcdef01234567",
                "referrer_key": "fx-referrer",
                "sdk_secret": "fx-sdk-shared-secret",
                "webhook_url": "http://127.0.0.1:9000/webhook",
                "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "sub_billers": [{"code": "ST001", "name": "Station One", "name_kh": "ស្ថានីយ ១"}],
                "customers": [
                    {
                        "sync_code": "C0001",
                        "name": "Kouern Deav",
                        "email": "deav@example.com",
                        "wallets": [
                            {"name": "KHR wallet", "currency": "KHR", "balance": 1000000},
                            {"name": "USD wallet", "currency": "USD", "balance": "250.00"},
                        ],
                    },
                    {
                        "sync_code": "C0002",
                        "name": "Sok",
                        "wallets": [{"name": "U", "currency": "USD", "balance": 75.5}],
                    },
                ],
            }
        ],
        "banks": [{"code": f"B{tag[:6]}", "name": "Test Bank", "api_token": "bank-token-123"}],
    }


def snapshot(server):
    async def go(session):
        counts = {}
        for model in (Merchant, Customer, Wallet, Account, Entry, Posting, SubBiller, Bank):
            counts[model.__tablename__] = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        balances = sorted((await session.execute(select(Account.id, Account.balance))).all())
        return counts, balances

    return server.in_session(go)


def write(tmp_path, data, name="fx.json"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(p)


def login(server, fx):
    m = fx["merchants"][0]
    with server.client() as c:
        r = c.post(
            "/merchantsecurity/authorize",
            json={
                "token": m["merchant_token"],
                "clientId": m["client_id"],
                "secret": m["client_secret"],
                "refreshToken": "",
            },
        )
    assert r.status_code == 200, r.text
    return server.client(r.json()["data"]["token"])


def test_seed_loads_and_seeding_twice_equals_once(server, tmp_path):
    fx = fixture(uuid.uuid4().hex[:8])
    path = write(tmp_path, fx)
    first = server.cli("seed", path, check=True)
    assert "2 customer(s)" in first.stdout
    once = snapshot(server)
    second = server.cli("seed", path, check=True)
    assert "0 funding entries" in second.stdout
    assert snapshot(server) == once
    c = login(server, fx)
    d = ok(c.post("/customer/get_customer_detail", json={"sync_code": "C0001"}))
    assert [(w["name"], w["balance"], w["currency"]) for w in d["walletBalances"]] == [
        ("KHR wallet", 1000000, "KHR"),
        ("USD wallet", 250, "USD"),
    ]
    d2 = ok(c.post("/customer/get_customer_detail", json={"sync_code": "C0002"}))
    assert d2["walletBalances"][0]["balance"] == 75.5
    assert server.cli("ledger", "verify").returncode == 0


def test_seed_changes_are_upserted_through_the_ledger(server, tmp_path):
    fx = fixture(uuid.uuid4().hex[:8])
    server.cli("seed", write(tmp_path, fx), check=True)
    cust = fx["merchants"][0]["customers"][0]
    cust["name"] = "Renamed"
    cust["wallets"][0]["balance"] = 400  # down from 1,000,000: a debit back to the funding account
    cust["wallets"].reverse()  # wallet order follows the file
    server.cli("seed", write(tmp_path, fx, "fx2.json"), check=True)
    c = login(server, fx)
    d = ok(c.post("/customer/get_customer_detail", json={"sync_code": "C0001"}))
    assert d["name"] == "Renamed"
    assert [(w["currency"], w["balance"]) for w in d["walletBalances"]] == [("USD", 250), ("KHR", 400)]
    assert server.cli("ledger", "verify").returncode == 0


def test_bad_fixture_names_the_field_and_writes_nothing(server, tmp_path):
    before = snapshot(server)
    cases = []
    fx = fixture(uuid.uuid4().hex[:8])
    fx["merchants"][0]["customers"][1]["wallets"][0]["balance"] = "1.234"
    cases.append((fx, "merchants[0].customers[1].wallets[0].balance"))
    fx = fixture(uuid.uuid4().hex[:8])
    del fx["merchants"][0]["customers"][0]["name"]
    cases.append((fx, "merchants[0].customers[0].name"))
    fx = fixture(uuid.uuid4().hex[:8])
    fx["merchants"][0]["customers"][0]["wallets"][1]["currency"] = "EUR"
    cases.append((fx, "merchants[0].customers[0].wallets[1].currency"))
    fx = fixture(uuid.uuid4().hex[:8])
    fx["merchants"][0]["customers"][1]["sync_code"] = "C0001"
    cases.append((fx, "repeated code(s) ['C0001']"))
    fx = fixture(uuid.uuid4().hex[:8])
    fx["merchants"][0]["colour"] = "blue"
    cases.append((fx, "merchants[0].colour"))
    for i, (data, expected) in enumerate(cases):
        proc = server.cli("seed", write(tmp_path, data, f"bad{i}.json"))
        assert proc.returncode == 2, proc.stdout
        assert expected in proc.stderr, proc.stderr
    proc = server.cli("seed", write(tmp_path, "{not json", "broken.json"))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    assert snapshot(server) == before


def test_seed_reads_yaml_and_generates_missing_credentials(server, tmp_path):
    tag = uuid.uuid4().hex[:8]
    yaml_text = f"""
merchants:
  - name: YAML Biller {tag}
    client_id: yaml-{tag}
    customers:
      - sync_code: Y1
        name: Yaml Customer
        wallets:
          - {{name: USD, currency: USD, balance: 12.30}}
"""
    proc = server.cli("seed", write(tmp_path, yaml_text, "fx.yaml"), check=True)
    creds = dict(
        line.strip().split(": ", 1) for line in proc.stdout.splitlines() if line.startswith("  ") and ": " in line
    )
    assert creds["client_id"] == f"yaml-{tag}"
    assert len(creds["client_secret"]) >= 20 and creds["merchant_token"]
    with server.client() as c:
        r = c.post(
            "/merchantsecurity/authorize",
            json={"token": creds["merchant_token"], "clientId": creds["client_id"], "secret": creds["client_secret"]},
        )
    token = r.json()["data"]["token"]
    with server.client(token) as c:
        assert (
            ok(c.post("/customer/get_customer_detail", json={"sync_code": "Y1"}))["walletBalances"][0]["balance"]
            == 12.3
        )
    again = server.cli("seed", write(tmp_path, yaml_text, "fx.yaml"), check=True)
    assert "(unchanged)" in again.stdout  # secrets are not regenerated, and cannot be shown again


def test_merchant_create_cli_prints_working_credentials(server):
    proc = server.cli("merchant", "create", "--name", "CLI Biller", check=True)
    creds = dict(line.strip().split(": ", 1) for line in proc.stdout.splitlines() if line.startswith("  "))
    assert {
        "merchant_token",
        "client_id",
        "client_secret",
        "bill_hash_key",
        "referrer_key",
        "sdk_secret",
        "webhook_secret",
    } <= set(creds)
    with server.client() as c:
        r = c.post(
            "/merchantsecurity/authorize",
            json={
                "token": creds["merchant_token"],
                "clientId": creds["client_id"],
                "secret": creds["client_secret"],
                "refreshToken": "",
            },
        )
    assert r.status_code == 200


def test_a_large_seed_takes_the_bulk_path_across_batches_and_reseeds_to_the_same_state(server, tmp_path):
    """More customers than one multi-row statement holds (ledger.BULK_CHUNK): each gets its wallets, each funded
    wallet one balanced entry, the funding account the sum, and every running balance follows the history."""
    fx = fixture(uuid.uuid4().hex[:8])
    m = fx["merchants"][0]
    m["customers"] += [
        {
            "sync_code": f"BULK{i:05d}",
            "name": f"Customer {i}",
            "wallets": [
                {"name": "KHR", "currency": "KHR", "balance": 1000 + i},
                *([{"name": "USD", "currency": "USD", "balance": "1.25"}] if i % 3 == 0 else []),
            ],
        }
        for i in range(2300)
    ]
    path = write(tmp_path, fx)
    first = server.cli("seed", path, check=True)
    assert "2302 customer(s)" in first.stdout and f"{2 + 1 + 2300 + 767} funding entries" in first.stdout
    once = snapshot(server)
    assert "0 funding entries" in server.cli("seed", path, check=True).stdout
    assert snapshot(server) == once
    c = login(server, fx)
    d = ok(c.post("/customer/get_customer_detail", json={"sync_code": "BULK02299"}))
    assert [(w["currency"], w["balance"]) for w in d["walletBalances"]] == [("KHR", 3299)]
    d = ok(c.post("/customer/get_customer_detail", json={"sync_code": "BULK00003"}))
    assert [(w["currency"], w["balance"]) for w in d["walletBalances"]] == [("KHR", 1003), ("USD", 1.25)]
    assert server.cli("ledger", "verify").returncode == 0


def test_a_reseed_opens_a_wallet_the_file_gained(server, tmp_path):
    fx = fixture(uuid.uuid4().hex[:8])
    server.cli("seed", write(tmp_path, fx), check=True)
    sok = fx["merchants"][0]["customers"][1]
    sok["wallets"].insert(0, {"name": "Riel", "currency": "KHR", "balance": 3000})
    again = server.cli("seed", write(tmp_path, fx, "fx2.json"), check=True)
    assert "1 funding entries" in again.stdout
    d = ok(login(server, fx).post("/customer/get_customer_detail", json={"sync_code": "C0002"}))
    assert [(w["name"], w["currency"], w["balance"]) for w in d["walletBalances"]] == [
        ("Riel", "KHR", 3000),
        ("U", "USD", 75.5),
    ]
    assert server.cli("ledger", "verify").returncode == 0
