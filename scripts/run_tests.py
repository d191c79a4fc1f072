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
    failed = []
    summary = []
    for name, folder in suites():
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
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
    if failed:
        print(f"FAILED suites: {', '.join(failed)}")
        return 1
    print("all suites passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
