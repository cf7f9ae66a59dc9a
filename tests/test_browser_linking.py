"""The bank's linking page in a real browser (Debian's chromium through Playwright): the person ends on the
merchant's site, whatever its origin, in Khmer or English, on a phone or a desktop."""

from urllib.parse import parse_qs, urlsplit

import pytest

from browsing import VIEWPORTS, fits, opened, other_origin, shot
from helpers import ok
from test_subbillers import Onboarding

TEXTS = {
    "en": {"approve": "Approve", "for": "Link a settlement account for", "sub": "Station 1"},
    "km": {"approve": "យល់ព្រម", "for": "ភ្ជាប់គណនីទូទាត់សម្រាប់", "sub": "ស្ថានីយ៏ទី១"},
}


@pytest.mark.parametrize(("lang", "view"), [("en", "phone"), ("km", "phone"), ("en", "desktop"), ("km", "desktop")])
def test_link_an_account_in_the_browser(server, browser, lang, view):
    o = Onboarding(server)
    # The merchant's return page lives on another origin: the browser must be allowed to follow the redirect there
    # (a form-action of 'self' alone made Chromium stop on our page).
    return_url = other_origin(f"{server.base_url}/healthz?from=bank")
    web_url = ok(o.onboard(bank_id=o.bank, return_url=return_url))["add_link_account"]["web_url"]
    with opened(browser, VIEWPORTS[view]) as page:
        page.goto(f"{web_url}?lang={lang}")
        assert page.locator("#bank-name").inner_text() == "ACLEDA Sandbox"
        assert page.locator("#sub-biller").inner_text() == TEXTS[lang]["sub"]
        assert TEXTS[lang]["for"] in page.locator("main").inner_text()
        assert page.locator("#approve").inner_text() == TEXTS[lang]["approve"]
        assert page.locator("#sandbox-banner").is_visible()  # a simulated bank never passes for the real one
        page.fill("#account_number", "000123454411")
        page.fill("#account_name", "STATION ONE")
        page.select_option("#currency", "USD")
        fits(page)
        shot(page, f"link-{lang}-{view}-{server.name}")
        with page.expect_navigation(url=f"{return_url.split('?')[0]}*"):
            page.click("#approve")
        landed = urlsplit(page.url)
        assert f"{landed.scheme}://{landed.netloc}{landed.path}" == return_url.split("?")[0]
        assert page.locator("body").inner_text().strip().startswith("{")  # the merchant's page, not ours
        q = parse_qs(landed.query)
        assert q["from"] == ["bank"] and q["status"] == ["active"] and q["currency"] == ["USD"]
        assert q["account_number"] == ["0001****4411"] and q["supplier_sync_code"] == ["CPO1"]
        # Back to the same URL: it was single-use, and the page says so.
        page.goto(f"{web_url}?lang=en")
        assert "already used" in page.locator("#reason").inner_text()
    linked = ok(o.verify())["bank_account_linked"]
    assert [(x["status"], x["currency"], x["account_number"]) for x in linked] == [("active", "USD", "0001****4411")]


def test_reject_in_the_browser_returns_to_the_merchant(server, browser):
    o = Onboarding(server)
    ok(o.onboard())
    back = other_origin(f"{server.base_url}/healthz")
    web_url = o.link_url(return_url=back)
    with opened(browser) as page:
        page.goto(web_url)
        with page.expect_navigation(url=f"{back}*"):
            page.click("#reject")
        assert page.url.startswith(back) and parse_qs(urlsplit(page.url).query)["status"] == ["rejected"]
    assert ok(o.verify())["bank_account_linked"][0]["status"] == "rejected"


def test_a_problem_page_offers_the_way_back(server, browser):
    o = Onboarding(server)
    ok(o.onboard())
    with opened(browser) as page:
        page.goto(f"{server.base_url}/sandbox/bank/link/not-a-token?lang=km")
        assert page.locator("#reason").inner_text() == "តំណនេះមិនមានទេ។"
        assert page.locator("#sandbox-banner").is_visible()
        fits(page)
