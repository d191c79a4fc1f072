"""A misspelt entity in the masking policy is refused when the model is built (before any
call): accepted, it would silently leave that type of personal data unmasked."""

from __future__ import annotations

import pytest

from byom_sdk import Client, ConfigError
from byom_sdk.testing import ScriptedModel


@pytest.mark.parametrize(
    ("masking", "field", "hint"),
    [
        ({"entities": ["EMAL"]}, "trust.masking.entities", "did you mean 'EMAIL'?"),
        ({"entities": ["EMAIL", "EMAIL_ADDRESS"]}, "trust.masking.entities", "'EMAIL_ADDRESS'"),  # Presidio's name
        ({"thresholds": {"CREDIT_CRAD": 0.9}}, "trust.masking.thresholds", "did you mean 'CREDIT_CARD'?"),
    ],
)
def test_an_unknown_entity_is_a_config_error_naming_the_field(registry, masking, field, hint):
    policy = {"audit": {"sink": "memory"}, "masking": masking}
    client = Client(models={"m": ScriptedModel()}, policy=policy, registry=registry)
    with client, pytest.raises(ConfigError, match="no configured detector reports entity") as info:
        client.model("m")  # the model is built before its first call: nothing is sent
    assert info.value.field == field and hint in str(info.value)


def test_known_entities_mask_as_configured(registry):
    model = ScriptedModel()
    policy = {"audit": {"sink": "memory"}, "masking": {"entities": ["EMAIL"], "thresholds": {"EMAIL": 0.9}}}
    with Client(models={"m": model}, policy=policy, registry=registry) as client:
        client.model("m").generate("write to ann@example.com about 4111 1111 1111 1111")
    sent = model.requests[-1].as_messages()[-1].content  # type: ignore[union-attr]
    assert "ann@example.com" not in sent and "4111 1111 1111 1111" in sent  # only EMAIL was asked for
