"""The Hosted import benchmark: 10,000 invoices (each with a customer of its own and one line) POSTed to
`/billflow/v1/Bill24Operation/Invoice/Import` of a `tonle serve` (worker in process) on a fresh database, timed from
the request until the import's state is `done`; then the same file again (every row `unchanged`). Goal: ≤ 5 s.
Appends its figures to bench/RESULTS.md.

    .venv/bin/python bench/hosted_import.py                 # 10,000 rows, both databases
    .venv/bin/python bench/hosted_import.py --rows 2000 --db sqlite
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from tonle.wire import wirejson  # noqa: E402

TONLE = [sys.executable, "-m", "tonle.cli"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "tonle_import_bench"
IMPORT = "/billflow/v1/Bill24Operation/Invoice/Import"


def rows(n: int) -> list[dict]:
    return [
        {
            "refId": str(i),
            "refNumber": f"INV-{i:06d}",
            "date": "2026-11-01T02:41:55.350Z",
            "dueDate": "2026-12-30T06:50:55.350Z",
            "description": "Water, November",
            "currency": "USD",
            "totalAmount": Decimal("10.50"),
            "paidAmount": 0,
            "customer": {"code": f"C{i:06d}", "name": f"Customer {i}", "address": "Phnom Penh", "phone": "011345789"},
            "totalTax": 0,
            "details": [
                {
                    "itemName": "Water",
                    "quantity": 2,
                    "price": Decimal("5.25"),
                    "amount": Decimal("10.50"),
                    "taxAmount": 0,
                }
            ],
        }
        for i in range(n)
    ]


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-qc", sql], check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_import(c: httpx.Client, body: bytes) -> tuple[float, float, dict]:
    t0 = time.perf_counter()
    r = c.post(IMPORT, content=body, headers={"Content-Type": "application/json"})
    answered = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    import_id = r.json()["id"]
    while True:
        out = c.get(f"{IMPORT}/{import_id}", params={"limit": 1}).json()
        if out["state"] == "done":
            return answered, time.perf_counter() - t0, out
        if time.perf_counter() - t0 > 300:
            raise SystemExit(f"import {import_id} not done after 300 s: {out}")
        time.sleep(0.1)


@contextmanager
def serving(db: str, tmp: Path, pg_db: str = PG_DB) -> Iterator[str]:
    """A migrated, demo-seeded `tonle serve` (worker in process) on a fresh database; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "TONLE_DATA_DIR": str(tmp / db),
        "TONLE_PORT": str(port),
        "TONLE_ACCESS_LOG": "false",
    }
    if db == "postgres":
        psql(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{pg_db}"')
        env["TONLE_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_db}"
    subprocess.run([*TONLE, "migrate"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*TONLE, "seed", "fixtures/demo.json"], env=env, check=True, capture_output=True, cwd=ROOT)
    server = subprocess.Popen([*TONLE, "serve", "--no-migrate"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)
        if db == "postgres":
            psql(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')


def one(db: str, n: int, tmp: Path) -> dict[str, object]:
    body = wirejson.dumps(rows(n)).encode()
    with serving(db, tmp) as base:
        auth = httpx.post(
            base + "/merchantsecurity/authorize",
            json={"token": "3687203e-1cf4-43de-8a1c-c2192248132a", "clientId": "demo-client", "secret": "demo-secret"},
        ).json()["data"]["token"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {auth}"}, timeout=120) as c:
            answered, done, first = timed_import(c, body)
            answered2, done2, again = timed_import(c, body)
    assert first["created"] == n and again["unchanged"] == n, (first, again)
    return timings(db, n, len(body), (answered, done), (answered2, done2))


def timings(db: str, n: int, size: int, first: tuple[float, float], again: tuple[float, float]) -> dict[str, object]:
    """One database's figures: n items in a body of ``size`` bytes, (answered, done) of the first and second go."""
    return {
        "db": db,
        "n": n,
        "mb": round(size / 1e6, 1),
        "answered": round(first[0], 2),
        "done": round(first[1], 2),
        "answered_again": round(again[0], 2),
        "done_again": round(again[1], 2),
    }


def record(title: str, intro: str, header: str, results: list[dict[str, object]]) -> None:
    """Print a run's table and append it to bench/RESULTS.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"\n## {title}, {stamp}\n", intro + "\n", header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['db']} | {r['n']:,} | {r['mb']} | {r['answered']} | {r['done']} | ≤ 5 | "
            f"{r['answered_again']} | {r['done_again']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "bench" / "RESULTS.md").open("a") as f:
        f.write(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as t:
        results = [one(db, args.rows, Path(t)) for db in dbs]
    record(
        "Hosted invoice import",
        "`bench/hosted_import.py`: one POST of new invoices (a new customer and one line each) to a `tonle serve` "
        "with its worker in process, timed until the import's state is `done` (the request stores the rows and "
        "answers; the worker applies them in chunks of 1,000); then the same file again (every row `unchanged`).",
        "| database | rows | body, MB | answered, s | all applied, s | goal | again: answered, s | again: applied, s |",
        results,
    )


if __name__ == "__main__":
    main()
