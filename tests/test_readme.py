"""The README's curl walk-through, run as written against a server seeded with the demo fixture."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT
from tonle.config import Compat

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _block(readme: str, name: str) -> str:
    section = readme.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]
    return section.split("```", 2)[1].split("\n", 1)[1]


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_readme_walkthrough_answers_as_documented(backend):
    # As `make run` serves: loopback targets allowed (the walk-through's fake biller is on loopback), and the worker
    # in process (it applies the walk-through's Supplier API queues).
    with backend.running_server(Compat.live, webhook_allow_private_targets=True, worker_in_process=True) as server:
        _walk(server)


def _walk(server) -> None:
    server.cli("seed", str(ROOT / "fixtures" / "demo.json"), check=True)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    script, answers = _block(readme, "walkthrough"), _block(readme, "walkthrough-answers")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "BASE": server.base_url},
    )
    assert proc.returncode == 0, proc.stderr
    got = [UUID.sub("<uuid>", line) for line in proc.stdout.splitlines() if line.strip()]
    assert got == [line for line in answers.splitlines() if line.strip()]
