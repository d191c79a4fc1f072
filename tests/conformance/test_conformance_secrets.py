"""What the ``secrets.*`` checks take for a credential on a provider, and what they leave."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance._secrets import credentials_of


class _Auth(BaseModel):
    api_key: SecretStr
    auth_mode: str = "service_account"  # a setting about the credential, not one
    api_key_env: str = "MY_PROVIDER_API_KEY"  # the variable's name, shown on purpose
    credentials_file: str = "/etc/creds/service-account.json"


class _Transport:
    def __init__(self) -> None:
        self.headers = {"Authorization": "Bearer tok-1234567890abcdef", "X-Request-Source": "byom-sdk-plugin"}
        self.max_tokens_default = "unlimited-tokens"
        self.eos_token = "<|im_end|>"  # a tokenizer's special token, not a credential
        self.bos_token = "<|im_start|>"


class _KeyedModel(ScriptedModel):
    def __init__(self) -> None:
        super().__init__()
        self.config = _Auth(api_key=SecretStr("sk-live-0123456789abcdef"))
        self._transport = _Transport()
        self.session_token = "short"  # below the length a credential is taken from


def test_secret_values_and_credential_named_strings_are_found() -> None:
    found = credentials_of(_KeyedModel(), extra=("extra-secret-value",))
    assert set(found) == {
        "sk-live-0123456789abcdef",
        "Bearer tok-1234567890abcdef",
        "tok-1234567890abcdef",  # the token alone leaks the same
        "extra-secret-value",
    }


def test_a_provider_without_credentials_has_none() -> None:
    assert credentials_of(ScriptedModel()) == []
