"""``byom batch run --runner vertex-batch`` with the real google-cloud-aiplatform
``JobServiceClient`` and google-cloud-storage against gcp-storage-emulator and the local
batch prediction service: instances staged to Cloud Storage masked and keyed, predictions
and errors files parsed back per record, residency checked before anything is uploaded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from byom_vertex.testing import CONTAINERS, LocalBatchPredictionService, LocalGCS

from byom_sdk import Client, PolicyViolation
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust import verify_audit
from byom_sdk.trust.testing import CANARIES, assert_no_canaries, canary_text

AUDIT_KEY = "vertex-batch-audit-key-0123456789"
POLICY = {"allow_loopback": True, "masking": {"mode": "pseudonym"}}


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("BYOM_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("BYOM_PSEUDONYM_KEY", "vertex-batch-pseudonym-key-0123456")


@pytest.fixture
def gcp():
    """Cloud Storage (the emulator, stopped at teardown) and the batch prediction service."""
    with LocalGCS("batch") as gcs, LocalBatchPredictionService(gcs.url) as service:
        yield gcs, service


def _write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _batch(gcp, tmp_path, source, codec="vllm", *, policy=None, model=None, **options):
    gcs, service = gcp
    service.add_model("m1", CONTAINERS[codec](model or ScriptedModel()))
    entry = {
        "provider": "vertex",
        "project": "test-project",
        "location": "us-central1",
        "endpoint_id": "1",
        "codec": codec,
        "credentials": {"kind": "anonymous"},
    }
    if codec == "tei":
        entry["embedding_dimension"] = 8
    table = {
        "bucket": "batch",
        "model": "m1",
        "gcs_endpoint_url": gcs.url,
        "api_endpoint": service.target,
        "insecure": True,
        "poll_interval": 0.02,
        "shard_size": 64,
        **options,
    }
    out = tmp_path / "out.jsonl"
    audit = {"audit": {"path": str(tmp_path / "audit.sqlite")}}
    with Client({"bot": entry}, policy={**(policy if policy is not None else POLICY), **audit}) as client:
        summary = client.batch(source, out, model="bot", runner="vertex-batch", progress=False, vertex_batch=table)
    return summary, {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}


def test_canaries_never_reach_cloud_storage_or_the_container(gcp, tmp_path):
    """200 canary records in 4 jobs: nothing Cloud Storage ever held (deleted objects
    included) nor any body the container got has a canary; each id is answered once and
    restored; the jobs were keyed JSONL jobs; the merged audit verifies."""
    gcs, service = gcp
    records = [
        {"id": f"r{i}", "prompt": f"record {i}: {canary_text()}", "parameters": {"max_tokens": 400}} for i in range(200)
    ]
    summary, rows = _batch(gcp, tmp_path, _write(tmp_path / "in.jsonl", records))
    assert (summary.ok, summary.errors) == (200, 0)
    assert set(rows) == {f"r{i}" for i in range(200)}
    for key, row in rows.items():
        assert all(value in row["response"]["text"] for value in CANARIES.values()), key
    stored = list(gcs.stored())
    assert sum(1 for name, _ in stored if "_softdelete" in name) >= 8  # inputs and outputs, cleaned up
    assert_no_canaries([data for _, data in stored], where="Cloud Storage")
    assert len(service.sent) == 50  # 200 instances, 4 per request
    assert_no_canaries(service.sent, where="the container's request bodies")
    created = [request for name, request in service.calls if name == "CreateBatchPredictionJob"]
    assert len(created) == 4
    for request in created:
        job = request.batch_prediction_job
        assert job.input_config.instances_format == "jsonl"
        assert job.instance_config.key_field == "key"
        assert job.model == "projects/test-project/locations/us-central1/models/m1"
    result = verify_audit(tmp_path / "audit.sqlite", key=AUDIT_KEY)
    assert result.ok and result.complete, result.describe()


def test_embedding_records_are_regrouped(gcp, tmp_path):
    """A record of three texts is three instance lines; its answer is three vectors, in
    order, the same vectors the model gives online."""
    texts = [[f"passage {i}.{j}" for j in range(1 + i % 3)] for i in range(10)]
    records = [{"id": f"d{i}", "texts": group} for i, group in enumerate(texts)]
    summary, rows = _batch(gcp, tmp_path, _write(tmp_path / "in.jsonl", records), codec="tei")
    assert summary.ok == 10
    reference = ScriptedModel()
    for i, group in enumerate(texts):
        vectors = rows[f"d{i}"]["response"]["vectors"]
        assert len(vectors) == len(group)
        assert vectors == [list(v) for v in reference.embed(group).vectors]


def test_an_errors_file_fails_only_its_record(gcp, tmp_path):
    def reply(request):
        if "record 3" in (request.prompt or ""):
            raise ValueError("the model refused")
        return f"echo: {request.prompt}"

    records = [{"id": f"r{i}", "prompt": f"record {i}"} for i in range(8)]
    summary, rows = _batch(
        gcp, tmp_path, _write(tmp_path / "in.jsonl", records), model=ScriptedModel(reply), batch_size=1
    )
    failed = {key: row["error"] for key, row in rows.items() if "error" in row}
    assert list(failed) == ["r3"]
    assert failed["r3"]["code"] == "RecordFailed" and "the model refused" in failed["r3"]["message"]
    assert Counter(summary.errors_by_type) == Counter({"ModelError": 1})
    assert rows["r4"]["response"]["text"] == "echo: record 4"


def test_residency_is_checked_before_anything_is_uploaded(gcp, tmp_path):
    gcs, service = gcp
    records = [{"id": "r0", "prompt": "hello"}]
    with pytest.raises(PolicyViolation, match="loopback"):
        _batch(gcp, tmp_path, _write(tmp_path / "in.jsonl", records), policy={"masking": {"mode": "pseudonym"}})
    assert service.calls == []
    assert [name for name, _ in gcs.stored() if "/in/" in name or "_softdelete" in name] == []
