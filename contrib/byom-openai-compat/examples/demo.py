"""Serve a byom model over the OpenAI-compatible protocol, call it through the plugin, and
run the conformance suite against it.

    python contrib/byom-openai-compat/examples/demo.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from byom_openai_compat import OpenAICompatConfig, OpenAICompatModel
from byom_openai_compat.testing import OpenAICompatServer

import byom_sdk
from byom_sdk.testing.conformance import run_conformance


def main() -> None:
    with OpenAICompatServer() as server:  # a ScriptedModel answers behind the HTTP API
        client = byom_sdk.Client(
            models={
                "local": {
                    "provider": "openai-compat",  # found through the plugin's entry point
                    "base_url": server.base_url,
                    "model": "scripted",
                    "embedding_dimension": 8,
                }
            },
            trust="off",
        )
        with client:
            model = client.model("local")
            messages = [{"role": "user", "content": "Summarise ticket 4711 in five words"}]
            reply = model.generate(messages, max_tokens=4)
            print(f"generate: {reply.text!r} finish={reply.finish_reason} usage={reply.usage}")
            deltas = [e.text for e in model.stream(messages, max_tokens=4) if isinstance(e, byom_sdk.TextDelta)]
            print(f"stream:   {deltas}")
            print(f"embed:    dimension {model.embed(['hello']).dimension}")
            print(f"boundary: {model.info.boundary.location_kind} {model.info.boundary.endpoint}")

        def config(url: str) -> OpenAICompatConfig:
            return OpenAICompatConfig(base_url=url, model="scripted", embedding_dimension=8, timeout=0.5)

        report = Path(tempfile.mkdtemp()) / "conformance.json"
        code = run_conformance(
            lambda: OpenAICompatModel(config(server.base_url)),
            faulty_model_factory=lambda fault: OpenAICompatModel(config(server.fault_url(fault))),
            report_path=report,
            name="openai-compat",
            pytest_args=["-q", "--no-header", "-p", "no:warnings"],
        )
        summary = json.loads(report.read_text())["totals"]
        print(f"conformance: exit {code}, {summary} (report: {report})")


if __name__ == "__main__":
    main()
