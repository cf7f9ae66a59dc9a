"""Test harness: the real app served by uvicorn over real HTTP, against a real database.

Every test that takes the ``server`` fixture runs once per backend: SQLite always, PostgreSQL when
``TONLE_TEST_POSTGRES_URL`` is set (``TONLE_TEST_REQUIRE_POSTGRES=1`` turns a missing PostgreSQL into a failure,
which is how CI makes sure that half ran). Each backend gets a fresh database, migrated by the real migrations.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import make_url

import procs
import watch
from tonle.app import create_app
from tonle.config import Compat, Settings
from tonle.db import Database
from tonle.kit.clock import clock
from tonle.merchants.service import Credentials, create_merchant
from tonle.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # screenshots and the KHQR oracle's install, never committed
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REQUIRE_PG = os.environ.get("TONLE_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _pg_url() -> str:
    """The PostgreSQL to test against: TONLE_TEST_POSTGRES_URL, else the local default when it answers."""
    given = os.environ.get("TONLE_TEST_POSTGRES_URL")
    if given is not None:
        return given
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return ""
    return DEFAULT_PG_URL


PG_URL = _pg_url()
_pg_passed = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _pg_passed
    if report.when == "call" and report.passed and "[postgres" in report.nodeid:
        _pg_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # CI must not go green on the SQLite half alone.
    if REQUIRE_PG and exitstatus == 0 and _pg_passed == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"PostgreSQL half: {_pg_passed} test(s) passed" + ("" if PG_URL else " (not configured)")
    )


class LoopThread:
    """An event loop on its own thread, for test code that must call async database code directly."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ThreadServer:
    """uvicorn serving create_app(settings) on a free loopback port, on a thread of its own."""

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self.sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(settings), log_level="warning", access_log=False, server_header=False, proxy_headers=True
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return
            threading.Event().wait(0.05)
        raise RuntimeError("test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        # A server left running would keep its in-process worker (and its settings) alive behind later tests.
        assert not self.thread.is_alive(), "test server did not stop"


# The suite keeps a server per distinct settings for the whole session, on one PostgreSQL database, beside server
# and worker processes of its own: with production pools (20 kept open each) the idle servers held most of
# PostgreSQL's 100 connections, and a scale-out test's processes were refused theirs ("too many clients": answers
# without data, webhooks sent twice). A pool of 2 with overflow keeps idle servers small and still lets a test burst.
TEST_POOL = {"db_pool_size": 2, "db_max_overflow": 40}


@dataclass
class Backend:
    name: str
    url: str
    tmp: Path
    loop: LoopThread
    db: Database
    servers: dict[tuple[Any, ...], tuple[ThreadServer, Settings]] = field(default_factory=dict)

    def _start(self, compat: Compat, overrides: dict[str, Any]) -> tuple[ThreadServer, Settings]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        settings = Settings(
            public_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
            database_url=self.url,
            data_dir=self.tmp,
            jwt_secret="test-signing-key-" + "x" * 32,
            compat=compat,
            host="127.0.0.1",
            max_body_bytes=64 * 1024,
            **{"worker_in_process": False, **({} if self.name == "sqlite" else TEST_POOL), **overrides},
        )
        srv = ThreadServer(settings, sock)
        srv.start()
        return srv, settings

    def server(self, compat: Compat = Compat.live, **overrides: Any) -> Server:
        """A server on this backend's database (one per distinct settings, started on first use, kept for the
        session). Servers that run a delivery worker use ``running_server`` instead, so that only one worker,
        with the test's own settings, runs at a time."""
        key = (compat, *sorted(overrides.items()))
        if key not in self.servers:
            self.servers[key] = self._start(compat, overrides)
        srv, settings = self.servers[key]
        return Server(self, f"http://127.0.0.1:{srv.port}", settings)

    @contextmanager
    def running_server(self, compat: Compat = Compat.live, **overrides: Any) -> Iterator[Server]:
        """A server for one test only, stopped (with its in-process worker) when the test ends."""
        srv, settings = self._start(compat, overrides)
        try:
            yield Server(self, f"http://127.0.0.1:{srv.port}", settings)
        finally:
            srv.stop()
            clock.reset()

    def env(self) -> dict[str, str]:
        """Environment for running the ``tonle`` CLI against this backend's database."""
        pools = {} if self.name == "sqlite" else {f"TONLE_{k.upper()}": str(v) for k, v in TEST_POOL.items()}
        return {**os.environ, "TONLE_DATABASE_URL": self.url, "TONLE_DATA_DIR": str(self.tmp), **pools}


@dataclass
class Merchant:
    id: str
    creds: Credentials


@dataclass
class Server:
    backend: Backend
    base_url: str
    settings: Settings

    @property
    def name(self) -> str:
        return self.backend.name

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.backend.loop.run(coro)

    def in_session(self, fn: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
        async def go() -> Any:
            async with self.backend.db.sessions() as session, session.begin():
                return await fn(session)

        return self.run(go())

    def new_merchant(self, name: str = "Test Biller", **given: str) -> Merchant:
        creds = Credentials.generate(**given)

        async def go(session: Any) -> Merchant:
            m, c = await create_merchant(session, name, creds)
            return Merchant(m.id, c)

        merchant = self.in_session(go)
        watch.remember_credentials(merchant.creds)
        return merchant

    def client(self, token: str | None = None, address: str | None = None) -> httpx.Client:
        """A client whose requests appear to come from their own source address (X-Forwarded-For from loopback
        is trusted), so that one test's failed logins never rate-limit another's."""
        headers = {
            "X-Forwarded-For": address
            or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(
            base_url=self.base_url, headers=headers, timeout=30, event_hooks={"response": [watch.on_response]}
        )

    def authorize(self, merchant: Merchant, refresh: str = "") -> dict[str, Any]:
        with self.client() as c:
            r = c.post(
                "/merchantsecurity/authorize",
                json={
                    "token": merchant.creds.merchant_token,
                    "clientId": merchant.creds.client_id,
                    "secret": merchant.creds.client_secret,
                    "refreshToken": refresh,
                },
            )
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def merchant_client(self, name: str = "Test Biller") -> tuple[httpx.Client, Merchant]:
        m = self.new_merchant(name)
        return self.client(self.authorize(m)["token"]), m

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "tonle.cli", *args],
            env=self.backend.env(),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        if check and proc.returncode:
            raise AssertionError(f"tonle {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc


async def _pg_create(url: str) -> str:
    import asyncpg

    u = make_url(url)
    name = f"tonle_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database
    )
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return u.set(database=name).render_as_string(hide_password=False)


async def _pg_drop(url: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
def secrets_stay_out_of_logs() -> Iterator[None]:
    """Whatever the suite does, no secret it has seen may reach a log line or an error body (docs/reliability.md).
    Set up before, and checked after, every backend and server of the session."""
    log_file = ARTIFACTS / "suite.log"
    handler = watch.capture_logs(log_file)
    yield
    logging.getLogger().removeHandler(handler)
    handler.close()
    found = watch.leaks([log_file, *procs.LOGS])
    assert not found, f"secrets in logs or error bodies: {found}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, secrets_stay_out_of_logs: None
) -> Iterator[Backend]:
    # Nothing here runs an event loop on the main thread: Playwright's sync API may be holding one there.
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    loop = LoopThread()
    if name == "postgres":
        if not PG_URL:
            loop.stop()
            if REQUIRE_PG:
                pytest.fail("TONLE_TEST_REQUIRE_POSTGRES=1 but TONLE_TEST_POSTGRES_URL is not set")
            pytest.skip("PostgreSQL half: set TONLE_TEST_POSTGRES_URL to run it")
        try:
            url = loop.run(_pg_create(PG_URL))
        except OSError as exc:
            loop.stop()
            if REQUIRE_PG:
                pytest.fail(f"PostgreSQL unreachable at {PG_URL}: {exc}")
            pytest.skip(f"PostgreSQL unreachable: {exc}")
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'tonle.db'}"
    with ThreadPoolExecutor(1) as pool:  # Alembic's env runs asyncio.run(): give it a thread of its own
        pool.submit(upgrade, url).result()
    db = loop.run(_make_db(url))
    be = Backend(name=name, url=url, tmp=tmp, loop=loop, db=db)
    yield be
    for srv, _ in be.servers.values():
        srv.stop()
    # Whatever the suite did through the API and the ledger, every invariant still holds.
    report = loop.run(_verify(db))
    loop.run(db.dispose())
    if name == "postgres":
        loop.run(_pg_drop(url))
    loop.stop()
    assert report.ok, f"ledger invariants broken after the {name} suite: {report.problems}"


async def _make_db(url: str) -> Database:
    if url.startswith("sqlite"):
        return Database(url)
    return Database(url, pool_size=TEST_POOL["db_pool_size"], max_overflow=TEST_POOL["db_max_overflow"])


async def _verify(db: Database) -> Any:
    from tonle.ledger.verify import verify

    async with db.sessions() as session:
        return await verify(session)


@pytest.fixture
def server(backend: Backend) -> Iterator[Server]:
    yield backend.server()
    clock.reset()


@pytest.fixture
def docs_server(backend: Backend) -> Iterator[Server]:
    yield backend.server(Compat.docs)
    clock.reset()


@pytest.fixture
def manual_payout_server(backend: Backend) -> Iterator[Server]:
    """Payouts wait for the bank's result instead of completing at once."""
    yield backend.server(Compat.live, sandbox_payout_mode="manual")
    clock.reset()


@pytest.fixture
def pg_server(server: Server) -> Server:
    if server.name != "postgres":
        pytest.skip("concurrency test: PostgreSQL only")
    return server


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    handler = _Capture()
    logger = logging.getLogger("tonle.access")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(old)


# ---------------------------------------------------------------- the browser (one per session, for every module)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("TONLE_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail("TONLE_TEST_REQUIRE_BROWSER=1 but Debian's chromium is not installed")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()
