"""Profile one scenario: a bench server under wrk load, sampled by py-spy; prints where the CPU goes.

    .venv/bin/pip install py-spy==0.4.3
    .venv/bin/python bench/profile.py postgres settle_spread [--customers 1000] [--seconds 8]

Samples only while the sampled thread holds the GIL (--gil), so the percentages are shares of Python CPU time.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import run as bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", choices=["sqlite", "postgres"])
    ap.add_argument("scenario", choices=bench.SCENARIOS)
    ap.add_argument("--customers", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    workdir = Path(f"/tmp/tonle-profile-{args.db}")
    workdir.mkdir(exist_ok=True)
    db = bench.Db(args.db, workdir)
    db.reset()
    bench.seed(db, args.customers, 100)
    server = bench.Server(db, 1)
    try:
        spec = bench.specs(args.customers, 100)[args.scenario]
        bodies = workdir / "bodies.jsonl"
        bench.write_bodies(bodies, spec.bodies(f"P{int(time.time())}", 4000 * args.seconds))
        raw = workdir / "spy.txt"
        spy = subprocess.Popen(
            [
                str(bench.VENV_BIN / "py-spy"),
                "record",
                "-p",
                str(server.pids()[-1]),
                "-d",
                str(args.seconds),
                "-r",
                "250",
                "--gil",
                "-f",
                "raw",
                "-o",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out, _, _ = bench.wrk(server, spec, server.token(), bodies, 32, 1, args.seconds + 1)
        spy.wait()
    finally:
        server.stop()
    print(f"{out['requests']} requests, {out['ok']} ok, p50 {out['p50'] / 1000:.1f} ms")
    inclusive, own, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        total += int(n)
        own[frames[-1]] += int(n)
        for f in set(frames):
            if "tonle/" in f or "sqlalchemy/orm" in f or "asyncpg" in f or "jwt" in f:
                inclusive[f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].split(":")[0]] += int(n)
    print(f"{total} samples; inclusive share of Tonle, ORM, driver and JWT frames:")
    for f, n in inclusive.most_common(args.top):
        print(f"{100 * n / total:5.1f}%  {f}")
    print("self time:")
    for f, n in own.most_common(15):
        print(f"{100 * n / total:5.1f}%  {f[:120]}")


if __name__ == "__main__":
    main()
