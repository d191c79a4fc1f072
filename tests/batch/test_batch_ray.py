"""The Ray runner on a real local Ray cluster (2 CPUs, started and stopped here): the same
answers as the local runner, pseudonyms that do not depend on how many actors masked the
records, and a killed actor that leaves no duplicate answer."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from byom_sagemaker.testing import LocalSageMakerServer

from byom_sdk import Client
from byom_sdk.trust import verify_audit
from byom_sdk.trust.testing import assert_no_canaries

from ._helpers import (
    AUDIT_KEY,
    POLICY,
    PSEUDONYM_KEY,
    assert_restored,
    canary_records,
    comparable,
    rows_by_id,
    write_jsonl,
)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_cluster():
    """One local cluster for the module. Workers inherit the environment at init, so the
    keys are set before it starts."""
    saved = {name: os.environ.get(name) for name in ("BYOM_AUDIT_KEY", "BYOM_PSEUDONYM_KEY", "RAY_USAGE_STATS_ENABLED")}
    os.environ.update(
        {"BYOM_AUDIT_KEY": AUDIT_KEY, "BYOM_PSEUDONYM_KEY": PSEUDONYM_KEY, "RAY_USAGE_STATS_ENABLED": "0"}
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def endpoint():
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("echo", "tgi")
        yield server


def _run(server, tmp_path: Path, name: str, source: Path, **options):
    out = tmp_path / f"{name}.jsonl"
    server.clear()
    audit = tmp_path / f"{name}.sqlite"
    with Client(
        models={"bot": server.model_config("echo")}, policy={**POLICY, "audit": {"path": str(audit)}}
    ) as client:
        summary = client.batch(source, out, model="bot", progress=False, **options)
    bodies = sorted(request.body for request in server.requests_for("echo"))
    result = verify_audit(audit, key=AUDIT_KEY)
    assert result.ok and result.complete, result.describe()
    return summary, rows_by_id(out), bodies, result


def test_ray_answers_like_local_and_pseudonyms_do_not_depend_on_workers(ray_cluster, endpoint, tmp_path):
    """200 canary records through the local runner, Ray with 1 actor and Ray with 4: the
    same answers (order aside), byte-identical masked bodies at the endpoint, no canary
    there, and each run's merged audit verifies over its actors' shards."""
    source = write_jsonl(tmp_path / "in.jsonl", canary_records(200))
    local, local_rows, local_bodies, _ = _run(endpoint, tmp_path, "local", source, concurrency=8)
    one, one_rows, one_bodies, one_audit = _run(
        endpoint, tmp_path, "ray1", source, runner="ray", concurrency=8, ray={"workers": 1, "batch_size": 25}
    )
    four, four_rows, four_bodies, four_audit = _run(
        endpoint, tmp_path, "ray4", source, runner="ray", concurrency=8, ray={"workers": 4, "batch_size": 25}
    )
    assert local.ok == one.ok == four.ok == 200
    assert comparable(local_rows) == comparable(one_rows) == comparable(four_rows)
    assert_restored(four_rows)
    assert len(one_bodies) == len(four_bodies) == 200
    assert one_bodies == four_bodies == local_bodies
    assert_no_canaries(four_bodies + one_bodies, where="the endpoint's request bodies (Ray)")
    ray_shards = [s for s in four_audit.merged[0]["shards"] if s.startswith("ray-")]
    assert len(ray_shards) >= 2
    assert four_audit.merged[0]["records"] == 400  # one intent and one outcome per record
    assert len([s for s in one_audit.merged[0]["shards"] if s.startswith("ray-")]) == 1


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"MapWorker" in cmdline and b"RayWorker" in cmdline:
                pids.append(int(entry.name))
    return pids


def test_a_killed_actor_leaves_no_duplicate_answers(ray_cluster, endpoint, tmp_path):
    """An actor SIGKILLed mid-job: Ray restarts it and re-runs its batch; every id is
    answered exactly once, and the merged audit verifies (the dead actor's open intents
    are warnings: its shard keeps what it committed)."""
    endpoint.inject("delay", times=10_000, seconds=0.03)
    source = write_jsonl(tmp_path / "in.jsonl", canary_records(120))
    out = tmp_path / "out.jsonl"
    audit = tmp_path / "audit.sqlite"
    outcome: dict = {}

    def job():
        with Client(
            models={"bot": endpoint.model_config("echo")}, policy={**POLICY, "audit": {"path": str(audit)}}
        ) as c:
            outcome["summary"] = c.batch(
                source,
                out,
                model="bot",
                runner="ray",
                concurrency=4,
                progress=False,
                ray={"workers": 2, "batch_size": 10},
            )

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 180
    while len(endpoint.requests) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = _actor_pids()
    assert pids, "no Ray actor process found"
    os.kill(pids[0], signal.SIGKILL)
    thread.join(300)
    assert not thread.is_alive()
    summary = outcome["summary"]
    rows = rows_by_id(out)
    assert set(rows) == {f"r{i}" for i in range(120)}
    assert summary.ok == 120
    assert_restored(rows)
    result = verify_audit(audit, key=AUDIT_KEY)
    assert result.ok, result.describe()
    assert len([s for s in result.merged[0]["shards"] if s.startswith("ray-")]) >= 3  # the dead one, its restart
