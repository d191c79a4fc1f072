"""The suite, run the way ``byom conformance`` runs it, passes on both contrib plugins."""

import json

import pytest

from byom_sdk.testing.conformance import run_conformance

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")


def _summary(path):
    subject = json.loads(path.read_text())["subjects"][0]
    return subject, {c["id"]: c["status"] for c in subject["checks"]}


def test_template_plugin_is_conformant(tmp_path):
    template = pytest.importorskip("byom_template", reason="contrib/_template is not installed")
    report = tmp_path / "template.json"
    assert run_conformance(template.EchoProvider, report_path=report, name="template", pytest_args=["-q"]) == 0
    subject, checks = _summary(report)
    assert subject["conformant"] and subject["plugin"]["entry_point"] == "template-echo"
    assert checks["generate.max_tokens"] == "passed"
    assert checks["stream.events"] == checks["stream.concurrent"] == "passed"
    assert checks["async.stream_cancel"] == "passed"  # sync only: through the core's thread bridge
    assert checks["embed.dimension"] == "skipped"  # the template declares no embeddings


def test_openai_compat_plugin_is_conformant(tmp_path):
    openai_compat = pytest.importorskip("byom_openai_compat", reason="contrib/byom-openai-compat is not installed")
    from byom_openai_compat.testing import OpenAICompatServer

    def config(url, **kw):
        return openai_compat.OpenAICompatConfig(
            base_url=url, model="scripted", embedding_dimension=8, embedding_normalized=True, **kw
        )

    report = tmp_path / "openai-compat.json"
    with OpenAICompatServer(timeout_delay=1.0) as server:
        code = run_conformance(
            lambda: openai_compat.OpenAICompatModel(config(server.base_url)),
            faulty_model_factory=lambda fault: openai_compat.OpenAICompatModel(
                config(server.fault_url(fault), timeout=0.3)
            ),
            report_path=report,
            preview=True,
            name="openai-compat",
            pytest_args=["-q"],
        )
    assert code == 0
    subject, checks = _summary(report)
    assert subject["conformant"]
    assert subject["plugin"]["distribution"] == "byom-openai-compat"
    for check_id in ("errors.throttled", "errors.timeout", "stream.usage", "async.stream", "close.releases_threads"):
        assert checks[check_id] == "passed", check_id
