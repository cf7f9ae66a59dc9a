"""Leased claims: how a worker takes rows of a queue table (webhook events, notification deliveries, and the
queues of the products to come) so that several workers share the work and a killed worker's rows come back."""

from __future__ import annotations

from sqlalchemy import TextClause, text


def lease_claim(table: str, pick: str, returning: str, *, postgres: bool, lock_of: str = "") -> TextClause:
    """Claim the rows ``pick`` selects with a lease (``:until``, ``:token``) and count the attempt, in one statement.

    On PostgreSQL the picked rows are locked with SKIP LOCKED, so concurrent claimers split the work instead of
    waiting or taking the same rows; on SQLite the transaction's write lock already serialises claimers. All the
    pieces are constants of the caller; values travel as bind parameters."""
    lock = (f" FOR UPDATE OF {lock_of} SKIP LOCKED" if lock_of else " FOR UPDATE SKIP LOCKED") if postgres else ""
    return text(
        f"UPDATE {table} SET lease_until = :until, lease_token = :token, attempts = attempts + 1 "  # noqa: S608
        f"WHERE id IN ({pick}{lock}) RETURNING {returning}"
    )
