"""The Supplier API benchmark: 10,000 bills (each for a customer never pushed, so the bill creates it, with one
line) pushed in one `POST /bill/push` to a `tonle serve` (worker in process) on a fresh database, timed from the
request until the queue is `ready`; then the same push again (every record `unchanged`). Goal: ≤ 5 s.
Appends its figures to bench/RESULTS.md.

    .venv/bin/python bench/supplier_push.py                 # 10,000 bills, both databases
    .venv/bin/python bench/supplier_push.py --bills 2000 --db sqlite
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
from hosted_import import record, serving, timings  # noqa: E402

from tonle.wire import wirejson  # noqa: E402

PG_DB = "tonle_supplier_bench"
TOKEN = "6f1c2a9e4b7d4e0f8a3c5b2d1e9f7a60"  # the demo biller's supplier_token (fixtures/demo.json)


def bills(n: int) -> dict:
    return {
        "data": [
            {
                "sync_code": f"B-{i:06d}",
                "bill_date": "2026-11-20 10:46:33",
                "due_date": "2026-12-20 10:46:33",
                "total_amount": Decimal("10.5"),
                "currency_id": "USD",
                "status": "approve",
                "customer_sync_code": f"C{i:06d}",
                "customer_name": f"Customer {i}",
                "bill_type": 2,
                "ext__details": [
                    {"item_name": "Power", "quantity": 1, "price": Decimal("10.5"), "amount": Decimal("10.5")}
                ],
            }
            for i in range(n)
        ]
    }


def timed_push(c: httpx.Client, body: bytes) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    r = c.post("/bill/push", content=body, headers={"Content-Type": "application/json"})
    answered = time.perf_counter() - t0
    assert r.status_code == 200, r.text
    queue_id = r.json()["id"]
    while True:
        (newest,) = c.get("/queue", params={"limit": 1}).json()  # the list: cheap to poll, unlike the detail
        assert newest["id"] == queue_id
        if newest["status"] != "processing":
            return answered, time.perf_counter() - t0, queue_id
        if time.perf_counter() - t0 > 300:
            raise SystemExit(f"queue {queue_id} not ready after 300 s")
        time.sleep(0.05)


def one(db: str, n: int, tmp: Path) -> dict[str, object]:
    body = wirejson.dumps(bills(n)).encode()
    with serving(db, tmp, PG_DB) as base, httpx.Client(base_url=base, headers={"token": TOKEN}, timeout=120) as c:
        answered, done, first = timed_push(c, body)
        answered2, done2, again = timed_push(c, body)
        counts = [c.get(f"/queue/detail/{q}").json() for q in (first, again)]
    assert counts[0]["status"] == "ready" and counts[0]["total_added"] == n, counts[0]["result"]
    assert counts[1]["total_unchanged"] == n, counts[1]["result"]
    return timings(db, n, len(body), (answered, done), (answered2, done2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bills", type=int, default=10_000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as t:
        results = [one(db, args.bills, Path(t)) for db in dbs]
    record(
        "Supplier API bill push",
        "`bench/supplier_push.py`: one `POST /bill/push` of new bills (each creating its customer, one line each) to"
        " a `tonle serve` with its worker in process, timed until the queue is `ready` (the request keeps the records"
        " and answers; the worker applies them in chunks of 1,000); then the same push again (every record"
        " `unchanged`).",
        "| database | bills | body, MB | answered, s | queue ready, s | goal | again: answered, s | again: ready, s |",
        results,
    )


if __name__ == "__main__":
    main()
