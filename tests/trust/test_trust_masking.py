"""Masking requests, restoring responses and streams (property tests over every split)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byom_sdk import GenerateRequest, Message, PolicyViolation, ToolCall
from byom_sdk.trust import BuiltinDetector, Masker, StreamDemasker, Vault
from byom_sdk.trust._masking import count_unrestored, demask_text, demask_tool_call


@pytest.fixture(scope="module")
def masker():
    return Masker([BuiltinDetector()])


def test_mask_prompt_and_restore(masker):
    vault = Vault()
    counts: Counter[str] = Counter()
    text = "Mail ann@example.com or bob@example.org, again ann@example.com; card 4111 1111 1111 1111"
    masked = masker.mask_text(text, vault, counts)
    assert "example" not in masked and "4111" not in masked
    assert counts == {"EMAIL": 3, "CREDIT_CARD": 1}
    ann = vault.placeholder("EMAIL", "ann@example.com")
    assert masked.count(ann) == 2  # the same value gets the same placeholder
    assert demask_text(masked, vault) == (text, 4)


def test_messages_and_tool_calls_are_masked(masker):
    vault = Vault()
    arguments = json.dumps({"to": "ann@example.com", "cc": ["x", "card 4111111111111111"], "n": 3})
    request = GenerateRequest(
        messages=(
            Message(role="system", content="Agent for ann@example.com"),
            Message(role="assistant", tool_calls=(ToolCall(id="1", name="send", arguments=arguments),)),
            Message(role="tool", tool_call_id="1", content="sent to ann@example.com"),
        ),
        tools=({"type": "function", "function": {"name": "send", "description": "mail ann@example.com"}},),
        extra={"note": "ann@example.com"},
    )
    counts: Counter[str] = Counter()
    masked = masker.mask_request(request, vault, counts)
    sent = masked.model_dump_json(exclude={"tools", "extra"})
    assert "ann@example.com" not in sent and "4111111111111111" not in sent
    args = json.loads(masked.messages[1].tool_calls[0].arguments)
    assert args["n"] == 3 and args["cc"][0] == "x"
    assert args["to"] == vault.placeholder("EMAIL", "ann@example.com")
    # Documented: tool definitions and the provider passthrough are not masked.
    assert masked.tools == request.tools and masked.extra == request.extra
    assert counts == {"EMAIL": 3, "CREDIT_CARD": 1}


def test_tool_call_arguments_restored(masker):
    vault = Vault()
    placeholder = vault.placeholder("EMAIL", 'quote"and\\slash@example.com')
    call = ToolCall(id="c", name="send", arguments=json.dumps({"to": placeholder, "list": [f"cc {placeholder}"]}))
    restored, n = demask_tool_call(call, vault)
    assert n == 2
    assert json.loads(restored.arguments) == {
        "to": 'quote"and\\slash@example.com',
        "list": ['cc quote"and\\slash@example.com'],
    }  # re-encoded, so restored quotes stay valid JSON


def test_redact_and_refuse_modes():
    counts: Counter[str] = Counter()
    redact = Masker([BuiltinDetector()], mode="redact")
    assert redact.mask_text("to ann@example.com", None, counts) == "to [EMAIL]"
    refuse = Masker([BuiltinDetector()], mode="refuse")
    with pytest.raises(Exception) as info:
        refuse.mask_text("to ann@example.com", None, counts)
    assert "EMAIL" in str(info.value)
    assert not isinstance(info.value, PolicyViolation)  # the runtime turns it into one


def test_unknown_and_mangled_placeholders_left_alone():
    vault = Vault()
    real = vault.placeholder("EMAIL", "ann@example.com")
    text = f"{real} <EMAIL_deadbeef> {real[:-3]} {real[1:]} <b>html</b>"
    restored, n = demask_text(text, vault)
    assert n == 1
    assert restored == f"ann@example.com <EMAIL_deadbeef> {real[:-3]} {real[1:]} <b>html</b>"
    assert count_unrestored(restored) == 3


# -- streaming -------------------------------------------------------------------------------

VALUES = ["ann@example.com", "4111 1111 1111 1111", "ünïcødé@例え.jp", "+44 20 7946 0958"]
filler = st.text(alphabet=st.sampled_from(list("ab <>_ EMAIL7f\n😀é中")), max_size=12)


@st.composite
def masked_stream(draw):
    """A masked response (filler and placeholders, multi-byte text around them) cut into
    deltas at arbitrary positions, with the text the app must see."""
    vault = Vault()
    pieces_masked, pieces_plain = [], []
    for _ in range(draw(st.integers(1, 5))):
        text = draw(filler)
        pieces_masked.append(text)
        pieces_plain.append(text)
        value = draw(st.sampled_from(VALUES))
        entity = "EMAIL" if "@" in value else "PHONE"
        pieces_masked.append(vault.placeholder(entity, value))
        pieces_plain.append(value)
    tail = draw(filler)
    masked, plain = "".join(pieces_masked) + tail, "".join(pieces_plain) + tail
    cuts = sorted(draw(st.lists(st.integers(0, len(masked)), max_size=12)))
    deltas = [masked[a:b] for a, b in zip([0, *cuts], [*cuts, len(masked)], strict=False)]
    return vault, deltas, plain


@settings(max_examples=400, deadline=None)
@given(masked_stream())
def test_any_split_restores_exactly(case):
    vault, deltas, plain = case
    demasker = StreamDemasker(vault)
    out = "".join(demasker.feed(d) for d in deltas) + demasker.flush()
    assert out == plain


def test_placeholder_split_at_every_position():
    vault = Vault()
    placeholder = vault.placeholder("EMAIL", "ann@example.com")
    masked = f"é→ {placeholder} ←中"
    for i in range(len(masked) + 1):
        for j in range(i, len(masked) + 1):
            demasker = StreamDemasker(vault)
            out = demasker.feed(masked[:i]) + demasker.feed(masked[i:j]) + demasker.feed(masked[j:])
            assert out + demasker.flush() == "é→ ann@example.com ←中", (i, j)


@settings(max_examples=300, deadline=None)
@given(masked_stream())
def test_holdback_is_minimal(case):
    # After every delta, everything except a suffix that is still a proper prefix of one
    # of the vault's placeholders has been emitted.
    vault, deltas, _ = case
    demasker = StreamDemasker(vault)
    seen = ""
    for delta in deltas:
        demasker.feed(delta)
        seen += delta
        held = demasker._held
        assert seen.endswith(held)
        if held:
            assert vault.could_start(held)
        # No longer suffix that starts with "<" could have been held instead.
        cut = seen.rfind("<")
        if cut != -1 and ">" not in seen[cut:] and vault.could_start(seen[cut:]):
            assert held == seen[cut:]
        else:
            assert held == ""


def test_text_that_cannot_start_a_placeholder_is_not_delayed():
    vault = Vault()
    vault.placeholder("EMAIL", "ann@example.com")
    demasker = StreamDemasker(vault)
    assert demasker.feed("a < b and <b>") == "a < b and <b>"
    assert demasker.feed("x <EM") == "x "
    assert demasker.feed("Z") == "<EMZ"


# -- mangled and doubled placeholders --------------------------------------------------------


def _mangled(placeholder):
    inner = placeholder[1:-1]
    label, digest = inner.split("_", 1)
    return {
        "lower case": placeholder.lower(),
        "upper case": f"<{label}_{digest.upper()}>",
        "spaces inside the brackets": f"< {inner} >",
        "space before the digest": f"<{label} _{digest}>",
        "digest cut short": f"<{label}_{digest[:4]}>",
        "closing bracket dropped": placeholder[:-1] + " end",
        "opening bracket dropped": placeholder[1:],
        "both brackets dropped": f"see {inner} here",
    }


@pytest.mark.parametrize("kind", list(_mangled("<EMAIL_abcdef>")))
def test_each_mangled_placeholder_counts_once_as_unrestored(kind):
    vault = Vault()
    # A digest with a letter in it, so that a change of case changes the placeholder.
    value = next(
        f"ann{i}@example.com"
        for i in range(100)
        if vault.placeholder("EMAIL", f"ann{i}@example.com")[7:-1].strip("0123456789")
    )
    placeholder = vault.placeholder("EMAIL", value)
    text = _mangled(placeholder)[kind]
    restored, n = demask_text(text, vault)
    assert n == 0 and value not in restored
    assert count_unrestored(restored) == 1


def test_ordinary_text_is_not_counted_as_unrestored():
    text = "<b>bold</b> MAX_RETRIES=3 SHA_256 x_1 ERROR_deadbeef a<b>c and the_end"
    assert count_unrestored(text) == 0


def test_doubled_brackets_restore_to_the_original_brackets(masker):
    # "Ann <ann@example.com>" masks to "Ann <<EMAIL_…>>": the outer brackets are the
    # sender's own and must survive the round trip, whole and streamed.
    vault = Vault()
    text = "From: Ann <ann@example.com> and <<literal>>"
    masked = masker.mask_text(text, vault, Counter())
    assert "<<EMAIL_" in masked
    restored, n = demask_text(masked, vault)
    assert (restored, n) == (text, 1)
    assert count_unrestored(restored) == 0
    for cut in range(len(masked) + 1):
        demasker = StreamDemasker(vault)
        assert demasker.feed(masked[:cut]) + demasker.feed(masked[cut:]) + demasker.flush() == text, cut


@pytest.mark.parametrize("key_size", [16, 32, 64, 100])
def test_vault_digest_is_hmac_sha256(key_size):
    # The vault computes HMAC from precomputed pads; it must equal the standard one.
    import hmac
    import secrets

    key = secrets.token_bytes(key_size)
    message = b"EMAIL\x00ann@example.com\x000"
    assert Vault(key)._hmac(message) == hmac.digest(key, message, "sha256").hex()
