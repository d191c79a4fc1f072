"""The suite catches broken plugins: each defect fails under the right check id.

Every test runs the suite in a fresh pytest session (pytester) with the conformance
plugin and reads the JSON report it wrote.
"""

import json
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

HERE = Path(__file__).parent


def run_suite(pytester, body, *args):
    """Run the suite on the classes defined by ``body``; return (outcomes, report)."""
    pytester.syspathinsert(HERE)  # the defective models live in _defects_src.py next to this file
    pytester.makepyfile(test_subject="from _defects_src import *  # noqa: F403\n\n" + textwrap.dedent(body))
    report_path = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "-p",
        "byom_sdk.testing.plugin",
        "-p",
        "no:asyncio",
        "-p",
        "no:cacheprovider",
        f"--byom-conformance-report={report_path}",
        *args,
    )
    report = json.loads(report_path.read_text())
    return result, report


def statuses(report, cls_name=None):
    """check id → status for one subject (the only one unless named)."""
    subjects = report["subjects"]
    if cls_name is not None:
        subjects = [s for s in subjects if s["nodeid"].endswith("::" + cls_name)]
    assert len(subjects) == 1, [s["nodeid"] for s in report["subjects"]]
    return {c["id"]: c["status"] for c in subjects[0]["checks"]}


def failed(report, cls_name=None):
    return {cid for cid, status in statuses(report, cls_name).items() if status == "failed"}


def test_suite_passes_on_scripted_model(pytester):
    """The reference double passes every non-preview check; nothing fails."""
    from byom_sdk.testing.conformance import ModelConformance

    infos = (getattr(getattr(ModelConformance, name), "__byom_check__", None) for name in dir(ModelConformance))
    standard = {info.id: info for info in infos if info is not None}
    preview = sum(info.preview for info in standard.values())
    result, report = run_suite(pytester, "class TestScripted(ScriptedSuite):\n    pass\n")
    result.assert_outcomes(passed=len(standard) - preview, skipped=preview)
    checks = statuses(report)
    assert set(checks) == set(standard)
    assert failed(report) == set()
    assert checks["close.releases_threads"] == "skipped"  # preview group, off by default
    assert report["totals"]["failed"] == 0
    subject = report["subjects"][0]
    assert subject["conformant"] is True
    assert subject["capabilities"]["stream"] is True
    assert subject["plugin"]["distribution"] == "byom-sdk"
    assert report["suite_version"] and report["core_version"]


@pytest.mark.parametrize(
    ("body", "expected", "allowed"),
    [
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    model_cls = IgnoresMaxTokens\n",
            {"generate.max_tokens", "stream.max_tokens"},
            {"generate.finish_reason"},
            id="ignores-max-tokens",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    model_cls = StreamDiffers\n",
            {"stream.matches_generate"},
            set(),
            id="stream-differs-from-generate",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n"
            "    def make_faulty_model(self, fault):\n"
            "        return LeaksRawErrors(failures=[fault])\n",
            {"errors.throttled", "errors.unavailable", "errors.bad_request", "errors.timeout", "errors.model_error"},
            set(),
            id="leaks-raw-provider-exception",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    faults = WRONG_RETRYABLE\n",
            {"errors.throttled", "errors.timeout"},
            set(),
            id="wrong-retryable-flag",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    model_cls = CountsCharacters\n",
            {"usage.tokenizer_counts"},
            set(),
            id="wrong-usage-counts",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    model_cls = NotThreadSafe\n",
            {"concurrency.threads"},
            {"concurrency.asyncio"},
            id="not-thread-safe",
        ),
        pytest.param(
            "class TestDefect(ScriptedSuite):\n    model_cls = SilentEmbed\n",
            {"capabilities.undeclared"},
            set(),
            id="undeclared-capability-works",
        ),
    ],
)
def test_suite_catches_defect(pytester, body, expected, allowed):
    """The defect is reported as a failure of exactly the checks that cover it."""
    result, report = run_suite(pytester, body)
    assert result.ret == 1
    got = failed(report)
    assert expected <= got, f"missed: {expected - got}"
    assert got <= expected | allowed, f"unrelated checks failed: {got - expected - allowed}"
    reasons = {c["id"]: c["reason"] for c in report["subjects"][0]["checks"]}
    for check_id in expected:
        assert reasons[check_id], f"{check_id} failed without a reason"


def test_failure_reason_names_the_leaked_exception(pytester):
    """The report says which raw exception leaked and what to map it to."""
    _, report = run_suite(
        pytester,
        "class TestDefect(ScriptedSuite):\n"
        "    def make_faulty_model(self, fault):\n"
        "        return LeaksRawErrors(failures=[fault])\n",
        "-k",
        "throttled",
    )
    reason = next(c["reason"] for c in report["subjects"][0]["checks"] if c["id"] == "errors.throttled")
    assert "VendorSDKError" in reason and "Throttled" in reason
