"""Engine, sessions and the declarative base. SQLite (aiosqlite) and PostgreSQL (asyncpg) alike."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, mapped_column

from tonle.kit.clock import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer, "sqlite")


def new_id() -> str:
    return str(uuid.uuid4())


def uuid_pk() -> Any:
    return mapped_column(String(36), primary_key=True, default=new_id)


def created_at() -> Any:
    return mapped_column(DateTime, nullable=False, default=lambda: clock.now())


# SQLSTATEs of a server that is going away or not there yet: admin shutdown, crash shutdown, cannot connect now,
# and the connection exception class (08).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03", "08")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or used, rather than that a statement was wrong."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | ConnectionError | TimeoutError):
        return True  # the builtins: a refused or reset connection, or a connect timeout, raised unwrapped
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(cause, "sqlstate", "") or "")
        return state.startswith(_UNAVAILABLE_STATES)
    return False


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kw: Any) -> AsyncEngine:
    # Statement parameters stay out of exception texts and logs: they can hold a webhook secret being rotated, a
    # bill hash key or a customer's phone number, and database errors are logged (docs/reliability.md).
    kw.setdefault("hide_parameters", True)
    if is_sqlite(url):
        # One connection per process. Every transaction takes SQLite's write lock up front (below), so a second
        # connection could never work in parallel anyway; it would only wait in SQLite's busy handler, which
        # sleeps with back-off (up to 100 ms) and collapsed throughput to ~100 req/s under 64 clients
        # (bench/README.md). Waiting for the pool instead hands the connection over at once, in arrival order.
        kw.setdefault("pool_size", 1)
        kw.setdefault("max_overflow", 0)
        kw.setdefault("pool_timeout", 30)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
            # Take over BEGIN from the driver so that every transaction starts IMMEDIATE: it takes the write lock
            # up front and waits for it (busy_timeout), instead of failing with "database is locked" when a
            # reader later tries to write.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_size", 20)
    kw.setdefault("max_overflow", 0)
    kw.setdefault("pool_timeout", 30)
    kw.setdefault("pool_pre_ping", True)
    # A database that does not answer fails the request in seconds (503), instead of holding it for asyncpg's
    # default minute.
    kw.setdefault("connect_args", {"timeout": 5})
    return create_async_engine(url, **kw)


class Database:
    def __init__(self, url: str, **kw: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **kw)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    async def dispose(self) -> None:
        await self.engine.dispose()
