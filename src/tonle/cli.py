"""The ``tonle`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from tonle.config import get_settings
from tonle.sandbox.client import DEMO, DEMO_BANK_TOKEN

app = typer.Typer(
    help="Tonle: a payment gateway that speaks the Bill24 merchant APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # main() turns every failure into one line
)
merchant_app = typer.Typer(help="Manage merchants (billers).", no_args_is_help=True)
ledger_app = typer.Typer(help="Inspect the ledger.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Drive the sandbox over HTTP, as an SDK and a bank would.", no_args_is_help=True)
payouts_app = typer.Typer(help="Sub-biller payouts.", no_args_is_help=True)
khqr_app = typer.Typer(help="KHQR codes: decode and encode EMVCo payloads.", no_args_is_help=True)
proxy_app = typer.Typer(help="Merchant Proxy: check a biller's proxy, see its health.", no_args_is_help=True)
hosted_app = typer.Typer(help="Bill24 Hosted: import the invoices Tonle keeps for a biller.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook deliveries: the log, resends, a local receiver.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
app.add_typer(ledger_app, name="ledger")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(payouts_app, name="payouts")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(proxy_app, name="proxy")
app.add_typer(hosted_app, name="hosted")
app.add_typer(khqr_app, name="khqr")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class CommandError(Exception):
    """A command's failure: one line on stderr and this exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` (plain text: a ``[amount]`` in it is not markup) in red on stderr; raise the result."""
    err.print(Text(message, style="red"), highlight=False)
    return typer.Exit(code)


def _unreachable(base: str, exc: Exception) -> typer.Exit:
    return fail(f"cannot reach Tonle at {base} ({type(exc).__name__}: {exc}); is `tonle serve` running?")


def _db():
    from tonle.db import Database, is_sqlite

    settings = get_settings()
    url = settings.effective_database_url
    if is_sqlite(url):
        return Database(url)
    return Database(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)


@app.command()
def migrate() -> None:
    """Upgrade the database schema to the newest revision."""
    from tonle.migrate import upgrade

    upgrade(get_settings().effective_database_url)
    out.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on (TONLE_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (TONLE_PORT)")] = None,
    workers: Annotated[int, typer.Option(help="API worker processes")] = 1,
    migrate_first: Annotated[bool, typer.Option("--migrate/--no-migrate", help="migrate before serving")] = True,
) -> None:
    """Migrate, then serve the API and pages."""
    import os

    import uvicorn

    from tonle.migrate import upgrade

    if host:
        os.environ["TONLE_HOST"] = host
    if port:
        os.environ["TONLE_PORT"] = str(port)
    settings = get_settings()
    if migrate_first:
        upgrade(settings.effective_database_url)
    settings.signing_key  # noqa: B018 (create the key file before workers race for it)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        "tonle.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,  # Tonle writes its own access log line, with the request id
        server_header=False,
        log_level="info",
    )


@app.command()
def seed(file: Annotated[Path, typer.Argument(help="fixture file (.json, .yaml or .yml)")]) -> None:
    """Load a sandbox fixture file: validated whole first, then upserted in one transaction."""
    from tonle.migrate import upgrade
    from tonle.sandbox import fixtures

    try:
        fx = fixtures.load_file(file)
    except fixtures.FixtureError as exc:
        raise fail(str(exc), 2) from None
    upgrade(get_settings().effective_database_url)

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    total = sum(len(m.customers) for m in fx.merchants)
    # A bar on a terminal (stderr, so stdout keeps the credentials only), for a file big enough to wait for.
    bar = Progress(
        TextColumn("seeding customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=total < 1000 or not err.is_terminal,
        transient=True,
    )
    task = bar.add_task("seed", total=total)

    async def run() -> fixtures.SeedReport:
        db = _db()
        try:
            async with db.sessions() as session, session.begin():
                return await fixtures.seed(session, fx, lambda done, _: bar.update(task, completed=done))
        finally:
            await db.dispose()

    from sqlalchemy.exc import IntegrityError

    try:
        with bar:
            report = asyncio.run(run())
    except IntegrityError as exc:
        # E.g. a merchant_token or client id that another merchant in the database already has.
        raise fail(
            f"refused: the file conflicts with data already stored ({exc.orig}); nothing was written", 2
        ) from None
    for m in report.merchants:
        out.print(f"merchant {m['name']}", highlight=False)
        for key in (
            "client_id",
            "merchant_token",
            "client_secret",
            "bill_hash_key",
            "referrer_key",
            "sdk_secret",
            "webhook_secret",
        ):
            out.print(f"  {key}: {m.get(key, '')}", highlight=False)
        if m.get("supplier_token"):  # the Supplier API's token header, when the merchant has one of its own
            out.print(f"  supplier_token: {m['supplier_token']}", highlight=False)
    for b in report.banks:
        out.print(f"bank {b['code']}\n  api_token: {b['api_token']}", highlight=False)
    out.print(f"{len(report.merchants)} merchant(s), {report.customers} customer(s), {report.entries} funding entries")


@merchant_app.command("create")
def merchant_create(name: Annotated[str, typer.Option(help="the biller's name")]) -> None:
    """Create a merchant and print its credentials. They are shown this once."""
    from tonle.merchants.service import create_merchant
    from tonle.migrate import upgrade

    upgrade(get_settings().effective_database_url)

    async def run():
        db = _db()
        try:
            async with db.sessions() as session, session.begin():
                return await create_merchant(session, name)
        finally:
            await db.dispose()

    merchant, creds = asyncio.run(run())
    out.print(f"merchant {merchant.name} ({merchant.id})", highlight=False)
    for key, value in vars(creds).items():
        out.print(f"  {key}: {value}", highlight=False)
    out.print("[yellow]Keep these now: the secrets are stored hashed and cannot be shown again.[/yellow]")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check every ledger invariant; exit 1 with a report when one fails."""
    from tonle.ledger.verify import verify

    async def run():
        db = _db()
        try:
            async with db.sessions() as session:
                return await verify(session)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    out.print(f"{report.entries} entries, {report.postings} postings, {report.accounts} accounts")
    if report.ok:
        out.print("[green]ledger OK[/green]")
        return
    for name, row in report.problems:
        out.print(f"[red]FAIL[/red] {name}: {row}")
    raise typer.Exit(1)


def _base_url(given: str | None) -> str:
    if given:
        return given.rstrip("/")
    s = get_settings()
    return s.public_url.rstrip("/") if s.public_url else f"http://{s.host}:{s.port}"


# The demo sandbox's credentials (fixtures/demo.json) are the defaults; the environment or flags override them.
def _opt(env: str, help_: str) -> object:
    return typer.Option(envvar=env, help=help_)


@sandbox_app.command("topup")
def sandbox_topup(
    sync_code: Annotated[str, typer.Argument(help="the customer's sync code")],
    amount: Annotated[str, typer.Argument(help="amount in the currency's major unit, e.g. 12000 or 5.50")],
    currency: Annotated[str, typer.Argument(help="KHR or USD: the wallet to top up")],
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
    merchant_token: Annotated[str, _opt("TONLE_SANDBOX_MERCHANT_TOKEN", "merchant token")] = DEMO.merchant_token,
    client_id: Annotated[str, _opt("TONLE_SANDBOX_CLIENT_ID", "client id")] = DEMO.client_id,
    client_secret: Annotated[str, _opt("TONLE_SANDBOX_CLIENT_SECRET", "client secret")] = DEMO.client_secret,
    referrer_key: Annotated[str, _opt("TONLE_SANDBOX_REFERRER_KEY", "referrer key")] = DEMO.referrer_key,
    sdk_secret: Annotated[str, _opt("TONLE_SANDBOX_SDK_SECRET", "SDK shared secret")] = DEMO.sdk_secret,
) -> None:
    """Open a wallet top-up through the encrypted SDK endpoint; prints its tran_id for `tonle sandbox pay`."""
    from decimal import Decimal, InvalidOperation

    import httpx

    from tonle.sandbox import client

    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise fail(f"not an amount: {amount}", 2) from None
    creds = client.MerchantCreds(merchant_token, client_id, client_secret, referrer_key, sdk_secret)
    base = _base_url(base_url)
    try:
        answer = client.topup(base, creds, sync_code, value, currency)
    except client.SandboxError as exc:
        raise fail(f"top-up refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    out.print(f"tran_id: {answer['tran_id']}", highlight=False)
    out.print(f"  {answer['amount']} {answer['currency']} pending until {answer['expire_date']}", highlight=False)


@sandbox_app.command("pay")
def sandbox_pay(
    tran_id: Annotated[str, typer.Argument(help="the transaction to pay")],
    bank: Annotated[str, typer.Option(help="the paying bank's code (informational; the token names the bank)")] = "ABA",
    bank_token: Annotated[str, _opt("TONLE_SANDBOX_BANK_TOKEN", "the bank's API token")] = DEMO_BANK_TOKEN,
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
) -> None:
    """Pay a transaction as a bank does: inquiry, then confirm, over HTTP."""
    import httpx

    from tonle.sandbox import client

    base = _base_url(base_url)
    try:
        answer = client.pay(base, bank_token, tran_id)
    except client.SandboxError as exc:
        raise fail(f"payment refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    paid = f"{answer['total_amount']} {answer['currency']}"
    out.print(f"paid {answer['tran_id']} via {bank}: {paid}, bank_ref {answer['bank_ref']}", highlight=False)


@sandbox_app.command("subscribe")
def sandbox_subscribe(
    subscription_no: Annotated[str, typer.Argument(help="the subscription number init answered")],
    bank: Annotated[str, typer.Option(help="the sandbox bank to consent at")] = "ABA",
    account: Annotated[str, typer.Option(help="the account number at that bank (fixture accounts)")] = "",
    decline: Annotated[bool, typer.Option("--decline", help="decline instead of approving")] = False,
    referrer_key: Annotated[str, _opt("TONLE_SANDBOX_REFERRER_KEY", "referrer key")] = DEMO.referrer_key,
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
) -> None:
    """Consent to a direct debit as the customer would: the subscription page, the bank's consent page, over HTTP."""
    import httpx

    from tonle.sandbox import client

    if not decline and not account:
        raise fail("give --account (or --decline)", 2)
    base = _base_url(base_url)
    try:
        done = client.subscribe(base, referrer_key, subscription_no, bank, account, decline=decline)
    except client.SandboxError as exc:
        raise fail(f"subscription refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    back = f", back to {done['returned_to']}" if done["returned_to"] else ""
    out.print(f"subscription {subscription_no}: {done['outcome']} at {bank}{back}", highlight=False)


@sandbox_app.command("add-card")
def sandbox_add_card(
    sync_code: Annotated[str, typer.Argument(help="the customer's sync code")],
    number: Annotated[str, typer.Option(help="a test card number (docs/payments.md), e.g. 4242424242424242")],
    exp: Annotated[str | None, typer.Option(help="expiry MM/YY (default: December, three years on)")] = None,
    cvc: Annotated[str, typer.Option(help="security code")] = "123",
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
    merchant_token: Annotated[str, _opt("TONLE_SANDBOX_MERCHANT_TOKEN", "merchant token")] = DEMO.merchant_token,
    referrer_key: Annotated[str, _opt("TONLE_SANDBOX_REFERRER_KEY", "referrer key")] = DEMO.referrer_key,
    sdk_secret: Annotated[str, _opt("TONLE_SANDBOX_SDK_SECRET", "SDK shared secret")] = DEMO.sdk_secret,
) -> None:
    """Put a card on file as the customer would: the link page, the card vault (and its one-time code), over HTTP."""
    import datetime as dt

    import httpx

    from tonle.sandbox import client

    expiry = exp or f"12/{(dt.date.today().year + 3) % 100:02d}"
    creds = client.MerchantCreds(merchant_token, "", "", referrer_key, sdk_secret)
    base = _base_url(base_url)
    try:
        done = client.add_card(base, creds, sync_code, number, expiry, cvc)
    except client.SandboxError as exc:
        raise fail(f"card not added: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    out.print(f"card ****{number.replace(' ', '')[-4:]} of {sync_code}: {done['outcome']}", highlight=False)


@sandbox_app.command("add-account")
def sandbox_add_account(
    sync_code: Annotated[str, typer.Argument(help="the customer's sync code")],
    bank: Annotated[str, typer.Option(help="the sandbox bank that holds the account")],
    account: Annotated[str, typer.Option(help="the account number at that bank (fixture accounts)")],
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
    merchant_token: Annotated[str, _opt("TONLE_SANDBOX_MERCHANT_TOKEN", "merchant token")] = DEMO.merchant_token,
    referrer_key: Annotated[str, _opt("TONLE_SANDBOX_REFERRER_KEY", "referrer key")] = DEMO.referrer_key,
    sdk_secret: Annotated[str, _opt("TONLE_SANDBOX_SDK_SECRET", "SDK shared secret")] = DEMO.sdk_secret,
) -> None:
    """Put a bank account on file as the customer would: the link page, the bank's page and its one-time code."""
    import httpx

    from tonle.sandbox import client

    creds = client.MerchantCreds(merchant_token, "", "", referrer_key, sdk_secret)
    base = _base_url(base_url)
    try:
        done = client.add_account(base, creds, sync_code, bank, account)
    except client.SandboxError as exc:
        raise fail(f"account not added: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    out.print(f"account {account} at {bank} of {sync_code}: {done['outcome']}", highlight=False)


@sandbox_app.command("clock")
def sandbox_clock(
    action: Annotated[str, typer.Argument(help="show | advance | reset")],
    duration: Annotated[str, typer.Argument(help="for advance: 30d, 12h, 1d6h, 90m, 45s")] = "0s",
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
) -> None:
    """The sandbox clock every process of the server reads: advancing it runs what falls due on the way, in order."""
    import httpx

    from tonle.kit.clock import parse_duration
    from tonle.sandbox import client

    if action not in ("show", "advance", "reset"):
        raise fail("the action is show, advance or reset", 2)
    try:
        parse_duration(duration)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    base = _base_url(base_url)
    try:
        got = client.clock(base, action, duration)
    except client.SandboxError as exc:
        raise fail(f"clock refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    ahead = float(got["offset_seconds"])
    out.print(f"sandbox clock: {got['now']} ({ahead / 86400:.2f} days ahead of real time)", highlight=False)
    if action == "advance":
        out.print(f"  stopped {got['stops']} times on the way; work done: {got['work']}", highlight=False)


@sandbox_app.command("payout")
def sandbox_payout(
    payout_id: Annotated[str, typer.Argument(help="a pending payout")],
    failed: Annotated[
        bool, typer.Option("--fail", help="report it failed (the money returns to the sub-biller)")
    ] = False,
    reason: Annotated[str, typer.Option(help="why it failed")] = "rejected by the sandbox bank",
    bank_token: Annotated[str, _opt("TONLE_SANDBOX_BANK_TOKEN", "the bank's API token")] = DEMO_BANK_TOKEN,
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
) -> None:
    """Complete a pending payout as its bank (with TONLE_SANDBOX_PAYOUT_MODE=manual), over HTTP."""
    import httpx

    from tonle.sandbox import client

    base = _base_url(base_url)
    try:
        answer = client.payout_result(base, bank_token, payout_id, paid=not failed, reason=reason)
    except client.SandboxError as exc:
        raise fail(f"refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    out.print(
        f"payout {answer['payout_id']}: {answer['status']} ({answer['amount']} {answer['currency']})", highlight=False
    )


@sandbox_app.command("pay-bill")
def sandbox_pay_bill(
    biller_code: Annotated[str, typer.Argument(help="the biller code a customer picks in a bank app")],
    consumer_code: Annotated[str, typer.Argument(help="what the customer types: consumer code or invoice number")],
    bank: Annotated[str, typer.Option(help="the paying bank's code (informational; the token names the bank)")] = "ABA",
    amount: Annotated[str | None, typer.Option(help="pay this much instead of the amount due")] = None,
    bank_ref: Annotated[
        str | None, typer.Option(help="the bank's reference of the payment (default: a new one)")
    ] = None,
    bank_token: Annotated[str, _opt("TONLE_SANDBOX_BANK_TOKEN", "the bank's API token")] = DEMO_BANK_TOKEN,
    base_url: Annotated[str | None, typer.Option(help="Tonle's URL (default: TONLE_PUBLIC_URL or host:port)")] = None,
) -> None:
    """Look a bill up and pay it as a bank app does (inquiry/single, then confirm), over HTTP."""
    from decimal import Decimal, InvalidOperation

    import httpx

    from tonle.sandbox import client

    try:
        value = Decimal(amount) if amount is not None else None
    except InvalidOperation:
        raise fail(f"not an amount: {amount}", 2) from None
    base = _base_url(base_url)
    try:
        answer = client.pay_bill(base, bank_token, biller_code, consumer_code, value, bank_ref)
    except client.SandboxError as exc:
        raise fail(f"bill payment refused: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise _unreachable(base, exc) from None
    found, paid = answer["lookup"], answer["paid"]
    who = found["customer"]
    out.print(
        f"{found['supplier']['supplier_name']}: {who['customer_code']} {who['customer_name']}, "
        f"due {who['bill_amount']} {who['currency']}",
        highlight=False,
        markup=False,
    )
    extra = f" ({paid['overpaid_amount']} over the amount due)" if paid.get("overpaid_amount") else ""
    out.print(
        f"paid {paid['total_amount']} {paid['currency']} via {bank}{extra}: tran_id {paid['tran_id']}, "
        f"bank_ref {paid['bank_ref']}",
        highlight=False,
        markup=False,
    )


@sandbox_app.command("biller")
def sandbox_biller(
    fixture: Annotated[Path, typer.Option(help="the biller's consumers (JSON; see docs/merchant-proxy.md)")],
    port: Annotated[int, typer.Option(help="port to listen on")] = 9100,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """A fake biller: the proxy look-up, pending bills and a webhook receiver, answered from FILE."""
    import uvicorn

    from tonle.sandbox import biller

    try:
        spec = biller.load(fixture)
    except (OSError, ValueError) as exc:
        raise fail(f"{fixture}: {_one_line(exc)}", 2) from None
    out.print(
        f"fake biller on http://{host}:{port}: POST /proxy, /pending_bills, /webhook; GET /webhooks "
        f"({len(spec.get('consumers', []))} consumers)",
        highlight=False,
    )
    uvicorn.run(biller.create_app(spec), host=host, port=port, log_level="warning")


@proxy_app.command("check")
def proxy_check(
    url: Annotated[str, typer.Argument(help="the proxy's URL, e.g. https://biller.example/proxy")],
    consumer: Annotated[str | None, typer.Option(help="a consumer code your proxy knows (checks its bill)")] = None,
    token: Annotated[str, typer.Option(envvar="TONLE_PROXY_TOKEN", help="the token: header to send")] = "",
    limit: Annotated[float, typer.Option(help="the time limit, in seconds, as Tonle applies it")] = 5.0,
) -> None:
    """Run the Merchant Proxy contract against a proxy, check by check; exits 1 if any check fails."""
    from rich.markup import escape

    from tonle.proxy import check

    results = asyncio.run(check.run(url, consumer=consumer, token=token, limit_seconds=limit))
    for r in results:
        mark = "[green]PASS[/green]" if r.ok else ("[yellow]SKIP[/yellow]" if r.ok is None else "[red]FAIL[/red]")
        out.print(f"{mark} " + escape(r.name + (f": {r.detail}" if r.detail else "")), highlight=False)
    failed = sum(r.ok is False for r in results)
    out.print(f"{failed} of {len(results)} checks failed" if failed else "all checks passed")
    if failed:
        raise typer.Exit(1)


@hosted_app.command("import")
def hosted_import(
    file: Annotated[Path, typer.Argument(help="invoices: .json (the import endpoint's body) or .csv")],
    client_id: Annotated[str, typer.Option("--client-id", help="the biller's client id")],
    rejected: Annotated[
        Path | None, typer.Option(help="where to write the rejected rows (default: FILE.rejected.json)")
    ] = None,
) -> None:
    """Import invoices for a biller, straight into the database, as one import batch (the same rules and
    per-row outcomes as the import endpoint). CSV columns: refNumber, refId, date, dueDate, description,
    currency, totalAmount, paidAmount, totalTax, exchangeRateKhr, totalAmountKhr, customer.code, customer.name,
    customer.address, customer.phone, customer.moc, customer.vat, customer.email, and one line's line.itemName,
    line.description, line.quantity, line.price, line.amount, line.taxAmount (a row with the refNumber of the
    row above adds a line to it). Exits 1 if any row was rejected, 2 if the file cannot be read."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from sqlalchemy import select

    from tonle.hosted import files, imports, service
    from tonle.merchants.models import Merchant
    from tonle.migrate import upgrade
    from tonle.wire import wirejson

    try:
        rows = files.read_file(file)
        imports.check_body(rows)
    except files.FileError as exc:
        raise fail(str(exc), 2) from None
    except service.NotAList as exc:
        raise fail(f"row {exc.facts['index']} is not an invoice object", 2) from None
    except service.TooManyRows as exc:
        raise fail(
            f"{exc.facts['rows']} invoices: one import takes at most {exc.facts['limit']}; split the file", 2
        ) from None
    settings = get_settings()
    upgrade(settings.effective_database_url)
    bar = Progress(
        TextColumn("importing invoices"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    task = bar.add_task("import", total=len(rows))

    async def run():
        db = _db()
        try:
            async with db.sessions() as session:
                merchant = (
                    await session.execute(select(Merchant).where(Merchant.client_id == client_id))
                ).scalar_one_or_none()
            if merchant is None:
                return None, []
            batch = await files.import_rows(
                db, settings, merchant.id, rows, lambda done, total: bar.update(task, completed=done)
            )
            async with db.sessions() as session:
                refused = await imports.rows_of(session, batch, outcome="rejected")
            return batch, refused
        finally:
            await db.dispose()

    with bar:
        batch, refused = asyncio.run(run())
    if batch is None:
        raise fail(f"no merchant has client id {client_id!r}", 2)
    table = Table(title=f"import {batch.id}: {batch.total_record} rows")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for name in ("created", "updated", "unchanged", "rejected"):
        table.add_row(name, str(getattr(batch, name)))
    out.print(table)
    if refused:
        target = rejected or file.with_name(file.name + ".rejected.json")
        body = [
            {"index": r.position, "reason": r.reason, "reason_kh": r.reason_kh, "row": wirejson.loads(r.payload)}
            for r in refused
        ]
        target.write_text(wirejson.dumps(body))
        for r in refused[:5]:
            out.print(escape(r.reason), highlight=False)
        if len(refused) > 5:
            out.print(f"... and {len(refused) - 5} more")
        out.print(f"rejected rows written to {escape(str(target))}", highlight=False)
        raise typer.Exit(1)


@proxy_app.command("health")
def proxy_health(
    client_id: Annotated[str | None, typer.Option(help="only this merchant")] = None,
    hours: Annotated[int, typer.Option(help="the window, in hours")] = 24,
) -> None:
    """Each proxy biller's calls over the window: p50/p99 latency, error rate, last error."""
    from sqlalchemy import select

    from tonle.merchants.models import Merchant
    from tonle.proxy import service

    async def run():
        db = _db()
        try:
            async with db.sessions() as session:
                q = select(Merchant).where(Merchant.bill_source == "proxy")
                if client_id:
                    q = q.where(Merchant.client_id == client_id)
                rows = []
                for m in (await session.execute(q.order_by(Merchant.name))).scalars():
                    rows.append((m, await service.health(session, m.id, hours=hours)))
                return rows
        finally:
            await db.dispose()

    rows = asyncio.run(run())
    if not rows:
        out.print("no proxy billers")
    for m, h in rows:
        out.print(
            f"{m.name} ({m.client_id}, biller code {m.biller_code}): {m.proxy_url}", highlight=False, markup=False
        )
        for kind in ("proxy", "pending_bills"):
            k = h[kind]
            if not k["calls"]:
                out.print(f"  {kind}: no calls in {hours} h", highlight=False, markup=False)
                continue
            out.print(
                f"  {kind}: {k['calls']} calls, p50 {k['p50_ms']} ms, p99 {k['p99_ms']} ms, "
                f"errors {k['error_rate']:.1%}",
                highlight=False,
                markup=False,
            )
            if k["last_error"]:
                e = k["last_error"]
                out.print(
                    f"    last error {e['at']:%Y-%m-%d %H:%M:%S}: {e['error']} (request {e['request_id']})",
                    highlight=False,
                    markup=False,
                )


@payouts_app.command("run")
def payouts_run(
    min_khr: Annotated[str, typer.Option(help="pay out KHR balances of at least this much")] = "10000",
    min_usd: Annotated[str, typer.Option(help="pay out USD balances of at least this much")] = "5",
) -> None:
    """Pay out every sub-biller balance at or above the threshold to its default linked account in that currency
    (what a nightly job runs). Each payout is its own transaction; balances without an active account are skipped."""
    from tonle.kit.money import AmountError, to_minor
    from tonle.subbillers.tasks import run_payouts

    try:
        minimum = {"KHR": to_minor(min_khr, "KHR"), "USD": to_minor(min_usd, "USD")}
    except AmountError as exc:
        raise fail(f"bad threshold: {exc}", 2) from None

    async def run():
        db = _db()
        try:
            return await run_payouts(db, get_settings(), minimum)
        finally:
            await db.dispose()

    report = asyncio.run(run())
    for line in report.lines:
        out.print(line, highlight=False)
    out.print(f"{report.paid} payout(s) made, {report.skipped} balance(s) skipped", highlight=False)


@app.command()
def worker() -> None:
    """Deliver webhooks and notifications until stopped (several workers may share one PostgreSQL)."""
    import signal

    from tonle.worker import run_forever

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        db = _db()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await run_forever(db, settings, stop, follow_clock=True)
        finally:
            await db.dispose()

    asyncio.run(run())


@webhooks_app.command("list")
def webhooks_list(
    client_id: Annotated[str | None, typer.Option(help="only this merchant's events")] = None,
    status: Annotated[str | None, typer.Option(help="pending, delivered, failed, no_endpoint, info")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 20,
) -> None:
    """The delivery log, newest first."""
    from sqlalchemy import select

    from tonle.merchants.models import Merchant
    from tonle.webhooks.models import OutboxEvent

    async def run():
        db = _db()
        try:
            async with db.sessions() as session:
                q = select(OutboxEvent, Merchant.client_id).join(Merchant, Merchant.id == OutboxEvent.merchant_id)
                if client_id:
                    q = q.where(Merchant.client_id == client_id)
                if status:
                    q = q.where(OutboxEvent.status == status)
                q = q.order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(limit)
                return (await session.execute(q)).all()
        finally:
            await db.dispose()

    for event, cid in asyncio.run(run()):
        code = event.last_status_code if event.last_status_code is not None else "-"
        out.print(
            f"{event.id}  {event.created_at:%Y-%m-%d %H:%M:%S}  {cid}  {event.type}  {event.status}  "
            f"attempts={event.attempts}  last={code}",
            highlight=False,
        )


@webhooks_app.command("resend")
def webhooks_resend(event_id: Annotated[str, typer.Argument(help="the event to send again")]) -> None:
    """Queue one event again, as a new series of attempts."""
    from tonle.merchants.models import Merchant
    from tonle.webhooks import service
    from tonle.webhooks.models import OutboxEvent

    async def run() -> int:
        db = _db()
        try:
            async with db.sessions() as session, session.begin():
                event = await session.get(OutboxEvent, event_id)
                if event is None:
                    return -1
                merchant = await session.get(Merchant, event.merchant_id)
                assert merchant is not None
                return await service.resend(session, merchant, [event])
        finally:
            await db.dispose()

    count = asyncio.run(run())
    if count < 0:
        raise fail(f"no event {event_id}")
    out.print(f"{event_id}: {'queued again' if count else 'not resendable (an info line)'}", highlight=False)


@webhooks_app.command("listen")
def webhooks_listen(
    port: Annotated[int, typer.Option(help="port to listen on (loopback)")] = 9000,
    secret: Annotated[
        str | None, typer.Option(envvar="TONLE_LISTEN_SECRET", help="whsec_... to verify signatures")
    ] = None,
    failing: Annotated[bool, typer.Option("--fail", help="answer HTTP 500, to watch the retries")] = False,
) -> None:
    """A local webhook receiver: prints every delivery and whether its signature verifies (a bad signature is
    answered HTTP 400 with the reason)."""
    from tonle.webhooks.listen import serve_forever

    serve_forever(port, secret, fail=failing, echo=lambda line: out.print(line, highlight=False, markup=False))


@khqr_app.command("decode")
def khqr_decode(payload: Annotated[str, typer.Argument(help="the KHQR string")]) -> None:
    """Check a KHQR string (lengths, order, CRC, rules) and print its fields; exit 1 with the problems when bad."""
    from dataclasses import asdict

    from tonle.khqr.codec import KHQRError, decode, md5

    try:
        data = decode(payload)
    except KHQRError as exc:
        raise fail("; ".join(exc.problems)) from None
    for key, value in asdict(data).items():
        if value not in (None, {}, ""):
            out.print(f"{key}: {value}", highlight=False)
    out.print(f"md5: {md5(payload)}", highlight=False)


@khqr_app.command("encode")
def khqr_encode(
    account: Annotated[str, typer.Option(help="Bakong account id, name@bank")],
    name: Annotated[str, typer.Option(help="merchant name (25 characters at most)")],
    currency: Annotated[str, typer.Option(help="KHR or USD")] = "KHR",
    amount: Annotated[str | None, typer.Option(help="amount; none makes a static QR")] = None,
    merchant_id: Annotated[str | None, typer.Option(help="a merchant QR (tag 30): the merchant id")] = None,
    bank: Annotated[str | None, typer.Option(help="acquiring bank")] = None,
    city: Annotated[str, typer.Option(help="merchant city")] = "Phnom Penh",
    bill: Annotated[str | None, typer.Option(help="bill number")] = None,
    store: Annotated[str | None, typer.Option(help="store label")] = None,
    terminal: Annotated[str | None, typer.Option(help="terminal label")] = None,
    expires_in: Annotated[int, typer.Option(help="seconds until a dynamic QR expires")] = 600,
    show_md5: Annotated[bool, typer.Option("--md5", help="also print the code's MD5 (on stderr)")] = False,
) -> None:
    """Make a KHQR string (merchant QR with --merchant-id and --bank, else individual)."""
    import time
    from decimal import Decimal, InvalidOperation

    from tonle.khqr.codec import KHQR, KHQRError, encode, md5

    try:
        value = Decimal(amount) if amount else None
    except InvalidOperation:
        raise fail(f"not an amount: {amount}", 2) from None
    now = int(time.time() * 1000)
    data = KHQR(
        kind="merchant" if merchant_id else "individual",
        bakong_account_id=account,
        merchant_name=name,
        currency=currency.upper(),
        amount=value,
        merchant_id=merchant_id,
        acquiring_bank=bank,
        merchant_city=city,
        bill_number=bill,
        store_label=store,
        terminal_label=terminal,
        created_ms=now if value else None,
        expires_ms=now + expires_in * 1000 if value else None,
    )
    try:
        payload = encode(data)
    except KHQRError as exc:
        raise fail("; ".join(exc.problems)) from None
    # stdout carries the code alone, so that `tonle khqr decode "$(tonle khqr encode ...)"` works.
    print(payload)
    if show_md5:
        err.print(f"md5: {md5(payload)}", highlight=False)


def _plain_help() -> None:
    """Help as people expect it: arguments in capitals (``FILE``) rather than ``{file}``, and no ``<bool>`` on
    flags, which take no value."""
    from typer import core

    def usage_name(self: core.TyperArgument) -> str:
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name

    def argument_type(self: core.TyperArgument, ctx: object) -> str | None:
        return None

    original = core.TyperOption.display_type_rich

    def option_type(self: core.TyperOption, ctx: object) -> str | None:
        if self.is_flag or self.count:
            return None
        shown = original(self, ctx)
        if not shown:
            return shown
        kind = shown.strip("<>").upper()
        return {"STR": "TEXT", "INT": "INTEGER"}.get(kind, kind)

    def rich_name(self: core.TyperArgument) -> str:
        return (self.metavar or self.name or "").upper()

    core.TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]
    core.TyperArgument._rich_display_name = rich_name  # type: ignore[method-assign]
    core.TyperOption.display_type_rich = option_type  # type: ignore[method-assign]


def _one_line(exc: BaseException) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        problems = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e.get("loc", ())) or "settings"
            given = e.get("input")
            shown = f" (got {given!r})" if isinstance(given, str | int) else ""
            problems.append(f"TONLE_{field.upper()}: {e.get('msg')}{shown}")
        return "bad setting: " + "; ".join(problems)
    from tonle.db import database_unavailable

    if database_unavailable(exc):
        return f"cannot reach the database ({type(exc).__name__}: {exc}); check TONLE_DATABASE_URL"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def main() -> None:
    import os

    _plain_help()
    try:
        app(prog_name="tonle")
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        if os.environ.get("TONLE_DEBUG") == "1":
            raise
        err.print(Text(f"error: {_one_line(exc)}", style="red"), highlight=False)
        err.print("(TONLE_DEBUG=1 shows the traceback)", style="dim", highlight=False)
        raise SystemExit(1) from None


if __name__ == "__main__":
    sys.exit(main())
