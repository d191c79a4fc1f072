"""``RoutedModel``: a route, called exactly like a model alias.

``client.model("support")`` returns one when ``support`` is a ``[routes.support]`` table.
Per call it picks a target (:mod:`byom_sdk.routing._decide`), then runs hops — the chosen
target first, then the route's fallback order — each through that target's own pipeline
(:mod:`byom_sdk.routing._hops`), so every hop is gated, masked and audited as a call to
that alias, with the route's record in it. The whole call is one plan: the same code
serves ``generate`` / ``stream`` / ``embed`` and their async twins.

A hop fails over to the next when it raised one of the route's ``fallback_on`` types
before anything reached the caller: a stream that delivered an event is never sent to
another target, nor is a request the endpoint already received (unless the hop's retry
policy allows re-sending). A hop refused for its destination (the gate or the route's own
policy) is skipped — nothing was sent — and the refusal is in the audit. All hops share
one deadline. Each target has a circuit breaker (:mod:`byom_sdk.routing._circuit`).
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._errors import ByomError, PolicyViolation, ProviderError, SchemaError, Timeout, Unavailable
from .._facade import ManagedModel
from .._pipeline import Pipeline
from .._requests import build_generate_request
from .._runner import Plan
from .._streams import MakePlan
from .._types import (
    Boundary,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    MessageInput,
    RequestMetadata,
)
from ._circuit import Circuit
from ._config import RouteConfig
from ._decide import Choice, Router
from ._hops import Hop, via
from ._shadow import LaunchShadow, Shadows

if TYPE_CHECKING:
    from .._requests import GenerateParams
    from .._retry import RetryPolicy

__all__ = ["RoutedModel"]

_STICKY_FIELD = {"user": "user", "tenant": "tenant", "conversation": "conversation_id"}
#: refusals about the content, not the destination: another target would refuse them too.
_CONTENT_RULES = ("masking.", "scoring.")

# Route call ids: unique per process by a counter, across processes by a random prefix
# (cheaper per call than a fresh UUID; they only link the hops of one call).
_PROCESS = secrets.token_hex(6) + "-"
_COUNTER = itertools.count(1)


def _prepare(hop: Hop, kind: str, payload: Any) -> MakePlan:
    """Validate the call for ``hop``'s target (capabilities, chat template, structured
    output) and return what makes its plan; input errors raise here."""
    if kind == "embed":
        hop._prepare_embed()
        request: EmbedRequest = payload

        def make_embed(cancelled: bool) -> Plan[Any]:
            return hop.pipeline.unary(hop._call("embed"), request)

        return make_embed
    input, params = payload
    prepared, structured = hop._prepare(input, params, streaming=kind == "stream")
    if kind == "stream":
        make_stream: MakePlan = hop._stream_plan(prepared, structured)
        return make_stream

    def make_generate(cancelled: bool) -> Plan[Any]:
        return hop._generate_plan(prepared, structured)

    return make_generate


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _reason(error: BaseException) -> str:
    if isinstance(error, PolicyViolation):
        return f"refused ({error.rule})"
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__} {status}" if status else type(error).__name__


class RoutedModel(ManagedModel):
    """A route: the API of a model, served by the route's targets.

    ``info``, ``tokenizer`` and ``provider`` are those of the first target; everything a
    call does goes through the hop that served it.

    :param config: the validated route.
    :param templates: alias → the target's hop template (its pipeline with the route step).
    :param retries: alias → the retry policy of that target's hops.
    :param shadow: the shadow target's hop template, when the route has one.
    """

    def __init__(
        self,
        config: RouteConfig,
        templates: Mapping[str, Hop],
        retries: Mapping[str, RetryPolicy | None],
        *,
        deadline: float | None,
        fallback_types: tuple[type[ByomError], ...],
        shadow: Hop | None = None,
    ) -> None:
        primary = templates[config.targets[0]]
        super().__init__(config.name, primary.provider, primary.pipeline, tokenizer=primary._tokenizer)
        # The first target's runner drives every routed call: its hops need no relaying.
        self._runner = primary.runner
        if any(t.pipeline.executors is not primary.pipeline.executors for t in templates.values()):
            raise ValueError(f"route '{config.name}': its targets must share one Client's executors")
        self.config = config
        self.router = Router(config)
        self.templates = dict(templates)
        self.circuits = {alias: Circuit(alias, config.circuit) for alias in config.hop_targets()}
        self.deadline = deadline
        self.fallback_types = fallback_types
        self._retries = dict(retries)
        self._sticky = _STICKY_FIELD[config.sticky] if config.sticky else None
        self._sticky_why = f"sticky:{config.sticky}"
        self._orders = {alias: (alias, *(f for f in config.fallback if f != alias)) for alias in config.hop_targets()}
        self._weights = ",".join(f"{t}={w:g}" for t, w in zip(config.targets, config.effective_weights, strict=True))
        self.shadows = Shadows(config.name, config.shadow) if config.shadow is not None else None
        self._shadow = shadow
        #: wall-clock seconds (the canary ramp is a wall-clock schedule).
        self.clock: Callable[[], float] = time.time

    # -- the decision -----------------------------------------------------------------------

    def _key(self, metadata: Any) -> str | None:
        field = self._sticky
        if field is None or metadata is None:
            return None
        if type(metadata) is dict:
            value = metadata.get(field)
        elif isinstance(metadata, RequestMetadata):
            value = getattr(metadata, field)
        else:
            value = metadata.get(field) if isinstance(metadata, Mapping) else None
        return value if type(value) is str and value else None

    def choose(self, metadata: RequestMetadata | Mapping[str, Any] | None = None) -> Choice:
        """The target a call with ``metadata`` goes to now (before circuits and fallback)."""
        return self.router.choose(self._key(metadata), self.clock())

    def _begin(self, kind: str, payload: Any, metadata: Any) -> tuple[Choice, Hop, MakePlan]:
        if self._closed:
            raise ByomError(f"route '{self.alias}' is closed")
        router = self.router
        # the clock only matters to a canary ramp
        choice = router.choose(self._key(metadata), self.clock() if router.canary is not None else 0.0)
        info: dict[str, Any] = {
            "name": self.alias,
            "call_id": f"{_PROCESS}{next(_COUNTER):x}",
            "hop": 1,
            "why": self._sticky_why if choice.why == "sticky" else choice.why,
            "bucket": choice.bucket,
            "weights": self._weights,
        }
        if choice.canary_percent is not None:
            info["canary_percent"] = choice.canary_percent
        first = self.templates[choice.target].for_call(info)
        return choice, first, _prepare(first, kind, payload)

    # -- the plan of one routed call --------------------------------------------------------

    def _falls_back(self, error: ByomError, hop: Hop) -> bool:
        if not isinstance(error, self.fallback_types):
            return False
        if isinstance(error, SchemaError):
            return False  # the answer broke the request's schema: another target is asked the same
        call = hop.last_call
        if call is not None and call.received:
            return False  # part of an answer reached the caller: never replayed elsewhere
        # A Timeout is a request that was sent and not answered in time (a failure to
        # connect is Unavailable): the endpoint may still be generating it.
        if isinstance(error, ProviderError) and (error.request_sent or isinstance(error, Timeout)):
            retry = self._retries.get(hop.alias)
            return retry is not None and retry.retry_sent_requests
        return True

    def _hop_pipeline(self, alias: str, left: float | None) -> Pipeline | None:
        retry = self._retries.get(alias)
        if left is None or retry is None:
            return None
        template = self.templates[alias].pipeline
        return Pipeline(
            template.middleware,
            retry=retry.model_copy(update={"deadline": left}),
            executors=template.executors,
            wrap_foreign=template.wrap_foreign,
        )

    def _route(self, kind: str, payload: Any, choice: Choice, first: Hop, make_first: MakePlan) -> Plan[Any]:
        shadows = self.shadows
        if shadows is not None and (
            shadows.config.percent >= 100.0 or random.random() * 100.0 < shadows.config.percent
        ):
            yield from self._launch_shadow(kind, payload, choice, first.route_info["call_id"])
        started = time.monotonic()
        order = self._orders[choice.target]
        last_error: ByomError | None = None
        refused: PolicyViolation | None = None
        skipped: dict[str, str] | None = None
        previous, reason = choice.target, ""
        attempted = 0
        for alias in order:
            circuit = self.circuits[alias]
            if circuit.state != "closed" and circuit.admit() is None:
                skipped = skipped or {}
                skipped[alias] = "circuit open"
                previous, reason = alias, "circuit open"
                continue
            attempted += 1
            if alias == choice.target:
                hop, make = first, make_first
            else:
                left = None if self.deadline is None else self.deadline - (time.monotonic() - started)
                if left is not None and left <= 0:
                    circuit.released()
                    break  # the deadline is shared: no time left for another hop
                info = {
                    **first.route_info,
                    "hop": attempted,
                    "why": "fallback",
                    "fallback_from": previous,
                    "fallback_reason": reason,
                }
                if skipped:
                    info["skipped"] = dict(skipped)
                hop = self.templates[alias].for_call(info, pipeline=self._hop_pipeline(alias, left))
                try:
                    make = _prepare(hop, kind, payload)
                except ByomError as error:  # this target cannot serve the call (a capability)
                    circuit.released()
                    last_error = last_error or error
                    previous, reason = alias, _reason(error)
                    continue
            try:
                if hop._runner is self._runner:
                    result = yield from make(False)
                else:
                    result = yield from via(make(False), hop.runner)
            except PolicyViolation as error:
                circuit.released()
                if error.rule.startswith(_CONTENT_RULES):
                    raise
                refused = refused or error  # nothing was sent: the next allowed target serves
                previous, reason = alias, _reason(error)
                continue
            except ByomError as error:
                if isinstance(error, self.fallback_types):
                    circuit.failed(getattr(error, "retry_after", None))
                elif isinstance(error, ProviderError):
                    circuit.succeeded()  # the target answered; the request was at fault
                else:
                    circuit.released()
                if not self._falls_back(error, hop):
                    raise
                last_error = error
                previous, reason = alias, _reason(error)
                continue
            except BaseException:
                circuit.released()
                raise
            if circuit.failures or circuit.state != "closed":
                circuit.succeeded()
            return result
        if last_error is not None:
            raise last_error
        if refused is not None:
            raise refused
        # Every target's circuit is open: refuse at once, through the first target's
        # pipeline so the refusal is audited like any other failed call.
        soonest = min(self.circuits[a].status()["reopens_in"] for a in order)
        all_open = Unavailable(
            f"route '{self.alias}': the circuit of every target is open ({', '.join(order)}); "
            f"the next probe is in {soonest:.1f}s",
            code="circuit_open",
            retry_after=soonest,
        )
        info = {**first.route_info, "why": "circuit open", "skipped": dict(skipped or {})}
        hop = self.templates[order[0]].for_call(info, refusal=all_open)
        yield from via(_prepare(hop, kind, payload)(False), hop.runner)
        raise all_open  # pragma: no cover - the hop raised it

    def _launch_shadow(self, kind: str, payload: Any, choice: Choice, call_id: str) -> Plan[None]:
        template, shadows = self._shadow, self.shadows
        assert template is not None and shadows is not None
        if kind != "embed":
            # Snapshot the input now: the copy runs later, and the caller may reuse its lists.
            input, params = payload
            payload = (build_generate_request(input, **params), {})
        info = {"name": self.alias, "call_id": call_id, "hop": 0, "why": "shadow", "shadow_of": choice.target}

        def make() -> Plan[Any]:
            hop = template.for_call(info)
            shadow_kind = kind
            if kind == "stream" and not hop.info.capabilities.stream:
                shadow_kind = "generate"
            return _prepare(hop, shadow_kind, payload)(False)

        yield LaunchShadow(shadows, make, template.runner)

    # -- what each operation runs (ManagedModel's public methods call these) ------------------

    def _generate_of(self, input: MessageInput | GenerateRequest, params: GenerateParams) -> Plan[GenerateResponse]:
        payload = (input, params)
        metadata = input.metadata if isinstance(input, GenerateRequest) else params.get("metadata")
        choice, first, make = self._begin("generate", payload, metadata)
        plan: Plan[GenerateResponse] = self._route("generate", payload, choice, first, make)
        return plan

    def _stream_of(self, input: MessageInput | GenerateRequest, params: GenerateParams) -> MakePlan:
        """A stream that delivered an event is never re-sent to another target."""
        metadata = input.metadata if isinstance(input, GenerateRequest) else params.get("metadata")
        payload = (input, params)
        choice, first, make = self._begin("stream", payload, metadata)

        def start(cancelled: bool) -> Plan[Any]:
            if cancelled:  # dropped before it was read: the chosen target records it
                return via(make(True), first.runner)
            return self._route("stream", payload, choice, first, make)

        return start

    def _embed_of(self, request: EmbedRequest) -> Plan[EmbedResponse]:
        choice, first, make = self._begin("embed", request, request.metadata)
        plan: Plan[EmbedResponse] = self._route("embed", request, choice, first, make)
        return plan

    # -- state ------------------------------------------------------------------------------

    def verify_boundary(self) -> Boundary:
        """Verify the boundary of every target that can; returns the first target's."""
        for template in self.templates.values():
            if getattr(template.provider, "verify_boundary", None) is not None:
                template.provider.verify_boundary()  # type: ignore[attr-defined]
        return self.info.boundary

    def status(self) -> dict[str, Any]:
        """The route now: its targets' versions and shares, circuits, canary and shadow."""
        now = self.clock()
        shares = self.router.weights_at(now)
        targets = []
        for alias in self.config.hop_targets():
            info = self.templates[alias].info
            targets.append(
                {
                    "alias": alias,
                    "provider": info.provider,
                    "model_id": info.id,
                    "version": info.version,
                    "percent": shares.get(alias, 0.0),
                    "role": "canary" if alias == self.router.canary else "target" if alias in shares else "fallback",
                    "circuit": self.circuits[alias].status(),
                }
            )
        canary = None
        if self.config.canary is not None:
            upcoming = self.router.next_step(now)
            canary = {
                "target": self.config.canary.target,
                "percent": self.router.canary_percent(now),
                "start": self.config.canary.start.isoformat(),
                "next": None if upcoming is None else {"at": _iso(upcoming[0]), "percent": upcoming[1]},
            }
        return {
            "route": self.alias,
            "description": self.config.description,
            "sticky": self.config.sticky,
            "targets": targets,
            "canary": canary,
            "fallback": list(self.config.fallback),
            "fallback_on": list(self.config.fallback_on),
            "deadline": self.deadline,
            "shadow": self.shadows.status() if self.shadows is not None else None,
        }

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop shadow copies (the Client closes the targets themselves)."""
        self._closed = True
        if self.shadows is not None:
            self.shadows.close()

    async def aclose(self) -> None:
        self._closed = True
        if self.shadows is not None:
            await self.shadows.await_tasks()
            self.shadows.close()

    def __repr__(self) -> str:
        return f"<RoutedModel {self.alias!r} targets={list(self.config.targets)!r}>"
