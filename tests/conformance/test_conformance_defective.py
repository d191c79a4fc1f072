"""The suite catches deliberately defective plugins, each by a named check, with no false
alarm on correct ones.

One in-process pytest session runs the suite on every subject of
``defective/catalog.py``: the correct plugins (an httpx provider, a botocore provider, the
ScriptedModel and contrib/_template) run every check; each defective plugin runs the check
that must catch it. The JSON report of that session is what the tests below read.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the nested session imports the same `defective` package
catalog = importlib.import_module("defective.catalog")

TEMPLATE = importlib.util.find_spec("byom_template") is not None

MODULE = """\
from defective.catalog import subjects

globals().update(subjects(template={template}))
"""

CONFTEST = """\
from byom_sdk.testing.conformance._core import check_of


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        focus = getattr(item.cls, "focus", None)
        info = check_of(item.cls, item.originalname) if focus else None
        (drop if focus and (info is None or info.id not in focus) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session):
    from defective.catalog import stop_servers

    stop_servers()
"""

#: checks added in suite 2.0 and 2.1 that the correct httpx provider must pass, not skip.
V2_CHECKS = (
    "errors.auth",
    "errors.retry_after",
    "timeout.request",
    "tools.call",
    "structured.output",
    "stream.incremental",
    "stream.concurrent",
    "async.event_loop",
    "async.stream_cancel",
    "request.unchanged",
    "input.invalid",
    "usage.server_counts",
    "generate.empty_text",
    "close.releases_threads",
    "tokenizer.count",
    # suite 2.1
    "generate.stop",
    "generate.default_limit",
    "stream.stop",
    "async.generate_cancel",
    "errors.mid_stream",
    "close.releases_sockets",
    "embed.batch",
    "embed.empty_text",
    "embed.usage",
    # suite 2.2
    "tools.choice_none",
    "concurrency.parallel",
    # suite 2.3
    "wire.one_request",
    "wire.messages",
    "wire.parameters",
    "wire.extra",
    "wire.metadata",
    # suite 2.4
    "concurrency.async_parallel",
    "input.empty",
    "stream.stop_unmatched",
    "wire.request_id",
    "embed.repeated_text",
    "embed.long_text",
    "generate.latency",
    # suite 2.5 (secrets.* skip here: the correct echo providers hold no key)
    "isolation.global_random",
    "isolation.process_state",
    "isolation.output",
    # suite 2.6
    "isolation.import",
    "wire.top_k",
    # suite 2.7
    "wire.tool_choice",
    # suite 2.8
    "isolation.instances",
    "info.boundary_host",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("defective")
    (folder / "pytest.ini").write_text(f"[pytest]\npythonpath = {HERE}\n")
    (folder / "conftest.py").write_text(CONFTEST)
    module = folder / "test_defective_plugins.py"
    module.write_text(MODULE.format(template=TEMPLATE))
    path = folder / "report.json"
    args = [str(module), "-c", str(folder / "pytest.ini"), "--rootdir", str(folder), "--confcutdir", str(folder)]
    args += ["--import-mode=importlib", "-p", "byom_sdk.testing.plugin", "-p", "no:cacheprovider", "-p", "no:asyncio"]
    pytest.main([*args, "-p", "no:terminal", f"--byom-conformance-report={path}"])
    return json.loads(path.read_text())


def _checks(report, subject):
    found = [s for s in report["subjects"] if s["nodeid"].endswith("::" + subject)]
    assert len(found) == 1, f"{subject} missing from the report"
    return {c["id"]: c for c in found[0]["checks"]}


def test_at_least_seventy_defects_each_with_its_own_class():
    assert len(catalog.DEFECTS) >= 70
    assert len({d.plugin for d in catalog.DEFECTS}) == len(catalog.DEFECTS)
    assert all(d.description for d in catalog.DEFECTS)


@pytest.mark.parametrize("subject", [s for s in catalog.CORRECT if TEMPLATE or s != "TestCorrectTemplate"])
def test_no_false_alarm_on_correct_plugins(report, subject):
    checks = _checks(report, subject)
    bad = {cid: c["reason"] for cid, c in checks.items() if c["status"] in ("failed", "xpassed")}
    assert not bad
    assert checks["generate.response"]["status"] == "passed"


@pytest.mark.parametrize("subject", ["TestCorrectHTTPProvider", "TestCorrectBotocoreProvider"])
def test_correct_providers_exercise_the_v2_checks(report, subject):
    checks = _checks(report, subject)
    skipped = {cid: checks[cid]["reason"] for cid in V2_CHECKS if checks.get(cid, {}).get("status") != "passed"}
    if subject == "TestCorrectBotocoreProvider":  # no streams, no tools, no structured output
        undeclared = ("'stream'", "'tools'", "'structured_output'")
        skipped = {cid: why for cid, why in skipped.items() if not any(cap in why for cap in undeclared)}
    assert not skipped


@pytest.mark.parametrize("defect", catalog.DEFECTS, ids=lambda d: d.plugin.__name__)
def test_defect_is_caught_by_its_check(report, defect):
    check = _checks(report, defect.subject)[defect.check]
    assert check["status"] == "failed", check
    assert check["reason"]


@pytest.mark.parametrize("variant", catalog.PASSING, ids=lambda d: d.plugin.__name__)
def test_a_correct_variant_passes_the_check_that_once_failed_it(report, variant):
    check = _checks(report, variant.subject)[variant.check]
    assert check["status"] == "passed", check


@pytest.mark.parametrize("defect", [d for d in catalog.DEFECTS if d.check_timeout], ids=lambda d: d.plugin.__name__)
def test_a_plugin_that_blocks_fails_its_check_in_time_and_shows_where(report, defect):
    """The run goes on; the failure says how long it waited and where the plugin is stuck."""
    check = _checks(report, defect.subject)[defect.check]
    where = {"GenerateRetakesItsLock": "_refresh_token", "StreamWaitsForever": "handle_stream"}
    stuck_in = where.get(defect.plugin.__name__, "close")
    assert f"did not finish within {defect.check_timeout:g} s: the plugin blocks in {stuck_in} (" in check["reason"]
    assert "defects_blocking.py" in check["reason"]
