"""Per-call overhead of byom-vertex over the raw GAPIC client.

Median time of ``model.generate`` through ``byom_sdk.Client`` (trust on and trust off),
and of the bare ``VertexModel`` (the plugin's own cost), minus the median time of a raw
``PredictionServiceClient.predict`` with the same instance, against the same loopback gRPC
server: 1,000 calls each, interleaved in one run.

    .venv/bin/python bench/vertex_overhead.py [--calls 1000] [--audit sqlite|memory]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import grpc
from byom_vertex.testing import LocalVertexServer
from google.cloud.aiplatform_v1.services.prediction_service import PredictionServiceClient
from google.cloud.aiplatform_v1.services.prediction_service.transports import PredictionServiceGrpcTransport

import byom_sdk
from byom_sdk.testing import ScriptedModel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument(
        "--audit",
        choices=["memory", "sqlite"],
        default="sqlite",
        help="audit sink of the Client (sqlite: the default sink, in a temp dir)",
    )
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="byom-bench-")
    audit = {"sink": "memory"} if args.audit == "memory" else {"sink": "sqlite", "path": f"{tmp}/audit.sqlite"}
    with LocalVertexServer(ScriptedModel(["a short reply of seven words here"]), codec="vllm", rest=False) as server:
        raw = PredictionServiceClient(
            transport=PredictionServiceGrpcTransport(channel=grpc.insecure_channel(server.grpc_target))
        )
        instance = {"prompt": "Summarise ticket 4711", "max_tokens": 16, "raw_response": True}
        policy = {"audit": audit, "allow_loopback": True}  # the local server is on 127.0.0.1
        on = byom_sdk.Client(models={"m": server.model_config()}, trust="on", policy=policy).model("m")
        off = byom_sdk.Client(models={"m": server.model_config()}, trust="off", policy=policy).model("m")
        bare = server.vertex_model()  # the plugin alone: no Client, trust, audit or retry

        def raw_call() -> None:
            response = raw.predict(endpoint=server.resource, instances=[instance], retry=None, timeout=120.0)
            assert response.predictions[0]

        def byom_call(model: byom_sdk.Model) -> None:
            assert model.generate("Summarise ticket 4711", max_tokens=16).text

        for _ in range(50):  # warm up channels, caches and the server's thread pool
            raw_call(), byom_call(on), byom_call(off), byom_call(bare)
        samples: dict[str, list[float]] = {"raw": [], "on": [], "off": [], "bare": []}
        calls = {
            "raw": raw_call,
            "on": lambda: byom_call(on),
            "off": lambda: byom_call(off),
            "bare": lambda: byom_call(bare),
        }
        order = ["raw", "on", "off", "bare"]
        for i in range(args.calls):
            for name in order[i % 4 :] + order[: i % 4]:  # rotate to cancel ordering effects
                start = time.perf_counter()
                calls[name]()
                samples[name].append(time.perf_counter() - start)
        raw_ms = statistics.median(samples["raw"]) * 1000
        print(f"raw GAPIC predict (gRPC, loopback): median {raw_ms:.3f} ms over {args.calls} calls")
        print(f"(Client audit sink: {args.audit})")
        for name, label in (("bare", "VertexModel alone"), ("on", "Client, trust on"), ("off", "Client, trust off")):
            ms = statistics.median(samples[name]) * 1000
            print(
                f"byom model.generate ({label}): median {ms:.3f} ms  extra {ms - raw_ms:+.3f} ms  "
                f"ratio {ms / raw_ms:.3f}x   (goal: extra <= 0.1 ms)"
            )
        bare.close()
        on.close()
        off.close()
        raw.transport.close()


if __name__ == "__main__":
    main()
