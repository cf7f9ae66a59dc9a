"""The bank's linking page in a real browser (Debian's chromium through Playwright)."""

from urllib.parse import parse_qs, urlsplit

from conftest import ARTIFACTS
from helpers import ok
from test_subbillers import Onboarding


def test_link_an_account_in_the_browser(server, browser):
    o = Onboarding(server)
    # The merchant's return page: any page of ours will do, the browser only has to land there.
    return_url = f"{server.base_url}/healthz?from=bank"
    web_url = ok(o.onboard(bank_id=o.bank, return_url=return_url))["add_link_account"]["web_url"]
    page = browser.new_page()
    try:
        page.goto(web_url)
        assert page.locator("#bank-name").inner_text() == "ACLEDA Sandbox"
        assert page.locator("#sub-biller").inner_text() == "Station 1"
        page.fill("#account_number", "000123454411")
        page.fill("#account_name", "STATION ONE")
        page.select_option("#currency", "USD")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"bank-link-{server.name}.png"))
        with page.expect_navigation():
            page.click("#approve")
        landed = urlsplit(page.url)
        assert f"{landed.scheme}://{landed.netloc}{landed.path}" == f"{server.base_url}/healthz"
        q = parse_qs(landed.query)
        assert q["from"] == ["bank"] and q["status"] == ["active"] and q["currency"] == ["USD"]
        assert q["account_number"] == ["0001****4411"] and q["supplier_sync_code"] == ["CPO1"]
        linked = ok(o.verify())["bank_account_linked"]
        assert [(x["status"], x["currency"], x["account_number"]) for x in linked] == [
            ("active", "USD", "0001****4411")
        ]
        # Back to the same URL: it was single-use.
        page.goto(web_url)
        assert "already used" in page.locator("#reason").inner_text()
    finally:
        page.close()


def test_reject_in_the_browser(server, browser):
    o = Onboarding(server)
    ok(o.onboard())
    web_url = o.link_url(return_url=f"{server.base_url}/healthz")
    page = browser.new_page()
    try:
        page.goto(web_url)
        with page.expect_navigation():
            page.click("#reject")
        assert parse_qs(urlsplit(page.url).query)["status"] == ["rejected"]
    finally:
        page.close()
    assert ok(o.verify())["bank_account_linked"][0]["status"] == "rejected"
