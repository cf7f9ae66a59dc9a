"""The bank's linking page in a real browser (Debian's chromium through Playwright)."""

import os
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import ROOT
from helpers import ok
from test_subbillers import Onboarding

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("TONLE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("TONLE_TEST_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


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
