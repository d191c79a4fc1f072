"""The plugin guide's quick start works as printed: its provider passes the conformance
suite, and its hook gives the spec byom discovers (docs/plugin-guide.md)."""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import types
from pathlib import Path

import pytest

import byom_sdk
from byom_sdk.testing.conformance import run_conformance

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md"


@pytest.fixture
def quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The guide's ``src/byom_acme/__init__.py``, importable as ``byom_acme`` (the suite's
    isolation check imports it again in a process of its own)."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)
    [source] = [b for b in blocks if b.startswith("# src/byom_acme/__init__.py")]
    package = tmp_path / "src" / "byom_acme"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(package.parent), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delitem(sys.modules, "byom_acme", raising=False)
    return importlib.import_module("byom_acme")


def test_the_quick_start_provider_passes_the_suite(quick_start, tmp_path):
    module = quick_start
    report = tmp_path / "report.json"
    assert run_conformance(module.AcmeProvider, report_path=report, name="acme", pytest_args=["-q"]) == 0
    totals = json.loads(report.read_text())["totals"]
    assert totals["failed"] == 0 and totals["passed"] >= 20  # the guide says 32 pass


def test_the_quick_start_hook_gives_a_provider_the_client_calls(quick_start):
    module = quick_start
    [spec] = module.byom_model_providers()
    assert spec.name == "acme"
    with byom_sdk.Client(models={"shout": spec.factory(None)}, trust="off") as client:
        reply = client.model("shout").generate("hello plugin world", max_tokens=2)
    assert (reply.text, reply.finish_reason) == ("hello plugin", "length")
