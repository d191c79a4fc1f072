"""The residency gate and policy validation: refusals happen before any request is sent,
and every refusal is audited."""

from __future__ import annotations

import pytest

from byom_sdk import Attestation, Boundary, Client, ConfigError, PolicyViolation
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import read_audit, verify_audit


def cloud(**kwargs):
    fields = {
        "provider": "scripted",
        "location_kind": "customer-cloud",
        "region": "eu-west-1",
        "endpoint": "https://runtime.example.com",
        "tls": True,
        "retention": "none",
    }
    fields.update(kwargs)
    return Boundary(**fields)


#: runtime.example.com is no cloud endpoint host, so its region and location kind cannot be
#: derived: the policies that must get past those rules vouch for it.
TRUSTED = {
    "trusted_endpoints": [{"host": "runtime.example.com", "region": "eu-west-1", "location_kind": "customer-cloud"}]
}
TRUSTED_US = {
    "trusted_endpoints": [{"host": "runtime.example.com", "region": "us-east-1", "location_kind": "customer-cloud"}]
}
TRUSTED_GLOBAL = {"trusted_endpoints": [{"host": "runtime.example.com", "region": "global", "cloud": "gcp"}]}

CASES = [
    ({"allowed_location_kinds": ["process"]}, cloud(), "allowed_location_kinds"),
    ({}, cloud(location_kind="third-party"), "allowed_location_kinds"),  # default excludes third-party
    ({"allowed_regions": ["eu-*"], **TRUSTED_US}, cloud(region="us-east-1"), "allowed_regions"),
    ({"allowed_regions": ["eu-*"]}, cloud(region=None), "allowed_regions"),  # unknown: fail closed
    ({"allowed_regions": ["*"], **TRUSTED_GLOBAL}, cloud(region="global"), "allowed_regions"),  # global needs "global"
    ({"required_retention": "none", **TRUSTED}, cloud(retention=None), "required_retention"),
    ({"required_retention": "none", **TRUSTED}, cloud(retention="30d"), "required_retention"),
    ({"required_attestations": ["data_capture_off"], **TRUSTED}, cloud(), "required_attestations.data_capture_off"),
    (
        {"required_attestations": ["data_capture_off"], **TRUSTED},
        cloud(attestations=(Attestation(name="data_capture_off", value="enabled", ok=False, source="api"),)),
        "required_attestations.data_capture_off",
    ),
    ({**TRUSTED}, cloud(tls=False, endpoint="http://runtime.example.com"), "require_tls"),
    ({**TRUSTED}, cloud(tls=None, endpoint="runtime.example.com:443"), "require_tls"),
]


@pytest.mark.parametrize("policy,boundary,rule", CASES)
@pytest.mark.parametrize("operation", ["generate", "stream", "embed"])
def test_gate_refuses_before_sending(make_client, audit_path, policy, boundary, rule, operation):
    model = ScriptedModel(boundary=boundary)
    client = make_client({"bot": model}, policy)
    managed = client.model("bot")
    with pytest.raises(PolicyViolation) as info:
        if operation == "generate":
            managed.generate("hello ann@example.com")
        elif operation == "stream":
            list(managed.stream("hello ann@example.com"))
        else:
            managed.embed("hello ann@example.com")
    assert info.value.rule == rule
    assert info.value.model == "bot"
    assert "'bot'" in str(info.value)
    assert model.requests == []  # nothing was sent
    [entry] = list(read_audit(audit_path))
    record = entry.record
    assert record["outcome"] == "blocked" and record["rule"] == rule and record["model"] == "bot"
    assert {"rule": rule, "result": "violation"}.items() <= next(
        d for d in record["decisions"] if d["rule"] == rule
    ).items()
    assert record["entities"] == {}  # refused before masking ran
    assert verify_audit(audit_path).ok


@pytest.mark.parametrize(
    "policy,boundary",
    [
        ({"allowed_regions": ["eu-*"], "required_retention": "none", **TRUSTED}, cloud()),
        ({"allowed_regions": ["global"], **TRUSTED_GLOBAL}, cloud(region="global")),
        ({"allow_loopback": True}, cloud(tls=False, endpoint="http://127.0.0.1:8080")),  # loopback needs no TLS
        ({"allow_loopback": True}, cloud(tls=None, endpoint="http://localhost:9000/invocations")),
        (
            {"required_attestations": ["capture"], **TRUSTED},
            cloud(attestations=(Attestation(name="capture", value="off", ok=True, source="api"),)),
        ),
        (
            {"allowed_regions": ["eu-*"], "required_retention": "none"},
            Boundary(provider="onnx", location_kind="process", retention="none"),
        ),  # in-process: no region
    ],
)
def test_gate_allows(make_client, policy, boundary):
    model = ScriptedModel(boundary=boundary)
    client = make_client({"bot": model}, policy)
    assert client.model("bot").generate("hi").text == "echo: hi"
    assert len(model.requests) == 1


class MovingModel(ScriptedModel):
    """A model whose boundary changes after the Client built it (a plugin that verifies
    its endpoint lazily)."""

    def __init__(self):
        super().__init__(boundary=cloud())
        self.current = cloud()

    @property
    def info(self):
        return self._info.model_copy(update={"boundary": self.current})


def test_boundary_is_read_at_call_time(make_client):
    model = MovingModel()
    client = make_client({"bot": model}, {"allowed_regions": ["eu-*"], **TRUSTED})
    managed = client.model("bot")
    managed.generate("one")
    model.current = cloud(region="us-east-1")
    with pytest.raises(PolicyViolation, match="us-east-1"):
        managed.generate("two")
    assert len(model.requests) == 1


def test_per_model_override(make_client):
    eu, us = ScriptedModel(boundary=cloud()), ScriptedModel(boundary=cloud(region="us-east-1"))
    client = make_client({"eu": eu, "us": us}, {"allowed_regions": ["eu-*"], **TRUSTED})
    client.model("eu").generate("x")
    with pytest.raises(PolicyViolation):
        client.model("us").generate("x")


def test_per_model_override_from_config(tmp_path, registry):
    (tmp_path / "byom.toml").write_text(
        """
[trust]
allowed_regions = ["eu-*"]
require_tls = false   # scripted models have no endpoint, so TLS is unknown
audit = { path = "logs/audit.sqlite" }

[models.eu]
provider = "scripted"
location_kind = "customer-cloud"
region = "eu-central-1"

[models.us]
provider = "scripted"
location_kind = "customer-cloud"
region = "us-east-1"
trust = { allowed_regions = ["us-*"], masking = { mode = "redact" } }

[models.us-no-override]
provider = "scripted"
location_kind = "customer-cloud"
region = "us-east-1"
""",
        encoding="utf-8",
    )
    with Client.from_config(tmp_path / "byom.toml", registry=registry) as client:
        # redact is irreversible: the app sees the tag too.
        assert client.model("us").generate("mail ann@example.com").text == "echo: mail [EMAIL]"
        assert client.model("us").provider.requests[-1].prompt == "mail [EMAIL]"
        eu = client.model("eu")
        assert eu.generate("mail ann@example.com").text == "echo: mail ann@example.com"
        assert eu.provider.requests[-1].prompt.startswith("mail <EMAIL_")
        with pytest.raises(PolicyViolation) as info:
            client.model("us-no-override").generate("x")
        assert info.value.rule == "allowed_regions" and info.value.model == "us-no-override"
    # The relative audit path resolved against the byom.toml folder: two sent calls (intent
    # and outcome each) and one refused before sending (an outcome only).
    assert verify_audit(tmp_path / "logs" / "audit.sqlite").records == 5


@pytest.mark.parametrize(
    "policy,field",
    [
        ({"masking": {"mdoe": "redact"}}, "trust.masking.mdoe"),
        ({"masking": {"mode": "hide"}}, "trust.masking.mode"),
        ({"allowed_location_kinds": ["moon"]}, "trust.allowed_location_kinds.0"),
        ({"scoring": {"input": {"injection": {"action": "explode"}}}}, "trust.scoring.input.injection.action"),
        ({"masking": {"thresholds": {"EMAIL": 2}}}, "trust.masking.thresholds"),
        ({"masking": {"detectors": ["nope"]}}, "trust.masking.detectors"),
        ({"scoring": {"scorers": ["builtin"]}}, "trust.scoring.scorers"),  # a pii detector, not a scorer
        ({"audit": {"sink": "nowhere"}}, "trust.audit.sink"),
        ({"required_retention": "30d"}, "trust.required_retention"),
    ],
)
def test_policy_errors_name_the_field(registry, policy, field):
    # The trust runtime is built (and its audit store opened) with the Client: a bad policy
    # fails before any model is used.
    with pytest.raises(ConfigError) as info:
        Client(models={"m": ScriptedModel()}, policy=policy, registry=registry)
    assert info.value.field == field
    assert field in str(info.value) and "<Client(models=...)>" in str(info.value)


def test_override_errors_name_the_alias(tmp_path, registry):
    (tmp_path / "byom.toml").write_text(
        '[models.m]\nprovider = "scripted"\ntrust = { masking = { mode = "nope" } }\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        Client.from_config(tmp_path / "byom.toml", registry=registry).model("m")
    assert info.value.alias == "m" and info.value.field == "trust.masking.mode"
    assert "byom.toml" in str(info.value)
    (tmp_path / "byom.toml").write_text(
        '[models.m]\nprovider = "scripted"\ntrust = { audit = { path = "other.sqlite" } }\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="client-wide") as info:
        Client.from_config(tmp_path / "byom.toml", registry=registry).model("m")
    assert info.value.field == "trust.audit.path"
