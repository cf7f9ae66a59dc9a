"""Tonle benchmark harness: real `tonle serve` processes, loopback load from wrk, results with their checks.

    .venv/bin/python bench/run.py                     # everything, both databases (what `make bench` runs)
    .venv/bin/python bench/run.py --db postgres --scenario settle_spread --workers 2 --duration 10

Every scenario seeds its own database through the fixture loader, starts the server as a separate process, warms it
up, drives it with wrk (bounded by --duration), and then checks what it did: a settle scenario passes only when
`tonle ledger verify` passes and the money that left the wallets equals what reached the sub-billers and what the
paid bills add up to. Results go to bench/results/<timestamp>.json and a table appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tonle.payments.hashing import sign

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
TONLE = str(VENV_BIN / "tonle")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "tonle_bench"
HASH_KEY = "bench-hash-key-0123456789abcdef"
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"
AMOUNT = 100  # KHR per settle
DATE = "2026-11-26T08:00:00"
DATE_COMPACT = "20261126080000"
CLK_TCK = os.sysconf("SC_CLK_TCK")

SCENARIOS = ["trivial", "balance", "settle_spread", "settle_hot", "customer_create"]


# ---------------------------------------------------------------- databases


class Db:
    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        if kind == "sqlite":
            self.url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        else:
            self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_DB}"

    def reset(self, template: bool = False) -> None:
        """An empty database, or (``template``) a copy of the one `keep_template` saved right after seeding."""
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.workdir / "bench.db") + suffix).unlink(missing_ok=True)
            if template:
                shutil.copy(self.workdir / "seeded.db", self.workdir / "bench.db")
            return
        self._admin(
            f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)",
            f"CREATE DATABASE {PG_DB}" + (f" TEMPLATE {PG_DB}_seeded" if template else ""),
        )

    def keep_template(self) -> None:
        if self.kind == "sqlite":
            import sqlite3

            # The backup API copies a consistent database whatever sits in the WAL.
            with sqlite3.connect(self.workdir / "bench.db") as src, sqlite3.connect(self.workdir / "seeded.db") as dst:
                src.backup(dst)
            return
        self._admin(
            f"DROP DATABASE IF EXISTS {PG_DB}_seeded",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{PG_DB}'",
            f"CREATE DATABASE {PG_DB}_seeded TEMPLATE {PG_DB}",
        )

    def drop_template(self) -> None:
        if self.kind == "postgres":
            self._admin(f"DROP DATABASE IF EXISTS {PG_DB}_seeded")

    @staticmethod
    def _admin(*statements: str) -> None:
        async def go() -> None:
            import asyncpg

            conn = await asyncpg.connect(PG_ADMIN)
            try:
                for sql in statements:
                    await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(go())

    def query(self, sql: str, **params: Any) -> list[tuple]:
        from sqlalchemy import text

        from tonle.db import Database

        async def go() -> list[tuple]:
            db = Database(self.url)
            try:
                async with db.sessions() as s:
                    rows = (await s.execute(text(sql), params)).all()
                    await s.commit()
                    return [tuple(r) for r in rows]
            finally:
                await db.dispose()

        return asyncio.run(go())

    def execute_script(self, statements: list[str]) -> None:
        from sqlalchemy import text

        from tonle.db import Database

        async def go() -> None:
            db = Database(self.url)
            try:
                async with db.sessions() as s:
                    for sql in statements:
                        await s.execute(text(sql))
                    await s.commit()
            finally:
                await db.dispose()

        asyncio.run(go())


def env_for(db: Db, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TONLE_DATABASE_URL=db.url,
        TONLE_DATA_DIR=str(db.workdir),
        TONLE_WORKER_IN_PROCESS="false",  # the settle path emits no webhook; keep the API processes for the API
        TONLE_JWT_SECRET="bench-jwt-secret-0123456789abcdef0123456789",
        TONLE_ACCESS_TOKEN_TTL_SECONDS="86400",
    )
    env.update(extra or {})
    return env


def tonle(db: Db, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([TONLE, *args], env=env_for(db), capture_output=True, text=True, check=check, cwd=db.workdir)


def seed(db: Db, customers: int, sub_billers: int) -> float:
    """Write a fixture file and load it with `tonle seed` (the fixture loader); returns the seconds it took."""
    fx = {
        "merchants": [
            {
                "name": "Bench Biller",
                "merchant_token": "bench-merchant-token",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "bill_hash_key": HASH_KEY,
                "sub_billers": [{"code": f"SB{i:03d}", "name": f"Station {i}"} for i in range(sub_billers)],
                "customers": [
                    {
                        "sync_code": f"C{i:06d}",
                        "name": f"Customer {i}",
                        "wallets": [{"name": "KHR", "currency": "KHR", "balance": 10_000_000}],
                    }
                    for i in range(customers)
                ]
                + [
                    {
                        "sync_code": "HOT",
                        "name": "Hot wallet",
                        "wallets": [{"name": "KHR", "currency": "KHR", "balance": 1_000_000_000_000}],
                    }
                ],
            }
        ]
    }
    path = db.workdir / "fixture.json"
    path.write_text(json.dumps(fx))
    started = time.perf_counter()
    tonle(db, "migrate")
    tonle(db, "seed", str(path))
    return time.perf_counter() - started


# ---------------------------------------------------------------- server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        p = frontier.pop()
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for c in map(int, children):
            pids.append(c)
            frontier.append(c)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Server:
    def __init__(self, db: Db, workers: int, extra_env: dict[str, str] | None = None) -> None:
        self.db, self.workers, self.port = db, workers, free_port()
        self.log = open(db.workdir / f"server-{self.port}.log", "w")
        self.proc = subprocess.Popen(
            [TONLE, "serve", "--no-migrate", "--port", str(self.port), "--workers", str(workers)],
            env=env_for(db, extra_env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=db.workdir,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200 and self._all_workers_up():
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(db.workdir / f'server-{self.port}.log').read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def _all_workers_up(self) -> bool:
        # With --workers N, uvicorn's supervisor is the parent; its N children each serve.
        return self.workers == 1 or len(proc_tree(self.proc.pid)) >= self.workers + 1

    def pids(self) -> list[int]:
        return proc_tree(self.proc.pid)

    def token(self) -> str:
        r = httpx.post(
            self.base + "/merchantsecurity/authorize",
            json={"token": "bench-merchant-token", "clientId": CLIENT_ID, "secret": CLIENT_SECRET, "refreshToken": ""},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["data"]["token"]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


class RssSampler(threading.Thread):
    """Peak RSS per server process (the supervisor and each worker), sampled every 100 ms."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server, self.peak, self.stop_flag = server, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            for p in self.server.pids():
                self.peak = max(self.peak, rss_mb(p))
            time.sleep(0.1)


# ---------------------------------------------------------------- request bodies


def settle_body(ref: str, customer: str, to: str) -> dict[str, Any]:
    msg = f"{ref}{DATE_COMPACT}KHR{AMOUNT}{customer}{to}"
    digest = sign(msg, HASH_KEY)
    return {
        "ref_id": ref,
        "date": DATE,
        "due_date": "2099-12-31",
        "currency": "KHR",
        "total_amount": AMOUNT,
        "customer_sync_code": customer,
        "payment_to": to,
        "description": "bench",
        "details": [{"item_name": "kWh", "quantity": 1, "price": AMOUNT, "amount": AMOUNT}],
        "hash": digest,
    }


def write_bodies(path: Path, bodies: Any) -> int:
    n = 0
    with path.open("w") as f:
        for b in bodies:
            f.write(json.dumps(b, separators=(",", ":")) + "\n")
            n += 1
    return n


@dataclass
class Spec:
    name: str
    method: str
    path: str
    cycle: bool
    bodies: Any  # callable(prefix, n) -> iterable of bodies
    settle: bool = False
    hot: bool = False


def specs(customers: int, sub_billers: int) -> dict[str, Spec]:
    def spread(prefix: str, n: int):
        for i in range(n):
            yield settle_body(f"{prefix}{i}", f"C{(i * 7919) % customers:06d}", f"SB{i % sub_billers:03d}")

    def hot(prefix: str, n: int):
        for i in range(n):
            yield settle_body(f"{prefix}{i}", "HOT", "SB000")

    def balance(prefix: str, n: int):
        for i in range(min(n, customers)):
            yield {"customer_sync_code": f"C{(i * 7919) % customers:06d}"}

    def create(prefix: str, n: int):
        for i in range(n):
            yield {
                "sync_code": f"{prefix}{i}",
                "name": f"New customer {i}",
                "name_kh": "អតិថិជន",
                "phone": "012345678",
                "wallet": [{"name": "KHR", "currency": "KHR"}, {"name": "USD", "currency": "USD"}],
            }

    return {
        "trivial": Spec("trivial", "GET", "/healthz", True, lambda p, n: [{}]),
        "balance": Spec("balance", "POST", "/instant_payment/get_wallet_balance", True, balance),
        "settle_spread": Spec("settle_spread", "POST", "/bill_payment/push_bill_with_payment", False, spread, True),
        "settle_hot": Spec("settle_hot", "POST", "/bill_payment/push_bill_with_payment", False, hot, True, True),
        "customer_create": Spec("customer_create", "POST", "/customer/create", False, create),
    }


# ---------------------------------------------------------------- one measured run


@dataclass
class Result:
    scenario: str
    db: str
    workers: int
    connections: int
    duration_s: float
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    requests: int = 0
    ok: int = 0
    errors: int = 0
    server_rss_peak_mb: float = 0.0
    server_cpu_cores: float = 0.0
    generator_cpu_cores: float = 0.0
    generator_saturated: bool = False
    checks: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | failed | invalid
    notes: list[str] = field(default_factory=list)
    command: str = ""


def wrk(server: Server, spec: Spec, token: str, bodies: Path, conns: int, threads: int, seconds: float) -> tuple:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "replay.lua"),
        server.base,
        "--",
        str(bodies),
        spec.path,
        spec.method,
        token if spec.name != "trivial" else "-",
        "1" if spec.cycle else "0",
        str(threads),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=seconds + 60)
    wall = time.monotonic() - started
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk gave no result: {out}\n{err}")
    return json.loads(m.group(1)), wall, " ".join([*cmd[:-6], "--", "<bodies>", *cmd[-5:]])


def children_cpu() -> float:
    r = os.times()
    return r.children_user + r.children_system


def money_state(db: Db) -> dict[str, int]:
    rows = db.query(
        "SELECT kind, COALESCE(SUM(balance), 0) FROM ledger_accounts WHERE kind IN ('wallet', 'subbiller_settlement') "
        "GROUP BY kind"
    )
    out = {"wallet": 0, "subbiller_settlement": 0} | {k: int(v) for k, v in rows}
    out["paid_bills"] = int(db.query("SELECT COUNT(*) FROM bills WHERE status = 'paid'")[0][0])
    out["hot"] = int(
        db.query(
            "SELECT a.balance FROM ledger_accounts a JOIN wallets w ON w.account_id = a.id "
            "JOIN customers c ON c.id = w.customer_id WHERE c.sync_code = 'HOT'"
        )[0][0]
    )
    return out


def quiesce(db: Db, spec: Spec) -> None:
    """Wait until requests still in flight when wrk stopped have finished (the paid-bill count holds for 1 s)."""
    if not spec.settle:
        time.sleep(0.5)
        return
    last, deadline = -1, time.monotonic() + 60
    while time.monotonic() < deadline:
        now = money_state(db)["paid_bills"]
        if now == last:
            return
        last = now
        time.sleep(1)


def measure(
    db: Db, server: Server, spec: Spec, token: str, conns: int, seconds: float, threads: int, rate_cap: int
) -> Result:
    res = Result(spec.name, db.kind, server.workers, conns, seconds)
    need = 1 if spec.name == "trivial" else int(rate_cap * (seconds + 3))
    tag = f"{spec.name[:2]}{int(time.time() * 1000) % 10**8}w{server.workers}"
    warm = db.workdir / "warm.jsonl"
    write_bodies(warm, spec.bodies(tag + "W", max(need // 10, 1) if not spec.cycle else need))
    hot_bodies = db.workdir / "bodies.jsonl"
    write_bodies(hot_bodies, spec.bodies(tag + "M", need))
    wrk(server, spec, token, warm, min(conns, 16), 1, 2)  # warm-up: connections, caches, prepared statements
    quiesce(db, spec)
    before = money_state(db) if spec.settle else {}
    sampler = RssSampler(server)
    sampler.start()
    cpu0, gen0 = cpu_seconds(server.pids()), children_cpu()
    out, wall, res.command = wrk(server, spec, token, hot_bodies, conns, threads, seconds)
    gen1, cpu1 = children_cpu(), cpu_seconds(server.pids())
    sampler.stop_flag.set()
    sampler.join()
    dur = out["duration_us"] / 1e6
    res.requests, res.ok = out["requests"], out["ok"]
    res.rps = round(out["requests"] / dur, 1)
    res.p50_ms, res.p90_ms, res.p99_ms, res.max_ms = (round(out[k] / 1000, 2) for k in ("p50", "p90", "p99", "max"))
    socket_errors = out["connect"] + out["read"] + out["write"] + out["timeout"]
    res.errors = out["bad"] + socket_errors + out["exhausted"]
    res.server_rss_peak_mb = round(sampler.peak, 1)
    res.server_cpu_cores = round((cpu1 - cpu0) / dur, 2)
    res.generator_cpu_cores = round((gen1 - gen0) / wall, 2)
    # A wrk thread that used ~all of a core was the bottleneck, not the server.
    res.generator_saturated = res.generator_cpu_cores >= 0.9 * threads
    if res.errors:
        res.status = "failed"
        res.notes.append(
            f"{out['bad']} non-success answers, {socket_errors} socket errors, {out['exhausted']} out of bodies; "
            f"first: {out['sample']}"
        )
    if spec.settle:
        quiesce(db, spec)
        after = money_state(db)
        paid = after["paid_bills"] - before["paid_bills"]
        left_wallets = before["wallet"] - after["wallet"]
        reached = after["subbiller_settlement"] - before["subbiller_settlement"]
        verify = tonle(db, "ledger", "verify", check=False)
        checks = {
            "ledger_verify": verify.returncode == 0,
            "bills_paid": paid,
            "wallets_debited": left_wallets,
            "subbillers_credited": reached,
            "money_conserved": left_wallets == reached == paid * AMOUNT,
            "acknowledged_le_paid": res.ok <= paid <= res.ok + conns,
        }
        if spec.hot:
            checks["hot_exact"] = before["hot"] - after["hot"] == paid * AMOUNT
        res.checks = checks
        if not all(v for k, v in checks.items() if isinstance(v, bool)):
            res.status = "failed"
            res.notes.append(f"checks failed: {checks} {verify.stdout[-500:]}")
    if res.status == "ok" and res.generator_saturated:
        res.status = "invalid"
        res.notes.append("load generator saturated its core")
    return res


# ---------------------------------------------------------------- growth: history already in the ledger


def fill_ledger(db: Db, target_entries: int) -> int:
    """Add balanced filler entries (between two sandbox accounts of the bench merchant) until the ledger holds
    ``target_entries``; the accounts' balances and every posting's balance_after stay exact for `ledger verify`."""
    have = int(db.query("SELECT COUNT(*) FROM ledger_entries")[0][0])
    add = target_entries - have
    if add <= 0:
        return have
    mid = db.query("SELECT id FROM merchants WHERE client_id = :c", c=CLIENT_ID)[0][0]
    db.execute_script(
        [
            "INSERT INTO ledger_accounts "
            "(id, merchant_id, kind, owner_ref, currency, allow_negative, balance, created_at) "
            f"SELECT x.id, '{mid}', 'sandbox_funding', x.ref, 'KHR', true, 0, CURRENT_TIMESTAMP FROM "
            "(SELECT 'bench-filler-a' AS id, 'filler-a' AS ref UNION ALL SELECT 'bench-filler-b', 'filler-b') x "
            "WHERE NOT EXISTS (SELECT 1 FROM ledger_accounts WHERE id = x.id)"
        ]
    )
    done = int(db.query("SELECT balance FROM ledger_accounts WHERE id = 'bench-filler-b'")[0][0])
    chunk = 200_000
    start = done
    while start < done + add:
        end = min(start + chunk, done + add)
        src = (
            f"SELECT g FROM generate_series({start + 1}, {end}) AS g"
            if db.kind == "postgres"
            else f"WITH RECURSIVE s(g) AS (SELECT {start + 1} UNION ALL SELECT g + 1 FROM s WHERE g < {end}) "
            "SELECT g FROM s"
        )
        db.execute_script(
            [
                "INSERT INTO ledger_entries (id, merchant_id, kind, memo, created_at) "
                f"SELECT 'fill-' || g, '{mid}', 'bench_filler', '', CURRENT_TIMESTAMP FROM ({src}) q",
                "INSERT INTO ledger_postings (entry_id, account_id, currency, amount, balance_after, created_at) "
                f"SELECT 'fill-' || g, 'bench-filler-a', 'KHR', -1, -g, CURRENT_TIMESTAMP FROM ({src}) q",
                "INSERT INTO ledger_postings (entry_id, account_id, currency, amount, balance_after, created_at) "
                f"SELECT 'fill-' || g, 'bench-filler-b', 'KHR', 1, g, CURRENT_TIMESTAMP FROM ({src}) q",
                f"UPDATE ledger_accounts SET balance = -{end} WHERE id = 'bench-filler-a'",
                f"UPDATE ledger_accounts SET balance = {end} WHERE id = 'bench-filler-b'",
            ]
        )
        start = end
    if db.kind == "postgres":
        db.execute_script(["ANALYZE"])
    return int(db.query("SELECT COUNT(*) FROM ledger_entries")[0][0])


# ---------------------------------------------------------------- pgbench: the database's own ceiling


def capture_settle_sql(db: Db) -> Path:
    """One settle with the server's SQL log on (TONLE_SQL_ECHO); its statements go to bench/sql/settle.log, the
    source that bench/settle.pgbench mirrors."""
    server = Server(db, 1, {"TONLE_SQL_ECHO": "true"})
    try:
        headers = {"Authorization": "Bearer " + server.token()}
        time.sleep(0.3)
        mark = Path(server.log.name).stat().st_size
        r = httpx.post(
            server.base + "/bill_payment/push_bill_with_payment",
            headers=headers,
            timeout=10,
            json=settle_body(f"CAPTURE{int(time.time())}", "C000001", "SB001"),
        )
        assert r.json()["code"] == "SUCCESS", r.text
        time.sleep(0.3)
    finally:
        server.stop()
    lines, last = [], None
    for line in Path(server.log.name).read_text()[mark:].splitlines():
        line = re.sub(r"^\S+ \S+ INFO sqlalchemy\.engine\.Engine ", "", line)
        if "tonle.access" in line or line.startswith("INFO:"):
            continue
        line = re.sub(r"\[(generated|cached since) [^\]]*\] ", "[params] ", line)
        if line != last:  # the engine's own handler and the root handler both print each line
            lines.append(line)
        last = line
    out = BENCH / "sql" / "settle.log"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out


def pgbench(db: Db, conns: int, seconds: int, customers: int, sub_billers: int) -> dict[str, Any]:
    """Run bench/settle.pgbench (the settle path's statements, see bench/README.md) on the same PostgreSQL."""
    mid = db.query("SELECT id FROM merchants WHERE client_id = :c", c=CLIENT_ID)[0][0]
    cmd = [
        "pgbench",
        "-n",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-M",
        "prepared",
        "-c",
        str(conns),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-f",
        str(BENCH / "settle.pgbench"),
        "-D",
        f"merchant={mid}",
        "-D",
        f"customers={customers}",
        "-D",
        f"subbillers={sub_billers}",
        "-D",
        f"amount={AMOUNT}",
        PG_DB,
    ]
    before = money_state(db)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    after = money_state(db)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    verify = tonle(db, "ledger", "verify", check=False)
    return {
        "tps": float(tps.group(1)) if tps else 0.0,
        "latency_avg_ms": float(lat.group(1)) if lat else None,
        "failed": int(failed.group(1)) if failed else None,
        "paid_bills": after["paid_bills"] - before["paid_bills"],
        "money_conserved": (before["wallet"] - after["wallet"])
        == (after["subbiller_settlement"] - before["subbiller_settlement"])
        == (after["paid_bills"] - before["paid_bills"]) * AMOUNT,
        "ledger_verify": verify.returncode == 0,
        "command": " ".join(cmd),
        "stderr": out.stderr[-500:],
    }


# ---------------------------------------------------------------- report


def versions() -> dict[str, str]:
    def ver(cmd: list[str]) -> str:
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not found"

    from importlib.metadata import version

    return {
        "python": platform.python_version(),
        "tonle_commit": ver(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
        "sqlalchemy": version("sqlalchemy"),
        "asyncpg": version("asyncpg"),
        "postgresql": ver(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "SHOW server_version", "postgres"]),
        "sqlite": __import__("sqlite3").sqlite_version,
        "wrk": ver(["wrk", "-v"]),
        "pgbench": ver(["pgbench", "--version"]),
        "cpu": next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            "?",
        ),
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
    }


def write_report(run: dict[str, Any]) -> Path:
    stamp = run["started"].replace(":", "").replace("-", "")
    out = BENCH / "results" / f"{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(run, indent=2))
    v = run["versions"]
    lines = [
        f"\n## {run['started']} — commit {v['tonle_commit']}\n",
        f"Machine: {v['cpu']}, {v['cores']} cores, Linux {v['kernel']}. Python {v['python']}, uvicorn {v['uvicorn']}, "
        f"FastAPI {v['fastapi']}, SQLAlchemy {v['sqlalchemy']}, asyncpg {v['asyncpg']}, PostgreSQL "
        f"{v['postgresql']}, SQLite {v['sqlite']}, {v['wrk']}.\n",
        f"Command: `{run['command']}`. Raw: `bench/results/{out.name}`.\n",
        "| scenario | db | workers | conns | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | peak RSS MB "
        "| server cores | wrk cores | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in run["results"]:
        name = r["scenario"] + (
            f" ({r['checks']['entries_before']:,} entries)" if "entries_before" in r["checks"] else ""
        )
        lines.append(
            f"| {name} | {r['db']} | {r['workers']} | {r['connections']} | {r['rps']:,.0f} | {r['p50_ms']} | "
            f"{r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['errors']} | {r['server_rss_peak_mb']} | "
            f"{r['server_cpu_cores']} | {r['generator_cpu_cores']} | {r['status']} |"
        )
    for r in run["results"]:
        for n in r["notes"]:
            lines.append(f"\n- {r['scenario']}/{r['db']}/{r['workers']}w: {n}")
    if run.get("pgbench"):
        p = run["pgbench"]
        lines.append(
            f"\npgbench settle equivalent ({p['connections']} clients): {p['tps']:,.0f} tx/s, "
            f"{p['failed']} failed, money conserved: {p['money_conserved']}, ledger verify: {p['ledger_verify']}. "
            f"Tonle settle (spread, best worker count) ÷ pgbench = {p.get('ratio', 0):.2f}."
        )
    if run.get("growth"):
        lines.append(f"\nGrowth (settle spread, PostgreSQL): {run['growth']}")
    for s in run.get("seed", []):
        lines.append(
            f"\nSeed {s['db']}: {s['customers']:,} customers, {s['sub_billers']} sub-billers via `tonle seed` "
            f"in {s['seconds']:.1f} s."
        )
    with (BENCH / "RESULTS.md").open("a") as f:
        f.write("\n".join(lines) + "\n")
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--scenario", action="append", choices=[*SCENARIOS, "pgbench", "growth"])
    ap.add_argument("--workers", action="append", type=int, help="server worker processes (default: 1 and 2)")
    ap.add_argument("--duration", type=float, default=15, help="seconds of measured load per run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--sub-billers", type=int, default=100)
    ap.add_argument("--rate-cap", type=int, default=4000, help="request bodies generated per second of load")
    ap.add_argument("--growth", default="10000,100000,1000000", help="ledger entries before each growth run")
    ap.add_argument("--no-report", action="store_true", help="print results only")
    ap.add_argument("--server-env", action="append", default=[], help="KEY=VALUE for the server processes")
    args = ap.parse_args()
    for tool in ("wrk",):
        if not shutil.which(tool):
            print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 2
    scenarios = args.scenario or [*SCENARIOS, "pgbench", "growth"]
    worker_counts = args.workers or [1, 2]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    extra_env = dict(kv.split("=", 1) for kv in args.server_env)
    run: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "versions": versions(),
        "server_env": extra_env,
        "results": [],
        "seed": [],
    }
    catalogue = specs(args.customers, args.sub_billers)
    failed = False

    def record(res: Result) -> None:
        nonlocal failed
        run["results"].append(asdict(res))
        failed |= res.status == "failed"
        print(
            f"{res.scenario:16} {res.db:8} w={res.workers} c={res.connections} {res.rps:9,.0f}/s p50={res.p50_ms}ms "
            f"p99={res.p99_ms}ms max={res.max_ms}ms err={res.errors} rss={res.server_rss_peak_mb}MB "
            f"cpu={res.server_cpu_cores} wrk={res.generator_cpu_cores} {res.status} {' '.join(res.notes)[:300]}",
            flush=True,
        )

    def run_one(server: Server, spec: Spec, token: str) -> Result:
        return measure(server.db, server, spec, token, args.connections, args.duration, args.threads, args.rate_cap)

    with tempfile.TemporaryDirectory(prefix="tonle-bench-") as tmp:
        for kind in dbs:
            db = Db(kind, Path(tmp))
            db.reset()
            secs = seed(db, args.customers, args.sub_billers)
            run["seed"].append(
                {"db": kind, "customers": args.customers, "sub_billers": args.sub_billers, "seconds": secs}
            )
            print(f"seeded {kind} in {secs:.1f}s", flush=True)
            db.keep_template()
            for workers in worker_counts:
                todo = [s for s in scenarios if s in catalogue]
                if not todo:
                    continue
                server = Server(db, workers, extra_env)
                try:
                    token = server.token()
                    for name in todo:
                        record(run_one(server, catalogue[name], token))
                finally:
                    server.stop()
            if kind == "postgres" and "pgbench" in scenarios:
                print(f"captured the settle path's SQL in {capture_settle_sql(db)}", flush=True)
                p = pgbench(db, args.connections, int(args.duration), args.customers, args.sub_billers)
                p["connections"] = args.connections
                spread = [
                    r["rps"] for r in run["results"] if r["scenario"] == "settle_spread" and r["db"] == "postgres"
                ]
                p["ratio"] = round(max(spread) / p["tps"], 2) if spread and p["tps"] else 0
                run["pgbench"] = p
                failed |= not (p["money_conserved"] and p["ledger_verify"] and p["tps"] > 0)
                print(f"pgbench {p['tps']:,.0f} tx/s ratio={p['ratio']} {p['stderr'][-200:]}", flush=True)
            if kind == "postgres" and "growth" in scenarios:
                db.reset(template=True)  # the seeded state again, without the settle scenarios' bills
                growth = []
                workers = max(worker_counts)
                for target in (int(x) for x in args.growth.split(",")):
                    entries = fill_ledger(db, target)
                    server = Server(db, workers, extra_env)
                    try:
                        res = run_one(server, catalogue["settle_spread"], server.token())
                    finally:
                        server.stop()
                    res.scenario = "growth"
                    res.checks["entries_before"] = entries
                    record(res)
                    growth.append((entries, res.rps, res.p99_ms))
                first, last = growth[0], growth[-1]
                drop = round(100 * (first[1] - last[1]) / first[1], 1) if first[1] else 0
                db.drop_template()
                run["growth"] = (
                    ", ".join(f"{e:,} entries: {r:,.0f}/s p99 {p} ms" for e, r, p in growth)
                    + f"; drop from first to last {drop} %"
                )
    if not args.no_report:
        print(f"wrote {write_report(run)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
