"""How the suite behaves for authors: guard, strict xfails, preview, skips, report, runner."""

import json
import time
from pathlib import Path

import pytest

from byom_sdk import Boundary, Capabilities
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import SUITE_VERSION, all_checks, run_conformance

from ._harness import failed, run_suite, statuses

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")


def test_suite_passes_on_scripted_model(pytester):
    """The reference double, given every scenario, passes every check it can run; the only
    skips name what it does not offer or does not implement itself."""
    from byom_sdk.testing.conformance import ModelConformance

    infos = (getattr(getattr(ModelConformance, name), "__byom_check__", None) for name in dir(ModelConformance))
    standard = {info.id: info for info in infos if info is not None}
    result, report = run_suite(pytester, "class TestScripted(ScriptedSuite):\n    pass\n")
    assert result.ret == 0
    checks = {c["id"]: c for c in report["subjects"][0]["checks"]}
    assert set(checks) == set(standard)
    skipped = {cid for cid, c in checks.items() if c["status"] == "skipped"}
    assert skipped == {
        "errors.mid_stream",
        "tools.call",
        "structured.output",
        "usage.server_counts",
        "tokenizer.reference",
        "capabilities.undeclared",
        "tools.choice_none",
        *(
            f"wire.{name}"
            for name in (
                "one_request",
                "messages",
                "parameters",
                "top_k",
                "tool_choice",
                "extra",
                "metadata",
                "request_id",
            )
        ),
        *(f"secrets.{name}" for name in ("repr", "errors", "logs")),  # an in-process double holds no key
        "isolation.import",  # ScriptedModel lives in byom_sdk itself: no plugin module to import
        "info.boundary_host",  # in-process: its boundary names no host
    }
    assert "holds no credential the suite can find" in checks["secrets.logs"]["reason"]
    assert "set plugin_module" in checks["isolation.import"]["reason"]
    assert "capability 'tools' not declared" in checks["tools.choice_none"]["reason"]
    assert "offers no request bodies" in checks["wire.messages"]["reason"]  # in-process: nothing on a wire
    # ScriptedModel streams from a sync generator: cancelling goes through the core's bridge.
    assert checks["async.stream_cancel"]["status"] == "passed"
    assert checks["generate.seed"]["status"] == "passed"  # out of preview since 2.1
    for check_id in ("errors.auth", "errors.retry_after", "timeout.request", "stream.incremental"):
        assert checks[check_id]["status"] == "passed", check_id
    subject = report["subjects"][0]
    assert subject["conformant"] is True and subject["capabilities"]["stream"] is True
    assert subject["plugin"]["distribution"] == "byom-sdk"
    assert report["suite_version"] == SUITE_VERSION == "2.8" and report["core_version"]


def test_failure_reason_names_the_leaked_exception(pytester):
    """The report says which raw exception leaked and what to map it to."""
    _, report = run_suite(
        pytester,
        "class Vendor(Exception):\n    pass\n"
        "class TestLeaky(ScriptedSuite):\n"
        "    def make_faulty_model(self, fault):\n"
        "        model = ScriptedModel()\n"
        "        model.fail_always(lambda: Vendor('HTTP 429 Too Many Requests'))\n"
        "        return model\n",
        "-k",
        "errors_throttled",
    )
    reason = next(c["reason"] for c in report["subjects"][0]["checks"] if c["id"] == "errors.throttled")
    assert "Vendor" in reason and "Throttled" in reason and "astream" in reason


def test_every_check_has_an_id_and_a_fix_in_its_docstring():
    """Each check id is area.topic and its docstring says what to fix."""
    import inspect

    from byom_sdk.testing.conformance import BoundaryConformance, ModelConformance, TokenizerConformance

    seen = set()
    for cls in (ModelConformance, TokenizerConformance, BoundaryConformance):
        for name in dir(cls):
            info = getattr(getattr(cls, name), "__byom_check__", None)
            if info is None:
                continue
            seen.add(info.id)
            area, _, topic = info.id.partition(".")
            assert area and topic, info.id
            doc = inspect.getdoc(getattr(cls, name))
            assert "Fix" in doc or "fix" in doc, f"{info.id} docstring gives no fix"
    assert seen == set(all_checks())


def test_expected_failure_is_strict(pytester):
    """A declared expected failure that passes is reported xpassed and fails the run."""
    result, report = run_suite(
        pytester,
        "class TestScripted(ScriptedSuite):\n"
        "    expected_failures = {'generate.usage': 'provider reports no usage (#3)'}\n",
        "-k",
        "usage",
    )
    assert result.ret == 1
    assert statuses(report)["generate.usage"] == "xpassed"


def test_expected_failure_on_a_real_defect_is_xfailed(pytester):
    """Declaring the defect keeps the run green and records the reason."""
    result, report = run_suite(
        pytester,
        "class TestDefect(ScriptedSuite):\n"
        "    model_cls = StreamDiffers\n"
        "    expected_failures = {'stream.matches_generate': 'server re-spaces deltas (#7)'}\n",
        "-k",
        "stream",
    )
    assert result.ret == 0
    check = next(c for c in report["subjects"][0]["checks"] if c["id"] == "stream.matches_generate")
    assert (check["status"], check["reason"]) == ("xfailed", "server re-spaces deltas (#7)")


def test_guard_fails_on_undeclared_override_and_deletion(pytester):
    """Overriding or deleting a standard check without a reason fails suite.no_overrides."""
    _, report = run_suite(
        pytester,
        "class TestCheater(ScriptedSuite):\n"
        "    def test_generate_usage(self, byom_model):\n"
        "        pass\n"
        "    test_stream_events = None\n"
        "    expected_failures = {'no.such_check': 'typo'}\n",
        "-k",
        "no_overrides",
    )
    assert failed(report) == {"suite.no_overrides"}
    reason = next(c["reason"] for c in report["subjects"][0]["checks"])
    assert "generate.usage" in reason and "overridden" in reason
    assert "stream.events" in reason and "deleted" in reason
    assert "no.such_check" in reason


def test_guard_accepts_declared_override(pytester):
    """An override listed in overridden_checks passes the guard and is flagged in the report."""
    _, report = run_suite(
        pytester,
        "class TestAdapted(ScriptedSuite):\n"
        "    overridden_checks = {'generate.usage': 'usage arrives in a trailer; checked below'}\n"
        "    def test_generate_usage(self, byom_model):\n"
        "        assert byom_model.generate('hi').usage.output_tokens > 0\n",
        "-k",
        "no_overrides or usage",
    )
    checks = {c["id"]: c for c in report["subjects"][0]["checks"]}
    assert checks["suite.no_overrides"]["status"] == "passed"
    assert checks["generate.usage"]["overridden"].startswith("usage arrives")


def test_preview_group_runs_only_when_enabled(pytester, monkeypatch):
    """Preview checks are skipped with a reason unless the option or attribute enables them.

    Suite 2.1 has no preview check: generate.seed is put back in the group for the test."""
    import dataclasses

    from byom_sdk.testing.conformance._generate import GenerateChecks

    seed = GenerateChecks.test_generate_seed
    monkeypatch.setattr(seed, "__byom_check__", dataclasses.replace(seed.__byom_check__, preview=True))
    body = "class TestScripted(ScriptedSuite):\n    pass\n\nclass TestOptIn(ScriptedSuite):\n    preview = True\n"
    _, report = run_suite(pytester, body, "-k", "generate_seed")
    assert statuses(report, "TestScripted")["generate.seed"] == "skipped"
    assert statuses(report, "TestOptIn")["generate.seed"] == "passed"
    reason = report["subjects"][0]["checks"][0]["reason"]
    assert "preview" in reason and "--byom-conformance-preview" in reason
    _, report = run_suite(pytester, body, "-k", "generate_seed", "--byom-conformance-preview")
    assert statuses(report, "TestScripted")["generate.seed"] == "passed"


def test_skips_name_plugin_and_capability(pytester):
    """Undeclared capabilities skip their checks with the plugin and capability named,
    and capabilities.undeclared checks they are refused."""
    result, report = run_suite(
        pytester,
        "from byom_sdk import Capabilities\n"
        "class GenerateOnly(ScriptedModel):\n"
        "    def __init__(self, **kw):\n"
        "        super().__init__(capabilities=Capabilities(generate=True, chat=True), **kw)\n"
        "class TestNoStream(ScriptedSuite):\n"
        "    model_cls = GenerateOnly\n",
    )
    assert result.ret == 0
    checks = {c["id"]: c for c in report["subjects"][0]["checks"]}
    for check_id in ("stream.events", "stream.matches_generate", "async.stream"):
        assert checks[check_id]["status"] == "skipped"
        assert "plugin 'scripted'" in checks[check_id]["reason"] and "'stream'" in checks[check_id]["reason"]
    assert "'embed'" in checks["embed.dimension"]["reason"]
    assert checks["capabilities.undeclared"]["status"] == "passed"
    assert report["subjects"][0]["capabilities"]["stream"] is False


def test_make_model_failure_is_reported_per_check(pytester):
    """A factory that raises fails the checks (never skips them) with the cause."""
    _, report = run_suite(
        pytester,
        "class TestBroken(ScriptedSuite):\n"
        "    def make_model(self):\n"
        "        raise RuntimeError('endpoint_name is required')\n",
        "-k",
        "info",
    )
    checks = report["subjects"][0]["checks"]
    assert checks and all(c["status"] == "failed" for c in checks)
    assert "endpoint_name is required" in checks[0]["reason"]


def test_boundary_conformance(pytester):
    """BoundaryConformance compares the declared boundary with the author's expectation."""
    _, report = run_suite(
        pytester,
        "from byom_sdk import Attestation, Boundary\n"
        "from byom_sdk.testing.conformance import BoundaryConformance\n"
        "B = Boundary(provider='scripted', location_kind='customer-cloud', region='eu-west-1',\n"
        "             endpoint='https://x.example', tls=True,\n"
        "             attestations=(Attestation(name='data_capture', value='off', ok=True, source='api'),))\n"
        "class TestRight(BoundaryConformance):\n"
        "    def make_model(self):\n"
        "        return ScriptedModel(boundary=B)\n"
        "    def expected_boundary(self):\n"
        "        return {'region': 'eu-west-1', 'tls': True,\n"
        "                'attestations': [{'name': 'data_capture', 'ok': True}]}\n"
        "class TestWrong(TestRight):\n"
        "    def expected_boundary(self):\n"
        "        return {'region': 'us-east-1', 'attestations': [{'name': 'network_isolation'}]}\n",
    )
    assert failed(report, "TestRight") == set()
    assert failed(report, "TestWrong") == {"boundary.matches_config", "boundary.attestations"}


def test_run_conformance_passes_and_fails(tmp_path):
    """The CLI entry point returns pytest's exit code and writes the report."""
    report_path = tmp_path / "conformance.json"
    code = run_conformance(ScriptedModel, report_path=report_path, name="support-bot", pytest_args=["-q"])
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["suite_version"] == SUITE_VERSION
    subject = report["subjects"][0]
    assert subject["conformant"] and "support_bot" in subject["nodeid"]
    assert subject["summary"]["failed"] == 0
    errors = [c for c in subject["checks"] if c["id"].startswith("errors.")]
    assert errors and all(c["status"] == "skipped" for c in errors)

    boundary = Boundary(provider="scripted", location_kind="process", endpoint="https://x", tls=False)
    code = run_conformance(
        lambda: ScriptedModel(boundary=boundary, capabilities=Capabilities(chat=True)),
        report_path=report_path,
        pytest_args=["-q", "-k", "info"],
    )
    assert code == 1
    assert "info.boundary" in {
        c["id"] for c in json.loads(report_path.read_text())["subjects"][0]["checks"] if c["status"] == "failed"
    }


def test_byom_sdk_testing_does_not_import_pytest():
    """Applications use ScriptedModel without pytest; only the suite package imports it."""
    import subprocess
    import sys

    code = (
        "import sys, byom_sdk.testing; assert 'pytest' not in sys.modules, 'pytest imported'; "
        "import byom_sdk.testing.conformance; assert 'pytest' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_report_per_xdist_worker(pytester):
    """Under pytest-xdist each worker writes its own report file instead of clobbering one."""
    pytester.makeconftest(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_configure(config):\n"
        "    config.workerinput = {'workerid': 'gw3'}\n"
    )
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(
        test_w="from _defects_src import *  # noqa: F403\nclass TestScripted(ScriptedSuite):\n    pass\n"
    )
    target = pytester.path / "report.json"
    pytester.runpytest_inprocess(
        "-p", "byom_sdk.testing.plugin", "-p", "no:asyncio", f"--byom-conformance-report={target}", "-k", "info"
    )
    assert not target.exists()
    # info.valid, info.capabilities, info.boundary, info.in_process
    assert json.loads((pytester.path / "report.gw3.json").read_text())["totals"]["passed"] == 4


BLOCKING = """
import threading, time
from byom_sdk.testing import ScriptedModel

class Sticky(ScriptedModel):
    hold = threading.Event()

    def _generate(self, request):
        self.hold.wait({seconds})  # a lock that is (almost) never released
        return super()._generate(request)

class TestSticky(ScriptedSuite):
    model_cls = Sticky
"""


def test_a_blocked_check_fails_and_the_rest_of_its_class_fails_at_once(pytester):
    started = time.monotonic()
    _, report = run_suite(
        pytester, BLOCKING.format(seconds=30), "-k", "generate_response or generate_usage or boundary_declared",
        "--byom-conformance-timeout", "0.5",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    checks = {c["id"]: c for c in report["subjects"][0]["checks"] if c["status"]}
    assert checks["generate.response"]["status"] == "failed"
    assert "did not finish within 0.5 s: the plugin blocks in _generate" in checks["generate.response"]["reason"]
    assert checks["generate.usage"]["status"] == "failed"
    assert "blocked this model" in checks["generate.usage"]["reason"]
    assert elapsed < 20, elapsed  # neither the 30 s wait nor the default 120 s limit, per check


def test_the_time_limit_can_be_turned_off(pytester):
    _, report = run_suite(pytester, BLOCKING.format(seconds=0.7), "-k", "generate_response",
                               "--byom-conformance-timeout", "0")  # fmt: skip
    [check] = [c for c in report["subjects"][0]["checks"] if c["status"]]
    assert check["status"] == "passed", check


def test_a_check_within_its_class_time_limit_passes(pytester):
    body = BLOCKING.format(seconds=0.3) + "    check_timeout = 5\n"
    _, report = run_suite(pytester, body, "-k", "generate_response")
    [check] = [c for c in report["subjects"][0]["checks"] if c["status"]]
    assert check["status"] == "passed", check


def test_importing_the_kit_without_pytest_names_the_extra():
    # A plugin author's app environment may lack pytest: the import error says what to install.
    import subprocess
    import sys

    script = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'pytest' or name.startswith('_pytest'):\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import byom_sdk.testing.conformance\n"
        "except ImportError as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("ImportError ") and "pip install 'byom-sdk[conformance]'" in out.stdout, out
