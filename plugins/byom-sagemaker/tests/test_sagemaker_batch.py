"""``byom batch run --runner sagemaker-transform`` against moto's S3, a local container and
the local transform service: masked records staged to S3 with the codec's content type and
``SplitType=Line``, answers joined back by key and restored, a failed job failing its
shard only, the payload limit, residency checked before anything is uploaded."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from byom_sagemaker.testing import LocalContainer, LocalS3, LocalTransformService, jsonpath

from byom_sdk import Client, PolicyViolation
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import read_audit, verify_audit
from byom_sdk.trust.testing import CANARIES, assert_no_canaries, canary_text

AUDIT_KEY = "sagemaker-batch-audit-key-0123456789"
POLICY = {"allow_loopback": True, "masking": {"mode": "pseudonym"}}


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("BYOM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("BYOM_PSEUDONYM_KEY", "sagemaker-batch-pseudonym-key-0123")


@pytest.fixture
def bucket():
    # moto's state outlives its server within a process: each test stages into its own bucket.
    return f"batch-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def aws(bucket):
    """S3 (moto), the echoing TGI container, and the transform service running its model."""
    with LocalS3() as s3, LocalContainer("tgi") as container, LocalTransformService(s3.url) as service:
        s3.create_bucket(bucket)
        service.add_model("echo", container.url)
        yield s3, container, service, bucket


def _records(path: Path, n: int, *, extra: list[str] | None = None) -> Path:
    with open(path, "w") as stream:
        for i in range(n):
            record = {"id": f"r{i}", "prompt": f"record {i}: {canary_text()}", "parameters": {"max_tokens": 400}}
            stream.write(json.dumps(record) + "\n")
        for line in extra or ():
            stream.write(line + "\n")
    return path


def _batch(aws, tmp_path, source, *, policy=None, job=None, **options):
    s3, _, service, bucket = aws
    model = {
        "provider": "sagemaker",
        "endpoint_name": "echo",
        "region": "us-east-1",
        "codec": "tgi",
        "credentials": s3.credentials,
    }
    table = {
        "bucket": bucket,
        "s3_endpoint_url": s3.url,
        "sagemaker_endpoint_url": service.url,
        "poll_interval": 0.02,
        "shard_size": 64,
        "cleanup": False,
        **options,
    }
    out = tmp_path / "out.jsonl"
    audit = {"audit": {"path": str(tmp_path / "audit.sqlite")}}
    with Client({"bot": model}, policy={**(policy if policy is not None else POLICY), **audit}) as client:
        summary = client.batch(
            source,
            out,
            model="bot",
            runner="sagemaker-transform",
            progress=False,
            sagemaker_transform=table,
            **(job or {}),
        )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return summary, rows


def test_canaries_never_reach_s3_or_the_container(aws, tmp_path):
    """200 canary records in 4 transform jobs: S3 and the container hold no canary; each id
    is answered once and restored; the jobs asked for the codec's content type, line
    splitting and the key join; the merged audit verifies."""
    s3, container, service, bucket = aws
    summary, rows = _batch(aws, tmp_path, _records(tmp_path / "in.jsonl", 200))
    assert (summary.ok, summary.errors) == (200, 0)
    assert Counter(row["id"] for row in rows) == Counter({f"r{i}": 1 for i in range(200)})
    for row in rows:
        assert all(value in row["response"]["text"] for value in CANARIES.values()), row["id"]
    stored = list(s3.stored(bucket))
    assert (
        sum(1 for key, _ in stored if "/in/" in key) == 4 and sum(1 for key, _ in stored if key.endswith(".out")) == 4
    )
    assert_no_canaries([body for _, body in stored], where="the S3 bucket")
    assert len(container.received) == 200
    assert_no_canaries(container.received, where="the container's /invocations bodies")
    assert all(b"record" in body and b"r1" not in body for body in container.received)  # no ids leave
    created = [request for name, request in service.calls if name == "CreateTransformJob"]
    assert len(created) == 4
    for request in created:
        assert request["TransformInput"]["ContentType"] == "application/json"
        assert request["TransformInput"]["SplitType"] == "Line"
        assert request["BatchStrategy"] == "SingleRecord"
        assert request["DataProcessing"]["InputFilter"] == "$.body"
    result = verify_audit(tmp_path / "audit.sqlite", key=AUDIT_KEY)
    assert result.ok and result.complete, result.describe()
    assert result.merged[0]["records"] == 400
    merge = next(e.record for e in read_audit(tmp_path / "audit.sqlite") if e.record.get("kind") == "batch_merge")
    assert {d["target"] for d in merge["preflight"]} == {"sagemaker"}  # the job's service, gated before upload
    assert {d["result"] for d in merge["preflight"]} == {"pass"}


def test_a_failed_record_fails_its_shard_only(tmp_path, bucket):
    """The container rejects one record: SageMaker keeps no partial object, so that job
    fails and each record of its shard gets a TransformJobFailed row; the others are fine."""

    def reply(request):
        if "record 70:" in (request.prompt or ""):
            raise ValueError("no")
        return f"echo: {request.prompt}"

    with (
        LocalS3() as s3,
        LocalContainer("tgi", ScriptedModel(reply)) as container,
        LocalTransformService(s3.url, container_retries=0) as service,
    ):
        s3.create_bucket(bucket)
        service.add_model("echo", container.url)
        summary, rows = _batch((s3, container, service, bucket), tmp_path, _records(tmp_path / "in.jsonl", 130))
    failed = {row["id"] for row in rows if "error" in row}
    assert failed == {f"r{i}" for i in range(64, 128)}
    assert dict(summary.errors_by_type) == {"ModelError": 64}
    error = next(row["error"] for row in rows if "error" in row)
    assert error["code"] == "TransformJobFailed" and "record 7 of" in error["message"]
    assert summary.ok == 66


def test_payload_limit_and_bad_lines_are_rows(aws, tmp_path):
    """A record whose encoded body is over ``MaxPayloadInMB`` is a PayloadTooLarge row (it
    never reaches S3); a broken line a MalformedRecord row."""
    big = json.dumps({"id": "big", "prompt": "x" * (1024 * 1024 + 10)})
    summary, rows = _batch(
        aws,
        tmp_path,
        _records(tmp_path / "in.jsonl", 3, extra=[big, "{broken"]),
        job={"max_record_bytes": 4 * 1024 * 1024},
        max_payload_mb=1,
    )
    by_id = {row["id"]: row for row in rows}
    assert by_id["big"]["error"]["code"] == "PayloadTooLarge"
    assert by_id["@line:5"]["error"]["type"] == "MalformedRecord"
    assert summary.ok == 3
    assert not any(b"xxxxxxxx" in body for _, body in aws[0].stored(aws[3]))


def test_residency_is_checked_before_anything_is_uploaded(aws, tmp_path):
    """Without ``allow_loopback`` the loopback S3 and SageMaker hosts are refused: the job
    raises PolicyViolation and the bucket stays empty."""
    with pytest.raises(PolicyViolation, match="loopback"):
        _batch(aws, tmp_path, _records(tmp_path / "in.jsonl", 5), policy={"masking": {"mode": "pseudonym"}})
    assert list(aws[0].stored(aws[3])) == []
    assert [name for name, _ in aws[2].calls] == []


def test_jsonpath_subset():
    record = {"k": "1", "body": {"inputs": "hi"}, "SageMakerOutput": [1]}
    assert jsonpath(record, "$") == record
    assert jsonpath(record, "$.body.inputs") == "hi"
    assert jsonpath(record, "$['k','SageMakerOutput']") == {"k": "1", "SageMakerOutput": [1]}
    with pytest.raises(ValueError):
        jsonpath(record, "$..k")
