"""Small SQL helpers that differ by dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, any_, bindparam, cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT that knows ON CONFLICT for the session's database."""
    name = session.get_bind().dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def among(session: AsyncSession, column: Any, values: list[str]) -> Any:
    """``column IN (values)`` for a long list of strings: on PostgreSQL one array parameter (``= ANY(:a)``), since
    hundreds of separate parameters made each statement cost a new plan (0.2 s a look-up in the import bench)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(cast(bindparam(None, values, type_=ARRAY(String)), ARRAY(String)))
    return column.in_(values)


async def insert_rows(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys; an autoincrement key may be left out) in the session's
    transaction. PostgreSQL: the COPY protocol, several times faster for thousands of rows than multi-row VALUES
    (whose thousands of parameters are planned anew each time); SQLite: an executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(table.insert(), rows)
        return
    names = list(rows[0])
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection  # asyncpg's own connection, inside the session's transaction
    assert driver is not None
    await driver.copy_records_to_table(table.name, records=[tuple(r[n] for n in names) for r in rows], columns=names)
