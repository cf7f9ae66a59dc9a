"""The ``tonle`` command line."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tonle.config import get_settings

app = typer.Typer(help="Tonle: a payment gateway that speaks the Bill24 merchant APIs.", no_args_is_help=True)
merchant_app = typer.Typer(help="Manage merchants (billers).", no_args_is_help=True)
ledger_app = typer.Typer(help="Inspect the ledger.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
app.add_typer(ledger_app, name="ledger")
out = Console()
err = Console(stderr=True)


def _db():
    from tonle.db import Database

    return Database(get_settings().effective_database_url)


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
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    upgrade(get_settings().effective_database_url)

    async def run() -> fixtures.SeedReport:
        db = _db()
        try:
            async with db.sessions() as session, session.begin():
                return await fixtures.seed(session, fx)
        finally:
            await db.dispose()

    from sqlalchemy.exc import IntegrityError

    try:
        report = asyncio.run(run())
    except IntegrityError as exc:
        # E.g. a merchant_token or client id that another merchant in the database already has.
        err.print(f"[red]refused: the file conflicts with data already stored ({exc.orig}); nothing was written[/red]")
        raise typer.Exit(2) from None
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


def main() -> None:
    app(prog_name="tonle")


if __name__ == "__main__":
    sys.exit(main())
