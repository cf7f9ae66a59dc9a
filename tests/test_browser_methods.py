"""Putting a card and a bank account on file in a real browser (Debian's chromium through Playwright): the link page,
the card form (its number going to the card vault), the vault's one-time code, the bank's page and its code, and the
end of each journey on the biller's own site; in Khmer and English, on a phone and a desktop."""

from urllib.parse import parse_qs, urlsplit

import pytest

from browsing import VIEWPORTS, fits, opened, other_origin, shot
from helpers import ok
from test_methods import ASKS_CODE, EXP, VISA, Payer

TEXTS = {
    "en": {"title": "Add a payment method", "card": "Add a card", "bank": "Link your account"},
    "km": {"title": "បន្ថែមវិធីបង់ប្រាក់", "card": "បន្ថែមកាត", "bank": "ភ្ជាប់គណនីរបស់អ្នក"},
}


def _link(payer, back: str) -> str:
    body = {"customer_sync_code": "C1", "web_url": back}
    return ok(payer.c.post("/instant_payment/payment_method/link", json=body))["link_url"]


def _landed(page, back: str) -> dict:
    landed = urlsplit(page.url)
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == back
    assert page.locator("body").inner_text().strip().startswith("{")  # the biller's page, not ours
    return parse_qs(landed.query)


@pytest.mark.parametrize(("lang", "view"), [("en", "phone"), ("km", "phone"), ("en", "desktop"), ("km", "desktop")])
def test_card_and_account_on_file_in_the_browser_end_on_the_billers_site(server, browser, lang, view):
    payer = Payer(server)
    back = other_origin(f"{server.base_url}/healthz")
    t = TEXTS[lang]
    tag = f"{lang}-{view}-{server.name}"
    with opened(browser, VIEWPORTS[view]) as page:
        # A card that asks for a one-time code: the form, the vault's code page, back to the biller.
        page.goto(f"{_link(payer, back)}?lang={lang}")
        assert page.locator("h1").inner_text() == t["title"]
        assert "Dara" in page.locator("#intro").inner_text()
        fits(page)
        shot(page, f"methods-pick-{tag}")
        page.click("#kind-card")
        assert page.locator("#card-title").inner_text() == t["card"]
        page.fill("#number", ASKS_CODE)
        page.fill("#exp", EXP)
        page.fill("#cvc", "123")
        fits(page)
        shot(page, f"methods-card-{tag}")
        page.click("#save")
        assert page.locator("#sandbox-banner").is_visible()  # the vault is simulated, and says so
        code = page.locator("#sandbox-code").inner_text().split()[-1]
        fits(page)
        shot(page, f"methods-card-code-{tag}")
        page.fill("#code", code)
        with page.expect_navigation(url=f"{back}*"):
            page.click("#confirm")
        query = _landed(page, back)
        assert query["status"] == ["success"] and query["type"] == ["card"]

        # A declined card number typed wrong: the form says why, in the page's language, and keeps the link open.
        page.goto(f"{_link(payer, back)}?lang={lang}&kind=card")
        page.fill("#number", VISA[:-1] + "1")
        page.fill("#exp", EXP)
        page.fill("#cvc", "123")
        page.click("#save")
        assert page.locator("#error").is_visible()
        fits(page)
        shot(page, f"methods-card-error-{tag}")

        # A bank account: the bank's page, its one-time code, back to the biller.
        page.goto(f"{_link(payer, back)}?lang={lang}")
        page.click("#kind-account")
        page.click(f"#bank-{payer.bank}")
        assert page.locator("h1").inner_text() == t["bank"]
        assert page.locator("#accounts input").count() == 2
        fits(page)
        shot(page, f"methods-bank-{tag}")
        page.check("input[value='0007654321']")
        page.click("#send-code")
        code = page.locator("#sandbox-code").inner_text().split()[-1]
        fits(page)
        shot(page, f"methods-bank-code-{tag}")
        page.fill("#code", code)
        with page.expect_navigation(url=f"{back}*"):
            page.click("#approve")
        query = _landed(page, back)
        assert query["status"] == ["success"] and query["type"] == ["bank_account"]
    listed = payer.methods()
    assert [m["type"] for m in listed] == ["wallet", "wallet", "card", "bank_account"]
    assert listed[2]["sub_title"] == "Account No : **********3220"
    assert listed[3]["sub_title"] == "Account No : ******4321"
