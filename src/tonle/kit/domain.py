"""What a service refuses, named for what happened (``banks.TransactionExpired``, ``customers.CustomerNotFound``).

A domain error carries no wire code: the same refusal means different codes on different products' endpoints, so
each product's router says it in its own words, from the code table beside its schemas (``wire.errors.speaking``)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """``facts`` are what a router may need to word the answer (the existing bill, the field, the reason)."""

    def __init__(self, detail: str = "", **facts: Any) -> None:
        super().__init__(detail or type(self).__name__)
        self.facts = facts
