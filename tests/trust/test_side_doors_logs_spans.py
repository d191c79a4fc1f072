"""No side doors through logging or telemetry: a third-party HTTP client's own log lines
never carry a configured credential, and a span never carries personal data, even when
the application put it in a conversation id."""

from __future__ import annotations

import logging

import pytest

from byom_sdk import Client
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust.testing import CANARIES, assert_no_canaries, canary_text

pytest.importorskip("opentelemetry.sdk.trace")
pytestmark = pytest.mark.usefixtures("otel_exporter")  # spans on for every test here


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


def test_httpx_request_lines_never_show_url_credentials(caplog):
    # byom_sdk is imported (above), which guards the client libraries' loggers.
    httpx = pytest.importorskip("httpx")
    caplog.set_level(logging.DEBUG)

    def answer(request):
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        client.post("http://bob:pw-SIDEDOOR-5520@127.0.0.1:9/v1?api_key=sk-SIDEDOOR-9931&api-version=1", json={})
    logged = _logged(caplog)
    assert "HTTP Request: POST" in logged  # httpx did log the request line
    assert "SIDEDOOR" not in logged
    assert "http://***@127.0.0.1:9/v1?api_key=***&api-version=1" in logged


def test_a_real_call_logs_no_configured_secret_at_debug(tmp_path, monkeypatch, caplog):
    """``${ENV}`` password in the base URL, an API key and a header: byom.toml as written,
    every logger at DEBUG, a call answered and one refused."""
    compat = pytest.importorskip("byom_openai_compat.testing")
    monkeypatch.setenv("BYOM_TEST_SD_PASS", "pw-SIDEDOOR-basic-5520")
    monkeypatch.setenv("BYOM_TEST_SD_KEY", "sk-SIDEDOOR-apikey-9931")
    monkeypatch.setenv("BYOM_TEST_SD_HDR", "hdr-SIDEDOOR-gateway-4471")
    caplog.set_level(logging.DEBUG)
    with compat.OpenAICompatServer() as server:
        for path in ("/v1", "/fault/auth/v1"):
            base = f"http://bob:${{BYOM_TEST_SD_PASS}}@127.0.0.1:{server.port}{path}"
            (tmp_path / "byom.toml").write_text(
                "[trust]\nallow_loopback = true\nrequire_tls = false\n"
                f'[trust.audit]\npath = "{tmp_path / "audit.sqlite"}"\n'
                f'[models.m]\nprovider = "openai-compat"\nmodel = "scripted"\nbase_url = "{base}"\n'
                'api_key = "${BYOM_TEST_SD_KEY}"\nheaders = { "X-Gateway-Key" = "${BYOM_TEST_SD_HDR}" }\n',
                encoding="utf-8",
            )
            with Client.from_config(tmp_path / "byom.toml") as client:
                try:
                    client.model("m").generate(canary_text(), metadata={"conversation_id": "c"})
                except Exception as exc:  # the fault route: an AuthError, logged as an app would
                    logging.getLogger("app").exception("call failed: %s", exc)
    logged = _logged(caplog) + "".join(r.exc_text or "" for r in caplog.records)
    assert "HTTP Request: POST" in logged
    assert "SIDEDOOR" not in logged
    assert_no_canaries(logged, where="the DEBUG log (the request was masked before httpx saw it)")


def test_a_conversation_id_holding_pii_reaches_spans_masked(make_client, spans):
    client = make_client({"m": ScriptedModel(), "e": ScriptedModel()})
    email, iban = CANARIES["EMAIL"], CANARIES["IBAN"]
    client.model("m").generate("hello", metadata={"conversation_id": f"ticket {email}"})
    list(client.model("m").stream("hello", metadata={"conversation_id": f"account {iban}"}))
    client.model("m").generate("hello", metadata={"conversation_id": "ticket-4711"})
    ids = [span.attributes["gen_ai.conversation.id"] for span in spans.get_finished_spans()]
    assert ids == ["ticket [EMAIL]", "account [IBAN]", "ticket-4711"]  # a plain id is kept as it is
    assert_no_canaries([span.to_json() for span in spans.get_finished_spans()], where="the spans")


def test_a_refusing_policy_does_not_fail_a_call_over_its_conversation_id(make_client, spans):
    client = make_client({"m": ScriptedModel(["fine"])}, {"masking": {"mode": "refuse"}})
    reply = client.model("m").generate("hello", metadata={"conversation_id": f"ticket {CANARIES['EMAIL']}"})
    assert reply.text == "fine"
    [span] = spans.get_finished_spans()
    assert span.attributes["gen_ai.conversation.id"] == "ticket [EMAIL]"
