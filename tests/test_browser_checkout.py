"""The whole checkout journey in headless chromium: init -> hosted page -> bank page -> live success -> redirect."""

import json
from urllib.parse import parse_qs, urlsplit

from conftest import ARTIFACTS
from helpers import ok
from test_checkout import Shop


def test_pay_a_checkout_in_the_browser(server, browser):
    shop = Shop(server)
    back = f"{server.base_url}/healthz?from=merchant"
    data = shop.init("JOURNEY-1", amount=25000, language="en", redirect_url=back).json()["data"]
    checkout_page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    bank_page = browser.new_page()
    try:
        checkout_page.goto(data["payment_link"])
        assert checkout_page.locator("#total").inner_text() == "25,000 ៛"
        assert checkout_page.locator("#khqr").is_visible()
        assert checkout_page.locator("#status").inner_text() == "Waiting for payment"
        assert ":" in checkout_page.locator("#countdown").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        checkout_page.screenshot(path=str(ARTIFACTS / f"checkout-en-{server.name}.png"), full_page=True)
        # The customer picks the bank: its sandbox page opens (here in a second tab, so that the first one has to
        # notice the payment by itself).
        bank_href = checkout_page.locator(f"#bank-{shop.bank}").get_attribute("href")
        bank_page.goto(bank_href)
        assert bank_page.locator("#total").inner_text() == "25,000 ៛"
        with bank_page.expect_navigation():
            bank_page.click("#pay")
        # No reload: the event stream tells the checkout page, which shows success and returns to the merchant.
        checkout_page.wait_for_url(f"{server.base_url}/healthz*", timeout=20000)
        q = parse_qs(urlsplit(checkout_page.url).query)
        assert q["from"] == ["merchant"] and q["code"] == ["SUCCESS"] and q["message"] == ["Transaction success"]
        outcome = json.loads(q["data"][0])
        assert outcome["tran_id"] == data["tran_id"] and outcome["reference_id"] == "JOURNEY-1"
        assert outcome["total_amount"] == 25000 and outcome["bank_reference_no"].startswith("SBX")
    finally:
        checkout_page.close()
        bank_page.close()
    v = ok(shop.verify(tran_id=data["tran_id"]), "SUCCESS")
    assert v["status"] == "success" and v["bank_ref"] == outcome["bank_reference_no"] and v["bank_code"] == shop.bank
    assert server.cli("ledger", "verify").returncode == 0


def test_khmer_checkout_page_screenshot(server, browser):
    shop = Shop(server)
    link = shop.init("JOURNEY-KM", amount=12000, language="km").json()["data"]["payment_link"]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        page.goto(link)
        assert page.locator("#status").inner_text() == "កំពុងរង់ចាំការបង់ប្រាក់"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"checkout-km-{server.name}.png"), full_page=True)
    finally:
        page.close()
