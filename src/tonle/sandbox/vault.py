"""The sandbox card vault and acquirer. Tonle's card page posts the customer's card here (the number and CVC go to
the vault, never to Tonle's server code); the vault checks it, asks for a one-time code when the test card wants
one, keeps a token with the brand, last four digits and expiry, and sends the browser back to Tonle's page with the
token only. Charges are its own transactions, kept by Tonle's reference (asked again: the same outcome, charged
once).

Test cards (any future expiry, any 3-digit CVC; docs/payments.md):
4242 4242 4242 4242 Visa, approves · 5555 5555 5555 4444 Mastercard, approves ·
4000 0000 0000 9995 declines for insufficient funds · 4000 0000 0000 9979 declines as stolen ·
4000 0000 0000 0002 declines (generic) · 4000 0000 0000 3220 asks for a one-time code when it is added."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from tonle.banks.cards import Card
from tonle.banks.debits import Debited
from tonle.db import Database
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.methods import service as methods
from tonle.sandbox.bankcore import asked_once, unreversed
from tonle.sandbox.models import SandboxCard, SandboxCardCharge
from tonle.wire.http import Session
from tonle.wire.pages import brand_html, e, form, page, pick_lang, redirect

# What each test card does; any other number that passes the Luhn check approves.
TEST_CARDS = {
    "4242424242424242": "approve",
    "5555555555554444": "approve",
    "4000000000009995": "insufficient_funds",
    "4000000000009979": "stolen_card",
    "4000000000000002": "card_declined",
    "4000000000003220": "asks_code",
}
CODE_TRIES = 3


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("51", "52", "53", "54", "55") or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number.startswith("62"):
        return "unionpay"
    if 3528 <= int(number[:4]) <= 3589:
        return "jcb"
    return "card"


def parse_expiry(text: str) -> tuple[int, int] | None:
    """``MM/YY`` or ``MM/YYYY`` → (month, four-digit year)."""
    month, sep, year = text.strip().partition("/")
    if not sep or not month.strip().isdigit() or not year.strip().isdigit():
        return None
    m, y = int(month), int(year)
    if len(year.strip()) == 2:
        y += 2000
    if not 1 <= m <= 12 or not 2000 <= y <= 2099:
        return None
    return m, y


def expired(month: int, year: int, now: datetime) -> bool:
    return (year, month) < (now.year, now.month)


class SandboxVault:
    code = "CARDS"
    name = "Sandbox card acquirer"
    form_action = "/sandbox/vault/cards"

    async def card(self, db: Database, token: str) -> Card | None:
        async with db.sessions() as session:
            kept = await session.get(SandboxCard, token)
        if kept is None or kept.state != "active":
            return None
        return Card(kept.token, kept.brand, kept.last4, kept.exp_month, kept.exp_year, kept.link_ref)

    async def charge(self, db: Database, *, token: str, amount: int, currency: str, reference: str) -> Debited:
        async def decide(session: Any) -> Debited:
            card = await session.get(SandboxCard, token)
            if card is None or card.state != "active":
                return Debited(False, reason="card_declined")
            if expired(card.exp_month, card.exp_year, clock.now()):
                return Debited(False, reason="expired_card")
            if card.behaviour in ("insufficient_funds", "stolen_card", "card_declined"):
                return Debited(False, reason=card.behaviour)
            return Debited(True, bank_ref=f"CRD{secrets.token_hex(5).upper()}")

        def record(outcome: Debited) -> SandboxCardCharge:
            return SandboxCardCharge(
                reference=reference,
                card_token=token,
                amount=amount,
                currency=currency,
                ok=outcome.ok,
                reason=outcome.reason,
                bank_ref=outcome.bank_ref,
                at=clock.now(),
            )

        return await asked_once(db, SandboxCardCharge, reference, decide, record)

    async def reverse(self, db: Database, reference: str) -> None:
        async with db.sessions() as session, session.begin():
            kept = await session.get(SandboxCardCharge, reference, with_for_update=True)
            if kept is not None and kept.ok:
                kept.reversed = True

    async def unreversed(self, db: Database, prefix: str, since: datetime, before: datetime) -> list[str]:
        return await unreversed(db, SandboxCardCharge, prefix, since, before)


# ---------------------------------------------------------------- the vault's side of the card form

router = APIRouter(tags=["Pages"], include_in_schema=False)

TEXT = {
    "en": {
        "title": "Confirm your card",
        "sent": "Your card's bank sent a one-time code to your phone.",
        "sandbox_code": "Sandbox: the code is {code}",
        "code": "One-time code",
        "confirm": "Confirm",
        "wrong": "That code is not right. Try again.",
    },
    "km": {
        "title": "បញ្ជាក់កាតរបស់អ្នក",
        "sent": "ធនាគារនៃកាតរបស់អ្នកបានផ្ញើលេខកូដប្រើម្តងទៅទូរស័ព្ទរបស់អ្នក។",
        "sandbox_code": "សាកល្បង៖ លេខកូដគឺ {code}",
        "code": "លេខកូដប្រើម្តង",
        "confirm": "បញ្ជាក់",
        "wrong": "លេខកូដនេះមិនត្រឹមត្រូវទេ។ សូមព្យាយាមម្តងទៀត។",
    },
}


def _back(link_ref: str, lang: str, **query: str) -> Response:
    return redirect(f"/pay/methods/{link_ref}/card?{urlencode({**query, 'lang': lang})}")


async def _code_page(
    request: Request, session: Session, card: SandboxCard, code: str, lang: str, wrong: bool = False
) -> HTMLResponse:
    t = TEXT[lang]
    err = f'<p class="error" id="error" role="alert">{e(t["wrong"])}</p>' if wrong else ""
    body = (
        f'<section class="card"><h1>{e(t["title"])}</h1><p>{e(t["sent"])}</p>'
        f'<p class="notice ok" id="sandbox-code">{e(t["sandbox_code"].replace("{code}", code))}</p>{err}'
        f'<form method="post" action="/sandbox/vault/cards/{e(card.token)}/code?lang={lang}">'
        f'<label for="code">{e(t["code"])}</label>'
        '<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6">'
        f'<div class="actions"><button class="btn primary" id="confirm">{e(t["confirm"])}</button></div>'
        "</form></section>"
    )
    # The code's form ends, through Tonle's page, on the biller's site: the browser must be allowed to go there.
    back = ""
    try:
        back = methods.return_url(await methods.open_page(session, card.link_ref), "success")
    except methods.PageUnavailable:
        pass
    return page(
        t["title"],
        body,
        lang=lang,
        request=request,
        brand=brand_html("Card vault"),
        sandbox=True,
        form_to=[back] if back else [],
    )


@router.post("/sandbox/vault/cards")
async def add_card(request: Request, session: Session) -> Response:
    """The card form's target. A refusal goes back to Tonle's page with a reason (never with what was typed)."""
    lang = pick_lang(request, "km")
    fields = await form(request)
    link_ref = fields.get("link", "")
    if not link_ref.isalnum():
        return page("Card vault", '<p class="error" role="alert">Unknown card form.</p>', 400, lang, sandbox=True)
    number = "".join(ch for ch in fields.get("number", "") if not ch.isspace())
    cvc = fields.get("cvc", "").strip()
    exp = parse_expiry(fields.get("exp", ""))
    if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
        return _back(link_ref, lang, error="invalid_number")
    if exp is None:
        return _back(link_ref, lang, error="invalid_expiry")
    if expired(*exp, clock.now()):
        return _back(link_ref, lang, error="expired_card")
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        return _back(link_ref, lang, error="invalid_cvc")
    behaviour = TEST_CARDS.get(number, "approve")
    code = f"{secrets.randbelow(10**6):06d}"
    card = SandboxCard(
        token=f"card_{secrets.token_hex(12)}",
        brand=brand_of(number),
        last4=number[-4:],
        exp_month=exp[0],
        exp_year=exp[1],
        behaviour=behaviour,
        link_ref=link_ref,
        state="awaiting_code" if behaviour == "asks_code" else "active",
        code_digest=crypto.digest(code) if behaviour == "asks_code" else None,
    )
    session.add(card)
    await session.commit()
    if card.state == "awaiting_code":
        return await _code_page(request, session, card, code, lang)
    return _back(link_ref, lang, card_token=card.token)


@router.post("/sandbox/vault/cards/{token}/code")
async def confirm_code(token: str, request: Request, session: Session) -> Response:
    lang = pick_lang(request, "km")
    card = await session.get(SandboxCard, token, with_for_update=True)
    if card is None or card.state != "awaiting_code":
        return page("Card vault", '<p class="error" role="alert">Unknown card.</p>', 404, lang, sandbox=True)
    code = (await form(request)).get("code", "").strip()
    if code and card.code_digest and crypto.same(crypto.digest(code), card.code_digest):
        card.state, card.code_digest = "active", None
        await session.commit()
        return _back(card.link_ref, lang, card_token=card.token)
    card.code_tries += 1
    if card.code_tries >= CODE_TRIES or not code:
        card.state = "failed"
        await session.commit()
        return _back(card.link_ref, lang, error="authentication_failed")
    # A new code for the next try: the sandbox shows it, as the bank's text message would.
    fresh = f"{secrets.randbelow(10**6):06d}"
    card.code_digest = crypto.digest(fresh)
    await session.commit()
    return await _code_page(request, session, card, fresh, lang, wrong=True)
