"""Invoice files for ``tonle hosted import`` and scripts: JSON (the import endpoint's body, an array of invoices) or
CSV, one invoice per row, its columns named as the JSON's keys with ``customer.`` and ``line.`` prefixes:

    refNumber,refId,date,dueDate,description,currency,totalAmount,paidAmount,totalTax,exchangeRateKhr,
    totalAmountKhr,customer.code,customer.name,customer.address,customer.phone,customer.moc,customer.vat,
    customer.email,line.itemName,line.description,line.quantity,line.price,line.amount,line.taxAmount

Only ``refNumber``, ``date``, ``dueDate``, ``currency``, ``totalAmount``, ``customer.code`` and ``customer.name``
must be there. A row whose ``refNumber`` is the row above's adds a line to that invoice (its other cells are not
read). Empty cells are left out; numbers stay the text they are (read exactly, never as floats).

``import_file(db, settings, merchant_id, path)`` runs a whole import from a script, as the CLI does."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tonle.config import Settings
from tonle.db import Database
from tonle.hosted import imports
from tonle.hosted.models import InvoiceImport
from tonle.wire import wirejson

INVOICE_COLUMNS = (
    "refNumber",
    "refId",
    "date",
    "dueDate",
    "description",
    "currency",
    "totalAmount",
    "paidAmount",
    "totalTax",
    "exchangeRateKhr",
    "totalAmountKhr",
)
CUSTOMER_COLUMNS = ("code", "name", "address", "phone", "moc", "vat", "email")
LINE_COLUMNS = ("itemName", "description", "quantity", "price", "amount", "taxAmount")


class FileError(ValueError):
    """The file cannot be read as invoices at all (what is wrong with a row is that row's outcome instead)."""


def read_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    known = {*INVOICE_COLUMNS, *(f"customer.{c}" for c in CUSTOMER_COLUMNS), *(f"line.{c}" for c in LINE_COLUMNS)}
    unknown = [c for c in reader.fieldnames or () if c not in known]
    if not reader.fieldnames:
        raise FileError("the CSV file has no header row")
    if unknown:
        raise FileError(f"unknown CSV column(s): {', '.join(unknown)} (see `tonle hosted import --help`)")
    out: list[dict[str, Any]] = []
    for cells in reader:
        values = {k: v for k, v in cells.items() if k is not None and v not in (None, "")}
        line = {c: values[f"line.{c}"] for c in LINE_COLUMNS if f"line.{c}" in values}
        if out and values.get("refNumber") and values["refNumber"] == out[-1].get("refNumber"):
            if line:
                out[-1].setdefault("details", []).append(line)
            continue
        invoice: dict[str, Any] = {c: values[c] for c in INVOICE_COLUMNS if c in values}
        customer = {c: values[f"customer.{c}"] for c in CUSTOMER_COLUMNS if f"customer.{c}" in values}
        if customer:
            invoice["customer"] = customer
        if line:
            invoice["details"] = [line]
        out.append(invoice)
    return out


def read_file(path: Path) -> list[Any]:
    """The invoices of a .json or .csv file, as the import endpoint would receive them."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".csv":
        try:
            return read_csv(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise FileError("the CSV file is not UTF-8") from None
    try:
        body = wirejson.loads(raw)
    except wirejson.InvalidJSON as exc:
        raise FileError(f"{path.name} is not JSON: {exc}") from None
    if not isinstance(body, list):
        raise FileError("the JSON file must hold an array of invoices, as the import endpoint's body")
    return body


async def import_rows(
    db: Database,
    settings: Settings,
    merchant_id: str,
    rows: list[Any],
    progress: Callable[[int, int], None] | None = None,
) -> InvoiceImport:
    """Queue the rows as one import batch and apply it here, chunk by chunk (``progress(done, total)`` after
    each). If this process dies part-way, a worker finishes the batch: its rows are kept and leased like any.
    ``rows`` are as the endpoint receives them: numbers as ``int``, ``Decimal`` or text, never ``float``."""
    prefer_queue = settings.model_copy(update={"hosted_inline_rows": 0})
    try:
        async with db.sessions() as session, session.begin():
            batch = await imports.create(session, prefer_queue, merchant_id, rows)
            batch_id = batch.id
    except TypeError as exc:  # a float, or anything else JSON cannot say exactly: nothing was stored
        raise FileError(f"the rows cannot be stored as exact JSON: {exc}") from None
    await imports.run_batch(db, settings, batch_id, progress)
    async with db.sessions() as session:
        return await imports.get(session, merchant_id, batch_id)


async def import_file(
    db: Database,
    settings: Settings,
    merchant_id: str,
    path: Path,
    progress: Callable[[int, int], None] | None = None,
) -> InvoiceImport:
    return await import_rows(db, settings, merchant_id, read_file(path), progress)
