"""Keyed pseudonyms (``masking.mode = "pseudonym"``): the same placeholder for a value in
every process holding the key, per tenant; restorable from the call's own map; no value
fragments; a missing or short key refused when the model is built."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from byom_sdk import Client, ConfigError
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import Vault
from byom_sdk.trust._vault import PLACEHOLDER_PATTERN, Pseudonymizer, PseudonymVault, normalize_value
from byom_sdk.trust.testing import CANARIES, canary_text

KEY = b"pseudonym-tests-key-0123456789abcdef"
entity = st.sampled_from(["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "API_KEY", "US_SSN"])
value = st.text(min_size=1, max_size=40)


@settings(deadline=None)
@given(entity, value, st.text(max_size=10))
def test_every_holder_of_the_key_issues_the_same_placeholder(kind, text, tenant):
    """Two pseudonymizers built from the key (two workers) agree; the map restores it."""
    first = Pseudonymizer(KEY).vault(tenant)
    second = Pseudonymizer(KEY).vault(tenant)
    placeholder = first.placeholder(kind, text)
    assert second.placeholder(kind, text) == placeholder
    assert PLACEHOLDER_PATTERN.fullmatch(placeholder)
    assert first.value(placeholder) == text
    assert second.value(placeholder) == text


@settings(deadline=None)
@given(entity, value)
def test_tenants_and_keys_get_unrelated_placeholders(kind, text):
    acme = Pseudonymizer(KEY).placeholder("acme", kind, text)
    assert Pseudonymizer(KEY).placeholder("globex", kind, text) != acme
    assert Pseudonymizer(b"another-key-0123456789abcdef").placeholder("acme", kind, text) != acme


@settings(max_examples=300, deadline=None)
@given(entity, st.text(alphabet="0123456789abcdef<>_ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=60))
def test_a_pseudonym_carries_no_fragment_of_its_value(kind, text):
    placeholder = Pseudonymizer(KEY).placeholder("t", kind, text)
    label = f"<{kind}_"
    for i in range(len(text) - 3):
        gram = text[i : i + 4]
        assert gram not in placeholder or gram in label, (gram, placeholder)


def test_formatting_does_not_change_the_pseudonym():
    """Spacing of numbers and the case of an e-mail are formatting: one pseudonym; the
    call's map restores the spelling it saw first."""
    pseudo = Pseudonymizer(KEY)
    assert pseudo.placeholder("t", "IBAN", "DE89 3704 0044 0532 0130 00") == pseudo.placeholder(
        "t", "IBAN", "DE89370400440532013000"
    )
    assert pseudo.placeholder("t", "EMAIL", "Jane@Example.com") == pseudo.placeholder("t", "EMAIL", "jane@example.com")
    assert normalize_value("PHONE", "+44 (0)20-7946.0958") == "+440207946" + "0958"
    vault = pseudo.vault("t")
    spaced = vault.placeholder("IBAN", "DE89 3704 0044 0532 0130 00")
    assert vault.placeholder("IBAN", "DE89370400440532013000") == spaced
    assert vault.value(spaced) == "DE89 3704 0044 0532 0130 00"


def test_a_truncation_collision_inside_one_call_keeps_both_values():
    """48-bit digests among many values: a clash inside one call's map is extended, so the
    map still restores each value."""
    vault = PseudonymVault(Pseudonymizer(KEY, bits=48), "t")
    placeholders = {vault.placeholder("ID", f"value-{i}") for i in range(5_000)}
    assert len(placeholders) == 5_000
    assert all(vault.value(p) is not None for p in placeholders)


def test_placeholder_vaults_are_unchanged_by_the_mode():
    """The existing per-conversation mode still draws a random key per vault."""
    assert Vault().placeholder("EMAIL", "a@b.co") != Vault().placeholder("EMAIL", "a@b.co")


def test_the_mode_masks_with_pseudonyms_and_restores(tmp_path):
    model = ScriptedModel()
    policy = {"masking": {"mode": "pseudonym"}, "audit": {"path": str(tmp_path / "a.sqlite")}}
    with Client(models={"m": model}, policy=policy) as one, Client(models={"m": ScriptedModel()}, policy=policy) as two:
        reply = one.model("m").generate(canary_text(), metadata={"tenant": "acme"})
        sent_one = model.requests[-1].prompt
        two.model("m").generate(canary_text(), metadata={"tenant": "acme"})
        sent_two = two.model("m").provider.requests[-1].prompt
    assert sent_one == sent_two  # two Clients, no shared vault, the same pseudonyms
    assert not any(v in sent_one for v in CANARIES.values())
    assert all(v in reply.text for v in CANARIES.values())


def test_a_missing_or_short_key_is_refused_when_the_model_is_built(tmp_path, monkeypatch):
    policy = {"masking": {"mode": "pseudonym"}, "audit": {"path": str(tmp_path / "a.sqlite")}}
    monkeypatch.delenv("BYOM_PSEUDONYM_KEY")
    with Client(models={"m": ScriptedModel()}, policy=policy) as client, pytest.raises(ConfigError, match="PSEUDONYM"):
        client.model("m")
    monkeypatch.setenv("BYOM_PSEUDONYM_KEY", "short")
    with Client(models={"m": ScriptedModel()}, policy=policy) as client, pytest.raises(ConfigError, match="16 bytes"):
        client.model("m")
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text("a-key-from-a-file-0123456789\n")
    policy["masking"]["pseudonym_key_file"] = str(key_file)
    model = ScriptedModel()
    with Client(models={"m": model}, policy=policy) as client:
        client.model("m").generate("mail a@b.co")
    expected = Pseudonymizer(b"a-key-from-a-file-0123456789").placeholder("", "EMAIL", "a@b.co")
    assert model.requests[-1].prompt == f"mail {expected}"
