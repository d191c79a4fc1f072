"""Round trips as a model really answers: placeholders in JSON (keys, numbers, escapes,
values JSON must escape), answers cut inside a placeholder, placeholders from elsewhere."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byom_sdk import Client, GenerateRequest, TextDelta, ToolCall
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import BuiltinDetector, Masker, StreamDemasker, Vault
from byom_sdk.trust._masking import count_unrestored, demask_answer, demask_tool_call

ANN = "ann@example.com"
CARD = "4111111111111111"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_[0-9a-f]{6,}>")
SCHEMA = {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}


def _client(model: ScriptedModel) -> Client:
    return Client(models={"m": model}, trust="on", policy={"audit": {"sink": "memory"}})


def _placeholders(request: GenerateRequest) -> list[str]:
    return PLACEHOLDER.findall(request.model_dump_json())


def _text(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- what leaves ----------------------------------------------------------------------------


def test_keys_and_numbers_of_tool_call_arguments_leave_masked():
    """A native tool call in the history: an object key and a card written as a JSON number
    (integer or float) are personal data too."""
    model = ScriptedModel(["ok"], tools=True)
    arguments = json.dumps({ANN: 1, "card": int(CARD), "again": float(CARD), "n": 3, "ok": True})
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "c", "name": "f", "arguments": arguments}]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    with _client(model) as client:
        client.model("m").generate(messages)
    sent = model.requests[-1]
    assert isinstance(sent, GenerateRequest)
    assert ANN not in sent.model_dump_json() and CARD not in sent.model_dump_json()
    args = json.loads(sent.messages[1].tool_calls[0].arguments)
    assert args["n"] == 3 and args["ok"] is True
    assert args["card"] == args["again"] and PLACEHOLDER.fullmatch(args["card"])
    assert any(PLACEHOLDER.fullmatch(key) for key in args)


# -- tool-call arguments back ---------------------------------------------------------------


def test_placeholders_in_json_unicode_escapes_and_keys_are_restored():
    # Go's encoder writes "<" as \u003c; a key is masked on the way out, so restored too.
    vault = Vault()
    ph = vault.placeholder("EMAIL", ANN)
    escaped = ph.replace("<", "\\u003c").replace(">", "\\u003e")
    mangled = ph.upper().replace("<", "\\u003C").replace(">", "\\u003E")  # upper case: not restored
    call = ToolCall(id="c", name="send", arguments=f'{{"to": "{escaped}", "{ph}": ["cc {mangled}"]}}')
    restored, n = demask_tool_call(call, vault)
    assert json.loads(restored.arguments) == {"to": ANN, ANN: [f"cc {ph.upper()}"]}
    assert n == 2


@pytest.mark.parametrize("value", [PEM, 'say "hi"\\now', "tab\there", "ünïcødé 例え 😀"])
def test_arguments_that_are_not_json_keep_restored_values_escaped(value):
    # A call cut short (not JSON): each value is still escaped for the string it sits in.
    vault = Vault()
    ph = vault.placeholder("SECRET", value)
    call = ToolCall(id="c", name="send", arguments=f'{{"body": "{ph} and \\"{ph}\\"", "to": "{ph}')
    restored, n = demask_tool_call(call, vault)
    body = json.dumps(value, ensure_ascii=False)[1:-1]
    assert restored.arguments == f'{{"body": "{body} and \\"{body}\\"", "to": "{body}'
    assert n == 3
    assert json.loads(restored.arguments + '"}') == {"body": f'{value} and "{value}"', "to": value}


# -- structured answers ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["generate", "stream"])
def test_a_value_json_must_escape_keeps_a_structured_answer_valid(operation):
    """A PEM key's newlines restored into a JSON answer as they are made it invalid JSON:
    a SchemaError for an answer the model got right."""

    def answer(request: GenerateRequest) -> str:
        if request.messages and request.messages[-1].role == "assistant":  # pragma: no cover
            pytest.fail("a repair round was asked for")
        return json.dumps({"key": _placeholders(request)[-1]})

    with _client(ScriptedModel(answer)) as client:
        model = client.model("m")
        if operation == "generate":
            reply = model.generate(f"store {PEM}", response_format=SCHEMA)
            assert reply.parsed == {"key": PEM}
        else:
            text = _text(model.stream(f"store {PEM}", response_format=SCHEMA))
            assert json.loads(text) == {"key": PEM}


def test_prose_answers_keep_restored_values_as_they_are():
    vault = Vault()
    ph = vault.placeholder("PRIVATE_KEY", PEM)
    for text in (f'Your key "{ph}" is stored', f"  {ph}", f"[1] {ph}"):
        assert demask_answer(text, vault) == (text.replace(ph, PEM), 1)
    assert demask_answer(f'```json\n{{"k": "{ph}"}}\n```', vault)[0] == (f'```json\n{{"k": {json.dumps(PEM)}}}\n```')


_UNSAFE = st.sampled_from([PEM, 'a "quoted" \\ value', "line\nbreak", "ann@example.com", "ünï 😀"])


@st.composite
def json_answer(draw):
    """A JSON answer holding placeholders (in values, keys and next to escapes), cut into
    deltas anywhere, with the object the application must read."""
    vault = Vault()
    plain: dict[str, object] = {}
    masked: dict[str, object] = {}
    for i in range(draw(st.integers(1, 4))):
        value = draw(_UNSAFE)
        ph = vault.placeholder("SECRET", value)
        pre = draw(st.sampled_from(["", 'x"\\', "\\", "中 "]))
        plain[f"k{i}"] = [pre + value, {"n": i}]
        masked[f"k{i}"] = [pre + ph, {"n": i}]
    text = json.dumps(masked, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=10)))
    deltas = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=False)]
    return vault, text, deltas, plain


@settings(max_examples=300, deadline=None)
@given(json_answer())
def test_json_answers_restore_to_valid_json_whole_and_streamed(case):
    vault, text, deltas, plain = case
    whole, _ = demask_answer(text, vault)
    assert json.loads(whole) == plain
    demasker = StreamDemasker(vault)
    streamed = "".join(demasker.feed(d) for d in deltas) + demasker.flush()
    assert streamed == whole


# -- answers cut inside a placeholder -------------------------------------------------------


@pytest.mark.parametrize("keep", [1, 4, 7, 8, 10, 13])
def test_an_answer_cut_inside_a_placeholder_shows_no_half_placeholder(keep):
    def answer(request: GenerateRequest) -> str:
        return f"to {_placeholders(request)[-1][:keep]} and more"

    with _client(ScriptedModel(answer)) as client:
        model = client.model("m")
        reply = model.generate(f"mail {ANN}", max_tokens=2)
        events = list(model.stream(f"mail {ANN}", max_tokens=2))
    assert reply.finish_reason == "length"
    # Once the digest has begun it is a placeholder's start, dropped; "<EMAIL_" may be prose.
    expected = "to " + "<EMAIL_"[:keep] if keep <= 7 else "to "
    assert reply.text == expected
    assert _text(events) == expected


def test_a_cut_answer_ending_in_other_text_is_kept():
    with _client(ScriptedModel(["a < b <EMAIL_zz more"])) as client:
        model = client.model("m")
        assert model.generate(f"mail {ANN}", max_tokens=3).text == "a < b"
        assert _text(model.stream(f"mail {ANN}", max_tokens=4)) == "a < b <EMAIL_zz"


# -- placeholders from elsewhere ------------------------------------------------------------


def test_placeholders_of_another_conversation_tenant_or_client_are_never_restored():
    seen: list[str] = []

    def answer(request: GenerateRequest) -> str:
        seen.extend(_placeholders(request))
        return " ".join([*seen, "<EMAIL_abcdef>", "<EMAIL_"])

    model = ScriptedModel(answer)
    with _client(model) as client:
        first = client.model("m").generate(f"mail {ANN}", metadata={"conversation_id": "a", "tenant": "t1"})
        assert ANN in first.text
        for metadata in ({"conversation_id": "b", "tenant": "t1"}, {"conversation_id": "a", "tenant": "t2"}, {}):
            assert ANN not in client.model("m").generate("hello", metadata=metadata).text
            assert ANN not in _text(client.model("m").stream("hello", metadata=metadata))
    with _client(ScriptedModel(answer)) as other:
        reply = other.model("m").generate("hello", metadata={"conversation_id": "a", "tenant": "t1"})
    assert ANN not in reply.text and seen[0] in reply.text
    assert count_unrestored(reply.text) == 2  # the foreign and the made-up one; "<EMAIL_" is prose


def test_two_threads_two_conversations_one_client_stay_apart():
    model = ScriptedModel()  # echoes
    failures: list[str] = []
    with _client(model) as client:
        chat = client.model("m")

        def run(name: str) -> None:
            for i in range(40):
                value = f"{name}{i}@example.com"
                meta = {"conversation_id": name}
                if chat.generate(f"to {value}", metadata=meta).text != f"echo: to {value}":
                    failures.append(name)
                if _text(chat.stream(f"to {value}", metadata=meta)) != f"echo: to {value}":
                    failures.append(name)

        threads = [threading.Thread(target=run, args=(n,)) for n in ("alice", "bob")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_masked_values_never_carry_into_the_unsafe_count_of_plain_vaults():
    # The JSON-aware restore only runs for vaults holding a value JSON must escape.
    vault = Vault()
    Masker([BuiltinDetector()]).mask_text(f"{ANN} +44 20 7946 0958 {CARD}", vault, Counter())
    assert vault.json_unsafe == 0
    vault.placeholder("PRIVATE_KEY", PEM)
    assert vault.json_unsafe == 1
