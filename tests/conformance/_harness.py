"""Running the suite in a fresh in-process pytest session (pytester) and reading its report."""

import json
import textwrap
from pathlib import Path

HERE = Path(__file__).parent


def run_suite(pytester, body, *args):
    """Run the suite on the classes defined by ``body``; return (outcomes, report)."""
    pytester.syspathinsert(HERE)  # the subjects live in _defects_src.py next to this file
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
