"""Schemathesis against Tonle's own OpenAPI document: every operation, valid and invalid inputs generated from the
schema, in-process (ASGI) and against a running `tonle serve`. Zero 5xx, every status code documented, every JSON
answer conforming to its documented schema. Stateful runs follow the document's links (create a customer, settle,
read the bill and the transaction back). The number of generated cases is printed (docs/reliability.md)."""

import secrets
from collections import Counter
from contextlib import contextmanager
from decimal import Decimal

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition, Unsatisfiable
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
from tonle.payments import hashing
from tonle.wire.dates import parse_wire_date

OK = {"SUCCESS", "000"}  # the customer family answers SUCCESS, the payment family 000
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


class Chains:
    """What the stateful runs saw: each step's answer code per operation, and the chains the links made."""

    def __init__(self) -> None:
        self.steps: Counter = Counter()
        self.settled: set[str] = set()
        self.followed: Counter = Counter()  # reads of a bill this run settled, per operation
        self.customers: dict[str, set[str]] = {}  # created by this run: sync code -> wallet currencies
        self.failures: list[str] = []
        self.sent = 0  # settle bodies sent, which numbers their ref_ids
        self.gave_up = 0  # rounds hypothesis ended because a replayed prefix met another answer


def _as_a_biller(body: dict, currencies: set[str]) -> None:
    """Complete a generated settle for a customer this run created as a biller would: one of its wallets' currency,
    a whole amount, due on or after the bill date, paid from the wallet. The stateless runs fuzz these fields."""
    if body.get("currency") not in currencies:
        body["currency"] = sorted(currencies)[0]
    total = body.get("total_amount")
    if not isinstance(total, int) or not 0 <= total <= 10**6:
        body["total_amount"] = int(abs(total)) % 10**6 if isinstance(total, int | float) else 100
    for optional in ("payment_method_token", "details", "total_tax"):
        body.pop(optional, None)
    date, due = body.get("date"), body.get("due_date")
    if isinstance(date, str) and isinstance(due, str) and parse_wire_date(due) and parse_wire_date(date):
        if parse_wire_date(due) < parse_wire_date(date):
            body["due_date"] = date


def _sign_settle(body: dict, key: str) -> None:
    """Sign a generated settle body the way a biller would, so that it gets past the hash (318) to the money."""
    try:
        date = parse_wire_date(body["date"])
        total = body["total_amount"]
        total = Decimal(repr(total)) if isinstance(total, float) else total
        message = hashing.bill_message(
            body["ref_id"], date, body["currency"], total, body["customer_sync_code"], body["payment_to"]
        )
    except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError):
        return  # a body that cannot be signed is refused before the hash matters
    body["hash"] = hashing.sign(message, key)


def linked_operations(document: dict) -> set[str]:
    """Labels ("POST /customer/create") of the operations that are the source or the target of an OpenAPI link."""
    by_id = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            by_id[op["operationId"]] = f"{method.upper()} {path}"
    found = set()
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for response in op.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    found |= {f"{method.upper()} {path}", by_id[link["operationId"]]}
    return found


def stateful(schema, server, creds: Creds, scenarios: int, steps: int, base_url: str | None, seen: Chains) -> Chains:
    """Run schemathesis' state machine over the OpenAPI links (customer → settle → bill / transaction detail, init →
    verify / checkout, notification → status) with the merchant's credentials, signed settle bodies and customers
    whose wallets hold money, so chains reach the money path and the reads after it."""
    # Valid requests (the stateless runs cover invalid ones), with the merchant's own credentials: a chain only
    # gets anywhere when its steps succeed.
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE], with_security_parameters=False, allow_x00=False, allow_extra_parameters=False
    )
    # Only the operations the links connect: the stateless runs cover the rest, and chains get longer.
    schema = schema.include(name=sorted(linked_operations(schema.raw_schema)))
    settle_path = "/bill_payment/push_bill_with_payment"

    class Machine(schema.as_state_machine()):
        def before_call(self, case):
            if case.operation.path == settle_path and isinstance(case.body, dict):
                # Sub-billers do not come from a linked answer; one that exists lets the payment through.
                if isinstance(case.body.get("payment_to"), str):
                    case.body["payment_to"] = "SP001"
                currencies = seen.customers.get(case.body.get("customer_sync_code"))
                if currencies:
                    _as_a_biller(case.body, currencies)
                # A biller sends each bill once: generated ref_ids repeat ("0", "00"), and a repeat is refused (327)
                # before any money moves, so most chains stopped there. The links read the ref_id sent.
                ref = case.body.get("ref_id")
                if isinstance(ref, str) and ref.strip():
                    seen.sent += 1
                    case.body["ref_id"] = f"{ref[:80]}-{seen.sent}"
                _sign_settle(case.body, creds.m.creds.bill_hash_key)

        def get_call_kwargs(self, case):
            kwargs = {"headers": creds.headers(case.operation.path)}
            return {**kwargs, "base_url": base_url} if base_url else kwargs

        def after_call(self, response, case):
            path, body = case.operation.path, case.body if isinstance(case.body, dict) else {}
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            code = answer.get("code") if isinstance(answer, dict) else None
            seen.steps[(case.operation.label, code)] += 1
            if code not in OK:
                return
            if path == "/customer/create" and isinstance(body.get("sync_code"), str):
                stored = answer["data"]["sync_code"]
                fund_wallets(server, creds.m.id, stored, {"KHR": 10**12, "USD": 10**10})
                currencies = {w["currency"].upper() for w in body.get("wallet") or []}
                if currencies:
                    seen.customers[body["sync_code"]] = currencies
            elif path == settle_path:
                seen.settled.add(body["ref_id"])

        def validate_response(self, response, case, **kwargs):
            headers = creds.headers(case.operation.path)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as exc:
                if len(seen.failures) < 5:
                    seen.failures.append(f"{case.operation.label} {response.status_code}: {str(exc)[:600]}")
            # A bill this run settled is there to read, whatever else the generated request carried.
            ref = None
            if case.operation.path == "/instant_payment/get_single_bill/{ref_id}":
                ref = (case.path_parameters or {}).get("ref_id")
                if not isinstance(ref, str) or "/" in ref or ref.strip(".") == "":
                    ref = None  # a URL path cannot carry this one to the operation
            elif case.operation.path == "/transaction/instant_payment/detail" and isinstance(case.body, dict):
                ref = case.body.get("reference")
            if isinstance(ref, str) and ref in seen.settled:
                answer = response.json()
                seen.followed[case.operation.label] += 1
                if answer.get("code") not in OK and len(seen.failures) < 5:
                    seen.failures.append(f"{case.operation.label}: settled bill {ref!r} not found: {answer}")

    try:
        _run_machine(Machine, scenarios, steps)
    except FlakyStrategyDefinition:
        # The walk draws its next step from the links the server's answers filled; against a live database the same
        # prefix of steps can meet another answer (a customer that now exists), and hypothesis, which expects a
        # prefix to replay the same, gives the round up. That says nothing of the server (its findings are in
        # seen.failures, asserted below); the round ends and the next one walks afresh.
        seen.gave_up += 1
    assert not seen.failures, "\n\n".join(seen.failures)
    return seen


def _run_machine(Machine, scenarios: int, steps: int) -> None:
    Machine.run(
        settings=settings(
            max_examples=scenarios,
            stateful_step_count=steps,
            # Random even under CI (whose hypothesis profile derandomizes): with a fixed seed the walk is the same
            # every round, and whether it ever reaches a settle then depends on the OpenAPI document's shape (two
            # CI runs walked past it after operations were moved). Each round explores afresh.
            derandomize=False,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


def _report(name, cases):
    print(f"schemathesis {name}: {sum(cases.values())} cases over {len(cases)} operations")


@contextmanager
def in_process(server):
    """The app's own OpenAPI document, its requests served in-process (ASGI)."""
    app = create_app(server.settings.model_copy(update={"worker_in_process": False}))
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        st_asgi.shutdown_lifespans()


@contextmanager
def served(server):
    """A real `tonle serve` on the test database; after the run, its log holds no internal error."""
    proc = ServeProc(server.backend, server.settings).start()
    try:
        yield proc, schemathesis.openapi.from_url(proc.base_url + "/openapi.json")
    finally:
        proc.stop()
    assert "ERR_INTERNAL" not in proc.output()
    assert "Traceback" not in proc.output(), proc.output()[-3000:]


def test_schema_fuzz_in_process(server):
    creds = Creds(server)
    with in_process(server) as schema:
        cases = fuzz(schema, creds, examples=15)
    assert len(cases) >= 38
    _report(f"in-process on {server.name}", cases)


@pytest.mark.long
def test_schema_fuzz_against_a_running_server(server):
    creds = Creds(server)
    with served(server) as (proc, schema):
        # `tonle serve` itself says nothing about what it runs on.
        assert "server" not in {k.lower() for k in httpx.get(proc.base_url + "/healthz").headers}
        cases = fuzz(schema, creds, examples=40, base_url=proc.base_url)
    _report(f"against tonle serve on {server.name}", cases)


def _report_chains(name, seen: Chains):
    total = sum(seen.steps.values())
    print(
        f"schemathesis stateful {name}: {total} steps, {len(seen.settled)} bills settled, "
        f"settled bills read back: {dict(seen.followed)}"
    )


def chained(schema, server, creds: Creds, scenarios: int, steps: int, base_url: str | None = None) -> Chains:
    """Stateful rounds until a chain went all the way (a payment settled and its bill or transaction read back),
    ten rounds at most: which link a step follows is random, so a round may happen to make no such chain (on
    PostgreSQL it often takes several); the rounds stop as soon as the chain is seen."""
    seen = Chains()
    for _ in range(10):
        stateful(schema, server, creds, scenarios, steps, base_url, seen)
        if seen.settled and sum(seen.followed.values()):
            break
    assert seen.settled, seen.steps
    assert sum(seen.followed.values()), seen.steps
    return seen


def test_stateful_links_in_process(server):
    creds = Creds(server)
    with in_process(server) as schema:
        seen = chained(schema, server, creds, scenarios=60, steps=10)
    _report_chains(f"in-process on {server.name}", seen)


@pytest.mark.long
def test_stateful_links_against_a_running_server(server):
    creds = Creds(server)
    with served(server) as (proc, schema):
        seen = chained(schema, server, creds, scenarios=150, steps=12, base_url=proc.base_url)
    _report_chains(f"against tonle serve on {server.name}", seen)
