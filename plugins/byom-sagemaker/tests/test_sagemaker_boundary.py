"""Boundary reporting, control-plane verification against moto's SageMaker emulator, and
credentials (including an assumed role from moto's STS)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from byom_sagemaker import SageMakerConfig, SageMakerModel

from byom_sdk import BadRequest, Client
from byom_sdk.testing import isolated_registry

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/byom-test"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def control(moto_url):
    client = boto3.client(
        "sagemaker",
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="AKIDMOTO",
        aws_secret_access_key="moto",
    )
    yield client
    client.close()


def deploy(control, name: str, *, capture: bool | None, kms: bool, vpc: bool) -> None:
    """Create a model, endpoint config and endpoint in the emulator with boto3."""
    model: dict = {
        "ModelName": f"{name}-model",
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "PrimaryContainer": {"Image": "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tgi:latest"},
        "EnableNetworkIsolation": True,
    }
    if vpc:
        model["VpcConfig"] = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-a", "subnet-b"]}
    control.create_model(**model)
    config: dict = {
        "EndpointConfigName": f"{name}-config",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    }
    if kms:
        config["KmsKeyId"] = "arn:aws:kms:eu-west-1:123456789012:key/1234"
    if capture is not None:
        config["DataCaptureConfig"] = {
            "EnableCapture": capture,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://capture-bucket/ep",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    control.create_endpoint_config(**config)
    control.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def config_for(server, endpoint: str, moto_url: str, **overrides) -> dict:
    config = server.model_config(endpoint, control_plane_endpoint_url=moto_url, **overrides)
    config.pop("provider")
    return config


def test_declared_boundary_for_the_local_server(server, make_model):
    server.add_endpoint("ep", "tgi")
    boundary = make_model("ep").info.boundary
    assert boundary.provider == "sagemaker"
    assert boundary.location_kind == "customer-cloud"
    assert boundary.region == "eu-west-1"
    assert boundary.endpoint == f"{server.url}/endpoints/ep"
    assert boundary.tls is False
    assert boundary.network_path == "loopback"
    assert boundary.retention is None  # unknown until verified
    assert boundary.attestations == ()


def test_declared_boundary_for_the_aws_endpoint_makes_no_call():
    config = SageMakerConfig(
        endpoint_name="prod-llm",
        region="eu-central-1",
        codec="tgi",
        credentials={"access_key_id": "AKIDX", "secret_access_key": "x"},
    )
    with SageMakerModel(config) as model:  # building a client sends nothing
        boundary = model.info.boundary
    assert boundary.endpoint == "https://runtime.sagemaker.eu-central-1.amazonaws.com/endpoints/prod-llm"
    assert boundary.tls is True
    assert boundary.network_path == "aws-public-endpoint"


def test_privatelink_endpoint_url_is_reported():
    config = SageMakerConfig(
        endpoint_name="prod-llm",
        region="eu-central-1",
        codec="tgi",
        endpoint_url="https://vpce-0abc-xyz.runtime.sagemaker.eu-central-1.vpce.amazonaws.com",
        credentials={"access_key_id": "AKIDX", "secret_access_key": "x"},
    )
    with SageMakerModel(config) as model:
        assert model.info.boundary.network_path == "aws-privatelink"


def test_verified_boundary_with_capture_off(server, moto_url, control):
    deploy(control, "private-ep", capture=False, kms=True, vpc=True)
    server.add_endpoint("private-ep", "tgi")
    with SageMakerModel(SageMakerConfig(**config_for(server, "private-ep", moto_url, verify_boundary=True))) as model:
        boundary = model.info.boundary
        assert model.generate("hi").text == "echo: hi"
    found = {a.name: a for a in boundary.attestations}
    assert found["sagemaker.data_capture"].value == "off" and found["sagemaker.data_capture"].ok
    assert boundary.retention == "none"
    assert found["sagemaker.kms_key"].ok and found["sagemaker.kms_key"].value.endswith("key/1234")
    assert found["sagemaker.vpc"].ok and "subnet-a,subnet-b" in found["sagemaker.vpc"].value
    assert found["sagemaker.endpoint_status"].value == "InService" and found["sagemaker.endpoint_status"].ok
    assert found["sagemaker.region"].value == REGION and found["sagemaker.region"].ok
    assert found["sagemaker.endpoint_arn"].value == "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/private-ep"
    # moto 5.2.5 does not store EnableNetworkIsolation (always False), so this reports off.
    assert found["sagemaker.network_isolation"].value == "private-ep-model=off"
    assert not found["sagemaker.network_isolation"].ok
    assert found["sagemaker.data_capture"].source == "sagemaker:DescribeEndpoint+sagemaker:DescribeEndpointConfig"


def test_verified_boundary_with_capture_on_keeps_retention_unknown(server, moto_url, control):
    deploy(control, "captured-ep", capture=True, kms=False, vpc=False)
    server.add_endpoint("captured-ep", "tgi")
    with SageMakerModel(SageMakerConfig(**config_for(server, "captured-ep", moto_url, verify_boundary=True))) as m:
        boundary = m.info.boundary
    found = {a.name: a for a in boundary.attestations}
    assert found["sagemaker.data_capture"].value == "on (s3://capture-bucket/ep)"
    assert not found["sagemaker.data_capture"].ok
    assert boundary.retention is None
    assert found["sagemaker.kms_key"].value == "none" and not found["sagemaker.kms_key"].ok
    assert found["sagemaker.vpc"].value == "captured-ep-model=none" and not found["sagemaker.vpc"].ok


def test_no_capture_config_counts_as_off(server, moto_url, control):
    deploy(control, "plain-ep", capture=None, kms=False, vpc=False)
    server.add_endpoint("plain-ep", "tgi")
    with SageMakerModel(SageMakerConfig(**config_for(server, "plain-ep", moto_url))) as model:
        assert model.info.boundary.attestations == ()  # opt-in: nothing read yet
        boundary = model.verify_boundary()
        assert model.info.boundary == boundary
    assert boundary.retention == "none"


def test_verifying_an_endpoint_the_control_plane_does_not_know(server, moto_url):
    server.add_endpoint("ghost", "tgi")
    with pytest.raises(BadRequest, match=r"SageMaker endpoint 'ghost' \(eu-west-1\) boundary check.*ghost"):
        SageMakerModel(SageMakerConfig(**config_for(server, "ghost", moto_url, verify_boundary=True)))


def test_verify_boundary_through_the_client(server, moto_url, control):
    import byom_sagemaker._plugin as plugin

    deploy(control, "client-ep", capture=False, kms=True, vpc=True)
    server.add_endpoint("client-ep", "tgi")
    config = server.model_config("client-ep", control_plane_endpoint_url=moto_url, verify_boundary=True)
    with isolated_registry(plugin), Client(models={"bot": config}, policy={"allow_loopback": True}) as client:
        model = client.model("bot")
        assert model.info.boundary.retention == "none"
        assert model.info.boundary.attestation("sagemaker.data_capture").ok
        assert model.generate("hi").text == "echo: hi"


def _role_model(server, moto_url, **creds):
    server.credentials = None  # moto issues random role keys: check who signed via the log instead
    server.add_endpoint("ep", "tgi")
    config = config_for(
        server,
        "ep",
        moto_url,
        credentials={
            "access_key_id": "AKIDSOURCE",
            "secret_access_key": "source-secret",
            "role_arn": ROLE,
            "sts_endpoint_url": moto_url,
            **creds,
        },
    )
    return SageMakerModel(SageMakerConfig(**config))


def _signer(request) -> str:
    return request.header("authorization").split("Credential=")[1].split("/")[0]


def test_assumed_role_credentials_sign_runtime_calls(server, moto_url):
    from botocore.credentials import RefreshableCredentials

    with _role_model(server, moto_url) as model:
        creds = model._session.get_credentials()
        assert isinstance(creds, RefreshableCredentials)
        assert creds.method == "byom-assume-role"
        key = creds.get_frozen_credentials().access_key
        assert key.startswith("ASIA")  # issued by moto's STS for the role
        model.generate("hi")
        model.generate("again")
    signers = [_signer(r) for r in server.requests_for("ep")]
    assert signers == [key, key]  # fresh for an hour: reused, not re-assumed per call
    assert all(r.header("x-amz-security-token") for r in server.requests_for("ep"))


def test_assumed_role_credentials_refresh_before_expiry(server, moto_url):
    # 15-minute credentials are always inside botocore's refresh window, so every use
    # re-assumes the role: the refresh path runs without waiting for real expiry.
    with _role_model(server, moto_url, duration_seconds=900) as model:
        model.generate("hi")
        model.generate("again")
    first, second = (_signer(r) for r in server.requests_for("ep"))
    assert first.startswith("ASIA") and second.startswith("ASIA") and first != second


def test_profile_credentials(server, tmp_path, monkeypatch):
    (tmp_path / "credentials").write_text(
        "[byom-test]\naws_access_key_id = AKIDBYOMTEST\naws_secret_access_key = byom-test-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    server.add_endpoint("ep", "tgi")
    config = server.model_config("ep", credentials={"profile": "byom-test"})
    config.pop("provider")
    with SageMakerModel(SageMakerConfig(**config)) as model:
        model.generate("hi")
    assert server.requests_for("ep")[0].signature == "valid"


def test_missing_profile_is_a_config_error(server):
    from byom_sdk import ConfigError

    server.add_endpoint("ep", "tgi")
    config = server.model_config("ep", credentials={"profile": "no-such-profile"})
    config.pop("provider")
    with pytest.raises(ConfigError, match=r"credentials\.profile.*no-such-profile"):
        SageMakerModel(SageMakerConfig(**config))


def test_no_credentials_anywhere_is_an_auth_error(server, tmp_path, monkeypatch):
    from byom_sdk import AuthError

    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never probe 169.254.169.254 from a test
    server.add_endpoint("ep", "tgi")
    config = server.model_config("ep")
    config.pop("provider")
    config.pop("credentials")
    with SageMakerModel(SageMakerConfig(**config)) as model, pytest.raises(AuthError, match="credentials"):
        model.generate("hi")
    assert server.requests_for("ep") == []  # nothing unsigned left the process
