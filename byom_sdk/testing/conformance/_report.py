"""The machine-readable conformance report (``--byom-conformance-report=PATH.json``)."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._plugins import core_version
from ._core import SUITE_VERSION, CheckInfo

if TYPE_CHECKING:
    import pytest

    from ..._provider import Provider
    from ..._tokenizer import Tokenizer

__all__ = ["REPORT_FORMAT", "ReportCollector", "plugin_versions"]

#: Bumped when the report's JSON shape changes incompatibly.
REPORT_FORMAT = 1

_STATUS_ORDER = ("failed", "xpassed", "passed", "xfailed", "skipped")


def _distribution_of(module: str) -> tuple[str | None, str | None]:
    top = module.split(".", 1)[0]
    try:
        names = importlib.metadata.packages_distributions().get(top) or []
    except Exception:  # noqa: BLE001 - metadata of unrelated installs must not break a report.
        names = []
    # Editable installs map no files to their package; try the conventional name too.
    for name in [*names, top.replace("_", "-")]:
        try:
            return importlib.metadata.metadata(name)["Name"], importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def plugin_versions(obj: object, provider: str | None) -> dict[str, Any]:
    """Name, distribution and version of the plugin that made ``obj``.

    The distribution is found from the object's module with ``importlib.metadata``; the
    entry-point name from the ``byom`` group entries of that distribution.
    """
    module = type(obj).__module__
    dist, version = _distribution_of(module)
    entry_point = None
    if dist is not None:
        try:
            for ep in importlib.metadata.entry_points(group="byom"):
                ep_dist = getattr(ep, "dist", None)
                if ep_dist is not None and ep_dist.metadata["Name"] == dist:
                    entry_point = ep.name
                    break
        except Exception:  # noqa: BLE001 - as above.
            entry_point = None
    return {
        "provider": provider,
        "entry_point": entry_point,
        "distribution": dist,
        "version": version,
        "module": module,
        "class": type(obj).__qualname__,
    }


@dataclass
class _Subject:
    nodeid: str
    cls: str
    kinds: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None
    capabilities: dict[str, Any] | None = None
    boundary: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class _CheckResult:
    check: CheckInfo
    nodeid: str
    subject: str
    status: str | None = None  # None until the check ran (deselected, -x, interrupted)
    reason: str | None = None
    duration_s: float = 0.0
    overridden: str | None = None
    strict_xfail: bool = False


def _short(text: str, limit: int = 800) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ReportCollector:
    """Gathers per-check outcomes during the run and writes the JSON report at the end."""

    def __init__(self, path: Path | None, *, preview: bool) -> None:
        self.path = path
        self.preview = preview
        self.subjects: dict[str, _Subject] = {}
        self.results: dict[str, _CheckResult] = {}

    # -- collection -------------------------------------------------------------------------

    def add_check(self, nodeid: str, subject: str, cls: type, info: CheckInfo) -> _CheckResult:
        if subject not in self.subjects:
            self.subjects[subject] = _Subject(nodeid=subject, cls=f"{cls.__module__}.{cls.__qualname__}")
            self.subjects[subject].settings = {
                "expected_failures": dict(getattr(cls, "expected_failures", {})),
                "overridden_checks": dict(getattr(cls, "overridden_checks", {})),
                "preview": bool(getattr(cls, "preview", False)) or self.preview,
            }
        result = _CheckResult(check=info, nodeid=nodeid, subject=subject)
        overridden = getattr(cls, "overridden_checks", {})
        if info.id in overridden:
            result.overridden = str(overridden[info.id])
        self.results[nodeid] = result
        return result

    def record_model(self, subject: str, model: Provider) -> None:
        entry = self.subjects.get(subject)
        if entry is None:
            return
        entry.kinds.append("model")
        try:
            info = model.info
        except Exception as exc:  # noqa: BLE001 - info.valid reports it; the report must still be written.
            entry.model = {"error": f"{type(exc).__name__}: {exc}"}
            return
        entry.model = {
            "id": info.id,
            "provider": info.provider,
            "description": info.description,
            "embedding_dimension": info.embedding_dimension,
            "embedding_normalized": info.embedding_normalized,
        }
        entry.capabilities = info.capabilities.model_dump(mode="json")
        entry.boundary = info.boundary.model_dump(mode="json")
        entry.plugin = plugin_versions(model, info.provider)

    def record_tokenizer(self, subject: str, tokenizer: Tokenizer) -> None:
        entry = self.subjects.get(subject)
        if entry is None:
            return
        entry.kinds.append("tokenizer")
        if entry.plugin is None:
            entry.plugin = plugin_versions(tokenizer, None)

    # -- outcomes ---------------------------------------------------------------------------

    def update(self, nodeid: str, report: pytest.TestReport, message: str | None) -> None:
        result = self.results.get(nodeid)
        if result is None:
            return
        result.duration_s += report.duration
        wasxfail = getattr(report, "wasxfail", None)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if report.skipped and wasxfail is not None:
                result.status, result.reason = "xfailed", str(wasxfail) or None
            elif report.skipped:
                result.status, result.reason = "skipped", _skip_reason(report)
            elif report.passed and wasxfail is not None:
                result.status, result.reason = "xpassed", str(wasxfail) or None
            elif report.passed:
                result.status, result.reason = "passed", None
            else:
                text = str(report.longrepr)
                if "[XPASS(strict)]" in text:
                    result.status, result.strict_xfail = "xpassed", True
                    result.reason = _short(text.replace("[XPASS(strict)]", "").strip())
                else:
                    prefix = "error in setup: " if report.when == "setup" else ""
                    result.status, result.reason = "failed", prefix + _short(message or text)
        elif report.when == "teardown" and report.failed and result.status in ("passed", "xfailed"):
            result.status, result.reason = "failed", "error in teardown: " + _short(message or str(report.longrepr))

    # -- output -----------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(_STATUS_ORDER, 0)
        for result in self.results.values():
            if result.status is not None:
                counts[result.status] += 1
        return counts

    def as_dict(self, exit_status: int | None = None) -> dict[str, Any]:
        subjects = []
        for subject in self.subjects.values():
            checks = [r for r in self.results.values() if r.subject == subject.nodeid and r.status is not None]
            counts = dict.fromkeys(_STATUS_ORDER, 0)
            for r in checks:
                counts[r.status or "skipped"] += 1
            subjects.append(
                {
                    "nodeid": subject.nodeid,
                    "class": subject.cls,
                    "kinds": subject.kinds,
                    "model": subject.model,
                    "capabilities": subject.capabilities,
                    "boundary": subject.boundary,
                    "plugin": subject.plugin,
                    "settings": subject.settings,
                    "summary": counts,
                    "conformant": counts["failed"] == 0 and counts["xpassed"] == 0,
                    "checks": [
                        {
                            "id": r.check.id,
                            "status": r.status,
                            "reason": r.reason,
                            "preview": r.check.preview,
                            "overridden": r.overridden,
                            "summary": r.check.summary,
                            "nodeid": r.nodeid,
                            "duration_s": round(r.duration_s, 4),
                        }
                        for r in checks
                    ],
                }
            )
        return {
            "format": REPORT_FORMAT,
            "suite_version": SUITE_VERSION,
            "core_version": core_version(),
            "python": sys.version.split()[0],
            "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "preview": self.preview,
            "exit_status": exit_status,
            "totals": self.totals(),
            "subjects": subjects,
        }

    def write(self, exit_status: int | None = None) -> Path | None:
        if self.path is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.as_dict(exit_status), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return self.path


def _skip_reason(report: pytest.TestReport) -> str | None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text.removeprefix("Skipped: ")
    return _short(str(longrepr)) if longrepr else None
