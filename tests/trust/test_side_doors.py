"""No side doors: what the trust boundary keeps out of requests stays out of errors, their
details, reprs, CLI output and the audit; and an audit that cannot be written stops calls
before anything leaves."""

from __future__ import annotations

import pytest

from byom_sdk import AuditError, Client, ConfigError, GenerateRequest, Model, ModelError, ProviderError
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust.testing import assert_all_canaries, assert_no_canaries, canary_messages


class LeakyErrors(Model):
    """Fails every call with an error quoting the (masked) prompt it was sent, in its message
    and in ``details`` — as a container echoing its input in an error would."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def info(self):
        return ScriptedModel().info

    def _generate(self, request: GenerateRequest):
        text = request.as_messages()[-1].content
        self.seen.append(text)
        raise ModelError(f"container failed on input: {text}", provider="leaky", details={"partial_text": text})

    def _stream(self, request: GenerateRequest):
        text = request.as_messages()[-1].content
        self.seen.append(text)
        yield from ()
        raise ModelError(f"stream broke after: {text}", provider="leaky", details={"partial_text": [text]})


@pytest.mark.parametrize("operation", ["generate", "stream"])
def test_errors_and_details_are_restored_for_the_app_and_masked_in_the_audit(make_client, audit_path, operation):
    model = LeakyErrors()
    client = make_client({"m": model})
    meta = {"conversation_id": "c1"}
    with pytest.raises(ModelError) as info:
        if operation == "generate":
            client.model("m").generate(canary_messages(), metadata=meta)
        else:
            list(client.model("m").stream(canary_messages(), metadata=meta))
    assert_no_canaries(model.seen, where="what the provider received")
    error = info.value
    # The application sees its own data back, in the message and in the details.
    assert_all_canaries(error.message, where="the error message")
    assert_all_canaries(str(error.details["partial_text"]), where="the error details")
    assert "<EMAIL_" not in error.message
    raw = b"".join(p.read_bytes() for p in audit_path.parent.glob(audit_path.name + "*"))
    assert_no_canaries(raw, where="the audit file")


def test_env_values_never_appear_in_errors(tmp_path, monkeypatch, registry):
    monkeypatch.setenv("BYOM_TEST_REGION_SECRET", "eu-west-secret-1234")
    (tmp_path / "byom.toml").write_text(
        '[models.m]\nprovider = "scripted"\nregion = "${BYOM_TEST_REGION_SECRET}"\nreplies = 7\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        Client.from_config(tmp_path / "byom.toml", registry=registry)
    assert "replies" in str(info.value)
    error = ProviderError("endpoint in eu-west-secret-1234 refused the call")
    assert "eu-west-secret-1234" not in str(error) and "${BYOM_TEST_REGION_SECRET}" in str(error)


def test_a_key_echoed_in_an_error_body_is_redacted_from_its_details(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("BYOM_TEST_ECHOED_KEY", "sk-echoed-secret-0042")
    (tmp_path / "byom.toml").write_text(
        '[models.m]\nprovider = "scripted"\nreplies = ["${BYOM_TEST_ECHOED_KEY}"]\n', encoding="utf-8"
    )
    Client.from_config(tmp_path / "byom.toml", registry=registry).close()  # the value is now known as a secret
    body = {
        "error": {"message": "Incorrect API key provided: sk-echoed-secret-0042"},
        "codes": ["sk-echoed-secret-0042"],
    }
    error = ProviderError("401 from the server", details={"body": body, "status": 401})
    assert "sk-echoed-secret-0042" not in repr(error.details)
    assert error.details["body"]["error"]["message"].endswith("${BYOM_TEST_ECHOED_KEY}")
    assert error.details["status"] == 401 and body["codes"] == ["sk-echoed-secret-0042"]  # the caller's dict untouched


def test_url_credentials_are_redacted_from_errors():
    error = ProviderError("cannot connect to https://alice:hunter2@api.example.com/v1?api_key=sk-123&api-version=1")
    assert "hunter2" not in str(error) and "sk-123" not in str(error)
    assert "https://***@api.example.com/v1?api_key=***&api-version=1" in str(error)


def test_an_unwritable_audit_store_blocks_at_build_naming_the_file(tmp_path, registry):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be")
    path = blocker / "audit.sqlite"  # cannot be created, whoever runs the test
    model = ScriptedModel()
    with pytest.raises(AuditError) as info:
        Client(models={"m": model}, policy={"audit": {"path": str(path)}}, registry=registry)
    assert "not-a-folder" in str(info.value) and model.requests == []


def test_an_audit_store_that_is_not_a_database_blocks_at_build(tmp_path, registry):
    path = tmp_path / "audit.sqlite"
    path.write_bytes(b"this is not a sqlite file" * 100)
    model = ScriptedModel()
    with pytest.raises(AuditError) as info:
        Client(models={"m": model}, policy={"audit": {"path": str(path)}}, registry=registry)
    assert "audit.sqlite" in str(info.value) and model.requests == []


def test_warn_lets_calls_go_on_when_the_store_is_broken(tmp_path, registry, caplog):
    path = tmp_path / "audit.sqlite"
    path.write_bytes(b"this is not a sqlite file" * 100)
    client = Client(
        models={"m": ScriptedModel(["fine"])},
        policy={"audit": {"path": str(path), "on_failure": "warn"}},
        registry=registry,
    )
    with client:
        assert client.model("m").generate("hi").text == "fine"
    assert any("audit" in r.getMessage() for r in caplog.records)


def test_a_keyed_log_refuses_a_writer_without_its_key_before_anything_is_sent(tmp_path, monkeypatch, registry):
    path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("BYOM_AUDIT_KEY", "k" * 32)
    with Client(models={"m": ScriptedModel()}, policy={"audit": {"path": str(path)}}, registry=registry) as client:
        client.model("m").generate("first")
    monkeypatch.delenv("BYOM_AUDIT_KEY")
    model = ScriptedModel()
    with pytest.raises(AuditError) as info:
        Client(models={"m": model}, policy={"audit": {"path": str(path)}}, registry=registry)
    assert "audit.sqlite" in str(info.value) and "BYOM_AUDIT_KEY" in str(info.value)
    assert model.requests == []


def test_secrets_shown_escaped_and_passwords_holding_an_at_sign_are_redacted():
    from byom_sdk._redact import redact, remember_secret

    remember_secret("tok\\en-SECRET-BS-77", "BYOM_TEST_BACKSLASH_SECRET")
    assert redact(repr("tok\\en-SECRET-BS-77")) == "'${BYOM_TEST_BACKSLASH_SECRET}'"
    assert redact("http://user:pa@ss-LITERAL@127.0.0.1:9/v1") == "http://***@127.0.0.1:9/v1"
