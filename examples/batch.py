"""One batch job, two runners: tickets with personal data through a SageMaker model on this
machine (the local runner), then the same job as SageMaker Batch Transform (local S3, a
local transform service and container) — same records, same output, same trust.

    .venv/bin/python examples/batch.py

Everything runs on 127.0.0.1. The endpoint sees keyed pseudonyms (``<EMAIL_…>``), the
output file the real values; a rerun resumes; ``verify_audit`` checks the per-worker audit
chains under the Merkle root the job recorded in the main log.
"""

import json
import os
import tempfile
from pathlib import Path

from byom_sagemaker.testing import LocalContainer, LocalS3, LocalSageMakerServer, LocalTransformService

import byom_sdk
from byom_sdk.trust import verify_audit

# Keys come from the environment (or key files): the pseudonym key makes every worker issue
# the same placeholder for a value; the audit key MACs every chain.
os.environ.setdefault("BYOM_PSEUDONYM_KEY", "example-pseudonym-key-change-me-0123")
os.environ.setdefault("BYOM_AUDIT_KEY", "example-audit-key-change-me-0123456")

work = Path(tempfile.mkdtemp(prefix="byom-batch-example-"))
tickets = [
    "Printer on floor 3 is out of toner, call me on +44 20 7946 0958.",
    "Refund card 2223 0000 4840 0011 please, wrong size shipped.",
    "My e-mail changed to jane.doe@example.com, update the account.",
    "VPN drops every hour from 203.0.113.77.",
    "Invoice for IBAN DE89 3704 0044 0532 0130 00 is missing.",
    "Password reset link expired (jane.doe@example.com again).",
]
source = work / "tickets.jsonl"
source.write_text(
    "".join(
        json.dumps({"id": f"T-{i}", "prompt": f"Summarise: {text}", "parameters": {"max_tokens": 64}}) + "\n"
        for i, text in enumerate(tickets)
    )
)
policy = {"allow_loopback": True, "masking": {"mode": "pseudonym"}, "audit": {"path": str(work / "audit.sqlite")}}

# 1. The local runner: asyncio on this machine, against a (local) SageMaker endpoint.
with LocalSageMakerServer(region="eu-west-1") as server:
    server.add_endpoint("support-llm", "tgi")  # its container echoes what it receives
    with byom_sdk.Client(models={"bot": server.model_config("support-llm")}, policy=policy) as client:
        summary = client.batch(source, work / "answers.jsonl", model="bot", concurrency=4, progress=False)
        print(f"local: answered {summary.answered} ({summary.ok} ok), p50 {summary.latency.quantile(0.5):.1f} ms")
        seen = [r.json["inputs"] for r in server.requests_for("support-llm") if "e-mail changed" in r.json["inputs"]]
        answers = {row["id"]: row for row in map(json.loads, (work / "answers.jsonl").open())}
        print("the endpoint saw: ", seen[0])
        print("the output holds:", answers["T-2"]["response"]["text"])
        again = client.batch(source, work / "answers.jsonl", model="bot", progress=False)
        print(f"rerun: resumed: {again.resumed}, answered {again.answered}")

# 2. The same job as SageMaker Batch Transform: masked bodies staged to S3, one transform
#    job, the .out file joined back by key and restored. With real credentials, drop the
#    three endpoint overrides.
with (
    LocalS3(region="eu-west-1") as s3,
    LocalContainer("tgi") as container,
    LocalTransformService(s3.url, region="eu-west-1") as service,
):
    s3.create_bucket("acme-batch-example")
    service.add_model("support-llm", container.url)
    model = {
        "provider": "sagemaker",
        "endpoint_name": "support-llm",
        "region": "eu-west-1",
        "codec": "tgi",
        "credentials": s3.credentials,
    }
    with byom_sdk.Client(models={"bot": model}, policy=policy) as client:
        summary = client.batch(
            source,
            work / "answers-transform.jsonl",
            model="bot",
            runner="sagemaker-transform",
            progress=False,
            sagemaker_transform={
                "bucket": "acme-batch-example",
                "s3_endpoint_url": s3.url,
                "sagemaker_endpoint_url": service.url,
                "poll_interval": 0.05,
            },
        )
        print(f"sagemaker-transform: {summary.ok} ok, {len(service.jobs)} transform job(s)")
    staged = b"".join(body for _, body in s3.stored("acme-batch-example"))
    print("S3 holds jane.doe@example.com:", b"jane.doe@example.com" in staged)


def texts(path):
    return {row["id"]: row["response"]["text"] for row in map(json.loads, path.open())}


print("both runners gave the same answers:", texts(work / "answers.jsonl") == texts(work / "answers-transform.jsonl"))
print(verify_audit(work / "audit.sqlite", key=os.environ["BYOM_AUDIT_KEY"]).describe())
