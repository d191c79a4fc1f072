"""A restored error quotes the caller's values back to the caller only: what a server log
or a debug line shows is the error as it left the boundary (``masked_message``)."""

from __future__ import annotations

import logging

import pytest

from byom_sdk import Client, ModelError
from byom_sdk.serve._calls import classify
from byom_sdk.testing import ScriptedModel

EMAIL = "canary.leak7731@example.com"


def _echoing_failure(request):
    raise ModelError(f"container failed on input: {request.as_messages()[-1].content}", provider="scripted")


def _failed_call() -> ModelError:
    model = ScriptedModel(_echoing_failure)
    client = Client(models={"m": model}, policy={"audit": {"sink": "memory"}}, retry={"max_attempts": 1})
    with client, pytest.raises(ModelError) as error:
        client.model("m").generate(f"mail {EMAIL} please")
    return error.value


def test_the_app_gets_its_values_back_and_the_masked_text_is_kept_beside_them():
    error = _failed_call()
    assert EMAIL in error.message  # the caller's own value, restored for the caller
    assert error.masked_message is not None and EMAIL not in error.masked_message
    assert "EMAIL_" in error.masked_message


def test_byom_serve_logs_a_model_failure_without_the_callers_values(caplog):
    error = _failed_call()
    with caplog.at_level(logging.WARNING, logger="byom_sdk.serve"):
        served = classify(error, model="m", request_id="r1")
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "container failed on input" in logged and EMAIL not in logged
    assert EMAIL not in served.message  # the client gets the headline only


def test_a_failed_shadow_call_logs_no_restored_value(caplog):
    from byom_sdk.routing._config import ShadowConfig
    from byom_sdk.routing._shadow import Shadows

    error = _failed_call()
    shadows = Shadows("r", ShadowConfig(target="m"))
    assert shadows._reserve()
    with caplog.at_level(logging.DEBUG, logger="byom_sdk.routing"):
        shadows._finish(error)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "shadow call" in logged and EMAIL not in logged


def test_the_access_log_shows_no_query_credential():
    import io

    from byom_sdk.serve._cli import redact_logged_urls

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        redact_logged_urls()
        # uvicorn's own format: client, method, path with its query, HTTP version, status
        access.warning('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/v1/models?api_key=sk-canary-9731", "1.1", 200)
    finally:
        access.removeHandler(handler)
    assert "/v1/models?api_key=***" in stream.getvalue() and "sk-canary-9731" not in stream.getvalue()
