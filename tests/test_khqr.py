"""The KHQR codec: vectors, errors, Khmer text, and a cross-check against the NBC's own SDK (npm bakong-khqr)."""

import json
import os
import shutil
import subprocess
import time
from decimal import Decimal

import pytest

from conftest import ARTIFACTS, ROOT
from tonle.khqr.codec import KHQR, KHQRError, crc16, decode, encode, md5

SPEC_VECTOR = (
    "00020101021229200016bill24_demo@aclb520459995303840540510.505802KH5911Bill24 Demo6010Phnom Penh"
    "62280108INV-00010306Bill240702T1993400131735689600000011317356902000006304E466"
)


def test_crc_check_value_and_the_spec_vector():
    assert crc16(b"123456789") == "29B1"
    data = KHQR(
        kind="individual",
        bakong_account_id="bill24_demo@aclb",
        merchant_name="Bill24 Demo",
        currency="USD",
        amount=Decimal("10.50"),
        bill_number="INV-0001",
        store_label="Bill24",
        terminal_label="T1",
        created_ms=1735689600000,
        expires_ms=1735690200000,
    )
    assert encode(data) == SPEC_VECTOR
    assert md5(SPEC_VECTOR) == "9e36f23723b5d7b37075143ad66f619a"
    back = decode(SPEC_VECTOR)
    assert back == data


def test_merchant_khqr_with_khmer_names_round_trips():
    data = KHQR(
        kind="merchant",
        bakong_account_id="shop@aclb",
        merchant_id="M123",
        acquiring_bank="ACLBKHPP",
        merchant_name="ហាងកាហ្វេ",
        currency="KHR",
        amount=Decimal(10000),
        bill_number="B1",
        mobile_number="85512345678",
        store_label="Shop",
        terminal_label="T1",
        purpose="coffee",
        language_preference="km",
        merchant_name_alt="ហាង",
        merchant_city_alt="ភ្នំពេញ",
        created_ms=1795674286315,
        expires_ms=1795674886315,
    )
    qr = encode(data)
    assert "5909ហាងកាហ្វេ" in qr  # the length counts characters, not bytes
    assert decode(qr) == data


def test_static_qr_has_no_amount_and_no_timestamps():
    from tonle.khqr.codec import split

    qr = encode(KHQR(kind="individual", bakong_account_id="a@b", merchant_name="A"))
    tags = [tag for tag, _ in split(qr)]
    assert dict(split(qr))["01"] == "11"
    assert "54" not in tags and "99" not in tags and tags[-1] == "63"
    assert decode(qr).amount is None


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda q: q[:-4] + "0000", "CRC mismatch"),
        (lambda q: q.replace("5911Bill24 Demo", "5912Bill24 Demo"), "malformed tag/length"),
        (lambda q: "0002015920Short6304ABCD", "says 20 characters but 13 remain"),
        (lambda q: q[:-8] + "6305" + q[-4:], "must end with tag 63"),
        (lambda q: "garbage", "must end with tag 63"),
    ],
)
def test_decode_reports_what_is_wrong(mutate, problem):
    with pytest.raises(KHQRError) as err:
        decode(mutate(SPEC_VECTOR))
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_decode_checks_rules_after_a_valid_crc():
    from tonle.khqr.codec import crc16 as c

    body = "000201010212" + "29200016bill24_demo@aclb" + "520459995303999" + "5802KH5901A6010Phnom Penh" + "6304"
    with pytest.raises(KHQRError) as err:
        decode(body + c(body.encode()))
    assert "tag 53 must be 116 (KHR) or 840 (USD)" in err.value.problems


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (dict(bakong_account_id="no-at-sign"), "name@bank"),
        (dict(kind="merchant"), "merchant id and an acquiring bank"),
        (dict(merchant_name="x" * 26), "merchant_name is longer than 25"),
        (dict(amount=Decimal("10.5"), currency="KHR"), "whole number"),
        (dict(amount=Decimal("1.234"), currency="USD"), "two decimals"),
        (dict(amount=Decimal(5), expires_ms=None), "expiry timestamp"),
        (dict(currency="EUR"), "KHR or USD"),
    ],
)
def test_encode_refuses_bad_data(fields, problem):
    base = dict(
        kind="individual",
        bakong_account_id="a@b",
        merchant_name="A",
        currency="USD",
        amount=Decimal(5),
        expires_ms=1795674886315,
    )
    base.update(fields)
    with pytest.raises(KHQRError) as err:
        encode(KHQR(**base))
    assert any(problem in p for p in err.value.problems), err.value.problems


# ---------------------------------------------------------------- the NBC SDK as an oracle

ORACLE_SRC = ROOT / "tests" / "oracle"
ORACLE_DIR = ARTIFACTS / "khqr-oracle"


@pytest.fixture(scope="module")
def oracle():
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("TONLE_TEST_REQUIRE_ORACLE") == "1":
            pytest.fail("TONLE_TEST_REQUIRE_ORACLE=1 but Node.js/npm are missing")
        pytest.skip("the KHQR oracle needs Node.js and npm (the NBC SDK is a JavaScript package)")
    ORACLE_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "khqr_oracle.js"):
        shutil.copy(ORACLE_SRC / name, ORACLE_DIR / name)
    if not (ORACLE_DIR / "node_modules" / "bakong-khqr").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=ORACLE_DIR, check=True, timeout=300)

    def ask(job):
        proc = subprocess.run(
            ["node", "khqr_oracle.js"],
            cwd=ORACLE_DIR,
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(proc.stdout)

    return ask


def _ours():
    soon = int(time.time() * 1000) + 30 * 60 * 1000
    now = int(time.time() * 1000)
    common = dict(created_ms=now, expires_ms=soon)
    return [
        KHQR(
            kind="individual",
            bakong_account_id="tonle_demo@aclb",
            merchant_name="Tonle Demo",
            currency="KHR",
            amount=Decimal(10800),
            bill_number="INV-1",
            store_label="Tonle",
            terminal_label="T1",
            **common,
        ),
        KHQR(
            kind="individual",
            bakong_account_id="tonle_demo@aclb",
            merchant_name="Tonle Demo",
            currency="USD",
            amount=Decimal("12.50"),
            account_information="012345678",
            acquiring_bank="ACLEDA",
            **common,
        ),
        KHQR(
            kind="merchant",
            bakong_account_id="shop@aclb",
            merchant_id="M123",
            acquiring_bank="ACLBKHPP",
            merchant_name="ហាងកាហ្វេ",
            currency="KHR",
            amount=Decimal(5000),
            bill_number="B-7",
            purpose="coffee",
            mobile_number="85512345678",
            language_preference="km",
            merchant_name_alt="ហាង",
            **common,
        ),
        KHQR(
            kind="merchant",
            bakong_account_id="shop@aclb",
            merchant_id="M123",
            acquiring_bank="ACLBKHPP",
            merchant_name="Shop",
            currency="USD",
            amount=Decimal(7),
            **common,
        ),
        KHQR(kind="individual", bakong_account_id="static@aclb", merchant_name="Static Shop", currency="KHR"),
    ]


def test_every_string_tonle_makes_passes_the_nbc_sdk(oracle):
    ours = _ours()
    strings = [encode(d) for d in ours]
    answer = oracle({"verify": strings, "decode": strings})
    assert answer["verify"] == [True] * len(strings), list(zip(strings, answer["verify"], strict=True))
    for data, decoded in zip(ours, answer["decode"], strict=True):
        assert decoded["status"]["code"] == 0, decoded
        d = decoded["data"]
        assert d["merchantType"] == ("30" if data.kind == "merchant" else "29")
        assert d["bakongAccountID"] == data.bakong_account_id and d["merchantName"] == data.merchant_name
        assert d["merchantID"] == data.merchant_id and d["acquiringBank"] == data.acquiring_bank
        assert d["transactionCurrency"] == {"KHR": "116", "USD": "840"}[data.currency]
        assert (Decimal(d["transactionAmount"]) if d["transactionAmount"] else None) == data.amount
        assert d["billNumber"] == data.bill_number and d["merchantNameAlternateLanguage"] == data.merchant_name_alt
        assert d["expirationTimestamp"] == (str(data.expires_ms) if data.dynamic else None)


def test_tonle_reads_what_the_nbc_sdk_makes(oracle):
    soon = int(time.time() * 1000) + 10 * 60 * 1000
    specs = [
        {
            "kind": "individual",
            "account": "dara@aclb",
            "name": "Dara",
            "city": "Phnom Penh",
            "currency": "khr",
            "optional": {
                "amount": 25000,
                "billNumber": "#0001",
                "storeLabel": "Dara Shop",
                "expirationTimestamp": soon,
            },
        },
        {
            "kind": "individual",
            "account": "dara@aclb",
            "name": "ដារ៉ា",
            "city": "Siem Reap",
            "currency": "usd",
            "optional": {
                "amount": 1.5,
                "mobileNumber": "85587575857",
                "terminalLabel": "POS-2",
                "expirationTimestamp": soon,
            },
        },
        {
            "kind": "merchant",
            "account": "cafe@abaa",
            "name": "ហាងកាហ្វេ",
            "city": "Battambang",
            "merchantId": "1243546472",
            "bank": "DEVBKKHPXXX",
            "currency": "khr",
            "optional": {
                "amount": 100000,
                "purposeOfTransaction": "coffee",
                "merchantNameAlternateLanguage": "ហាង",
                "languagePreference": "km",
                "expirationTimestamp": soon,
            },
        },
        {
            "kind": "merchant",
            "account": "cafe@abaa",
            "name": "Cafe",
            "city": "Battambang",
            "merchantId": "77",
            "bank": "ABA",
            "currency": "usd",
            "optional": {},
        },
    ]
    generated = oracle({"generate": specs})["generate"]
    for spec, made in zip(specs, generated, strict=True):
        assert made["status"]["code"] == 0, made
        data = decode(made["data"]["qr"])
        assert md5(made["data"]["qr"]) == made["data"]["md5"]
        assert data.kind == spec["kind"] and data.bakong_account_id == spec["account"]
        assert data.merchant_name == spec["name"] and data.merchant_city == spec["city"]
        assert data.currency == spec["currency"].upper()
        amount = spec["optional"].get("amount")
        assert data.amount == (Decimal(str(amount)) if amount else None)
        if spec["kind"] == "merchant":
            assert (data.merchant_id, data.acquiring_bank) == (spec["merchantId"], spec["bank"])
        # And Tonle writes the same string back.
        assert encode(data) == made["data"]["qr"]


def test_the_khqr_command_line():
    import sys

    def tonle(*args):
        return subprocess.run(
            [sys.executable, "-m", "tonle.cli", "khqr", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
        )

    made = tonle(
        "encode",
        "--account",
        "shop@aclb",
        "--name",
        "ហាង",
        "--amount",
        "5000",
        "--merchant-id",
        "M1",
        "--bank",
        "ACLB",
        "--bill",
        "INV1",
        "--md5",
    )
    assert made.returncode == 0, made.stderr
    # stdout is the code alone (so `decode "$(encode ...)"` works); the MD5 goes to stderr when asked for.
    payload = made.stdout.removesuffix("\n")
    assert "\n" not in payload and f"md5: {md5(payload)}" in made.stderr and "md5" not in made.stdout
    assert decode(payload).bill_number == "INV1"
    read = tonle("decode", payload)
    assert read.returncode == 0 and "merchant_name: ហាង" in read.stdout and "amount: 5000" in read.stdout
    bad = tonle("decode", payload[:-4] + "0000")
    assert bad.returncode == 1 and "CRC mismatch" in bad.stderr
    refused = tonle("encode", "--account", "nope", "--name", "A")
    assert refused.returncode == 1 and "name@bank" in refused.stderr
