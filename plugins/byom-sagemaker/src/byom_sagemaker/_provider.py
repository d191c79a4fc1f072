"""``SageMakerModel``: a SageMaker real-time endpoint behind the byom contract.

The sync side is native (boto3 is a sync client; aiobotocore would pin botocore to an
older release), and the core runs it in worker threads for ``agenerate`` / ``astream`` /
``aembed``, so the event loop is never blocked. One boto3 client is built per model and
reused by every call and thread (botocore clients are thread-safe).

Importing this module imports boto3: the plugin's entry-point module imports it only
inside the provider factory.
"""

from __future__ import annotations

import contextvars
import logging
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from byom_sdk import (
    BadRequest,
    Boundary,
    ByomError,
    Capabilities,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Model,
    ModelError,
    ModelInfo,
    ProviderError,
    StreamEvent,
    Usage,
)

from ._boundary import declared_boundary, verify
from ._codec import Codec, load_codec, prompt_text
from ._config import SageMakerConfig
from ._errors import map_error
from ._session import build_session, client_config
from ._stream import ContainerError, StreamAssembler, StreamDecodeError, trim_stop

if TYPE_CHECKING:
    import boto3

__all__ = ["SageMakerModel"]

log = logging.getLogger("byom_sagemaker")

PROVIDER = "sagemaker"

#: the current call's time budget (``request.timeout``), read when a connection is used.
_call_limit: contextvars.ContextVar[float | None] = contextvars.ContextVar("byom_sagemaker_limit", default=None)


def _install_call_timeouts(client: Any, connect: float, read: float) -> bool:
    """Make the client's socket timeouts honour each call's own budget.

    botocore fixes timeouts per client, but the retry policy gives every attempt the time
    left until its deadline. urllib3 clones its pool's ``Timeout`` for every request, so a
    ``Timeout`` whose clone reads the calling thread's budget applies it per call without
    building a client per call. Returns False (config timeouts still apply) if botocore's
    HTTP session does not have the expected shape.
    """
    from urllib3.util.timeout import Timeout

    class CallTimeout(Timeout):
        def clone(self) -> Timeout:
            limit = _call_limit.get()
            if limit is None:
                return Timeout(connect=connect, read=read)
            return Timeout(connect=min(connect, limit), read=min(read, limit))

    try:
        http = client._endpoint.http_session
        timeout = CallTimeout(connect=connect, read=read)
        http._timeout = timeout
        http._manager.connection_pool_kw["timeout"] = timeout
    except AttributeError:  # pragma: no cover - depends on botocore internals
        log.warning("botocore HTTP session layout changed; per-call timeouts fall back to the config's")
        return False
    return True


class SageMakerModel(Model):
    """A SageMaker real-time endpoint.

    :param config: the validated endpoint config.
    :param codec: a codec instance (default: the one ``config.codec`` names).
    :param session: a ``boto3.Session`` to build clients from (default: from
        ``config.credentials``).
    """

    def __init__(
        self, config: SageMakerConfig, *, codec: Codec | None = None, session: boto3.Session | None = None
    ) -> None:
        self.config = config
        self.codec = codec or load_codec(config)
        self._where = f"SageMaker endpoint '{config.endpoint_name}' ({config.region})"
        self._session = session or build_session(config)
        self._client = self._session.client(
            "sagemaker-runtime", endpoint_url=config.endpoint_url, config=client_config(config)
        )
        self.per_call_timeouts = _install_call_timeouts(self._client, config.connect_timeout, config.read_timeout)
        self._params, self._stream_params = self._header_params()
        self._declared = declared_boundary(config, self._client.meta.endpoint_url)
        codec = self.codec
        self._info = ModelInfo(
            id=config.model_id or config.endpoint_name,
            provider=PROVIDER,
            capabilities=Capabilities(
                generate=codec.generates,
                chat=codec.chat,
                stream=codec.generates and codec.streams and config.stream and config.target_model is None,
                embed=codec.embeds,
                tools=False,
                async_native=False,
                stop_sequences=codec.stop_sequences,
                seed=codec.seed,
                max_context=config.max_context,
                max_output_tokens=config.max_output_tokens,
            ),
            boundary=self._declared,
            embedding_dimension=config.embedding_dimension,
            description=f"SageMaker endpoint {config.endpoint_name} ({codec.name} codec)",
        )
        if config.verify_boundary:
            try:
                self.verify_boundary()
            except BaseException:
                self._client.close()
                raise

    @classmethod
    def from_config(cls, config: SageMakerConfig) -> SageMakerModel:
        """The provider factory registered for ``provider = "sagemaker"``."""
        return cls(config)

    def _header_params(self) -> tuple[dict[str, Any], dict[str, Any]]:
        config, codec = self.config, self.codec
        common: dict[str, Any] = {"EndpointName": config.endpoint_name, "ContentType": codec.content_type}
        attributes = ";".join(a for a in (config.custom_attributes, codec.custom_attributes()) if a)
        if attributes:
            common["CustomAttributes"] = attributes
        if config.inference_component:
            common["InferenceComponentName"] = config.inference_component
        if config.target_variant:
            common["TargetVariant"] = config.target_variant
        if config.session_id:
            common["SessionId"] = config.session_id
        invoke = {**common, "Accept": codec.accept}
        if config.target_model:
            invoke["TargetModel"] = config.target_model
        stream = dict(common)
        if codec.stream_accept:
            stream["Accept"] = codec.stream_accept
        return invoke, stream

    # -- contract -----------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def client(self) -> Any:
        """The boto3 ``sagemaker-runtime`` client this model uses."""
        return self._client

    def verify_boundary(self) -> Boundary:
        """Read the endpoint back from the SageMaker control plane and record attestations.

        Updates ``info.boundary`` and returns it. Control-plane failures are mapped like
        runtime ones (an ``AuthError`` when the role may not describe the endpoint).
        """
        from botocore.config import Config

        control = self._session.client(
            "sagemaker",
            endpoint_url=self.config.control_plane_endpoint_url,
            config=Config(
                region_name=self.config.region,
                connect_timeout=self.config.connect_timeout,
                read_timeout=30,
                retries={"total_max_attempts": 3, "mode": "standard"},
            ),
        )
        try:
            boundary = verify(self.config, control, self._declared)
        except Exception as exc:  # control-plane failures are mapped, never leaked
            raise map_error(exc, where=f"{self._where} boundary check") from exc
        finally:
            control.close()
        self._info = self._info.model_copy(update={"boundary": boundary})
        return boundary

    def _error(self, exc: Exception, *, streaming: bool = False) -> ProviderError:
        return map_error(
            exc, where=self._where, not_ready_retry_after=self.config.not_ready_retry_after, streaming=streaming
        )

    def _encode(self, encode: Any, request: Any, **kwargs: Any) -> bytes:
        try:
            body: bytes = encode(request, **kwargs)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadRequest(
                f"{self._where}: codec '{self.codec.name}' cannot encode the request: {exc}", provider=PROVIDER
            ) from exc
        return body

    def _invoke(self, body: bytes, request: GenerateRequest | EmbedRequest) -> bytes:
        params = {**self._params, "Body": body}
        if request.metadata.request_id:
            params["InferenceId"] = request.metadata.request_id[:64]
        token = _call_limit.set(request.timeout) if request.timeout is not None else None
        try:
            payload: bytes = self._client.invoke_endpoint(**params)["Body"].read()
        except Exception as exc:  # every botocore failure is mapped, never leaked
            raise self._error(exc) from exc
        finally:
            if token is not None:
                _call_limit.reset(token)
        return payload

    def _decode_failure(self, exc: Exception, what: str) -> ModelError:
        if isinstance(exc, ContainerError):
            return ModelError(
                f"{self._where}: the container reported an error: {exc}", provider=PROVIDER, code="ContainerError"
            )
        return ModelError(
            f"{self._where}: codec '{self.codec.name}' cannot decode the {what}: {type(exc).__name__}: {exc}",
            provider=PROVIDER,
            code="DecodeError",
        )

    def _generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        payload = self._invoke(self._encode(self.codec.encode_generate, request, stream=False), request)
        try:
            decoded = self.codec.decode_generate(payload)
        except (ContainerError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise self._decode_failure(exc, "response") from exc
        text, hit = trim_stop(decoded.text, request.stop) if request.stop else (decoded.text, False)
        return GenerateResponse(
            text=text,
            finish_reason="stop" if hit else decoded.finish_reason or "stop",
            usage=decoded.usage or Usage.estimate(prompt_text(request), text),
            model=self._info.id,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=payload,
        )

    def _stream(self, request: GenerateRequest) -> Iterator[StreamEvent]:
        body = self._encode(self.codec.encode_generate, request, stream=True)
        params = {**self._stream_params, "Body": body}
        if request.metadata.request_id:
            params["InferenceId"] = request.metadata.request_id[:64]
        token = _call_limit.set(request.timeout) if request.timeout is not None else None
        try:
            events = self._client.invoke_endpoint_with_response_stream(**params)["Body"]
        except Exception as exc:  # every botocore failure is mapped, never leaked
            raise self._error(exc) from exc
        finally:
            if token is not None:
                _call_limit.reset(token)
        assembler = StreamAssembler(self.codec, prompt=prompt_text(request), stops=request.stop)
        try:
            for event in events:
                part = event.get("PayloadPart")
                if part is not None:
                    yield from assembler.feed(part["Bytes"])
            yield from assembler.finish()
        except ByomError:
            raise
        except (ContainerError, StreamDecodeError, KeyError, TypeError, IndexError, AttributeError) as exc:
            decode_error = self._decode_failure(exc, "stream")
            decode_error.details["partial_text"] = assembler.text
            raise decode_error from exc
        except Exception as exc:  # every botocore failure is mapped, never leaked
            error = self._error(exc, streaming=True)
            error.details["partial_text"] = assembler.text
            raise error from exc
        finally:
            events.close()

    def _embed(self, request: EmbedRequest) -> EmbedResponse:
        started = time.perf_counter()
        payload = self._invoke(self._encode(self.codec.encode_embed, request), request)
        try:
            vectors = self.codec.decode_embed(payload)
        except (ContainerError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise self._decode_failure(exc, "embeddings") from exc
        if len(vectors) != len(request.texts):
            raise ModelError(
                f"{self._where}: {len(vectors)} vectors for {len(request.texts)} texts",
                provider=PROVIDER,
                code="DecodeError",
            )
        norms = [math.sqrt(sum(x * x for x in v)) for v in vectors]
        if request.normalize:
            vectors = [[x / n for x in v] if n else v for v, n in zip(vectors, norms, strict=False)]
            normalized = True
        else:
            normalized = all(abs(n - 1.0) < 1e-3 for n in norms)
        return EmbedResponse(
            vectors=tuple(tuple(v) for v in vectors),
            model=self._info.id,
            normalized=normalized,
            usage=Usage(
                input_tokens=sum(math.ceil(len(t) / 4) for t in request.texts), output_tokens=0, source="estimate"
            ),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            raw=payload,
        )

    def _close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"<SageMakerModel endpoint={self.config.endpoint_name!r} codec={self.codec.name!r}>"
