"""The opt-in pytest plugin of the byom conformance suite.

Enable it in the ``conftest.py`` at the root of your tests (there is deliberately no
auto-loading ``pytest11`` entry point: fixtures of an auto-loaded plugin leak into every
project that merely has the package installed)::

    pytest_plugins = ["byom_sdk.testing.plugin"]

It provides the suite's fixtures (``byom_model``, ``byom_tokenizer``), applies
``expected_failures`` as strict xfails and the preview group, and adds two options:

``--byom-conformance-report=PATH.json``
    write every check's id, status and reason, the declared capabilities and the
    suite/core/plugin versions to ``PATH.json``. Defaults to ``$BYOM_CONFORMANCE_REPORT``
    (CI sets it once for every package); an empty value writes no report. Under
    pytest-xdist each worker writes ``PATH.<worker>.json``.
``--byom-conformance-preview``
    also run checks of the preview group (new checks, off by default).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Before the suite is imported, so its assertions get pytest's detailed messages. (`byom
# conformance` imports the suite first to start pytest; it then runs without rewriting.)
if "byom_sdk.testing.conformance" not in sys.modules:
    pytest.register_assert_rewrite("byom_sdk.testing.conformance")

from .conformance._core import SUITE_VERSION, Conformance, check_of, plugin_label
from .conformance._report import ReportCollector

if TYPE_CHECKING:
    from .._provider import Provider
    from .._tokenizer import Tokenizer

__all__ = ["byom_model", "byom_tokenizer"]

_COLLECTOR = pytest.StashKey[ReportCollector]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("byom-conformance", "byom conformance suite")
    group.addoption(
        "--byom-conformance-report",
        metavar="PATH",
        default=os.environ.get("BYOM_CONFORMANCE_REPORT") or None,
        help="write the byom conformance report (JSON) to PATH (default: $BYOM_CONFORMANCE_REPORT)",
    )
    group.addoption(
        "--byom-conformance-preview",
        action="store_true",
        default=False,
        help="also run the preview group of new conformance checks",
    )


def pytest_configure(config: pytest.Config) -> None:
    # getoption defaults cover the plugin being registered late (pytest_plugins in a test
    # module), after the command line was parsed.
    path = config.getoption("byom_conformance_report", default=os.environ.get("BYOM_CONFORMANCE_REPORT"))
    preview = config.getoption("byom_conformance_preview", default=False)
    report = Path(path).resolve() if path else None
    worker = getattr(config, "workerinput", {}).get("workerid")
    if report is not None and worker:
        # pytest-xdist: each worker sees only its share of the checks; one file per worker.
        report = report.with_name(f"{report.stem}.{worker}{report.suffix}")
    config.stash[_COLLECTOR] = ReportCollector(report, preview=bool(preview))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    collector = config.stash[_COLLECTOR]
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None or not issubclass(cls, Conformance):
            continue
        name = getattr(item, "originalname", item.name)
        info = check_of(cls, name)
        if info is None:
            continue  # the author's own extra tests in the class
        parent = item.getparent(pytest.Class)
        collector.add_check(item.nodeid, parent.nodeid if parent else item.nodeid, cls, info)
        if info.preview and not (collector.preview or cls.preview):
            item.add_marker(
                pytest.mark.skip(
                    reason=f"preview check '{info.id}' (suite {SUITE_VERSION}); enable with "
                    "--byom-conformance-preview or preview = True"
                )
            )
        elif info.id in cls.expected_failures:
            item.add_marker(pytest.mark.xfail(reason=str(cls.expected_failures[info.id]), strict=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    message = None
    if call.excinfo is not None and not call.excinfo.errisinstance(pytest.skip.Exception):
        message = call.excinfo.exconly()
    item.config.stash[_COLLECTOR].update(item.nodeid, report, message)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collector = session.config.stash.get(_COLLECTOR, None)
    if collector is not None:
        collector.write(int(exitstatus))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    collector = config.stash.get(_COLLECTOR, None)
    if collector is None or not any(collector.totals().values()):
        return
    totals = ", ".join(f"{n} {s}" for s, n in collector.totals().items() if n)
    line = f"byom conformance suite {SUITE_VERSION}: {totals}"
    if collector.path is not None:
        line += f"; report: {collector.path}"
    terminalreporter.write_line(line)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def byom_model(request: pytest.FixtureRequest) -> Iterator[Provider]:
    """The model under test: ``make_model()`` of the conformance class, once per class."""
    subject = request.cls() if request.cls is not None else None
    make = getattr(subject, "make_model", None)
    if make is None:
        raise TypeError("byom_model is for subclasses of byom_sdk.testing.conformance.ModelConformance")
    model = make()
    request.config.stash[_COLLECTOR].record_model(request.node.nodeid, model)
    yield model
    model.close()


@pytest.fixture(scope="class")
def byom_tokenizer(request: pytest.FixtureRequest) -> Tokenizer:
    """The tokenizer under test: ``make_tokenizer()`` of the conformance class or, in a
    ``ModelConformance``, the model's own ``tokenizer`` (skipped when it has none)."""
    subject = request.cls() if request.cls is not None else None
    make = getattr(subject, "make_tokenizer", None)
    if make is None:
        raise TypeError("byom_tokenizer is for subclasses of TokenizerConformance or ModelConformance")
    tokenizer: Tokenizer | None = make()
    if tokenizer is None and hasattr(subject, "make_model"):
        model = request.getfixturevalue("byom_model")
        tokenizer = model.tokenizer
        if tokenizer is None:
            pytest.skip(f"{plugin_label(model)}: the model has no tokenizer (its 'tokenizer' property is None)")
    if tokenizer is None:
        raise TypeError(f"{type(subject).__name__}.make_tokenizer() returned None")
    request.config.stash[_COLLECTOR].record_tokenizer(request.node.nodeid, tokenizer)
    return tokenizer
