"""Schemathesis against Tonle's own OpenAPI document: every operation, valid and invalid inputs generated from the
schema, in-process (ASGI) and against a running `tonle serve`. Zero 5xx, every status code documented, every JSON
answer conforming to its documented schema. The number of generated cases is printed (docs/reliability.md)."""

import secrets
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi as st_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from helpers import add_bank, add_sub_biller, fund_wallets
from procs import ServeProc
from tonle.app import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class Creds:
    """A merchant with a customer, a sub-biller and a bank, so that some generated requests find something."""

    def __init__(self, server):
        self.c, self.m = server.merchant_client("Fuzzed Biller")
        self.token = self.c.headers["Authorization"]
        self.c.post(
            "/customer/create", json={"sync_code": "C1", "name": "A", "wallet": [{"name": "K", "currency": "KHR"}]}
        )
        fund_wallets(server, self.m.id, "C1", {"KHR": 1_000_000})
        add_sub_biller(server, self.m.id, "SP001")
        self.bank_token = "fuzz-bank-" + secrets.token_hex(8)
        add_bank(server, "FUZZ", self.bank_token)
        # One address of their own: the fuzzer's failed logins must not rate-limit anybody else's.
        self.address = f"10.99.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"

    def headers(self, path: str) -> dict[str, str]:
        h = {"X-Forwarded-For": self.address}
        if path.startswith("/payment/"):
            h["token"] = self.bank_token
        elif path.startswith("/instantpaymentsdk/"):
            h.update(token=self.m.creds.merchant_token, **{"X-Referrer-Key": self.m.creds.referrer_key})
        elif path != "/merchantsecurity/authorize":
            h["Authorization"] = self.token
        return h


def fuzz(schema, creds: Creds, examples: int, base_url: str | None = None) -> Counter:
    cases: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _run_operation(op, mode, creds, examples, base_url, cases)
    assert not failures, "\n\n".join(failures)
    return cases


def _run_operation(op, mode, creds: Creds, examples: int, base_url: str | None, cases: Counter) -> list[str]:
    seen: list[str] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case):
        headers = creds.headers(op.path)
        cases[op.label] += 1
        response = case.call(base_url=base_url, headers=headers) if base_url else case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures, then fail once
            if len(seen) < 2:
                seen.append(f"{op.label} [{mode.value}] {response.status_code}: {str(exc)[:600]}")

    try:
        run()
    except Unsatisfiable:
        # Nothing invalid to generate for this operation (no parameters, or none that can be negated).
        assert mode is GenerationMode.NEGATIVE, op.label
    return seen


def _report(name, cases):
    print(f"schemathesis {name}: {sum(cases.values())} cases over {len(cases)} operations")


def test_schema_fuzz_in_process(server):
    creds = Creds(server)
    settings_ = server.settings.model_copy(update={"worker_in_process": False})
    app = create_app(settings_)
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        cases = fuzz(schema, creds, examples=15)
    finally:
        st_asgi.shutdown_lifespans()
    assert len(cases) >= 38
    _report(f"in-process on {server.name}", cases)


@pytest.mark.long
def test_schema_fuzz_against_a_running_server(server):
    creds = Creds(server)
    proc = ServeProc(server.backend, server.settings).start()
    try:
        # `tonle serve` itself says nothing about what it runs on.
        assert "server" not in {k.lower() for k in httpx.get(proc.base_url + "/healthz").headers}
        schema = schemathesis.openapi.from_url(proc.base_url + "/openapi.json")
        cases = fuzz(schema, creds, examples=40, base_url=proc.base_url)
    finally:
        proc.stop()
    assert "ERR_INTERNAL" not in proc.output()
    assert "Traceback" not in proc.output(), proc.output()[-3000:]
    _report(f"against tonle serve on {server.name}", cases)
