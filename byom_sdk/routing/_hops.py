"""One hop of a routed call: a target's own model, pipeline and runner, run inside the
route's plan.

A routed call is still one plan (:mod:`byom_sdk._pipeline`) driven by the ordinary sync
or async runner, which is the first target's: the route's plan delegates to each hop's
plan, and tags the provider effects of a hop to another target with that target's runner
(:class:`Via`), so its provider is called exactly as for a call to its alias. Nothing here
is specific to sync or async.

Each hop runs its target's steps — gate, masking, audit. Where needed, :class:`RouteStep`
sits right after the gate: it refuses a hop the *route's* policy does not allow (a target
may have widened its own policy with a per-model ``trust`` table), and raises the refusal
of a call whose every target has an open circuit inside the hop, so the audit records it
like any other refusal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import ByomError, PolicyViolation
from .._facade import ManagedModel
from .._middleware import CallContext, Interceptor
from .._runner import CloseStream, Effect, Emit, Invoke, NextEvent, OpenStream, Plan, Runner, rewrite_effects
from .._types import Boundary, EmbedRequest, GenerateRequest
from ..trust._gate import Decision, check_boundary
from ..trust._record import ROUTE_KEY

if TYPE_CHECKING:
    from ..trust._policy import TrustPolicy

__all__ = ["REFUSE_KEY", "Hop", "RouteStep", "Via", "drain", "via"]

T = TypeVar("T")

#: where a hop finds the refusal the route decided before it (every circuit open).
REFUSE_KEY = "byom_sdk.route.refuse"
_TRUST_KEY = "byom_sdk.trust"


class Via(Effect):
    """An effect of a hop's plan, performed by that hop's runner."""

    __slots__ = ("effect", "runner")

    def __init__(self, effect: Effect, runner: Runner) -> None:
        self.effect = effect
        self.runner = runner

    def run(self, runner: Runner) -> Any:
        return self.effect.run(self.runner)

    async def arun(self, runner: Runner) -> Any:
        return await self.effect.arun(self.runner)

    @property
    def waits_on_provider(self) -> bool:  # type: ignore[override]  # the wrapped effect's
        return self.effect.waits_on_provider

    @property
    def free(self) -> bool:  # type: ignore[override]  # a routed call's plan advances on the loop
        return False

    def drop(self, result: Any) -> None:
        self.effect.drop(result)

    def in_worker(self, runner: Runner) -> bool:
        return self.effect.in_worker(self.runner)

    def run_in_worker(self, runner: Runner) -> Any:
        return self.effect.run_in_worker(self.runner)


#: effects that act on the runner's provider; the others (audit writes, sleeps, offloaded
#: work, stream events) only use the Client's executors, which every target shares.
_BOUND = frozenset({Invoke, OpenStream, NextEvent, CloseStream})


def via(plan: Plan[T], runner: Runner) -> Plan[T]:
    """Run ``plan`` inside another plan, its provider effects performed by ``runner``."""
    return rewrite_effects(plan, lambda effect: Via(effect, runner) if type(effect) in _BOUND else effect)


def drain(plan: Plan[T]) -> Plan[T]:
    """``plan`` with its stream events discarded (a shadow's answer is never read)."""
    return rewrite_effects(plan, lambda effect: None if type(effect) is Emit else effect)


class Hop(ManagedModel):
    """A target model serving one hop: its provider, steps and runner, with the route's
    record put into every call it makes (a repair round of structured output included).

    Made per call by copying a template (:meth:`for_call`), so its per-call fields never
    leak between concurrent calls.
    """

    route_info: dict[str, Any]
    refusal: ByomError | None
    last_call: CallContext | None
    #: the pipeline with the route step, for a refusal decided before the hop
    refusing: Any

    @classmethod
    def template(cls, target: ManagedModel, pipeline: Any, refusing: Any) -> Hop:
        hop = cls.__new__(cls)
        hop.__dict__.update(target.__dict__)
        hop.pipeline = pipeline
        hop.refusing = refusing
        hop.route_info = {}
        hop.refusal = None
        hop.last_call = None
        return hop

    def for_call(self, route_info: dict[str, Any], *, pipeline: Any = None, refusal: ByomError | None = None) -> Hop:
        hop = Hop.__new__(Hop)
        hop.__dict__.update(self.__dict__)
        hop.route_info = route_info
        if pipeline is not None:
            hop.pipeline = pipeline
        if refusal is not None:
            hop.pipeline = self.refusing
            hop.refusal = refusal
        return hop

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        call: CallContext = ManagedModel._call(self, *args, **kwargs)
        call.state[ROUTE_KEY] = self.route_info
        if self.refusal is not None:
            call.state[REFUSE_KEY] = self.refusal
        self.last_call = call
        return call

    @property
    def runner(self) -> Runner:
        return self._runner

    def close(self) -> None:  # the Client closes the target itself
        pass

    async def aclose(self) -> None:
        pass


class RouteStep:
    """The route's own check inside a hop's pipeline (after the target's gate).

    :param route: the route's name (decisions and errors name it).
    :param policy: the route's policy when it differs from the target's (the target's gate
        already enforced the same policy otherwise); ``None`` checks nothing.
    """

    def __init__(self, route: str, policy: TrustPolicy | None) -> None:
        self.route = route
        self.policy = policy
        self._cache: dict[Boundary, tuple[list[Decision], Decision | None]] = {}

    def verdict(self, boundary: Boundary) -> tuple[list[Decision], Decision | None]:
        """The route policy's decisions for ``boundary`` and the first violation (cached:
        the gate's answer depends on the boundary and the policy alone)."""
        found = self._cache.get(boundary)
        if found is None:
            assert self.policy is not None
            decisions = [
                Decision(f"route.{d.rule}", d.result, f"route '{self.route}': {d.detail}")
                for d in check_boundary(boundary, self.policy)
            ]
            violation = next((d for d in decisions if d.result == "violation"), None)
            found = (decisions, violation)
            if len(self._cache) < 64:
                self._cache[boundary] = found
        return found

    def open(self, call: CallContext) -> Interceptor | None:
        refusal = call.state.get(REFUSE_KEY)
        if refusal is None and self.policy is None:
            return None  # only in the refusing pipeline, which is used for refusals alone
        return _RouteCheck(self, call, refusal)


class _RouteCheck(Interceptor):
    any_thread = True

    def __init__(self, step: RouteStep, call: CallContext, refusal: ByomError | None) -> None:
        self.step = step
        self.call = call
        self.refusal = refusal

    def _check(self) -> None:
        if self.refusal is not None:
            raise self.refusal
        trust = self.call.state.get(_TRUST_KEY)
        if trust is not None and not trust.settings.enabled:
            return
        decisions, violation = self.step.verdict(self.call.info.boundary)
        if trust is not None:
            trust.decisions.extend(decisions)
        if violation is not None:
            raise PolicyViolation(
                f"model '{self.call.alias}' refused by rule '{violation.rule}': {violation.detail}",
                rule=violation.rule,
                model=self.call.alias,
            )

    def on_request(self, request: GenerateRequest) -> GenerateRequest:
        self._check()
        return request

    def on_embed_request(self, request: EmbedRequest) -> EmbedRequest:
        self._check()
        return request
