"""Source of the test module the pytester runs use: ScriptedModel and defective variants.

Kept as a real module (imported by the generated test files) so the defects are readable
Python rather than strings.
"""

import time

from byom_sdk import BadRequest, Capabilities, ModelError, Throttled, Timeout, Unavailable
from byom_sdk._model import build_embed_request
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance

FAULTS = {
    "throttled": lambda: Throttled("slow down", provider="scripted", status_code=429, retry_after=1.0),
    "unavailable": lambda: Unavailable("down", provider="scripted", status_code=503),
    "bad_request": lambda: BadRequest("bad field 'x'", provider="scripted", status_code=400),
    "timeout": lambda: Timeout("read timeout", provider="scripted"),
    "model_error": lambda: ModelError("container failed", provider="scripted", status_code=424),
}


class ScriptedSuite(ModelConformance):
    """The suite on ScriptedModel; defect classes swap the model class or the faults."""

    model_cls = ScriptedModel
    faults = FAULTS

    def make_model(self):
        return self.model_cls()

    def make_faulty_model(self, fault):
        return self.model_cls(failures=[self.faults[fault]() for _ in range(4)])


# -- defects ------------------------------------------------------------------------------


class IgnoresMaxTokens(ScriptedModel):
    """Drops max_tokens before generating (a payload key the provider does not know)."""

    def _shape(self, request):
        return super()._shape(request.model_copy(update={"max_tokens": None}))


class StreamDiffers(ScriptedModel):
    """Strips whitespace from each streamed delta, so the stream no longer equals generate."""

    def _stream(self, request):
        for event in super()._stream(request):
            if event.type == "text":
                event = event.model_copy(update={"text": event.text.strip()})
            yield event


class VendorSDKError(Exception):
    """What a provider's client library raises."""


class LeaksRawErrors(ScriptedModel):
    """Lets the client library's exception escape unmapped."""

    def __init__(self, failures=(), **kwargs):
        super().__init__(**kwargs)
        self.leak = bool(failures)

    def _shape(self, request):
        if self.leak:
            raise VendorSDKError("HTTP 429 Too Many Requests")
        return super()._shape(request)

    def _embed(self, request):
        if self.leak:
            raise VendorSDKError("HTTP 503")
        return super()._embed(request)


WRONG_RETRYABLE = {
    **FAULTS,
    "throttled": lambda: Throttled("slow down", provider="scripted", status_code=429, retryable=False),
    "timeout": lambda: Timeout("read timeout", provider="scripted", retryable=True),
}


class CountsCharacters(ScriptedModel):
    """Reports the prompt's characters as its tokens while claiming source='tokenizer'."""

    def _shape(self, request):
        pieces, finish, _ = super()._shape(request)
        prompt = (
            request.prompt if request.prompt is not None else self.tokenizer.apply_chat_template(request.as_messages())
        )
        return pieces, finish, len(prompt)


class NotThreadSafe(ScriptedModel):
    """Keeps the current request on self: concurrent callers get each other's answers."""

    def _generate(self, request):
        self._current = request
        time.sleep(0.01)
        return super()._generate(self._current)


class SilentEmbed(ScriptedModel):
    """Does not declare embed, yet overrides the public embed() and answers anyway."""

    def __init__(self, **kwargs):
        super().__init__(capabilities=Capabilities(generate=True, chat=True, stream=True, max_context=4096), **kwargs)

    def embed(self, texts, /, **kwargs):
        return self._embed(build_embed_request(texts))
