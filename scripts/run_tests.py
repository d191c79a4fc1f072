"""Run every test suite: the core's, then each plugin's and contrib package's from its own folder.

Each package runs as its own pytest session, the way its author and its users run it (the
conformance suite is enabled per package with ``pytest_plugins``). Exit code 5 ("no tests
collected") counts as a failure: a package whose tests vanished must not look green.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "conformance-reports"


def suites() -> list[tuple[str, Path]]:
    found = [("core", ROOT)]
    for group in ("plugins", "contrib"):
        for package in sorted((ROOT / group).glob("*/tests")):
            found.append((package.parent.name, package.parent))
    return found


def main() -> int:
    REPORTS.mkdir(exist_ok=True)
    for stale in REPORTS.glob("*.junit.xml"):
        stale.unlink()
    failed = []
    summary = []
    for name, folder in suites():
        junit = REPORTS / f"{name}.junit.xml"
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        if name != "core":
            args.append("tests")
        started = time.monotonic()
        print(f"\n=== {name} ({folder.relative_to(ROOT) if folder != ROOT else '.'})", flush=True)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "BYOM_CONFORMANCE_REPORT": str(REPORTS / f"{name}.json")}
        code = subprocess.call(args, cwd=folder, env=env)
        summary.append(f"{name}: exit {code} in {time.monotonic() - started:.0f}s")
        if code != 0:
            failed.append(name)
    print("\n" + "\n".join(summary))
    passed, failures, skipped = _totals()
    if failed:
        print(f"FAILED suites: {', '.join(failed)}")
    # One closing line over every suite, in the form CI runners read.
    print(f"{passed} passed, {failures} failed, {skipped} skipped")
    return 1 if failed else 0


def _totals() -> tuple[int, int, int]:
    import xml.etree.ElementTree as ET

    passed = failures = skipped = 0
    for junit in REPORTS.glob("*.junit.xml"):
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            tests, skips = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
            fails = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            passed += tests - skips - fails
            failures += fails
            skipped += skips
    return passed, failures, skipped


if __name__ == "__main__":
    raise SystemExit(main())
