"""The suite passes on the core's own ScriptedModel (the reference double)."""

from byom_sdk import BadRequest, ModelError, Throttled, Timeout, Unavailable
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance, TokenizerConformance

# Plugin authors put this in their tests' root conftest.py. pytest refuses pytest_plugins
# in a non-root conftest, and registering it from this module works the same way.
pytest_plugins = ["byom_sdk.testing.plugin"]

_FAULTS = {
    "throttled": lambda: Throttled("slow down", provider="scripted", status_code=429, retry_after=1.0),
    "unavailable": lambda: Unavailable("down", provider="scripted", status_code=503),
    "bad_request": lambda: BadRequest("bad field 'x'", provider="scripted", status_code=400),
    "timeout": lambda: Timeout("read timeout", provider="scripted"),
    "model_error": lambda: ModelError("container failed", provider="scripted", status_code=424),
}


class TestScriptedModelConformance(ModelConformance):
    def make_model(self):
        return ScriptedModel()

    def make_faulty_model(self, fault):
        return ScriptedModel(failures=[_FAULTS[fault]() for _ in range(4)])


class TestWhitespaceTokenizerConformance(TokenizerConformance):
    expected_failures = {"tokenizer.roundtrip": "WhitespaceTokenizer drops trailing whitespace"}

    def make_tokenizer(self):
        return ScriptedModel().tokenizer
