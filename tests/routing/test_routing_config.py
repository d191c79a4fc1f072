"""Routes in byom.toml: names checked against the aliases, and every target a route may
send to gated when the Client is built — a fallback outside the policy never loads."""

from __future__ import annotations

import pytest

from byom_sdk import Client, ConfigError
from byom_sdk.routing import RoutedModel

BASE = """
[trust]
allowed_regions = ["eu-*"]
require_tls = false  # scripted doubles have no endpoint to show TLS on
audit = { sink = "memory" }

[models.eu-primary]
provider = "scripted"
region = "eu-west-1"
location_kind = "customer-cloud"
replies = ["from eu-primary"]

[models.eu-secondary]
provider = "scripted"
region = "eu-central-1"
location_kind = "customer-cloud"
replies = ["from eu-secondary"]

# Allowed for its own (US) callers by its own trust table; never for an EU route.
[models.us-backup]
provider = "scripted"
region = "us-east-1"
location_kind = "customer-cloud"
trust = { allowed_regions = ["us-*"] }
"""

ROUTE = """
[routes.support]
targets = ["eu-primary"]
fallback = [{fallback}]
"""


def write(tmp_path, text):
    path = tmp_path / "byom.toml"
    path.write_text(text)
    return path


def test_a_route_loads_from_byom_toml(tmp_path, registry):
    path = write(tmp_path, BASE + ROUTE.format(fallback='"eu-secondary"'))
    with Client.from_config(path, registry=registry) as client:
        assert client.routes == ["support"] and isinstance(client.model("support"), RoutedModel)
        assert client.model("support").generate("hi").text == "from eu-primary"


def test_a_fallback_outside_the_policy_is_refused_at_load(tmp_path, registry):
    """The error names the file, the route, the target and the rule."""
    path = write(tmp_path, BASE + ROUTE.format(fallback='"eu-secondary", "us-backup"'))
    with pytest.raises(ConfigError) as caught:
        Client.from_config(path, registry=registry)
    message = str(caught.value)
    assert "route 'support'" in message and "fallback[1] 'us-backup'" in message and "allowed_regions" in message
    assert caught.value.field == "routes.support.fallback[1]" and str(path) in message


def test_a_target_refused_by_its_own_policy_is_refused_at_load(tmp_path, registry):
    narrowed = BASE.replace(
        'replies = ["from eu-secondary"]',
        'replies = ["from eu-secondary"]\ntrust = { allowed_regions = ["eu-west-*"] }',
    )
    path = write(tmp_path, narrowed + ROUTE.format(fallback='"eu-secondary"'))
    with pytest.raises(ConfigError, match="outside model 'eu-secondary''s own trust policy"):
        Client.from_config(path, registry=registry)


def test_a_shadow_outside_the_policy_is_refused_at_load(tmp_path, registry):
    text = BASE + ROUTE.format(fallback="") + '[routes.support.shadow]\ntarget = "us-backup"\n'
    with pytest.raises(ConfigError, match=r"shadow.target 'us-backup'"):
        Client.from_config(write(tmp_path, text), registry=registry)


def test_a_route_policy_can_be_stricter_than_the_client(tmp_path, registry):
    text = BASE + ROUTE.format(fallback='"eu-secondary"') + 'trust = { allowed_regions = ["eu-west-1"] }\n'
    with pytest.raises(ConfigError, match="fallback\\[0\\] 'eu-secondary' is outside the route's trust policy"):
        Client.from_config(write(tmp_path, text), registry=registry)


def test_trust_off_loads_without_gating(tmp_path, registry):
    path = write(tmp_path, BASE + ROUTE.format(fallback='"us-backup"'))
    with Client.from_config(path, registry=registry, trust="off") as client:
        assert client.model("support").generate("hi").text == "from eu-primary"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ('[routes.eu-primary]\ntargets = ["eu-secondary"]\n', "has the name of a model alias"),
        ('[routes.support]\ntargets = ["nope"]\n', "targets[0] names 'nope', which is no model alias"),
        (
            '[routes.a]\ntargets = ["eu-primary"]\n[routes.b]\ntargets = ["a"]\n',
            "a route's targets are model aliases, never routes",
        ),
        ("routes = 3\n", "[routes] must be a table"),
    ],
)
def test_route_names_are_checked(tmp_path, registry, route, message):
    text = (route + BASE) if route.startswith("routes =") else (BASE + route)
    with pytest.raises(ConfigError) as caught:
        Client.from_config(write(tmp_path, text), registry=registry)
    assert message in str(caught.value)


def test_only_a_route_brings_its_targets(tmp_path, registry):
    """What `byom generate ROUTE` asks for: the route and the aliases it sends to, and not
    a broken model elsewhere in the file."""
    text = BASE + ROUTE.format(fallback='"eu-secondary"') + '\n[models.broken]\nprovider = "no-such-provider"\n'
    with Client.from_config(write(tmp_path, text), registry=registry, only=["support"]) as client:
        assert client.aliases == ["eu-primary", "eu-secondary"]
        assert client.model("support").generate("hi").text == "from eu-primary"
    with pytest.raises(ConfigError, match="no model named 'nothing'"):
        Client.from_config(write(tmp_path, text), registry=registry, only=["nothing"])


def test_versions_reach_model_info_and_the_audit(tmp_path, registry):
    """ModelInfo.version is in every record (None when the provider pins none)."""
    path = write(tmp_path, BASE + ROUTE.format(fallback=""))
    with Client.from_config(path, registry=registry) as client:
        client.model("eu-primary").generate("hi")
        records = client.trust.sink.records  # type: ignore[attr-defined]
        intent = next(r for r in records if r["kind"] == "intent")
        assert "version" in intent and intent["version"] is None and "route" not in intent
