"""The direct-debit consent journey in a real browser (Debian's chromium through Playwright): the subscription page
shows who subscribes to which biller, the customer picks a sandbox bank, approves one of their accounts on the
bank's page, and ends on the biller's own site; in Khmer and English, on a phone and a desktop."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from billers import TOKEN, FakeBiller
from browsing import VIEWPORTS, fits, opened, other_origin, shot
from test_direct_debit import Biller, consumer

TEXTS = {
    "en": {"title": "Set up automatic payment", "consent": "Approve automatic payment", "approve": "Approve"},
    "km": {"title": "រៀបចំការបង់ប្រាក់ស្វ័យប្រវត្តិ", "consent": "យល់ព្រមការបង់ប្រាក់ស្វ័យប្រវត្តិ", "approve": "យល់ព្រម"},
}


@pytest.fixture
def dd_server(backend):
    server = backend.server(webhook_allow_private_targets=True)
    yield server
    httpx.post(server.base_url + "/sandbox/clock/reset", timeout=30)


@pytest.mark.parametrize(("lang", "view"), [("en", "phone"), ("km", "phone"), ("en", "desktop"), ("km", "desktop")])
def test_consent_in_the_browser_ends_on_the_billers_site(dd_server, browser, lang, view):
    with FakeBiller({"token": TOKEN, "consumers": [consumer("C000001", "15.5")]}) as fake:
        b = Biller(dd_server, fake, accounts=(("0001234567", "Sok Dara", "USD", "120.00"),))
        b.add_account("0009876543", "Sok Dara", "KHR", "500000")
        back = other_origin(f"{dd_server.base_url}/healthz")
        data = b.init(["C000001", "C000002"], web_url=back)
        with opened(browser, VIEWPORTS[view]) as page:
            page.goto(f"{data['subscription_link']}?lang={lang}")
            assert page.locator("h1").inner_text() == TEXTS[lang]["title"]
            assert page.locator("#consumers li").count() == 2
            assert "Phnom Penh Water" in page.locator("#intro").inner_text()
            fits(page)
            shot(page, f"dd-subscribe-{lang}-{view}-{dd_server.name}")
            page.click(f"#bank-{b.bank}")
            assert page.locator("h1").inner_text() == TEXTS[lang]["consent"]
            assert page.locator("#sandbox-banner").is_visible()  # a simulated bank never passes for the real one
            assert page.locator("#accounts input").count() == 2
            fits(page)
            shot(page, f"dd-consent-{lang}-{view}-{dd_server.name}")
            page.check("input[value='0001234567']")
            with page.expect_navigation(url=f"{back}*"):
                page.click("#approve")
            landed = urlsplit(page.url)
            assert f"{landed.scheme}://{landed.netloc}{landed.path}" == back
            assert parse_qs(landed.query)["status"] == ["Active"]
            assert page.locator("body").inner_text().strip().startswith("{")  # the biller's page, not ours
            page.goto(f"{data['subscription_link']}?lang={lang}")  # used: the page says so, with the way back
            assert page.locator("#return").count() == 1
        v = b.post("/subscription/verify", {"subscription_no": data["subscription_no"]})["data"]
        assert v["status"] == "Active" and [d["consumer_code"] for d in v["details"]] == ["C000001", "C000002"]
