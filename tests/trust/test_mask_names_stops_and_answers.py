"""Every string of a request that leaves is masked — a message's ``name`` and the ``stop``
strings too, not only contents — and a model's answer that is not valid Unicode is
still hashed, audited, masked and returned (its lone surrogates as U+FFFD), while a
caller's input that is not is refused naming the field."""

from __future__ import annotations

import re

import pytest

from byom_sdk import BadRequest, TextDelta
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import verify_audit

ANN = "ann@example.com"
BOB = "bob@example.org"


def test_a_message_name_and_the_stop_strings_leave_masked(make_client, audit_path):
    bot = ScriptedModel(["noted"])
    client = make_client({"m": bot})
    messages = [{"role": "user", "content": f"write to {ANN}", "name": ANN}]
    client.model("m").generate(messages, stop=[BOB, "END"])
    seen = bot.requests[-1]
    assert ANN not in repr(seen) and BOB not in repr(seen)
    name = seen.messages[0].name
    assert re.fullmatch(r"EMAIL_[0-9a-f]{6,}", name)  # an identifier, as OpenAI requires of a name
    assert f"<{name}>" in seen.messages[0].content  # one value, one placeholder
    assert seen.stop[0].startswith("<EMAIL_") and seen.stop[1] == "END"
    assert verify_audit(audit_path).ok


def test_a_masked_stop_string_still_stops_the_masked_answer(make_client):
    """The model writes the placeholder it was given (this one echoes the prompt); the stop
    string, masked with the same vault, is that placeholder: the answer ends there, as it
    would have without masking (an unmasked stop string would never match)."""
    client = make_client({"m": ScriptedModel()})  # answers "echo: <the prompt>"
    reply = client.model("m").generate([{"role": "user", "content": f"write to {BOB} now"}], stop=[BOB])
    assert reply.text == "echo: write to " and reply.finish_reason == "stop"


@pytest.mark.parametrize("trust", ["on", "off"])
def test_a_lone_surrogate_in_an_answer_becomes_a_replacement_character(make_client, audit_path, trust):
    client = make_client({"m": ScriptedModel(["bad \ud800 text and \udfff"])}, trust=trust)
    model = client.model("m")
    assert model.generate("hi").text == "bad \ufffd text and \ufffd"
    streamed = "".join(e.text for e in model.stream("hi") if isinstance(e, TextDelta))
    assert streamed == "bad \ufffd text and \ufffd"
    client.close()
    assert verify_audit(audit_path).ok


@pytest.mark.parametrize(
    ("messages", "metadata", "field"),
    [
        ([{"role": "user", "content": "x", "name": "a\ud800"}], None, "messages.0.name"),
        ([{"role": "tool", "content": "x", "tool_call_id": "c\ud800"}], None, "messages.0.tool_call_id"),
        ([{"role": "user", "content": "x"}], {"user": "u\ud800"}, "metadata.user"),
        ([{"role": "user", "content": "x"}], {"tags": {"k": "v\ud800"}}, "metadata.tags.k"),
    ],
)
def test_a_lone_surrogate_in_a_callers_name_id_or_metadata_is_refused_naming_it(make_client, messages, metadata, field):
    bot = ScriptedModel(["x"])
    client = make_client({"m": bot})
    with pytest.raises(BadRequest, match=field.replace(".", r"\.")):
        client.model("m").generate(messages, metadata=metadata)
    assert not bot.requests  # nothing was sent
