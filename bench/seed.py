"""The seed benchmark: `tonle seed` of N new customers (two funded wallets each) on SQLite and PostgreSQL, the
ledger verified after each load. Appends its figures to bench/RESULTS.md.

    .venv/bin/python bench/seed.py                  # 20,000 customers, both databases
    .venv/bin/python bench/seed.py --customers 2000 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TONLE = [sys.executable, "-m", "tonle.cli"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "tonle_seed_bench"


def fixture(n: int, path: Path) -> None:
    demo = json.loads((ROOT / "fixtures" / "demo.json").read_text())
    merchant = demo["merchants"][0]
    merchant["customers"] = [
        {
            "sync_code": f"S{i:07d}",
            "name": f"Customer {i}",
            "phone": f"0{12000000 + i}",
            "wallets": [
                {"name": "Riel wallet", "currency": "KHR", "balance": "100000"},
                {"name": "Dollar wallet", "currency": "USD", "balance": "25.50"},
            ],
        }
        for i in range(n)
    ]
    path.write_text(json.dumps(demo))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*TONLE, *args], env=env, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if proc.returncode:
        raise SystemExit(f"tonle {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-qc", sql], check=True, capture_output=True)


def one(db: str, n: int, tmp: Path, data: Path) -> dict[str, object]:
    env = {**os.environ, "TONLE_DATA_DIR": str(tmp / db)}
    if db == "postgres":
        psql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{PG_DB}"')
        env["TONLE_DATABASE_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DB}"
    try:
        run(env, "migrate")
        t0 = time.perf_counter()
        out = run(env, "seed", str(data)).stdout
        seconds = time.perf_counter() - t0
        # The same file again: every customer is known, nothing changes (what `make run` does at each start).
        t0 = time.perf_counter()
        run(env, "seed", str(data))
        again = time.perf_counter() - t0
        verify = run(env, "ledger", "verify").stdout
    finally:
        if db == "postgres":
            psql(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    assert "ledger OK" in verify, verify
    return {
        "db": db,
        "customers": n,
        "seconds": round(seconds, 2),
        "again": round(again, 2),
        "summary": out.strip().splitlines()[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=20000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        data = tmp / "seed.json"
        fixture(args.customers, data)
        results = [one(db, args.customers, tmp, data) for db in dbs]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Seed, {stamp}\n",
        "`bench/seed.py`: `tonle seed` of new customers with two funded wallets each (one funding entry per wallet), "
        "the whole command timed (process start, migrations check, load, commit); then the same file again (every "
        "customer known, nothing to change); then `tonle ledger verify`.\n",
        "| database | customers | first load, s | goal | the same file again, s | loaded |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r['db']} | {r['customers']:,} | {r['seconds']} | ≤ 20 | {r['again']} | {r['summary']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with (ROOT / "bench" / "RESULTS.md").open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
