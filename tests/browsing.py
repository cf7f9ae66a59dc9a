"""What the browser tests share: the two viewports people use, a check that nothing scrolls sideways, and
screenshots (kept in test-artifacts/pages, never committed; docs/screenshots holds the ones looked at)."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import urlsplit

from conftest import ARTIFACTS

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
SHOTS = ARTIFACTS / "pages"


@contextmanager
def opened(browser, viewport: dict[str, int] = PHONE, *, offline: bool = False):
    """A fresh page; ``offline`` refuses every request that leaves this machine, as on a gateway with no internet."""
    context = browser.new_context(viewport=viewport)
    if offline:
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
                else route.abort()
            ),
        )
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def fits(page) -> None:
    """Nothing on the page is wider than the screen (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"page is {width}px wide in a {inner}px view"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def other_origin(url: str) -> str:
    """The same server under a different origin (localhost instead of 127.0.0.1): a merchant's site, as far as the
    browser's security rules are concerned."""
    return url.replace("http://127.0.0.1:", "http://localhost:", 1)
