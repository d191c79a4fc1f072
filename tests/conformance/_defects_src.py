"""Subjects the pytester-based mechanics tests run: the suite on ScriptedModel, with every
scenario it offers, and one defective variant.

Kept as a real module (imported by the generated test files) so the code is readable
Python rather than strings. The defective-plugin catalogue is in ``defective/``.
"""

from byom_sdk import AuthError, BadRequest, ModelError, Throttled, Timeout, Unavailable
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance

FAULTS = {
    "throttled": lambda: Throttled("slow down", provider="scripted", status_code=429, retry_after=1.0),
    "unavailable": lambda: Unavailable("down", provider="scripted", status_code=503),
    "bad_request": lambda: BadRequest("bad field 'x'", provider="scripted", status_code=400),
    "timeout": lambda: Timeout("read timeout", provider="scripted"),
    "model_error": lambda: ModelError("container failed", provider="scripted", status_code=424),
    "auth": lambda: AuthError("key refused", provider="scripted", status_code=401),
}


class ScriptedSuite(ModelConformance):
    """The suite on ScriptedModel; subclasses swap the model class or the faults."""

    model_cls = ScriptedModel
    faults = FAULTS
    slow_seconds = 0.2
    throttled_retry_after = 1.0

    def make_model(self):
        return self.model_cls()

    def make_faulty_model(self, fault):
        model = self.model_cls()
        model.fail_always(self.faults[fault])
        return model

    def make_slow_model(self):
        return self.model_cls(delay=self.slow_seconds, stall=self.slow_seconds)


class StreamDiffers(ScriptedModel):
    """Strips whitespace from each streamed delta, so the stream no longer equals generate."""

    def _stream(self, request):
        for event in super()._stream(request):
            if event.type == "text":
                event = event.model_copy(update={"text": event.text.strip()})
            yield event
