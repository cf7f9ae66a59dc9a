"""Every hosted page in headless Chromium, as a person meets it: phone and desktop, Khmer and English, nothing wider
than the screen, the words in the page's language, and each journey ending where it should (on the merchant's
site, or on a receipt that stays put when there is nowhere to go back to)."""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from browsing import DESKTOP, PHONE, VIEWPORTS, fits, opened, other_origin, shot
from helpers import ok, set_merchant
from test_checkout import Shop
from test_subbillers import Onboarding
from tonle.kit.clock import clock

KM = {
    "amount": "ចំនួនទឹកប្រាក់",
    "fee": "កម្រៃសេវា",
    "total": "សរុប",
    "description": "ការពិពណ៌នា",
    "pending": "កំពុងរង់ចាំការបង់ប្រាក់",
    "receipt": "បានទទួលការបង់ប្រាក់",
}
EN_WORDS = ("Amount", "Fee", "Total", "Description", "Reference", "Waiting", "Pay with")


def _pay_in_second_tab(browser, page, shop) -> None:
    """The customer picks the bank on the checkout page; the sandbox bank's page opens in another tab and pays, so
    the checkout page has to notice the payment by itself."""
    href = page.locator(f"#bank-{shop.bank}").get_attribute("href")
    with opened(browser, PHONE) as bank_page:
        bank_page.goto(href)
        assert bank_page.locator("#sandbox-banner").is_visible()
        with bank_page.expect_navigation():
            bank_page.click("#pay")


def test_khmer_checkout_on_a_phone_pays_and_lands_on_the_merchant(server, browser):
    shop = Shop(server)
    set_merchant(server, shop.m.id, checkout_fee_fixed_khr=500)
    back = other_origin(f"{server.base_url}/healthz?from=merchant")
    data = shop.init("KM-1", amount=25000, language="km", description="ទឹក ខែវិច្ឆិកា", redirect_url=back)
    data = data.json()["data"]
    with opened(browser, PHONE) as page:
        page.goto(data["payment_link"])
        main = page.locator("main").inner_text()
        assert page.locator("#status").inner_text() == KM["pending"]
        assert page.locator("#total").inner_text() == "25,500 ៛"  # whole riels, the fee included
        assert page.locator("#amount").inner_text() == "25,000 ៛" and page.locator("#fee").inner_text() == "500 ៛"
        for word in (KM["amount"], KM["fee"], KM["total"], KM["description"]):
            assert word in main
        for word in EN_WORDS:
            assert word not in main, f"English {word!r} on the Khmer page"
        assert page.locator("#khqr").is_visible() and page.locator("#khqr-card .khqr-mark").inner_text() == "KHQR"
        assert page.locator("#save-qr").get_attribute("href") == f"/khqr/{data['tran_id']}.png"
        assert page.locator(f"#app-{shop.bank}").get_attribute("href").startswith("tonle-sandbox-")
        assert ":" in page.locator("#countdown").inner_text()
        fits(page)
        shot(page, f"checkout-km-phone-{server.name}")
        _pay_in_second_tab(browser, page, shop)
        # The event stream tells the page; it shows the receipt, then returns the customer to the merchant's site.
        page.wait_for_url(f"{back.split('?')[0]}*", timeout=20000)
        q = parse_qs(urlsplit(page.url).query)
        assert q["from"] == ["merchant"] and q["code"] == ["SUCCESS"]
        outcome = json.loads(q["data"][0])
        assert outcome["tran_id"] == data["tran_id"] and outcome["total_amount"] == 25500
    assert ok(shop.verify(tran_id=data["tran_id"]), "SUCCESS")["status"] == "success"


def test_english_checkout_on_a_desktop_without_a_return_url_ends_on_a_receipt(server, browser):
    shop = Shop(server)
    data = shop.init("EN-1", amount=12.5, currency="USD", language="en", redirect_url="").json()["data"]
    with opened(browser, DESKTOP) as page:
        page.goto(data["payment_link"])
        assert page.locator("#total").inner_text() == "$12.50"
        assert page.locator("#status").inner_text() == "Waiting for payment"
        fits(page)
        shot(page, f"checkout-en-desktop-{server.name}")
        _pay_in_second_tab(browser, page, shop)
        page.wait_for_selector("#receipt-title", timeout=20000)
        assert page.locator("#receipt-title").inner_text() == "Payment received"
        assert page.locator("#status").inner_text() == "Paid"  # not "Returning…": there is nowhere to return to
        assert page.locator("#receipt-bank").inner_text() == "Sandbox Bank"
        assert page.locator("#receipt-bank-ref").inner_text().startswith("SBX")
        assert page.locator("#receipt-paid-at").inner_text()
        assert page.locator("#return").count() == 0
        shot(page, f"checkout-receipt-en-desktop-{server.name}")
        where = page.url
        time.sleep(3.5)  # longer than the receipt's pause before a return
        assert page.url == where


def test_a_later_visit_to_a_paid_checkout_shows_the_receipt_and_the_way_back(server, browser):
    shop = Shop(server)
    back = other_origin(f"{server.base_url}/healthz")
    data = shop.init("EN-2", amount=9000, language="en", redirect_url=back).json()["data"]
    shop.pay(data["tran_id"], 9000)
    with opened(browser, PHONE) as page:
        page.goto(data["payment_link"])
        assert page.locator("#receipt-title").inner_text() == "Payment received"
        assert page.locator("#status").inner_text() == "Paid"
        fits(page)
        shot(page, f"checkout-receipt-en-phone-{server.name}")
        with page.expect_navigation(url=f"{back}*"):
            page.click("#return")
        assert parse_qs(urlsplit(page.url).query)["code"] == ["SUCCESS"]


def test_the_language_switch(server, browser):
    shop = Shop(server)
    link = shop.init("SW-1", amount=4000, language="km").json()["data"]["payment_link"]
    with opened(browser, PHONE) as page:
        page.goto(link)
        assert page.locator("html").get_attribute("lang") == "km"
        page.click("#lang-switch a[hreflang=en]")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("#status").inner_text() == "Waiting for payment"
        page.click("#lang-switch a[hreflang=km]")
        assert page.locator("#status").inner_text() == KM["pending"]


@pytest.mark.parametrize("lang", ["km", "en"])
def test_expired_and_not_found_pages_say_so_and_offer_a_way_back(server, browser, lang):
    shop = Shop(server)
    cancel = other_origin(f"{server.base_url}/healthz?cancelled=1")
    link = shop.init(f"EX-{lang}", amount=3000, language=lang, cancel_url=cancel).json()["data"]["payment_link"]
    clock.advance(server.settings.checkout_ttl_seconds + 1)
    try:
        with opened(browser, PHONE) as page:
            page.goto(link)
            expired = {"km": "ការបង់ប្រាក់នេះផុតកំណត់ហើយ។", "en": "This payment has expired."}[lang]
            assert page.locator("#status").inner_text() == expired
            assert page.locator("#lang-switch").is_visible()
            fits(page)
            shot(page, f"checkout-expired-{lang}-phone-{server.name}")
            with page.expect_navigation(url=f"{cancel.split('?')[0]}*"):
                page.click("#cancel")
            assert parse_qs(urlsplit(page.url).query)["code"] == ["CANCELLED"]
            page.goto(f"{server.base_url}/checkout/NOPE00000000?lang={lang}")
            title = {"km": "រកមិនឃើញការបង់ប្រាក់", "en": "Payment not found"}[lang]
            assert page.locator("h1").inner_text() == title and page.locator("#lang-switch").is_visible()
            fits(page)
            shot(page, f"not-found-{lang}-phone-{server.name}")
    finally:
        clock.reset()


@pytest.mark.parametrize(("lang", "view"), [("km", "phone"), ("en", "desktop")])
def test_the_sandbox_bank_page(server, browser, lang, view):
    shop = Shop(server)
    set_merchant(server, shop.m.id, checkout_fee_fixed_khr=300)
    data = shop.init(f"BK-{lang}", amount=10000, language=lang).json()["data"]
    url = f"{server.base_url}/sandbox/bank/{shop.bank}/pay/{data['tran_id']}"
    with opened(browser, VIEWPORTS[view]) as page:
        page.goto(url)
        banner = page.locator("#sandbox-banner")
        assert banner.is_visible() and "SANDBOX" in banner.inner_text() and "no real money" in banner.inner_text()
        words = {"km": ("ចំនួនទឹកប្រាក់", "កម្រៃសេវា", "សរុប"), "en": ("Amount", "Fee", "Total")}[lang]
        main = page.locator("main").inner_text()
        assert all(w in main for w in words)
        assert page.locator("#fee").inner_text() == "300 ៛" and page.locator("#total").inner_text() == "10,300 ៛"
        state = page.locator("#state")
        assert state.inner_text() == {"km": "កំពុងរង់ចាំការបង់ប្រាក់", "en": "Waiting for payment"}[lang]
        fits(page)
        shot(page, f"bank-{lang}-{view}-{server.name}")
        with page.expect_navigation():
            page.click("#pay")
        assert urlsplit(page.url).path == f"/checkout/{data['tran_id']}"
        page.goto(url)
        assert page.locator("#state").get_attribute("class") == "badge ok"
        assert page.locator("#state").inner_text() == {"km": "បានបង់", "en": "Paid"}[lang]


def _portal(server, lang):
    o = Onboarding(server)
    ok(o.onboard())
    o.link_active(number="000123454411")
    assert o.shop.push(o.shop.body(ref="P-BROWSER-1", total=3000, to="CPO1")).json()["code"] == "SUCCESS"
    return o, o.portal(language=lang)


def test_the_portal_in_khmer_on_a_phone(server, browser):
    _, url = _portal(server, "km")
    with opened(browser, PHONE) as page:
        page.goto(url)
        assert page.locator("#sub-biller").inner_text() == "ស្ថានីយ៏ទី១"  # the Khmer name on the Khmer page
        assert page.locator("#balance-KHR").inner_text() == "3,000 ៛"
        main = page.locator("main").inner_text()
        assert "សកម្ម" in main  # the linked account's status, in Khmer
        assert "active" not in main.lower().split("ស្ថានីយ")[0]
        fits(page)  # tables stack into cards: nothing wider than the phone
        shot(page, f"portal-km-phone-{server.name}")
        page.fill("#amount", "1000")
        with page.expect_navigation():
            page.click("#pay-out")
        assert page.locator("#notice").inner_text() == "បានស្នើសុំដកប្រាក់"
        payouts = page.locator("#payouts").inner_text()
        assert "បានបង់" in payouts and "0001****4411" in payouts and "1,000 ៛" in payouts
        fits(page)


def test_the_portal_on_a_desktop_shows_headers_and_keeps_errors_in_the_form(server, browser):
    _, url = _portal(server, "en")
    with opened(browser, DESKTOP) as page:
        page.goto(url)
        headers = page.locator("#payouts thead th").all_inner_texts()
        assert headers == ["Date", "To account", "Amount", "Status"]
        assert page.locator("#settlements tbody").inner_text().count("P-BROWSER-1") == 1
        assert "0001****4411 · KHR" in page.locator("#link option").first.inner_text()
        assert page.locator("#available").inner_text() == "Available: KHR 3,000 ៛"  # beside the amount field
        page.fill("#amount", "5000")
        page.click("#pay-out")
        page.wait_for_selector("#error")
        assert "Insufficient" in page.locator("#error").inner_text()
        # The form is still there, with what was typed, and the page around it.
        assert page.locator("#amount").input_value() == "5000" and page.locator("#balance-KHR").is_visible()
        shot(page, f"portal-en-desktop-{server.name}")
        page.fill("#amount", "12.5")
        page.click("#pay-out")
        page.wait_for_selector("#error")
        assert "decimal places" in page.locator("#error").inner_text()


def test_api_docs_render_with_no_internet(server, browser):
    with opened(browser, DESKTOP, offline=True) as page:
        page.goto(f"{server.base_url}/docs")
        page.wait_for_selector(".opblock", timeout=20000)  # Swagger UI drew the operations
        assert page.locator(".opblock").count() > 20
        assert "Tonle" in page.locator(".title").first.inner_text()
        shot(page, f"docs-offline-{server.name}")


def test_the_home_page_points_people_somewhere(server, browser):
    with opened(browser, PHONE) as page:
        page.goto(server.base_url + "/")
        links = [a.get_attribute("href") for a in page.locator("#home a").all()]
        assert "/docs" in links
        fits(page)


def _every_page(server) -> dict[str, tuple[str, dict[str, str]]]:
    """One of each page, with a word each language must show on it."""
    shop = Shop(server)
    set_merchant(server, shop.m.id, checkout_fee_fixed_khr=200)
    pending = shop.init("SWEEP-1", amount=15000, description="sweep").json()["data"]
    paid = shop.init("SWEEP-2", amount=8000, redirect_url="").json()["data"]
    shop.pay(paid["tran_id"], 8200)
    o, portal = _portal(server, "en")
    link = o.link_url(return_url=other_origin(f"{server.base_url}/healthz"))
    base = server.base_url
    return {
        "checkout": (pending["payment_link"], {"km": "សរុប", "en": "Total"}),
        "receipt": (paid["payment_link"], {"km": "បានទទួលការបង់ប្រាក់", "en": "Payment received"}),
        "not-found": (f"{base}/checkout/NOPE00000000", {"km": "រកមិនឃើញការបង់ប្រាក់", "en": "Payment not found"}),
        "bank": (f"{base}/sandbox/bank/{shop.bank}/pay/{pending['tran_id']}", {"km": "កម្រៃសេវា", "en": "Fee"}),
        "link": (link, {"km": "លេខគណនី", "en": "Account number"}),
        "link-used": (f"{base}/sandbox/bank/link/spent", {"km": "តំណមិនអាចប្រើបាន", "en": "Link unavailable"}),
        "portal": (portal, {"km": "សមតុល្យទូទាត់", "en": "Settlement balances"}),
        "portal-gone": (f"{base}/portal/not-a-token", {"km": "Portal មិនអាចប្រើបាន", "en": "Portal unavailable"}),
        "home": (f"{base}/", {"km": "ប្រអប់សាកល្បង", "en": "Sandbox"}),
    }


def test_every_page_on_a_phone_and_a_desktop_in_both_languages(server, browser):
    pages = _every_page(server)
    for name, (url, words) in pages.items():
        for view, viewport in VIEWPORTS.items():
            for lang, word in words.items():
                with opened(browser, viewport) as page:
                    sep = "&" if "?" in url else "?"
                    page.goto(f"{url}{sep}lang={lang}")
                    assert page.locator("html").get_attribute("lang") == lang, (name, view, lang)
                    assert word in page.locator("main").inner_text(), (name, view, lang, word)
                    assert page.locator("#lang-switch").is_visible(), (name, view, lang)
                    fits(page)
                    shot(page, f"sweep-{name}-{lang}-{view}-{server.name}")


def test_problem_pages_speak_both_languages_and_go_back(server, browser):
    with opened(browser, PHONE) as page:
        page.goto(server.base_url + "/")
        page.goto(f"{server.base_url}/checkout/NOPE00000000")  # Khmer: the default
        assert page.locator("h1").inner_text() == "រកមិនឃើញការបង់ប្រាក់"
        assert page.locator("#other-lang").inner_text().startswith("Payment not found")
        back = page.locator("#back")
        assert back.is_visible() and back.inner_text() == "ត្រឡប់ក្រោយ"
        back.click()
        page.wait_for_url(server.base_url + "/")
