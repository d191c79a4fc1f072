"""A latency-logging middleware registered as a throwaway plugin."""

from __future__ import annotations

import byom_sdk
from byom_sdk.testing import ScriptedModel, isolated_registry


class LatencyLog(byom_sdk.Interceptor):
    def __init__(self, call: byom_sdk.CallContext) -> None:
        self.call = call

    def on_end(self) -> None:
        call = self.call
        print(f"{call.alias} {call.operation}: {call.elapsed_ms:.2f} ms, {call.attempts} attempt(s)")


class LatencyMiddleware:
    def open(self, call: byom_sdk.CallContext) -> LatencyLog:
        return LatencyLog(call)


class Plugin:
    @byom_sdk.hookimpl
    def byom_middleware(self) -> list[byom_sdk.MiddlewareSpec]:
        return [byom_sdk.MiddlewareSpec(name="latency-log", factory=lambda alias, info: LatencyMiddleware())]


with isolated_registry(Plugin()):
    client = byom_sdk.Client(
        models={"bot": ScriptedModel(["hi there"], failures=[byom_sdk.Throttled("busy")])},
        retry={"initial_backoff": 0.01},
    )
    print(client.model("bot").generate("hello").text)
