"""The subjects of the defective-plugin meta-test: correct plugins (every check must pass)
and one subject per defect (the named check must fail).

Each correct suite gives the conformance suite every scenario it can use — faults, the
slow scenario, a tool request, the ``Retry-After`` it sends — the way a plugin author
would. A defect's subject is its plugin's correct suite with the defective class swapped
in and ``focus`` naming the check that must catch it; the meta-test runs only that check
for it (the correct plugins run every check).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, ClassVar

from byom_sdk import AuthError, BadRequest, GenerateRequest, Message, ModelError, Throttled, Timeout, Unavailable
from byom_sdk.testing import ScriptedModel
from byom_sdk.testing.conformance import ModelConformance

from . import defects_blocking as blocking
from . import defects_http as http
from . import defects_more as more
from . import defects_other as other
from . import defects_probe as probe
from . import defects_v24 as v24
from . import defects_v25 as v25
from . import defects_v26 as v26
from . import defects_v27 as v27
from . import defects_v28 as v28
from . import defects_wire as wire
from ._boto import EchoBotoProvider
from ._http import EchoHTTPProvider
from ._server import RETRY_AFTER, EchoServer

#: seconds the slow scenario stalls (kept short: the meta-test must stay fast).
SLOW = 0.3
#: the read timeout of faulty models: far below the server's 3 s stall.
FAULT_TIMEOUT = 0.1

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}

_servers: list[EchoServer] = []


def server() -> EchoServer:
    if not _servers:
        _servers.append(EchoServer(slow_seconds=SLOW).start())
    return _servers[0]


def stop_servers() -> None:
    while _servers:
        _servers.pop().stop()


def refused_url() -> str:
    """An endpoint on 127.0.0.1 that refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def tool_request() -> GenerateRequest:
    return GenerateRequest(
        messages=(Message(role="user", content="What is the weather in Paris?"),), tools=(WEATHER_TOOL,), max_tokens=16
    )


class _Suite(ModelConformance):
    plugin: ClassVar[Any]
    focus: ClassVar[tuple[str, ...] | None] = None
    slow_seconds = SLOW
    throttled_retry_after = RETRY_AFTER
    # The nested key an "options"-style provider reads: catches in-place default filling.
    request_extra = {"options": {"top_n": 3, "tags": ["conformance"]}}


class HTTPSuite(_Suite):
    plugin = EchoHTTPProvider

    def make_model(self) -> Any:
        return self.plugin(server().url("ok"))

    def make_faulty_model(self, fault: str) -> Any:
        return self.plugin(server().url(fault), timeout=FAULT_TIMEOUT)

    def make_slow_model(self) -> Any:
        return self.plugin(server().url("slow"))

    def tool_request(self, model: Any) -> GenerateRequest:
        return tool_request()

    def make_unreachable_model(self) -> Any:
        return self.plugin(refused_url(), timeout=FAULT_TIMEOUT)

    def make_broken_stream_model(self) -> Any:
        return self.plugin(server().url("broken"))

    def fault_requests(self, fault: str) -> int:
        return server().requests(fault)

    # No received_requests: the wire.* checks read the requests off the sockets, as they do
    # for a third-party harness that keeps no log (BotoSuite hands its log over).


class BotoSuite(_Suite):
    plugin = EchoBotoProvider

    def make_model(self) -> Any:
        return self.plugin(server().endpoint_url, "ok")

    def make_faulty_model(self, fault: str) -> Any:
        if fault == "unavailable":  # nothing listens: a real EndpointConnectionError
            return self.plugin(refused_url(), "ok", timeout=FAULT_TIMEOUT)
        return self.plugin(server().endpoint_url, fault, timeout=FAULT_TIMEOUT)

    def make_slow_model(self) -> Any:
        return self.plugin(server().endpoint_url, "slow")

    def make_unreachable_model(self) -> Any:
        return self.plugin(refused_url(), "ok", timeout=FAULT_TIMEOUT)

    def make_broken_stream_model(self) -> Any:
        return self.plugin(server().endpoint_url, "broken")  # no streams: errors.mid_stream skips on that

    def fault_requests(self, fault: str) -> int | None:
        return None if fault == "unavailable" else server().requests(fault)

    def received_requests(self) -> list[Any]:
        return server().received("ok")


SCRIPTED_FAULTS = {
    "throttled": lambda: Throttled("busy", provider="scripted", status_code=429, retry_after=RETRY_AFTER),
    "unavailable": lambda: Unavailable("down", provider="scripted", status_code=503),
    "bad_request": lambda: BadRequest("field 'x' is invalid", provider="scripted", status_code=422),
    "timeout": lambda: Timeout("read timeout", provider="scripted"),
    "model_error": lambda: ModelError("container failed", provider="scripted", status_code=424),
    "auth": lambda: AuthError("credentials refused", provider="scripted", status_code=401),
}


class ScriptedSuite(_Suite):
    plugin = ScriptedModel

    def make_model(self) -> Any:
        return self.plugin()

    def make_faulty_model(self, fault: str) -> Any:
        model = self.plugin()
        model.fail_always(SCRIPTED_FAULTS[fault])
        return model

    def make_slow_model(self) -> Any:
        return self.plugin(delay=SLOW, stall=SLOW)


class TemplateSuite(ModelConformance):
    """contrib/_template as its README tells authors to test it (no scenarios)."""

    def make_model(self) -> Any:
        from byom_template import EchoProvider

        return EchoProvider()


@dataclass(frozen=True)
class Defect:
    plugin: type
    suite: type[_Suite]
    check: str
    #: the subject's ``check_timeout`` (short for plugins that block forever).
    check_timeout: float | None = None

    @property
    def subject(self) -> str:
        return f"TestDefect{self.plugin.__name__}"

    @property
    def description(self) -> str:
        return " ".join((self.plugin.__doc__ or "").split())


CORRECT: dict[str, type[ModelConformance]] = {
    "TestCorrectHTTPProvider": HTTPSuite,
    "TestCorrectBotocoreProvider": BotoSuite,
    "TestCorrectScriptedModel": ScriptedSuite,
    "TestCorrectTemplate": TemplateSuite,
}

DEFECTS: tuple[Defect, ...] = (
    Defect(http.AstreamLeaksRawHTTPError, HTTPSuite, "errors.unavailable"),
    Defect(http.AuthMappedToUnavailable, HTTPSuite, "errors.auth"),
    Defect(http.IgnoresRequestTimeout, HTTPSuite, "timeout.request"),
    Defect(http.BlockingAsyncGenerate, HTTPSuite, "async.event_loop"),
    Defect(http.SwallowsStreamCancel, HTTPSuite, "async.stream_cancel"),
    Defect(http.StreamStateOnSelf, HTTPSuite, "stream.concurrent"),
    Defect(http.GuessedServerUsage, HTTPSuite, "usage.server_counts"),
    Defect(http.MutatesCallerExtra, HTTPSuite, "request.unchanged"),
    Defect(http.ToolsNeverSent, HTTPSuite, "tools.call"),
    Defect(http.StructuredOutputNeverSent, HTTPSuite, "structured.output"),
    Defect(http.DropsRetryAfter, HTTPSuite, "errors.retry_after"),
    Defect(http.EmptyTextOnLengthCut, HTTPSuite, "generate.empty_text"),
    Defect(http.LeaksExecutorThreads, HTTPSuite, "close.releases_threads"),
    Defect(http.BufferedStream, HTTPSuite, "stream.incremental"),
    Defect(http.LoopBoundAsyncClient, HTTPSuite, "async.generate"),
    Defect(http.CloseWithoutSuper, HTTPSuite, "close.refuses_calls"),
    Defect(http.StreamDropsMaxTokens, HTTPSuite, "stream.max_tokens"),
    Defect(http.FinishAlwaysStop, HTTPSuite, "generate.max_tokens"),
    Defect(http.NoFinishEvent, HTTPSuite, "stream.events"),
    Defect(http.EmbedIgnoresIndex, HTTPSuite, "embed.deterministic"),
    Defect(http.StopSentUnderWrongKey, HTTPSuite, "generate.stop"),
    Defect(http.OverridesPublicGenerate, HTTPSuite, "input.invalid"),
    Defect(http.ReadTimeoutIsRetryable, HTTPSuite, "errors.timeout"),
    Defect(http.DeclaresAsyncNativeWithoutIt, HTTPSuite, "info.capabilities"),
    Defect(http.EmbeddingsNotNormalized, HTTPSuite, "embed.normalized"),
    Defect(http.DeclaresWrongDimension, HTTPSuite, "embed.dimension"),
    Defect(http.ContainerErrorIsRetryable, HTTPSuite, "errors.model_error"),
    Defect(http.CloseNotIdempotent, HTTPSuite, "close.idempotent"),
    Defect(http.StreamWithoutUsage, HTTPSuite, "stream.usage"),
    Defect(http.StreamIgnoresStop, HTTPSuite, "stream.stop"),
    Defect(http.ZeroInputUsage, HTTPSuite, "generate.usage"),
    Defect(http.EmbedsFirstTextOnly, HTTPSuite, "embed.distinct"),
    Defect(http.FinishAlwaysLength, HTTPSuite, "generate.finish_reason"),
    Defect(http.SystemRoleRejected, HTTPSuite, "generate.input_forms"),
    Defect(http.AsyncStreamDropsLastDelta, HTTPSuite, "async.stream"),
    Defect(http.AsyncEmbedIgnoresIndex, HTTPSuite, "async.embed"),
    Defect(http.HttpsEndpointDeclaredWithoutTLS, HTTPSuite, "info.boundary"),
    Defect(http.AsyncRequestOnSelf, HTTPSuite, "concurrency.asyncio"),
    Defect(other.LossyTokenizer, ScriptedSuite, "tokenizer.roundtrip"),
    Defect(other.BotoReadTimeoutIsRetryable, BotoSuite, "errors.timeout"),
    Defect(other.BotoValidationIsModelError, BotoSuite, "errors.bad_request"),
    Defect(other.BotoAsyncLeaksClientError, BotoSuite, "errors.throttled"),
    Defect(other.BotoConnectionErrorLeaks, BotoSuite, "errors.unavailable"),
    Defect(other.BotoAuthIsBadRequest, BotoSuite, "errors.auth"),
    Defect(other.CountsWithSpecialTokens, ScriptedSuite, "tokenizer.count"),
    Defect(other.CountsCharacters, ScriptedSuite, "usage.tokenizer_counts"),
    Defect(other.StreamStripsDeltas, ScriptedSuite, "stream.matches_generate"),
    Defect(other.NotThreadSafe, ScriptedSuite, "concurrency.threads"),
    Defect(other.SilentEmbed, ScriptedSuite, "capabilities.undeclared"),
    # suite 2.1
    Defect(more.UsageAfterFinish, HTTPSuite, "stream.events"),
    Defect(more.StreamStopPerDelta, HTTPSuite, "stream.stop"),
    Defect(more.ClientStopKeepsServerUsage, HTTPSuite, "generate.stop"),
    Defect(more.ClientStopMissesMatchAtStart, HTTPSuite, "generate.stop"),
    Defect(more.MidStreamErrorLeaks, HTTPSuite, "errors.mid_stream"),
    Defect(more.AgenerateCancelBecomesTimeout, HTTPSuite, "async.generate_cancel"),
    Defect(more.AstreamProducerTaskLeaks, HTTPSuite, "async.stream_cancel"),
    Defect(more.CloseLeaksHTTPClient, HTTPSuite, "close.releases_sockets"),
    Defect(more.AgenerateDropsStop, HTTPSuite, "async.generate"),
    Defect(more.RemoteAPIDeclaredInProcess, HTTPSuite, "info.in_process"),
    Defect(more.SendsOnlyLastMessage, HTTPSuite, "generate.input_forms"),
    Defect(more.AsyncDropsMaxTokens, HTTPSuite, "async.stream"),
    Defect(more.AsyncStreamDropsToolCalls, HTTPSuite, "tools.call"),
    Defect(more.MutatesResponseFormat, HTTPSuite, "request.unchanged"),
    Defect(more.ConnectErrorIsBadRequest, HTTPSuite, "errors.unavailable"),
    Defect(more.NoMaxTokensTinyDefault, HTTPSuite, "generate.default_limit"),
    Defect(more.EmbedDropsBeyondBatchLimit, HTTPSuite, "embed.batch"),
    Defect(more.ToolCallIdDropped, HTTPSuite, "tools.call"),
    Defect(more.RetriesInternally, HTTPSuite, "errors.throttled"),
    Defect(more.LazyClientCloseCrashes, HTTPSuite, "close.idempotent"),
    Defect(other.EmptyTextEmbedsNaN, ScriptedSuite, "embed.empty_text"),
    Defect(other.StreamSplitsUTF8, ScriptedSuite, "stream.matches_generate"),
    Defect(other.SeedIgnored, ScriptedSuite, "generate.seed"),
    Defect(other.ChatTemplateDropsSystem, ScriptedSuite, "tokenizer.chat_template"),
    Defect(other.GenerationPromptAlways, ScriptedSuite, "tokenizer.chat_template"),
    Defect(other.EmbedUsageCountsTexts, ScriptedSuite, "embed.usage"),
    # a second independent probe
    Defect(probe.UsageEventDisagreesWithFinish, HTTPSuite, "stream.usage"),
    Defect(probe.InfoIdResolvedAfterFirstCall, HTTPSuite, "info.valid"),
    Defect(probe.EstimateCountsCharacters, HTTPSuite, "generate.usage"),
    Defect(probe.SeedIgnoredInStream, ScriptedSuite, "generate.seed"),
    Defect(probe.ToolChoiceNeverSent, HTTPSuite, "tools.choice_none"),
    # suite 2.3: what only the endpoint sees
    Defect(wire.StripsMessageWhitespace, HTTPSuite, "wire.messages"),
    Defect(wire.AssistantSentAsUser, HTTPSuite, "wire.messages"),
    Defect(wire.DecomposesAccents, HTTPSuite, "wire.messages"),
    Defect(wire.EmbedStripsTexts, HTTPSuite, "wire.messages"),
    Defect(wire.ForwardsCallerAsUser, HTTPSuite, "wire.metadata"),
    Defect(wire.BotoForwardsTenant, BotoSuite, "wire.metadata"),
    Defect(wire.StreamDropsExtra, HTTPSuite, "wire.extra"),
    Defect(wire.EmbedDropsExtra, HTTPSuite, "wire.extra"),
    Defect(wire.TemperatureNeverSent, HTTPSuite, "wire.parameters"),
    Defect(wire.StreamDropsTopP, HTTPSuite, "wire.parameters"),
    Defect(wire.WarmsUpEachCall, HTTPSuite, "wire.one_request"),
    Defect(wire.ZeroTemperatureDropped, HTTPSuite, "wire.parameters"),
    Defect(wire.SystemSentLast, HTTPSuite, "wire.messages"),
    Defect(wire.AppendsToLastTurn, HTTPSuite, "wire.messages"),
    Defect(wire.NormalisesNFKC, HTTPSuite, "wire.messages"),
    Defect(wire.StreamExtraUnderParameters, HTTPSuite, "wire.extra"),
    Defect(wire.TenantInQueryString, HTTPSuite, "wire.metadata"),
    # blocking forever: the per-check time limit fails them (with the stuck stack)
    Defect(blocking.GenerateRetakesItsLock, HTTPSuite, "generate.response", check_timeout=2.0),
    Defect(blocking.StreamWaitsForever, HTTPSuite, "stream.events", check_timeout=2.0),
    Defect(blocking.CloseWaitsForever, HTTPSuite, "close.idempotent", check_timeout=2.0),
    Defect(blocking.OneCallAtATime, HTTPSuite, "concurrency.parallel"),
    # suite 2.4: a third independent probe
    Defect(v24.UsageInputOnSelf, HTTPSuite, "concurrency.asyncio"),
    Defect(v24.AsyncOneAtATime, HTTPSuite, "concurrency.async_parallel"),
    Defect(v24.OnlyFirstStopSent, HTTPSuite, "generate.stop"),
    Defect(v24.EmptyPromptCrashes, HTTPSuite, "input.empty"),
    Defect(v24.ShieldedAgenerate, HTTPSuite, "async.generate_cancel"),
    Defect(v24.ErrorsWithoutContext, HTTPSuite, "errors.timeout"),
    Defect(v24.StreamDropsHeldBackTail, HTTPSuite, "stream.stop_unmatched"),
    Defect(v24.AstreamBuffersAll, HTTPSuite, "stream.incremental"),
    Defect(v24.AstreamBuffersAllUncancellable, HTTPSuite, "async.stream_cancel"),
    Defect(v24.PopsRoutingTag, HTTPSuite, "request.unchanged"),
    Defect(v24.RequestIdOnSharedClient, HTTPSuite, "wire.request_id"),
    Defect(v24.AcloseMarksClosedOnly, HTTPSuite, "close.releases_sockets"),
    Defect(v24.EmbedDedupsTexts, HTTPSuite, "embed.repeated_text"),
    Defect(v24.EmbedChunksLongTexts, HTTPSuite, "embed.long_text"),
    Defect(v24.LatencyInSeconds, HTTPSuite, "generate.latency"),
    # suite 2.5: credentials that leave the plugin
    Defect(v25.KeyInRepr, HTTPSuite, "secrets.repr"),
    Defect(v25.KeyInErrorDetails, HTTPSuite, "secrets.errors"),
    Defect(v25.KeyInQueryString, HTTPSuite, "secrets.logs"),
    Defect(v25.KeyLoggedAtDebug, HTTPSuite, "secrets.logs"),
    Defect(v25.SeedsGlobalRandom, HTTPSuite, "isolation.global_random"),
    Defect(v25.JitterFromGlobalRandom, HTTPSuite, "isolation.global_random"),
    Defect(v25.SetsEnvironmentPerCall, HTTPSuite, "isolation.process_state"),
    Defect(v25.PrintsEachRequest, HTTPSuite, "isolation.output"),
    # suite 2.6: work done when byom imports the plugin to discover it
    Defect(v26.HeavyAtImport, HTTPSuite, "isolation.import"),
    Defect(v26.ThreadAtImport, HTTPSuite, "isolation.import"),
    Defect(v26.NetworkAtImport, HTTPSuite, "isolation.import"),
    Defect(v26.PrintsAtImport, HTTPSuite, "isolation.import"),
    Defect(v26.SlowAtImport, HTTPSuite, "isolation.import"),
    Defect(v26.HeavyInDiscoveryHook, HTTPSuite, "isolation.import"),
    Defect(v26.PrintsToFileDescriptor, HTTPSuite, "isolation.import"),
    Defect(v26.DropsTopK, HTTPSuite, "wire.top_k"),
    # suite 2.7: a named tool_choice lost on the way out
    Defect(v27.NamedToolChoiceDropped, HTTPSuite, "wire.tool_choice"),
    Defect(v27.NamedToolChoiceAsRequired, HTTPSuite, "wire.tool_choice"),
    Defect(v27.StreamDropsToolChoice, HTTPSuite, "wire.tool_choice"),
    # suite 2.8: a fourth independent probe
    Defect(v28.PromptCountedAsCompletion, HTTPSuite, "generate.usage"),
    Defect(v28.CumulativeUsage, HTTPSuite, "usage.server_counts"),
    Defect(v28.StopStringKeptInText, HTTPSuite, "generate.stop"),
    Defect(v28.DeltaAfterFinish, HTTPSuite, "stream.events"),
    Defect(v28.TwoFinishEvents, HTTPSuite, "stream.events"),
    Defect(v28.ToolArgumentsAsPythonRepr, HTTPSuite, "tools.call"),
    Defect(v28.AembedTruncatesBatch, HTTPSuite, "embed.batch"),
    Defect(v28.EmbedNormalizedAcrossBatch, HTTPSuite, "embed.normalized"),
    Defect(v28.TokenizerDecodesToNFC, ScriptedSuite, "tokenizer.roundtrip"),
    Defect(v28.SharedClientClosedByAnyInstance, HTTPSuite, "isolation.instances"),
    Defect(v28.ModuleAnswerCache, HTTPSuite, "isolation.instances"),
    Defect(v28.RefusedConnectionMarkedSent, HTTPSuite, "errors.unavailable"),
    Defect(v28.StatusErrorsMarkedSent, HTTPSuite, "errors.throttled"),
    Defect(v28.BoundaryNamesAnotherHost, HTTPSuite, "info.boundary_host"),
    Defect(v28.EmbedPopsCallerExtra, HTTPSuite, "request.unchanged"),
    Defect(v28.AembedBlocksLoop, HTTPSuite, "async.event_loop"),
    Defect(v28.AcloseDoesNothing, HTTPSuite, "close.releases_sockets"),
    Defect(v28.UnaryTruncatedBodyLeaksValueError, HTTPSuite, "errors.mid_stream"),
    Defect(v28.MaxTokensMinusOne, HTTPSuite, "generate.max_tokens"),
    Defect(v28.LatencyFromConstruction, HTTPSuite, "generate.latency"),
)

#: correct variants a check once failed (false alarms): each must pass the check named.
PASSING: tuple[Defect, ...] = (
    Defect(v24.ProgressiveUsage, HTTPSuite, "stream.usage"),
    Defect(v25.KeyedEcho, HTTPSuite, "secrets.logs"),
    Defect(v25.KeyedEchoErrors, HTTPSuite, "secrets.errors"),
    Defect(v25.KeyedEchoRepr, HTTPSuite, "secrets.repr"),
    Defect(v26.RefusesTopK, HTTPSuite, "wire.top_k"),
    Defect(v27.RefusesNamedToolChoice, HTTPSuite, "wire.tool_choice"),
    Defect(v27.ForcesByOfferingOnlyTheNamedTool, HTTPSuite, "wire.tool_choice"),
    Defect(v27.NamedToolChoiceInAnthropicShape, HTTPSuite, "wire.tool_choice"),
)


def subjects(*, template: bool) -> dict[str, type]:
    """The test classes of the run: the correct suites, then one per defect and one per
    false alarm fixed."""
    found: dict[str, type] = {
        name: type(name, (suite,), {}) for name, suite in CORRECT.items() if template or suite is not TemplateSuite
    }
    for defect in (*DEFECTS, *PASSING):
        attributes: dict[str, Any] = {"plugin": defect.plugin, "focus": (defect.check,)}
        at_import = getattr(defect.plugin, "at_import", None)
        if at_import is not None:  # the module the import check loads in its own interpreter
            attributes["plugin_module"] = at_import
        if defect.check_timeout is not None:
            attributes["check_timeout"] = defect.check_timeout
        found[defect.subject] = type(defect.subject, (defect.suite,), attributes)
    return found
