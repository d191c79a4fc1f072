"""Every runnable example runs and prints what it promises (examples/ is documentation)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (plugin not installed)")


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        pytest.param("quickstart.py", ["Ticket 4711", "TextDelta"], id="quickstart"),
        pytest.param("middleware.py", ["2 attempt(s)", "hi there"], id="middleware"),
        pytest.param("trust_demo.py", ["<EMAIL_", "<CH_AHV_", "jane.doe@example.com"], id="trust_demo"),
        pytest.param(
            "sagemaker_offline.py",
            ["after 2 injected throttles", "read timeout -> Timeout"],
            id="sagemaker_offline",
            marks=_needs("byom_sagemaker"),
        ),
        pytest.param("vertex_offline.py", [], id="vertex_offline", marks=_needs("byom_vertex")),
        pytest.param(
            "routing.py",
            [
                "refused at load: fallback[0] 'support-us' is outside the route's trust policy",
                "users served by more than one version: 0",
                "every one masked: True",
                "regions that served during the storm: ['eu-central-1']",
                "'support-v1': 'closed', 'support-v2': 'closed'",
            ],
            id="routing",
            marks=_needs("byom_sagemaker"),
        ),
        pytest.param(
            "tools_and_structured_output.py",
            [
                "parsed: Ticket(title=",
                "tool call: get_weather",
                "bring a coat",
                "local capabilities: constrained / constrained",
                "local parsed: Ticket(title=",
                "local tool call: get_weather",
                "local answer:",
            ],
            id="tools_and_structured_output",
            marks=_needs("byom_sagemaker", "byom_onnx", "llguidance"),
        ),
        pytest.param("local_chat.py", ["Paris", "cosine similarity"], id="local_chat", marks=_needs("byom_onnx")),
        pytest.param(
            "serve_openai.py",
            ["<EMAIL_", "jane.doe@example.com", "401", "tenant=acme"],
            id="serve_openai",
            marks=_needs("openai", "uvicorn"),
        ),
        pytest.param(
            "batch.py",
            [
                "local: answered 6 (6 ok)",
                "the endpoint saw:  Summarise: My e-mail changed to <EMAIL_",
                "the output holds: echo: Summarise: My e-mail changed to jane.doe@example.com",
                "rerun: resumed: 6, answered 0",
                "sagemaker-transform: 6 ok, 1 transform job(s)",
                "S3 holds jane.doe@example.com: False",
                "both runners gave the same answers: True",
                "3 batch merge(s) over 3 shard log(s)",
            ],
            id="batch",
            marks=_needs("byom_sagemaker", "moto"),
        ),
        pytest.param(
            "demo.py",
            [
                "Paris",
                "<CREDIT_CARD_",
                "2223 0000 4840 0011",
                "refused:",
                "ok: 3 record(s) verified (hash chain, 3 MAC(s), checkpoint MAC)",
                "FAILED at seq 1",
            ],
            id="demo",
            marks=_needs("byom_onnx", "byom_sagemaker"),
        ),
    ],
)
def test_example_runs(script, expected, tmp_path):
    """The example exits 0 and prints its key lines."""
    env = {**os.environ, "BYOM_CACHE_DIR": os.environ.get("BYOM_CACHE_DIR", str(tmp_path / "cache"))}
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for text in expected:
        assert text in out.stdout, f"{text!r} missing from {script} output:\n{out.stdout[-3000:]}"
