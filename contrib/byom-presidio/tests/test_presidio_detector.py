"""The Presidio detector plugin: offline, mapped entity names, usable from a trust policy."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys

import pytest

from byom_sdk import Client
from byom_sdk.testing import ScriptedModel, isolated_registry


def _no_network(*args, **kwargs):
    raise AssertionError("byom-presidio tried to use the network")


@pytest.fixture(scope="module")
def detector():
    mp = pytest.MonkeyPatch()
    # Build and first use with every network path closed: no spaCy download, no
    # public-suffix fetch (the e-mail recognizer runs tldextract on first validation).
    import spacy.cli

    mp.setattr(socket, "socket", _no_network)
    mp.setattr(socket, "create_connection", _no_network)
    mp.setattr(socket, "getaddrinfo", _no_network)
    mp.setattr(spacy.cli, "download", _no_network)
    try:
        from byom_presidio import PresidioDetector

        built = PresidioDetector()
        spans = list(built.find("write to ann@example.com"))
        assert [(s.entity, s.start, s.end) for s in spans] == [("EMAIL", 9, 24)]
    finally:
        mp.undo()
    return built


def found(detector, text):
    return sorted((s.entity, text[s.start : s.end]) for s in detector.find(text))


def test_offline_first_use_under_a_socket_ban(detector, monkeypatch):
    monkeypatch.setattr(socket, "socket", _no_network)
    monkeypatch.setattr(socket, "create_connection", _no_network)
    text = "mail bob@example.org, IBAN DE89370400440532013000, card 4111111111111111"
    assert found(detector, text) == [
        ("CREDIT_CARD", "4111111111111111"),
        ("EMAIL", "bob@example.org"),
        ("IBAN", "DE89370400440532013000"),
    ]


def test_entities_and_scores(detector):
    spans = {s.entity: s for s in detector.find("ssn 536-22-1784, phone +44 20 7946 0958, from 10.1.2.3")}
    assert set(spans) == {"US_SSN", "PHONE", "IP_ADDRESS"}
    assert all(s.detector == "presidio" for s in spans.values())


def test_ids_both_detectors_know_carry_the_builtin_names(detector, monkeypatch):
    from byom_sdk.trust import BUILTIN_ENTITIES

    monkeypatch.setattr(detector, "entities", ["SG_NRIC_FIN", "FI_PERSONAL_IDENTITY_CODE", "UK_NHS", "IN_AADHAAR"])
    assert detector.reported_entities == ("SG_NRIC", "FI_HETU", "UK_NHS", "IN_AADHAAR")
    assert set(detector.reported_entities) <= set(BUILTIN_ENTITIES)


def test_invalid_checksums_rejected(detector):
    assert found(detector, "card 4111111111111112, IBAN DE89370400440532013001") == []


def test_entry_point_registered():
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="byom")}
    assert names.get("presidio") == "byom_presidio._plugin"


def test_detector_in_a_trust_policy(detector, tmp_path, monkeypatch):
    import byom_presidio._detector as module
    import byom_presidio._plugin as plugin

    monkeypatch.setattr(module, "PresidioDetector", lambda: detector)  # reuse the built engine
    model = ScriptedModel()
    policy = {
        "masking": {"detectors": ["presidio"], "thresholds": {"PHONE": 0.4}},
        "audit": {"path": str(tmp_path / "audit.sqlite")},
    }
    with isolated_registry(plugin) as registry, Client(models={"m": model}, policy=policy, registry=registry) as client:
        reply = client.model("m").generate("mail ann@example.com or +44 20 7946 0958")
    sent = model.requests[0].prompt
    assert "ann@example.com" not in sent and "7946" not in sent
    assert sent.startswith("mail <EMAIL_") and "<PHONE_" in sent
    assert reply.text == "echo: mail ann@example.com or +44 20 7946 0958"


def test_plugin_module_is_light():
    code = "import sys, byom_presidio._plugin; print('presidio_analyzer' in sys.modules, 'spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
