"""The digital bill in Chromium, as the consumer meets it on a phone or a desk: who bills them for what, what was
paid and what is due, in Khmer or English, with a KHQR code for the amount due that the NBC's SDK accepts and that
a bank app pays (the sandbox bank sends the scanned code's MD5); once paid, the page says so and shows no code."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from browsing import VIEWPORTS, fits, opened, shot
from test_hosted import Hosted, hosted_server, row  # noqa: F401 - the fixture
from test_khqr import oracle  # noqa: F401 - the fixture
from tonle.hosted.models import BillConsumer
from tonle.khqr.codec import md5

WORDS = {
    "km": ("វិក្កយបត្រ", "ត្រូវបង់", "បានបង់ខ្លះ", "ស្កេន"),
    "en": ("Invoice", "Amount due", "Partly paid", "Scan with any KHQR bank app"),
}


def _invoice(h: Hosted) -> str:
    lines = [
        {"itemName": "Water, November", "quantity": 12, "price": 5000, "amount": 60000},
        {"itemName": "Meter rent", "description": "one month", "quantity": 1, "price": 2000, "amount": 2000},
    ]
    out = h.imported(
        [
            row(
                "WB-77",
                "H01",
                amount="62000",
                currency="KHR",
                date="2026-11-01T08:00:00",
                due="2027-01-15T17:00:00",
                description="November water bill",
                details=lines,
                totalTax=2000,
            )
        ]
    )
    assert out["created"] == 1

    async def khmer_name(session):
        await session.execute(update(BillConsumer).where(BillConsumer.merchant_id == h.m.id).values(name="គឹម ស្រីនាង"))

    h.db(khmer_name)
    h.pay("WB-77", "22000")
    return h.invoice("WB-77")["digitalBillUrl"]


def _scan_and_pay(h: Hosted, qr: str, amount) -> dict:
    found = h.bank.post("/payment/v5/inquiry", json={"identity_code": md5(qr)}).json()
    assert found["code"] == "SUCCESS", found
    t = found["data"]["transaction"]
    return h.bank.post(
        "/payment/v3/confirm",
        json={
            "identity_code": t["tran_id"],
            "payment_token": t["payment_token"],
            "bank_ref": "FT-QR",
            "total_amount": amount,
            "original_amount": t["original_amount"],
            "currency": "KHR",
        },
    ).json()


@pytest.mark.parametrize(("lang", "view"), [("km", "phone"), ("en", "desktop"), ("en", "phone"), ("km", "desktop")])
def test_the_digital_bill_shows_what_is_due_with_a_khqr_code(hosted_server, browser, oracle, lang, view):  # noqa: F811
    h = Hosted(hosted_server, "City Water")
    url = _invoice(h)
    with opened(browser, VIEWPORTS[view]) as page:
        page.goto(f"{url}?lang={lang}")
        main = page.locator("main").inner_text()
        assert all(w in main for w in WORDS[lang]), main
        other = WORDS["en" if lang == "km" else "km"]
        assert not any(w in main for w in other), main
        assert page.locator("#brand").inner_text() == "City Water"
        assert page.locator("#ref-number").inner_text() == "WB-77"
        assert page.locator("#consumer-name").inner_text() == "គឹម ស្រីនាង"
        assert page.locator("#consumer-code").inner_text() == "H01"
        assert page.locator("#lines li").count() == 2
        assert page.locator("#lines li").nth(0).inner_text().split("\n") == [
            "Water, November",
            "60,000 ៛",
            "12 × 5,000 ៛",
        ]
        assert page.locator("#total-amount").inner_text() == "62,000 ៛"
        assert page.locator("#tax").inner_text() == "2,000 ៛"
        assert page.locator("#paid").inner_text() == "22,000 ៛"
        assert page.locator("#due").inner_text() == "40,000 ៛"
        assert page.locator("#state").inner_text() == {"km": "បានបង់ខ្លះ", "en": "Partly paid"}[lang]
        assert page.locator("#due-date").inner_text().startswith("15 ")  # 17:00 Phnom Penh time, as written
        qr_img = page.locator("#khqr")
        assert qr_img.is_visible()
        assert page.evaluate("document.getElementById('khqr').naturalWidth") > 0
        box = qr_img.bounding_box()
        assert box and box["width"] >= 200  # big enough to scan from a screen
        fits(page)
        shot(page, f"digital-bill-{lang}-{view}-{hosted_server.name}")
        qr = page.locator("#khqr-card").get_attribute("data-khqr")
        png = page.request.get(hosted_server.base_url + page.locator("#save-qr").get_attribute("href"))
        assert png.status == 200 and png.headers["content-type"] == "image/png"

    # The code is one the NBC's SDK reads: this biller's account, the amount due, the invoice's number.
    answer = oracle({"verify": [qr], "decode": [qr]})
    assert answer["verify"] == [True]
    d = answer["decode"][0]["data"]
    assert (Decimal(d["transactionAmount"]), d["transactionCurrency"], d["billNumber"]) == (
        Decimal(40000),
        "116",
        "WB-77",
    )

    # A bank app scans it and pays the amount it carries; the page then says paid, with no code.
    paid = _scan_and_pay(h, qr, 40000)
    assert paid["code"] == "SUCCESS", paid
    assert h.invoice("WB-77")["state"] == "paid"
    with opened(browser, VIEWPORTS[view]) as page:
        page.goto(f"{url}?lang={lang}")
        assert page.locator("#invoice").get_attribute("data-state") == "paid"
        assert page.locator("#due").inner_text() == "0 ៛"
        assert page.locator("#khqr").count() == 0
        assert (
            page.locator("#settled").inner_text()
            == {
                "km": "វិក្កយបត្រនេះបានបង់រួចរាល់។ អរគុណ!",
                "en": "This invoice is paid in full. Thank you!",
            }[lang]
        )
        fits(page)
        shot(page, f"digital-bill-paid-{lang}-{view}-{hosted_server.name}")
    # The webhook says the invoice was paid by a KHQR scan; the old code pays nothing more.
    body = next(b for b in h.events() if b.get("bank_ref") == "FT-QR")
    assert body["payment_service_type"] == "KHQR" and body["customers"][0]["bill_no"] == "WB-77"
    again = h.bank.post("/payment/v5/inquiry", json={"identity_code": md5(qr)}).json()
    assert again["code"] != "SUCCESS"


def test_a_bill_link_that_names_no_invoice_says_so_in_both_languages(hosted_server, browser):  # noqa: F811
    with opened(browser, VIEWPORTS["phone"]) as page:
        r = page.goto(f"{hosted_server.base_url}/bill/not-a-real-token?lang=km")
        assert r is not None and r.status == 404
        assert page.locator("h1").inner_text() == "រកមិនឃើញវិក្កយបត្រ"
        assert "Invoice not found" in page.locator("#other-lang").inner_text()
        fits(page)
        shot(page, f"digital-bill-not-found-{hosted_server.name}")
    assert hosted_server.client().get("/bill/not-a-real-token/khqr.svg").status_code == 404


def test_the_bank_app_finds_a_hosted_bill_links_its_digital_bill_and_pays_part(hosted_server, browser):  # noqa: F811
    from urllib.parse import urlsplit

    from tonle.banks.models import Bank

    h = Hosted(hosted_server, "City Water")
    h.imported([row("APP-1", "H9", amount="30000", currency="KHR"), row("APP-2", "H9", amount="12000", currency="KHR")])

    async def sandbox_token(session):
        (await session.get(Bank, h.bank_code)).sandbox_token = h.bank_token

    h.db(sandbox_token)
    with opened(browser, VIEWPORTS["phone"]) as page:
        page.goto(f"{hosted_server.base_url}/sandbox/bank/{h.bank_code}/bills?lang=en")
        page.fill("#biller", h.code)
        page.fill("#consumer", "H9")
        with page.expect_navigation():
            page.click("#find")
        assert page.locator("#biller-name").inner_text() == "City Water"
        assert page.locator("#due").inner_text() == "42,000 ៛"
        assert page.locator("#pending-bills tbody tr").count() == 2
        fits(page)
        shot(page, f"bank-hosted-bill-en-phone-{hosted_server.name}")
        with page.expect_navigation():
            page.locator("#pending-bills tbody tr").nth(1).locator("a").click()  # the oldest, listed last
        assert urlsplit(page.url).path.startswith("/bill/")
        assert page.locator("#ref-number").inner_text() == "APP-1"
        page.goto(f"{hosted_server.base_url}/sandbox/bank/{h.bank_code}/bills?lang=en")  # the look-up was a POST
        page.fill("#biller", h.code)
        page.fill("#consumer", "H9")
        with page.expect_navigation():
            page.click("#find")
        page.fill("#amount", "35000")
        with page.expect_navigation():
            page.click("#pay")
        assert urlsplit(page.url).path.startswith(f"/sandbox/bank/{h.bank_code}/bills/paid/")
        assert page.locator("#paid-amount").inner_text() == "35,000 ៛"
    # Oldest due first (the same due date: by number), the rest to the next one.
    assert [(h.invoice(ref)["state"], h.invoice(ref)["dueAmount"]) for ref in ("APP-1", "APP-2")] == [
        ("paid", 0),
        ("partially_paid", 7000),
    ]
