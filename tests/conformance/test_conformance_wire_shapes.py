"""The wire.* checks hold on many real API body shapes: no false alarm on correct providers,
and each broken provider caught by its named check.

One in-process pytest session runs the wire.* checks (and only those) on every subject of
``wire_shapes/catalog.py``: correct providers for the Anthropic, Gemini, TGI, Cohere,
OpenAI, LangServe shapes and transport variants (form, multipart, chunked, gzip, TLS,
``requests``, a token fetch), and broken providers each focused on the check that must
catch it. No subject hands its requests over: the checks read them off the sockets. The
JSON report of that session is what the tests below read.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the nested session imports the same `wire_shapes` package
catalog = importlib.import_module("wire_shapes.catalog")

MODULE = """\
from wire_shapes.catalog import subjects

globals().update(subjects())
"""

CONFTEST = """\
from byom_sdk.testing.conformance._core import check_of


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        info = check_of(item.cls, item.originalname)
        (keep if info is not None and info.id in item.cls.focus else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session):
    from wire_shapes._harness import stop_servers

    stop_servers()
"""

#: A correct provider that calls countTokens before each generate sends the prompt twice
#: for one call. wire.one_request counts every request carrying the prompt and fails it by
#: design: a preflight doubles the endpoint's load and its logs of the prompt, which the
#: plugin author must see (and can waive). Its four other wire checks must pass.
EXPECTED_FAILURES = {"TestCorrectCountTokensFirst": {"wire.one_request"}}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("wire_shapes")
    (folder / "pytest.ini").write_text(f"[pytest]\npythonpath = {HERE}\n")
    (folder / "conftest.py").write_text(CONFTEST)
    module = folder / "test_wire_shapes.py"
    module.write_text(MODULE)
    path = folder / "report.json"
    args = [str(module), "-c", str(folder / "pytest.ini"), "--rootdir", str(folder), "--confcutdir", str(folder)]
    args += ["--import-mode=importlib", "-p", "byom_sdk.testing.plugin", "-p", "no:cacheprovider", "-p", "no:asyncio"]
    pytest.main([*args, "-p", "no:terminal", f"--byom-conformance-report={path}"])
    return json.loads(path.read_text())


def _checks(report: dict[str, Any], subject: Any) -> dict[str, dict[str, Any]]:
    if subject.missing:
        pytest.skip(f"{subject.name} needs {subject.missing}")
    found = [s for s in report["subjects"] if s["nodeid"].endswith("::" + subject.name)]
    assert len(found) == 1, f"{subject.name} missing from the report"
    return {c["id"]: c for c in found[0]["checks"]}


def test_at_least_twenty_correct_and_twenty_broken_subjects() -> None:
    assert len(catalog.CORRECT) >= 20
    assert len(catalog.BROKEN) >= 20
    names = [subject.name for subject in (*catalog.CORRECT, *catalog.BROKEN)]
    assert len(set(names)) == len(names)
    assert all(subject.check in catalog.WIRE_CHECKS for subject in catalog.BROKEN)
    assert all(subject.provider.__doc__.startswith("Defect: ") for subject in catalog.BROKEN)


@pytest.mark.parametrize("subject", catalog.CORRECT, ids=lambda subject: subject.name)
def test_correct_shape_passes_every_wire_check(report: dict[str, Any], subject: Any) -> None:
    checks = _checks(report, subject)
    assert set(checks) == set(catalog.WIRE_CHECKS)  # the run is restricted to the wire checks
    expected = EXPECTED_FAILURES.get(subject.name, set())
    statuses = {cid: check["status"] for cid, check in checks.items()}
    assert statuses == {cid: "failed" if cid in expected else "passed" for cid in catalog.WIRE_CHECKS}, {
        cid: check["reason"] for cid, check in checks.items() if check["status"] != "passed"
    }


@pytest.mark.parametrize("subject", catalog.BROKEN, ids=lambda subject: subject.name)
def test_broken_provider_is_caught_by_its_check(report: dict[str, Any], subject: Any) -> None:
    checks = _checks(report, subject)
    assert set(checks) == {subject.check}
    check = checks[subject.check]
    assert check["status"] == "failed", check
    assert check["reason"]
