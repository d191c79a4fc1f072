"""Vault properties: stable, collision-free, unguessable placeholders; TTL and scoping."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from byom_sdk.trust import Vault, VaultStore
from byom_sdk.trust._vault import PLACEHOLDER_PATTERN

entity = st.sampled_from(["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "API_KEY"])
value = st.text(min_size=1, max_size=40)


@settings(deadline=None)
@given(entity, value)
def test_same_value_same_placeholder(kind, text):
    vault = Vault()
    first = vault.placeholder(kind, text)
    assert vault.placeholder(kind, text) == first
    assert vault.value(first) == text
    assert PLACEHOLDER_PATTERN.fullmatch(first)


@settings(deadline=None)
@given(st.lists(st.tuples(entity, value), min_size=1, max_size=60, unique=True))
def test_distinct_values_never_collide(items):
    vault = Vault()
    placeholders = [vault.placeholder(kind, text) for kind, text in items]
    assert len(set(placeholders)) == len(items)
    for (_, text), placeholder in zip(items, placeholders, strict=False):
        assert vault.value(placeholder) == text


def test_collisions_extend_the_digest():
    # A 6-hex prefix space is small enough to force clashes; they must be resolved.
    vault = Vault(key=b"k" * 32)
    placeholders = {vault.placeholder("ID", f"value-{i}") for i in range(20_000)}
    assert len(placeholders) == 20_000
    assert any(len(p) > len("<ID_123456>") for p in placeholders)


@settings(max_examples=300, deadline=None)
@given(entity, st.text(alphabet="0123456789abcdef<>_ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4, max_size=60))
def test_placeholder_carries_no_value_fragment(kind, text):
    # Values made of the placeholder's own alphabet are the hardest case.
    vault = Vault()
    placeholder = vault.placeholder(kind, text)
    label = f"<{kind}_"
    for i in range(len(text) - 3):
        gram = text[i : i + 4]
        assert gram not in placeholder or gram in label, (gram, placeholder)


@settings(deadline=None)
@given(entity, value)
def test_placeholders_differ_across_vaults(kind, text):
    # Without the per-vault key a placeholder says nothing about its value: the same value
    # gets unrelated placeholders in two conversations.
    a, b = Vault(), Vault()
    assert a.placeholder(kind, text) != b.placeholder(kind, text)


def test_could_start_is_exact():
    vault = Vault()
    placeholder = vault.placeholder("EMAIL", "a@example.com")
    for i in range(1, len(placeholder)):
        assert vault.could_start(placeholder[:i])
    assert not vault.could_start("<PHONE_")
    assert not vault.could_start("<b")
    assert not Vault().could_start("<")


def test_store_scopes_by_tenant_and_conversation_and_expires():
    now = [0.0]
    store = VaultStore(ttl=10.0, clock=lambda: now[0])
    a = store.get("t1", "c1")
    assert store.get("t1", "c1") is a
    assert store.get("t2", "c1") is not a  # same conversation id, other tenant
    assert store.get(None, None) is not store.get(None, None)  # per-request vaults
    now[0] = 9.0
    assert store.get("t1", "c1") is a  # sliding TTL: use refreshes it
    now[0] = 25.0
    assert store.get("t1", "c1") is not a
    assert len(store) == 1


def test_store_evicts_least_recently_used():
    store = VaultStore(max_conversations=2)
    a = store.get(None, "a")
    store.get(None, "b")
    store.get(None, "a")
    store.get(None, "c")  # evicts b
    assert store.get(None, "a") is a
    assert len(store) == 2


def test_placeholder_format():
    vault = Vault()
    assert re.fullmatch(r"<CREDIT_CARD_[0-9a-f]{6,}>", vault.placeholder("CREDIT_CARD", "4111111111111111"))
