"""The import rules of the house (docs/architecture.md), checked on the code's own imports: every ``import`` and
``from ... import`` in src/tonle, at module level or inside a function, read with ``ast`` (nothing is run).

- no cycle between tonle's packages;
- only the composition root (app.py, cli.py, models.py) imports the sandbox;
- kit imports nothing of tonle but config, the wire edge only kit and config; the records below the products
  (transactions, bills) import no domain;
- the ledger imports no product.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tonle"
ROOT_MODULES = {"app", "cli", "models", "worker"}  # the composition root: wires every package together
INFRA = {"config", "db", "migrate", "kit", "wire", "jobs"}  # below every domain
DOMAINS = {
    "merchants",
    "customers",
    "ledger",
    "transactions",
    "bills",
    "banks",
    "payments",
    "checkout",
    "khqr",
    "subbillers",
    "sdk",
    "webhooks",
    "notifications",
    "proxy",
    "hosted",
    "supplier",
    "directdebit",
    "methods",
    "idempotency",
    "sandbox",
}
PRODUCTS = {
    "payments",
    "checkout",
    "subbillers",
    "sdk",
    "banks",
    "proxy",
    "hosted",
    "supplier",
    "directdebit",
    "methods",
    "sandbox",
}


def _unit(path: Path) -> str:
    """The package (or top-level module) a file belongs to: ``checkout``, ``db``, ``app``..."""
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = ".".join(("tonle", *path.relative_to(SRC).parent.parts))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names = [f"{base}.{node.module}" if node.module else base]
            else:
                names = [node.module or ""]
            # ``from tonle import x`` names a subpackage
            names += [f"{names[0]}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "tonle" and len(parts) > 1 and (SRC / parts[1]).exists() | (SRC / f"{parts[1]}.py").exists():
                found.add(parts[1])
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        unit = _unit(path)
        edges[unit] |= {u for u in _imports(path) if u != unit}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, stack, seen = [], [], set()

    def visit(node: str) -> None:
        if node in stack:
            cycle = stack[stack.index(node) :]
            if sorted(cycle) not in [sorted(c) for c in found]:
                found.append([*cycle, node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()

    for node in sorted(edges):
        visit(node)
    return found


def test_the_graph_is_read():
    edges = graph()
    # A known arrow of each kind: module level, and a function-level import.
    assert "ledger" in edges["payments"] and "banks" in edges["checkout"]
    assert "sandbox" in edges["cli"]


def test_no_cycle_between_packages():
    assert _cycles(graph()) == []


def test_only_the_composition_root_imports_the_sandbox():
    importers = sorted(u for u, deps in graph().items() if "sandbox" in deps and u not in ROOT_MODULES)
    assert importers == []


def test_kit_the_wire_edge_and_the_records_import_no_domain():
    edges = graph()
    assert sorted(edges["kit"] - {"config"}) == []
    assert sorted(edges["wire"] - {"kit", "config"}) == []
    for low in ("transactions", "bills"):
        assert sorted(edges[low] & DOMAINS) == [], low


def test_the_ledger_imports_no_product():
    assert sorted(graph()["ledger"] & (PRODUCTS | {"webhooks"})) == []


def test_every_package_is_placed():
    """A new package must be named above (domain, product, infrastructure), so that the rules cover it."""
    units = {_unit(p) for p in SRC.rglob("*.py") if "migrations" not in p.parts}
    assert sorted(units - DOMAINS - INFRA - ROOT_MODULES - {"__init__"}) == []


def test_the_app_registers_every_payable_kind_with_the_bank_service():
    """Confirm knows no product by name: each product registers its kind when the app is built."""
    from tonle.app import create_app
    from tonle.banks import bills
    from tonle.banks import service as banks
    from tonle.config import Settings

    create_app(Settings(data_dir=Path("/tmp")))
    assert set(banks.payable_types()) == {"wallet_topup", "checkout", "bank_bill"}
    # and each bill source its look-up, so that the bank channel for bills knows none by name
    assert set(bills.sources()) == {"proxy", "hosted", "supplier"}


def test_the_bank_channel_imports_no_bill_source():
    assert sorted(graph()["banks"] & {"proxy", "hosted", "supplier"}) == []


def _module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


# The one edge layer that answers in Bill24's words itself: it replays an answer as it was given.
SPEAKS_WIRE = {"idempotency/service.py": "the Idempotency-Key layer"}


def test_services_raise_domain_errors_not_bill24_codes():
    """A service says what happened (a DomainError); the product's router says it in Bill24's words."""
    services = [*SRC.glob("*/service.py"), *SRC.glob("*/tasks.py"), SRC / "payments" / "topup.py"]
    offenders = {}
    for path in services:
        rel = str(path.relative_to(SRC))
        wire = sorted(m for m in _module_imports(path) if m.startswith(("tonle.wire.codes", "tonle.wire.errors")))
        if rel not in SPEAKS_WIRE and wire:
            offenders[rel] = wire
    assert offenders == {}


def test_every_product_router_carries_its_code_table():
    from tonle.app import create_app
    from tonle.config import Settings
    from tonle.wire.errors import table_of

    app = create_app(Settings(data_dir=Path("/tmp")))

    def routes(items):
        for r in items:
            nested = getattr(r, "original_router", None)  # an included router
            yield from routes(nested.routes) if nested is not None else [r]

    speaking_paths = {r.path for r in routes(app.routes) if table_of(r)}
    for path in (
        "/payment/v5/inquiry",
        "/customer/create",
        "/transaction/v2/init",
        "/on_boarding/on_boarding_supplier",
        "/bill_payment/push_bill_with_payment",
        "/instantpaymentsdk/wallet/topup",
        "/payment/v3/payout/result",
    ):
        assert path in speaking_paths, path
