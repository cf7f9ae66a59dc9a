"""Server-rendered pages: one layout and stylesheet (the design system), escaped values, strict security headers,
urlencoded forms, Khmer and English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import swagger_ui
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tonle.kit.clock import PHNOM_PENH
from tonle.kit.money import EXPONENTS

STATIC = Path(__file__).parent / "static"
SWAGGER_UI_STATIC = Path(swagger_ui.__file__).parent / "static"
LANGS = ("km", "en")

_BASE_CSP = {
    "default-src": "'none'",
    "style-src": "'self'",
    # Images from https (bank and merchant logos) and our own (QR codes).
    "img-src": "'self' https: data:",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
}
_OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _csp(scripted: bool, form_to: Iterable[str]) -> str:
    policy = dict(_BASE_CSP)
    if scripted:
        policy["script-src"] = "'self'"
        policy["connect-src"] = "'self'"
    extra = [s for s in (form_source(u) for u in form_to) if s]
    if extra:
        # Chromium applies form-action to the redirect that answers a form post too: a page whose form ends on the
        # merchant's site must name that site, or the browser stops on our page.
        policy["form-action"] = " ".join(["'self'", *dict.fromkeys(extra)])
    return "; ".join(f"{k} {v}" for k, v in policy.items())


SECURITY_HEADERS = {"Content-Security-Policy": _csp(False, ()), **_OTHER_HEADERS}

_SOURCE_SAFE = re.compile(r"^[A-Za-z0-9.\-:\[\]]+$")


def form_source(url: str) -> str:
    """The CSP source that lets a form's redirect reach ``url``: its origin for http(s), its scheme for an app's
    deep link (``myapp:``); empty when the URL is not one a header can name safely."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if not re.fullmatch(r"[a-z][a-z0-9+.\-]*", scheme or "-"):
        return ""
    if scheme in ("http", "https"):
        if not parts.netloc or not _SOURCE_SAFE.match(parts.netloc) or "@" in parts.netloc:
            return ""
        return f"{scheme}://{parts.netloc.lower()}"
    if scheme in ("javascript", "data", "blob", "file"):
        return ""
    return f"{scheme}:"


e = html.escape


# ---------------------------------------------------------------- language


def pick_lang(request: Request, default: str = "km") -> str:
    """``?lang=km|en`` wins (the page's switch), else the language the page was made in."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    return default if default in LANGS else "km"


def lang_switch(request: Request, lang: str) -> str:
    links = []
    for code, label in (("km", "ខ្មែរ"), ("en", "English")):
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        query["lang"] = code
        href = f"{request.url.path}?{urlencode(query)}"
        current = "true" if code == lang else "false"
        links.append(f'<a href="{e(href)}" hreflang="{code}" lang="{code}" aria-current="{current}">{label}</a>')
    return f'<nav class="lang" id="lang-switch" aria-label="Language">{"".join(links)}</nav>'


# ---------------------------------------------------------------- how people read money and time


def money(minor: int, currency: str) -> str:
    """An amount as a person reads it: KHR in whole riels with the riel sign (``25,000 ៛``), USD with two decimals
    (``$12.50``)."""
    if currency == "KHR":
        return f"{minor:,} ៛"
    d = Decimal(minor).scaleb(-EXPONENTS.get(currency, 2))
    if currency == "USD":
        return f"${d:,.2f}" if minor >= 0 else f"-${-d:,.2f}"
    return f"{d:,.2f} {currency}"


_MONTHS_KM = ["មករា", "កុម្ភៈ", "មីនា", "មេសា", "ឧសភា", "មិថុនា", "កក្កដា", "សីហា", "កញ្ញា", "តុលា", "វិច្ឆិកា", "ធ្នូ"]
_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def when(dt: datetime | None, lang: str) -> str:
    """A stored instant (naive UTC) in Phnom Penh time: ``1 Dec 2026, 14:05`` / ``1 ធ្នូ 2026, 14:05``."""
    if dt is None:
        return ""
    local = dt.replace(tzinfo=UTC).astimezone(PHNOM_PENH)
    months = _MONTHS_KM if lang == "km" else _MONTHS_EN
    return f"{local.day} {months[local.month - 1]} {local.year}, {local:%H:%M}"


# ---------------------------------------------------------------- the frame

_LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light"><title>{title}</title><link rel="stylesheet" href="/static/tonle.css">
</head><body class="{body_class}">{banner}<header class="topbar">{brand}{switch}</header>
<main id="main">{body}</main><footer>{footer}</footer>{scripts}</body></html>"""

SANDBOX_BANNER = (
    '<div class="sandbox-banner" id="sandbox-banner" role="note">'
    "SANDBOX · ធនាគារសាកល្បង — simulated bank, no real money · មិនមែនប្រាក់ពិត</div>"
)


def page(
    title: str,
    body: str,
    status: int = 200,
    lang: str = "en",
    *,
    request: Request | None = None,
    brand: str = "",
    sandbox: bool = False,
    scripts: Iterable[str] = (),
    form_to: Iterable[str] = (),
    wide: bool = False,
) -> HTMLResponse:
    """A whole page: ``brand`` is the top bar's left side (escaped HTML), ``request`` gives it a language switch,
    ``sandbox`` the banner that a simulated bank's page must always carry, ``form_to`` the URLs its forms may end
    on besides this site."""
    scripts = list(scripts)
    footer = "Tonle · បង់ប្រាក់ដោយសុវត្ថិភាព · Secure payment" if not sandbox else "Tonle sandbox"
    html_text = _LAYOUT.format(
        lang=e(lang),
        title=e(title),
        body_class="wide" if wide else "",
        banner=SANDBOX_BANNER if sandbox else "",
        brand=f'<div class="brand" id="brand">{brand}</div>',
        switch=lang_switch(request, lang) if request is not None else "",
        body=body,
        footer=e(footer),
        scripts="".join(f'<script src="{e(s)}"></script>' for s in scripts),
    )
    headers = {"Content-Security-Policy": _csp(bool(scripts), form_to), **_OTHER_HEADERS}
    return HTMLResponse(html_text, status_code=status, headers=headers)


def brand_html(name: str, logo: str | None = None) -> str:
    img = f'<img src="{e(logo)}" alt="">' if logo else ""
    return f"{img}<span>{e(name)}</span>"


BACK = {"km": "ត្រឡប់ក្រោយ", "en": "Back"}


def problem(
    title: str,
    text: str,
    status: int,
    lang: str,
    *,
    request: Request | None = None,
    other: tuple[str, str] | None = None,
    back: str = "",
    back_label: str = "",
    icon: str = "!",
    sandbox: bool = False,
    reason_id: str = "reason",
) -> HTMLResponse:
    """A page that explains why nothing can be done here, in the page's language and (``other``: title and text)
    in the other one, since whoever opens a broken link may read either; with the way back: ``back`` when there is
    a place to return to, else the browser's own Back."""
    if back:
        way_back = f'<a class="btn primary" id="return" href="{e(back)}">{e(back_label)}</a>'
    else:  # shown by pages.js only when there is a page to go back to
        way_back = f'<button class="btn" id="back" type="button" data-back hidden>{e(BACK[lang])}</button>'
    second = ""
    if other is not None:
        other_lang = "en" if lang == "km" else "km"
        second = (
            f'<p class="muted small" id="other-lang" lang="{other_lang}"><strong>{e(other[0])}</strong><br>'
            f"{e(other[1])}</p>"
        )
    body = (
        f'<section class="card center" id="problem"><div class="icon bad" aria-hidden="true">{e(icon)}</div>'
        f'<h1>{e(title)}</h1><p id="{reason_id}">{e(text)}</p>{second}<div class="actions">{way_back}</div></section>'
    )
    scripts = [] if back else ["/static/pages.js"]
    return page(title, body, status, lang, request=request, brand=brand_html("Tonle"), sandbox=sandbox, scripts=scripts)


def problem_of(
    texts: dict[str, dict[str, Any]], lang: str, title: str, text: str, status: int, **options: Any
) -> HTMLResponse:
    """``problem`` with its title and text (keys of a page's TEXT table) in the page's language and the other."""
    other = texts["en" if lang == "km" else "km"]
    t = texts[lang]
    return problem(t[title], t[text], status, lang, other=(other[title], other[text]), **options)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the first value of each field)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


router = APIRouter(tags=["Pages"], include_in_schema=False)


@router.get("/static/tonle.css")
async def stylesheet() -> Response:
    return FileResponse(STATIC / "tonle.css", media_type="text/css", headers={"Cache-Control": "no-cache"})


@router.get("/static/pages.js")
async def pages_script() -> Response:
    return FileResponse(STATIC / "pages.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def landing(request: Request) -> HTMLResponse:
    """``GET /``: where a person who opened the server's address can go (the API answers JSON elsewhere)."""
    lang = pick_lang(request, "en")
    km = lang == "km"
    links = [
        ("/docs", "API reference (OpenAPI)", "ឯកសារ API (OpenAPI)"),
        ("/openapi.json", "OpenAPI document (JSON)", "ឯកសារ OpenAPI (JSON)"),
        ("/healthz", "Health check", "ពិនិត្យសុខភាពម៉ាស៊ីនមេ"),
    ]
    items = "".join(
        f'<li class="bank-row"><a class="bank" href="{href}"><span>{e(kh if km else en)}</span>'
        '<span class="go" aria-hidden="true">›</span></a></li>'
        for href, en, kh in links
    )
    intro = (
        "Tonle និយាយ API របស់ Bill24 ។ ចង្អុល base URL របស់ client Bill24 មកទីនេះ។"
        if km
        else "Tonle speaks the Bill24 merchant APIs. Point a Bill24 client's base URL here."
    )
    sandbox = (
        "ទំព័រ checkout, ធនាគារសាកល្បង និង portal ត្រូវបានបើកពីតំណដែល API ផ្តល់ឱ្យ (payment_link, web_url, "
        "portal URL)។ សាកល្បងដោយ <code>tonle sandbox topup</code> និង <code>tonle sandbox pay</code>។ "
        'បង់វិក្កយបត្រដូចកម្មវិធីធនាគារ៖ <a href="/sandbox/bank/ABA/bills?lang=km">/sandbox/bank/ABA/bills</a> '
        "ឬ <code>tonle sandbox pay-bill</code>។"
        if km
        else "The checkout, sandbox bank and portal pages open from the links the API answers (payment_link, "
        "web_url, the portal URL). Try the sandbox with <code>tonle sandbox topup</code> and "
        "<code>tonle sandbox pay</code>. Pay a bill as a bank app does: "
        '<a href="/sandbox/bank/ABA/bills?lang=en">/sandbox/bank/ABA/bills</a> (ABA in the demo) or '
        "<code>tonle sandbox pay-bill</code>."
    )
    body = (
        f'<section class="card" id="home"><h1>Tonle</h1><p>{e(intro)}</p><ul class="banks">{items}</ul></section>'
        f'<section class="card"><h2>{"ប្រអប់សាកល្បង" if km else "Sandbox"}</h2><p>{sandbox}</p></section>'
    )
    return page("Tonle", body, lang=lang, request=request, brand=brand_html("Tonle"))
