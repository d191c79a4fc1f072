"""``create_app``: the ASGI application behind ``byom serve``.

The app holds no model logic: each route parses its protocol's body, calls a
``ManagedModel`` of the Client (so the trust pipeline — gate, masking, scoring, audit —
runs on every request, with the caller's tenant in ``RequestMetadata``) and writes the
answer in the protocol's shape. Models are built in a worker thread when the server
starts, so the socket accepts connections at once and health checks answer 503 until the
models are ready (SageMaker needs a connection within 250 ms of start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from byom_sdk import ConfigError, RequestMetadata
from byom_sdk._validation import no_model_named

from ._calls import ClientGone, ServeError, classify, dumps, read_json
from ._settings import Identity, KeyRing, ServeSettings, expand_profiles, settings_from

if TYPE_CHECKING:
    from byom_sdk import Client, ManagedModel

    from ._settings import ApiKey

__all__ = ["Call", "Dialect", "ServeState", "create_app"]

log = logging.getLogger("byom_sdk.serve")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

#: renders a ServeError in a protocol's own shape.
Dialect = Callable[[ServeError], Response]
Handler = Callable[["Call"], Awaitable[Response]]


def openai_error(error: ServeError) -> Response:
    """OpenAI's ``{"error": {message, type, param, code}}`` (also the Open Connector's
    ``ErrorResponse``: ``code`` is a string or null)."""
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": error.code}}
    headers = error.headers()
    if error.status == 401:
        headers["www-authenticate"] = "Bearer"
    return Response(dumps(body), status_code=error.status, media_type="application/json", headers=headers)


class ServeState:
    """What every request shares: the Client's models, the keys, the limits."""

    def __init__(
        self,
        client: Client,
        aliases: Sequence[str],
        settings: ServeSettings,
        keyring: KeyRing,
    ) -> None:
        self.client = client
        self.aliases = tuple(aliases)
        self.settings = settings
        self.keyring = keyring
        self.created = int(time.time())
        self.models: dict[str, ManagedModel] = {}
        self.error: BaseException | None = None
        self._loading: asyncio.Future[None] | None = None
        self._container_identity = Identity(tenant=settings.container_tenant, user=None, name=None)
        #: called once if the models cannot be built (the CLI stops the server then).
        self.on_load_error: Callable[[BaseException], None] | None = None

    # -- models -------------------------------------------------------------------------

    def _build(self) -> None:
        for alias in self.aliases:
            self.models[alias] = self.client.model(alias)

    def start_loading(self) -> asyncio.Future[None]:
        """Build the served models in a worker thread (once); ``ready`` says when done."""
        if self._loading is None:
            loop = asyncio.get_running_loop()
            self._loading = loop.run_in_executor(None, self._build)
            self._loading.add_done_callback(self._loaded)
        return self._loading

    def _loaded(self, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self.error = error
            log.error("byom serve: the models could not be built: %s", error)
            if self.on_load_error is not None:
                self.on_load_error(error)

    @property
    def ready(self) -> bool:
        return len(self.models) == len(self.aliases) and self.error is None

    async def model(self, alias: str) -> ManagedModel:
        found = self.models.get(alias)
        if found is not None:
            return found
        # Why it could not be built names the serving side's endpoints: the log has it.
        unloaded = ServeError(
            503,
            f"the model '{alias}' could not be loaded; the details are in the server log",
            kind="service_unavailable",
            code="model_unavailable",
        )
        if self.error is not None:
            raise unloaded
        try:
            await asyncio.shield(self.start_loading())
        except Exception:  # noqa: BLE001 - reported to the caller as unavailable, logged by _loaded.
            raise unloaded from None
        return self.models[alias]

    def health(self) -> Response:
        """200 when every served model is built; 503 while loading or after a failure."""
        if self.ready:
            return Response(b"", status_code=200)
        if self._loading is None:
            with contextlib.suppress(RuntimeError):
                self.start_loading()
        state = "failed" if self.error is not None else "loading"
        return Response(dumps({"status": state}), status_code=503, media_type="application/json")

    def default_alias(self, body: Any) -> str:
        """Container routes serve one model; a body naming another served alias picks it."""
        named = body.get("model") if isinstance(body, Mapping) else None
        if isinstance(named, str) and named in self.aliases:
            return named
        return self.aliases[0]

    # -- callers ------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Identity:
        """The caller behind the request's key, or a 401 (OpenAI and Open Connector routes)."""
        presented: str | None = None
        for header in self.settings.key_headers:
            value = request.headers.get(header)
            if not value:
                continue
            # Header names are case-insensitive (RFC 9110 §5.1): `key_headers` may say
            # "Authorization", as the docs do; the lookup above already ignores case.
            if header.lower() == "authorization":
                scheme, _, token = value.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    continue
                value = token.strip()
            presented = value
            break
        if presented is None:
            if self.settings.allow_unauthenticated:
                return Identity(tenant=None, user=None, name="unauthenticated")
            raise ServeError(
                401,
                "no API key: send it as 'Authorization: Bearer <key>' or in the 'api-key' header",
                code="missing_api_key",
            )
        found = self.keyring.lookup(presented)
        if found is None:
            raise ServeError(401, "the API key is not valid", code="invalid_api_key")
        return found

    def container_identity(self) -> Identity:
        return self._container_identity


class Call:
    """One request as a route sees it: parsed body, caller, deadline, metadata."""

    __slots__ = ("alias", "deadline", "identity", "request", "request_id", "state", "surface")

    def __init__(self, state: ServeState, request: Request, identity: Identity, surface: str, request_id: str) -> None:
        self.state = state
        self.request = request
        self.identity = identity
        self.surface = surface
        self.request_id = request_id
        self.deadline = asyncio.get_running_loop().time() + state.settings.request_timeout
        #: the served model the request is for, once known (named in 5xx answers).
        self.alias: str | None = None

    @property
    def timeout(self) -> float:
        return self.state.settings.request_timeout

    async def json(self) -> Any:
        # The body's upload counts against the request's deadline like the model call does.
        return await read_json(
            self.request, self.state.settings.max_body_bytes, deadline=self.deadline, timeout=self.timeout
        )

    async def model(self, alias: str, *, param: str = "model") -> ManagedModel:
        """The served model ``alias`` if this caller may use it, else a 404."""
        if alias not in self.state.aliases or not self.identity.may_use(alias):
            served = [a for a in self.state.aliases if self.identity.may_use(a)]
            raise ServeError(
                404,
                f"the model '{alias}' does not exist or you do not have access to it "
                f"(served: {', '.join(served) or 'none'})",
                param=param,
                code="model_not_found",
            )
        self.alias = alias
        return await self.state.model(alias)

    async def served_model(self, alias: str) -> ManagedModel:
        """The container routes' model (they carry no key: no access check)."""
        self.alias = alias
        return await self.state.model(alias)

    def metadata(self, **tags: str) -> RequestMetadata:
        headers = self.request.headers
        all_tags = {"surface": self.surface, **tags}
        if self.identity.name:
            all_tags["api_key"] = self.identity.name
        return RequestMetadata(
            tenant=self.identity.tenant,
            user=self.identity.user,
            conversation_id=headers.get("x-conversation-id") or None,
            request_id=self.request_id,
            tags=all_tags,
        )


def endpoint(state: ServeState, surface: str, dialect: Dialect, handler: Handler, *, auth: bool) -> Any:
    """Wrap a route handler: authentication, request id, and every failure rendered in
    the protocol's shape."""

    async def run(request: Request) -> Response:
        given = request.headers.get("x-request-id", "")
        # The caller's id is echoed in headers, bodies and the audit: only a plain token.
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        call: Call | None = None
        try:
            identity = state.authenticate(request) if auth else state.container_identity()
            call = Call(state, request, identity, surface, request_id)
            response = await handler(call)
        except ClientGone:
            return Response(status_code=499)  # never sent: nobody is listening
        except Exception as exc:  # noqa: BLE001 - every failure becomes a protocol error.
            response = dialect(classify(exc, model=call.alias if call else None, request_id=request_id))
        response.headers["x-request-id"] = request_id
        return response

    return run


def _health(state: ServeState) -> Any:
    async def health(request: Request) -> Response:
        return state.health()

    return health


def create_app(
    client: Client,
    *,
    profile: str | Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    settings: ServeSettings | Mapping[str, Any] | None = None,
    api_keys: Sequence[ApiKey | Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Starlette:
    """An ASGI app serving ``client``'s models on the chosen protocol profiles.

    :param profile: ``openai``, ``open-connector``, ``sagemaker``, ``vertex`` or ``all``
        (or several); default: ``settings.profile``.
    :param models: the aliases to serve (default: ``settings.models``, else every model).
        Container routes (SageMaker, Vertex) answer with the first one.
    :param settings: the ``[serve]`` table (a ``ServeSettings`` or a mapping).
    :param api_keys: override ``settings.api_keys``.
    :param environ: where ``AIP_HEALTH_ROUTE`` / ``AIP_PREDICT_ROUTE`` and ``key_env``
        secrets are read (default ``os.environ``).

    The app does not own ``client``: close it after the server stops.

    :raises ConfigError: unknown profile or alias, or the OpenAI / Open Connector routes
        without any API key (set ``allow_unauthenticated`` for local development).
    """
    from ._containers import sagemaker_error, sagemaker_route, vertex_error, vertex_route
    from ._openai import connector_routes, openai_routes

    resolved = settings_from(settings)
    if api_keys is not None:
        resolved = resolved.model_copy(update={"api_keys": tuple(settings_from({"api_keys": api_keys}).api_keys)})
    profiles = expand_profiles(profile if profile is not None else resolved.profile)
    env = os.environ if environ is None else environ
    aliases = list(models or resolved.models or client.aliases)
    if not aliases:
        raise ConfigError("there is no model to serve: configure [models] or pass models=")
    unknown = [a for a in aliases if a not in client.aliases]
    if unknown:
        raise ConfigError(no_model_named(unknown[0], client.aliases), field="serve.models")
    keyring = KeyRing(resolved.api_keys, environ=env)
    keyed = {"openai", "open-connector"} & set(profiles)
    if keyed and not len(keyring) and not resolved.allow_unauthenticated:
        raise ConfigError(
            f"the {' and '.join(sorted(keyed))} profile needs API keys: add [[serve.api_keys]] "
            "(or set allow_unauthenticated = true for local development)",
            field="serve.api_keys",
        )
    state = ServeState(client, aliases, resolved, keyring)

    routes: list[BaseRoute] = [Route("/health", _health(state), methods=["GET"])]
    # 404 / 405 / crashes answer in the shape of the protocol that owns the path; other
    # paths in the first profile's (OpenAI's when it is served).
    dialects: dict[str, Dialect] = {}
    if "openai" in profiles:
        routes.extend(openai_routes(state))
    if "open-connector" in profiles:
        routes.extend(connector_routes(state))
    if "sagemaker" in profiles:
        routes.append(Route("/ping", _health(state), methods=["GET"]))
        routes.append(sagemaker_route(state))
        dialects.update({"/ping": sagemaker_error, "/invocations": sagemaker_error})
    if "vertex" in profiles:
        health_route = env.get("AIP_HEALTH_ROUTE") or "/health"
        if health_route != "/health":
            routes.append(Route(health_route, _health(state), methods=["GET"]))
            dialects.setdefault(health_route, vertex_error)
        predict_route = env.get("AIP_PREDICT_ROUTE") or "/predict"
        routes.append(vertex_route(state, predict_route))
        dialects.setdefault(predict_route, vertex_error)
    fallback: Dialect = openai_error
    if not keyed:
        fallback = sagemaker_error if "sagemaker" in profiles else vertex_error

    def dialect_for(path: str) -> Dialect:
        return dialects.get(path, fallback)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.start_loading()  # not awaited: the socket must accept connections right away
        yield

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        path = request.url.path
        if status != 405:
            return dialect_for(path)(ServeError(404, f"no route for {request.method} {path}", code="not_found"))
        # RFC 9110 §15.5.6: a 405 lists the methods the resource has.
        given = (getattr(exc, "headers", None) or {}).get("Allow", "")
        allow = ", ".join(sorted({m.strip() for m in given.split(",") if m.strip()}))
        message = f"{request.method} is not allowed on {path} (allowed: {allow})"
        error = ServeError(405, message, code="method_not_allowed")
        response = dialect_for(path)(error)
        response.headers["allow"] = allow
        return response

    async def crashed(request: Request, exc: Exception) -> Response:
        return dialect_for(request.url.path)(classify(exc))

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: not_found, Exception: crashed},
    )
    app.state.byom = state
    app.state.profiles = profiles
    return app
