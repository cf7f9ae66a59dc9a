"""Fake billers for the bank-channel tests: `tonle.sandbox.biller`'s app, served by uvicorn on a thread."""

from __future__ import annotations

import socket
import threading
from typing import Any

import uvicorn

from tonle.sandbox import biller

TOKEN = "1603aa00dcc4426ba83298341bab126b"

GOOD: dict[str, Any] = {
    "token": TOKEN,
    "consumers": [
        {
            "consumer_code": "CU003035",
            "consumer_name": "ញ៉េប នីម",
            "consumer_name_latin": "Nheb Nim",
            "phone": "010888999",
            "currency": "USD",
            "due_amount": 10,
            "min_amount": -1,
            "max_amount": 5000,
            "balance": 0,
            "description": "Invoice on Feb-2024",
            "last_bill_date": "2024-2-29 10:46:33",
            "last_due_date": "2024-3-30 10:46:33",
            "last_pay_date": "2024-01-05 10:46:33",
            "pending_bills": {
                "opening_balance": 20,
                "pending_bills": [
                    {"date": "29/02/2024", "amount": 10, "balance": 30, "digital_bill_url": "http://x/b2"},
                    {"date": "31/01/2024", "amount": 10, "balance": 20, "digital_bill_url": "http://x/b1"},
                ],
            },
        },
        {
            "consumer_code": "EXACT1",
            "consumer_name": "សុខ តារា",
            "currency": "KHR",
            "due_amount": 45000,
            "last_due_date": "2026-12-15 23:59:59",
        },
        {
            "consumer_code": "RANGE1",
            "consumer_name": "Range",
            "currency": "USD",
            "due_amount": "10.00",
            "min_amount": 5,
            "max_amount": "20.50",
            "last_due_date": "2026-12-15",
        },
        {
            "consumer_code": "LATE1",
            "consumer_name": "Late",
            "currency": "USD",
            "due_amount": 1,
            "last_due_date": "2024-1-1",
            "code": 2,
        },
        {
            "consumer_code": "PAID1",
            "consumer_name": "Paid",
            "currency": "USD",
            "due_amount": 0,
            "last_due_date": "2024-1-1",
            "code": 3,
        },
        {
            "consumer_code": "EUR1",
            "consumer_name": "Euro",
            "currency": "USD",
            "due_amount": 1,
            "last_due_date": "2024-1-1",
            "code": 4,
        },
        {
            "consumer_code": "ZERO1",
            "consumer_name": "Zero",
            "currency": "KHR",
            "due_amount": 0,
            "last_due_date": "2024-1-1",
        },
    ],
}


def with_faults(*faults: str, **more: Any) -> dict[str, Any]:
    return {**GOOD, "faults": list(faults), **more}


class FakeBiller:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.app = biller.create_app(spec)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict[str, Any]] = []
        outer = self

        async def recorder(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                outer.requests.append({"path": scope["path"], "headers": dict(scope["headers"])})
            await outer.app(scope, receive, send)

        config = uvicorn.Config(recorder, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.app.state.received

    def __enter__(self) -> FakeBiller:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            threading.Event().wait(0.05)
        raise RuntimeError("fake biller did not start")

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
