"""How the plugin builds its GAPIC clients and credentials for real endpoints, checked
without any network: channels connect lazily, so building a client sends nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from byom_vertex import VertexConfig, VertexModel
from byom_vertex._gapic import credentials_for

import byom_sdk

BASE = {"project": "acme-ml", "location": "europe-west4", "endpoint_id": "42"}
ANON = {"credentials": {"kind": "anonymous"}}


@pytest.mark.parametrize(
    ("options", "grpc_host", "rest_url"),
    [
        (
            {},
            "europe-west4-aiplatform.googleapis.com:443",
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-ml/locations/europe-west4/endpoints/42",
        ),
        (
            {"dedicated_endpoint_dns": "42.europe-west4-9.prediction.vertexai.goog"},
            "42.europe-west4-9.prediction.vertexai.goog:443",
            "https://42.europe-west4-9.prediction.vertexai.goog/v1/projects/acme-ml/locations/europe-west4/endpoints/42",
        ),
        (
            {"location": "global"},
            "aiplatform.googleapis.com:443",
            "https://aiplatform.googleapis.com/v1/projects/acme-ml/locations/global/endpoints/42",
        ),
        (
            {"api_endpoint": "10.1.2.3", "network_path": "private-service-connect"},
            "10.1.2.3:443",
            "https://10.1.2.3/v1/projects/acme-ml/locations/europe-west4/endpoints/42",
        ),
    ],
)
def test_clients_target_the_configured_host_over_tls(options, grpc_host, rest_url):
    grpc_model = VertexModel(VertexConfig(**{**BASE, **ANON, **options}))
    rest_model = VertexModel(VertexConfig(**{**BASE, **ANON, **options, "transport": "rest"}))
    try:
        client = grpc_model.transport._sync()
        assert client.transport.kind == "grpc"
        assert client.transport._host == grpc_host
        assert rest_model.transport._sync().transport.kind == "rest"
        assert rest_model.transport._http_client()._url == rest_url
        assert grpc_model.info.boundary.tls is True and rest_model.info.boundary.tls is True
        assert grpc_model.info.capabilities.async_native and not rest_model.info.capabilities.async_native
    finally:
        grpc_model.close()
        rest_model.close()


async def test_async_client_is_per_event_loop_and_closed_by_aclose():
    model = VertexModel(VertexConfig(**BASE, **ANON))
    first = model.transport._async()
    assert model.transport._async() is first  # reused within the loop
    assert first.transport.kind == "grpc_asyncio"
    await model.aclose()
    with pytest.raises(byom_sdk.ByomError, match="closed"):
        model.transport._async()


def test_adc_missing_is_an_auth_error_saying_what_to_do(tmp_path):
    # In a subprocess: google.auth reads NO_GCE_CHECK at import, and without it ADC probes the
    # metadata server (169.254.169.254), which the loopback guard of these tests refuses.
    code = textwrap.dedent("""
        import byom_sdk
        from byom_vertex import VertexConfig
        from byom_vertex._gapic import credentials_for
        try:
            credentials_for(VertexConfig(project="acme-ml", location="europe-west4", endpoint_id="42"))
        except byom_sdk.AuthError as exc:
            print(exc)
    """)
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update(CLOUDSDK_CONFIG=str(tmp_path), NO_GCE_CHECK="True")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "application-default login" in out.stdout
    assert "projects/acme-ml/locations/europe-west4/endpoints/42" in out.stdout


def test_service_account_key_gives_scoped_refreshable_credentials(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    (tmp_path / "sa.json").write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-ml",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "byom@acme-ml.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    config = VertexConfig.model_validate(
        {**BASE, "credentials": {"kind": "service-account", "file": "sa.json", "quota_project": "billing-prj"}},
        context={"config_dir": tmp_path},
    )
    creds = credentials_for(config)
    assert creds.service_account_email == "byom@acme-ml.iam.gserviceaccount.com"
    assert creds.scopes == ["https://www.googleapis.com/auth/cloud-platform"]
    assert creds.quota_project_id == "billing-prj"
    assert creds.token is None and not creds.valid  # nothing fetched yet: the client refreshes on use
