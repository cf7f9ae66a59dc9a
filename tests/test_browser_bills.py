"""The sandbox bank app's bill payment in Chromium, as a bank customer meets it: type the biller code and a
customer code, see the bill (and the pending bills) from the biller's proxy, pay, and end on the bank's receipt."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from billers import GOOD, FakeBiller
from browsing import VIEWPORTS, fits, opened, shot
from test_proxy import Biller
from tonle.banks.models import Bank
from tonle.config import Compat

WORDS = {
    "km": ("ចំនួនត្រូវបង់", "វិក្កយបត្រមិនទាន់បង់", "ចំនួនទឹកប្រាក់ដែលត្រូវបង់"),
    "en": ("Amount due", "Pending bills", "Amount to pay"),
}


@pytest.fixture
def bill_server(backend):
    yield backend.server(Compat.live, webhook_allow_private_targets=True)


def _bank_app(server, fake) -> Biller:
    b = Biller(server, fake)

    async def go(session):
        (await session.get(Bank, b.bank_code)).sandbox_token = b.bank_token

    server.in_session(go)
    return b


@pytest.mark.parametrize(("lang", "view"), [("km", "phone"), ("en", "desktop")])
def test_a_bill_found_by_code_is_paid_and_ends_on_the_receipt(bill_server, browser, lang, view):
    with FakeBiller(GOOD) as fake, opened(browser, VIEWPORTS[view]) as page:
        b = _bank_app(bill_server, fake)
        page.goto(f"{bill_server.base_url}/sandbox/bank/{b.bank_code}/bills?lang={lang}")
        assert page.locator("#sandbox-banner").is_visible()
        fits(page)
        shot(page, f"bank-bills-form-{lang}-{view}-{bill_server.name}")
        page.fill("#biller", b.code)
        page.fill("#consumer", "CU003035")
        with page.expect_navigation():
            page.click("#find")
        main = page.locator("main").inner_text()
        assert all(w in main for w in WORDS[lang]), main
        other = WORDS["en" if lang == "km" else "km"]
        assert not any(w in main for w in other)
        assert page.locator("#biller-name").inner_text() == "Water Utility"
        assert page.locator("#consumer-name").inner_text() == "ញ៉េប នីម"
        assert page.locator("#due").inner_text() == "$10.00"
        assert page.locator("#pending-bills tbody tr").count() == 2
        assert (
            page.locator("#limits").inner_text()
            == {"km": "ចំនួនណាមួយរហូតដល់ $5,000.00។", "en": "Any amount up to $5,000.00."}[lang]
        )
        fits(page)
        shot(page, f"bank-bill-{lang}-{view}-{bill_server.name}")
        page.fill("#amount", "12.50")
        with page.expect_navigation():
            page.click("#pay")
        assert urlsplit(page.url).path.startswith(f"/sandbox/bank/{b.bank_code}/bills/paid/")
        assert page.locator("#state").get_attribute("data-state") == "success"
        assert page.locator("#paid-amount").inner_text() == "$12.50"
        assert page.locator("#overpaid").inner_text() == "$2.50"
        fits(page)
        shot(page, f"bank-bill-receipt-{lang}-{view}-{bill_server.name}")
    [body] = b.events()
    assert body["tran_amount"] == 12.5 and body["payment_service_type"] == "Bank Channel"


def test_refusals_stay_in_the_form_or_say_nothing_was_paid(bill_server, browser):
    with FakeBiller(GOOD) as fake, opened(browser, VIEWPORTS["phone"]) as page:
        b = _bank_app(bill_server, fake)
        page.goto(f"{bill_server.base_url}/sandbox/bank/{b.bank_code}/bills?lang=km")
        page.fill("#biller", b.code)
        page.fill("#consumer", "NOBODY")
        with page.expect_navigation():
            page.click("#find")
        assert page.locator("#error").inner_text() == "រកមិនឃើញអតិថិជន"
        assert page.locator("#consumer").input_value() == "NOBODY"  # what was typed is kept
        page.fill("#consumer", "RANGE1")
        with page.expect_navigation():
            page.click("#find")
        page.fill("#amount", "99")
        with page.expect_navigation():
            page.click("#pay")
        assert "គ្មានប្រាក់ត្រូវបានបង់ទេ" in page.locator("main").inner_text()
        fits(page)
        shot(page, f"bank-bill-refused-km-phone-{bill_server.name}")
        with page.expect_navigation():
            page.locator("main a").first.click()
        assert urlsplit(page.url).path == f"/sandbox/bank/{b.bank_code}/bills"
    assert b.events() == []
