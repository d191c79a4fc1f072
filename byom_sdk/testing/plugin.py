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

import inspect
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
from .conformance._watchdog import DEFAULT_CHECK_TIMEOUT, Blocked, run_limited

if TYPE_CHECKING:
    from .._provider import Provider
    from .._tokenizer import Tokenizer

__all__ = ["byom_model", "byom_tokenizer"]

_COLLECTOR = pytest.StashKey[ReportCollector]()
#: class node id → the check that blocked its model.
_BLOCKED = pytest.StashKey[dict[str, str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("byom-conformance", "byom conformance suite")
    group.addoption(
        "--byom-conformance-report",
        metavar="PATH",
        default=os.environ.get("BYOM_CONFORMANCE_REPORT") or None,
        help="write the byom conformance report (JSON) to PATH (default: $BYOM_CONFORMANCE_REPORT)",
    )
    group.addoption(
        "--byom-conformance-timeout",
        metavar="SECONDS",
        type=float,
        default=_env_timeout(),
        help="seconds a check may take before it fails as blocked (default: each class's "
        "check_timeout, 120; $BYOM_CONFORMANCE_TIMEOUT); 0 turns the limit off",
    )
    group.addoption(
        "--byom-conformance-preview",
        action="store_true",
        default=False,
        help="also run the preview group of new conformance checks",
    )


def _env_timeout() -> float | None:
    value = os.environ.get("BYOM_CONFORMANCE_TIMEOUT")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise pytest.UsageError(f"BYOM_CONFORMANCE_TIMEOUT={value!r} is not a number of seconds") from None


def _check_timeout(config: pytest.Config, cls: type) -> float:
    given = config.getoption("byom_conformance_timeout", default=_env_timeout())
    return float(given) if given is not None else float(getattr(cls, "check_timeout", DEFAULT_CHECK_TIMEOUT))


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


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Standard checks run under the watchdog (a blocked plugin fails, it does not hang)."""
    cls = getattr(pyfuncitem, "cls", None)
    if cls is None or not issubclass(cls, Conformance):
        return None
    info = check_of(cls, getattr(pyfuncitem, "originalname", pyfuncitem.name))
    if info is None:
        return None  # the author's own extra tests in the class run as usual
    # A model stuck in one check stays stuck: its class's later checks fail at once
    # instead of each waiting out the limit.
    blocked = pyfuncitem.config.stash.setdefault(_BLOCKED, {})
    parent = pyfuncitem.getparent(pytest.Class)
    key = parent.nodeid if parent is not None else pyfuncitem.nodeid
    if key in blocked:
        pytest.fail(f"not run: check '{blocked[key]}' blocked this model (see its failure)", pytrace=False)
    test = pyfuncitem.obj
    funcargs = pyfuncitem.funcargs
    args = {name: funcargs[name] for name in inspect.signature(test).parameters if name in funcargs}
    try:
        run_limited(
            lambda: test(**args),
            limit=_check_timeout(pyfuncitem.config, cls),
            what=f"check '{info.id}'",
            fix="Look for a lock that is never released, a call without a timeout, or a "
            "thread or event loop waited for that never finishes.",
        )
    except Blocked:
        blocked[key] = info.id
        raise
    return True


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
    limit = _check_timeout(request.config, request.cls) if request.cls is not None else DEFAULT_CHECK_TIMEOUT
    if request.node.nodeid in request.config.stash.get(_BLOCKED, {}):
        limit = min(limit, 5.0)  # a model already stuck: do not wait long for its close
    run_limited(
        model.close,
        limit=limit,
        what=f"closing {plugin_label(model)}",
        fix="close() must release what the model holds without waiting on calls that never end.",
    )


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
