"""Versions and routes, offline: a local SageMaker runtime on 127.0.0.1 serves one endpoint
with two production variants, and a route sends 90 % of the users to v1 and 10 % to v2,
each user always to the same one. A 503 storm on the endpoint fails over to the EU
disaster-recovery endpoint — never to the US model, which the route may not use at all —
and the circuit breaker stops sending to the endpoint until it recovers. A shadow copy of
each request reaches a candidate model masked.

    .venv/bin/python examples/routing.py
"""

import time
from collections import Counter

from byom_sagemaker.testing import LocalSageMakerServer

import byom_sdk
from byom_sdk.testing import ScriptedModel
from byom_sdk.trust._record import calls_of

POLICY = {"audit": {"sink": "memory"}, "allow_loopback": True, "allowed_jurisdictions": ["EU"]}

with LocalSageMakerServer(region="eu-west-1") as server:
    server.add_endpoint("support", "tgi", ScriptedModel(["Your refund is on its way."]), variants=("v1", "v2"))
    server.add_endpoint("support-dr", "tgi", ScriptedModel(["(DR) Your refund is on its way."]))
    server.add_endpoint("support-us", "tgi", ScriptedModel(["US model"]))
    server.add_endpoint("candidate", "tgi", ScriptedModel(["candidate answer"]))
    models = {
        "support-v1": server.model_config("support", target_variant="v1"),
        "support-v2": server.model_config("support", target_variant="v2"),
        "support-dr": server.model_config("support-dr", region="eu-central-1"),
        # usable by US callers under its own trust table; never by an EU route
        "support-us": {
            **server.model_config("support-us", region="us-east-1"),
            "trust": {"allowed_jurisdictions": ["US"]},
        },
        "candidate": server.model_config("candidate", region="eu-west-3"),
    }
    routes = {
        "support": {
            "targets": ["support-v1", "support-v2"],
            "weights": [90, 10],
            "sticky": "user",
            "fallback": ["support-v1", "support-dr"],
            "circuit": {"failures": 3, "cooldown": 1},  # seconds before one probe call
            "retry": {"max_attempts": 1},
            "shadow": {"target": "candidate", "percent": 100},
        }
    }

    # A route whose fallback leaves the EU never loads.
    try:
        byom_sdk.Client(
            models=models, routes={"bad": {"targets": ["support-v1"], "fallback": ["support-us"]}}, policy=POLICY
        )
    except byom_sdk.ConfigError as exc:
        print("refused at load:", str(exc).split("route 'bad': ", 1)[1].split(" (rule")[0])

    with byom_sdk.Client(models=models, routes=routes, policy=POLICY) as client:
        support = client.model("support")  # used exactly like a model alias
        print("versions:", {alias: client.model(alias).info.version for alias in ("support-v1", "support-v2")})

        users = [f"user-{i}" for i in range(400)]
        for user in users + users[:100]:  # the first 100 users come back: same variant
            support.generate("Where is my refund? Write to jane.doe@example.com", metadata={"user": user})
        support.shadows.wait(30)
        variants = Counter(r.header("X-Amzn-SageMaker-Target-Variant") for r in server.requests_for("support"))
        print(f"variant header at the endpoint: {dict(variants)} ({variants['v2'] / sum(variants.values()):.0%} v2)")
        sides = {}
        for call in calls_of(client.trust.sink.records):
            if call["route"]["why"] != "shadow":
                sides.setdefault(call["user"], set()).add(call["version"])
        print("users served by more than one version:", sum(len(v) > 1 for v in sides.values()))
        copies = server.requests_for("candidate")
        masked = all(b"jane.doe@example.com" not in r.body and b"<EMAIL_" in r.body for r in copies)
        print(f"shadow copies at the candidate: {len(copies)}, every one masked: {masked}")

        server.clear()
        server.inject("unavailable", endpoint="support", times=1000)  # a 503 storm
        replies = Counter(support.generate("Where is my refund?", metadata={"user": "user-7"}).text for _ in range(10))
        print("during the storm:", dict(replies))
        hits = Counter(r.endpoint for r in server.requests if r.endpoint != "candidate")
        print("requests per endpoint:", dict(hits), "| circuit:", support.circuits["support-v1"].state)
        served = [
            c for c in calls_of(client.trust.sink.records) if c["route"]["why"] == "fallback" and c["outcome"] == "ok"
        ]
        hop = served[0]
        print(
            f"audit: {hop['model']} ({hop['region']}) served hop {hop['route']['hop']} "
            f"after {hop['route']['fallback_from']}: {hop['route']['fallback_reason']}"
        )
        print("regions that served during the storm:", sorted({c["region"] for c in served}))

        server.clear()  # the storm is over
        time.sleep(1.1)
        for user in ("user-7", "user-1"):  # one user on each variant: each circuit is probed
            reply = support.generate("Where is my refund?", metadata={"user": user}).text
        states = {alias: circuit.state for alias, circuit in support.circuits.items()}
        print(f"after the cooldown: {reply!r}, circuits {states}")
        support.shadows.wait(30)
