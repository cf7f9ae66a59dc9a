"""Server-rendered pages: one small layout, escaped values, strict security headers, urlencoded forms."""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse

SECURITY_HEADERS = {
    # Inline styles only; images from https (bank and merchant logos); forms post back to us; no framing.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_LAYOUT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,'Noto Sans Khmer',sans-serif;max-width:34rem;margin:2.5rem auto;padding:0 1rem;
color:#1b2b34}}.card{{border:1px solid #d5dde2;border-radius:12px;padding:1.5rem;margin-bottom:1rem}}
.amount{{font-size:2rem;font-weight:600}}.status{{display:inline-block;padding:.2rem .6rem;border-radius:1rem;
background:#fdecc8;color:#7a4b00}}.ok{{background:#d8f3dc;color:#1b5e20}}.bad{{background:#fde2e1;color:#8a1c1c}}
dt{{color:#5b6b74;font-size:.85rem}}dd{{margin:0 0 .8rem}}label{{display:block;margin:.6rem 0 .2rem}}
input,select{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}
button{{padding:.6rem 1.2rem;font-size:1rem;margin:.8rem .5rem 0 0;border-radius:8px;border:1px solid #8aa}}
button.primary{{background:#0b6e4f;color:#fff;border-color:#0b6e4f}}table{{width:100%;border-collapse:collapse}}
td,th{{text-align:left;padding:.3rem;border-bottom:1px solid #eef}}img.logo{{max-height:48px}}
.error{{color:#8a1c1c}}</style></head>
<body>{body}</body></html>"""

e = html.escape


# The checkout page also runs its own script (countdown, live status) and listens to its event stream.
SCRIPTED = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def page(title: str, body: str, status: int = 200, lang: str = "en", *, scripted: bool = False) -> HTMLResponse:
    return HTMLResponse(
        _LAYOUT.format(title=e(title), body=body, lang=e(lang)),
        status_code=status,
        headers=SCRIPTED if scripted else SECURITY_HEADERS,
    )


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


async def form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the first value of each field)."""
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
