"""``OnnxModel``: a local ONNX model (decoder or encoder) behind the byom contract."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byom_sdk import (
    Attestation,
    BadRequest,
    Boundary,
    ByomError,
    Capabilities,
    ChatTemplate,
    ConfigError,
    EmbedRequest,
    EmbedResponse,
    FinishEvent,
    GenerateRequest,
    GenerateResponse,
    HFTokenizer,
    ModelError,
    ModelInfo,
    Provider,
    StreamEvent,
    TextDelta,
    Timeout,
    Usage,
    UsageEvent,
)

from ._config import OnnxConfig
from ._engine import Finish, Sequence
from ._grammar import GrammarCompiler
from ._layout import Layout, detect_layout
from ._sampling import SamplingParams, StopTextAssembler

if TYPE_CHECKING:
    from ._batch import BatchEngine
    from ._decoder import DecoderRunner
    from ._embed import Encoder
    from ._engine import ThreadEngine
    from ._session import SessionHandle

__all__ = ["OnnxModel"]

log = logging.getLogger("byom_onnx")
_PROTOBUF_LIMIT = 2_000_000_000


def _validated(options: dict[str, Any]) -> OnnxConfig:
    """``OnnxConfig`` from keyword options; a bad value is a :class:`ConfigError` naming the
    option (as through byom.toml), not pydantic's ValidationError."""
    from pydantic import ValidationError

    try:
        return OnnxConfig(**options)
    except ValidationError as exc:
        problems = exc.errors()
        field = ".".join(str(part) for part in problems[0]["loc"]) if problems else "options"
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems)
        raise ConfigError(message or str(exc), field=field) from None


def _friendly_name(path: Path) -> str:
    """A model id from a path: the file stem, or the parent's name for generic folder names."""
    name = path.stem if path.suffix in (".gguf", ".onnx") else path.name
    if name.lower() in ("model", "models", "onnx") and path.parent != path:
        return _friendly_name(path.parent)
    return name


class _Reader:
    """The caller's side of one generation: waits for the engine's token ids and turns them
    into events (incremental text, stop strings held back, usage, one finish)."""

    def __init__(self, model: OnnxModel, request: GenerateRequest) -> None:
        self.seq = Sequence(request)
        self.model_id = model.info.id
        self.text = StopTextAssembler(model.tokenizer.backend, request.stop)
        self.limit = request.timeout or model.config.timeout
        self.deadline = time.monotonic() + self.limit if self.limit else None
        self.delivered = 0
        self.done = False

    def wait_time(self) -> float | None:
        """Seconds left before the deadline; raises :class:`Timeout` once it has passed."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Timeout(f"model '{self.model_id}': generation passed its {self.limit}s deadline", provider="onnx")
        return left

    def events(self, items: Iterable[Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for item in items:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Finish):
                self._end(item.reason, item.produced, out)
                break
            self.delivered += 1
            delta = self.text.push(item)
            if delta:
                out.append(TextDelta(text=delta))
            if self.text.stopped:
                self.seq.cancel()  # a stop string ended it: the engine frees the slot
                self._end("stop", self.delivered, out)
                break
        return out

    def _end(self, reason: Any, produced: int, out: list[StreamEvent]) -> None:
        tail = self.text.finish()
        if tail:
            out.append(TextDelta(text=tail))
        usage = Usage(input_tokens=len(self.seq.prompt_ids), output_tokens=produced, source="tokenizer")
        out.append(UsageEvent(usage=usage))
        out.append(FinishEvent(finish_reason=reason, usage=usage))
        self.done = True


def _penalty(value: Any) -> float:
    """``extra.repetition_penalty`` checked as ``OnnxConfig.repetition_penalty`` is: 0 divides
    logits by zero and a string fails in float(); both used to surface as a failed decode
    step (and, batched, failed every sequence sharing the step)."""
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value <= 10 and math.isfinite(value)):
        raise BadRequest(f"extra.repetition_penalty must be a number in (0, 10], not {value!r}", provider="onnx")
    return float(value)


def _collect(events: Iterable[StreamEvent], model_id: str, started: float) -> GenerateResponse:
    parts: list[str] = []
    finish: Any = "stop"
    usage: Usage | None = None
    for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, FinishEvent):
            finish, usage = event.finish_reason, event.usage
    assert usage is not None
    return GenerateResponse(
        text="".join(parts),
        finish_reason=finish,
        usage=usage,
        model=model_id,
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )


class OnnxModel(Provider):
    """A local ONNX model: text generation (layouts A/B/C/E) or embeddings (layout D).

    :param path: model folder, ``.gguf`` or ``.onnx`` file.
    :param options: any :class:`OnnxConfig` field (``exact=True``, ``device="cpu"``…).

    Example::

        model = OnnxModel("SmolLM2-135M-Instruct.Q4_1.gguf")
        print(model.generate("What is the capital of France?", temperature=0).text)
    """

    def __init__(self, path: str | Path | None = None, *, config: OnnxConfig | None = None, **options: Any) -> None:
        if config is None:
            if path is None:
                raise ConfigError("give a model path", field="path")
            config = _validated({"path": Path(path), **options})
        elif path is not None or options:
            # model_copy(update=...) skips validation: re-validate so a wrong type is refused.
            update = {"path": Path(path) if path is not None else config.path, **options}
            config = _validated({**config.model_dump(exclude_unset=True), **update})
        self.config = config
        self._lock = threading.Lock()
        from ._session import cuda_status

        # The fp16 (CUDA) variant only when CUDA will really be used; a refused "cuda" without
        # fallback is reported by open_session with the reason.
        wants_cuda = config.device != "cpu" and cuda_status()[0]
        self.layout: Layout = detect_layout(
            config.path, file=config.file, dtype="float16" if wants_cuda else "float32", progress=config.progress
        )
        self.handle: SessionHandle = self._open_session(wants_cuda)
        self.decoder: DecoderRunner | None = None
        self.encoder: Encoder | None = None
        self._engine: BatchEngine | ThreadEngine | None = None
        self._grammar: GrammarCompiler | None = None
        self._tokenizer = self._load_tokenizer()
        input_names = {i.name for i in self.handle.session.get_inputs()}
        if any(name.startswith("past_key_values.") for name in input_names):
            self._init_decoder()
        else:
            self._init_encoder()
        self._info = self._build_info()
        if self.decoder is not None:
            self._engine = self._make_engine(self.decoder)

    def _make_engine(self, decoder: DecoderRunner) -> BatchEngine | ThreadEngine:
        def prepare(seq: Sequence) -> None:
            self._prepare(seq)  # looked up per call, so a subclass or a test can wrap it

        if decoder.graph.style == "gqa":
            from ._batch import BatchEngine

            return BatchEngine(
                decoder.session,
                decoder.graph,
                max_len=self.max_context,
                max_batch=self.config.max_batch,
                device=decoder.device,
                prepare=prepare,
                eos_ids=self.eos_ids,
                label=self._info.id,
            )
        from ._engine import ThreadEngine

        return ThreadEngine(decoder, prepare=prepare, eos_ids=self.eos_ids, label=self._info.id)

    @classmethod
    def from_config(cls, config: OnnxConfig) -> OnnxModel:
        """The provider factory: build from a validated :class:`OnnxConfig`."""
        return cls(config=config)

    # -- loading --------------------------------------------------------------------------

    def _open_session(self, wants_cuda: bool) -> SessionHandle:
        import onnx

        from ._session import open_session, patch_for_accuracy

        file = self.layout.model_file
        label = str(file)
        try:
            proto = onnx.load(str(file), load_external_data=False)
        except Exception as exc:
            raise ConfigError(f"{file} is not a readable ONNX model: {exc}", field="path") from exc
        self.op_types = frozenset(node.op_type for node in proto.graph.node)
        source: str | bytes = str(file)
        external = any(init.data_location == onnx.TensorProto.EXTERNAL for init in proto.graph.initializer)
        patchable = "MatMulNBits" in self.op_types and not wants_cuda and not external
        if patchable and proto.ByteSize() < _PROTOBUF_LIMIT:
            if patch_for_accuracy(proto, exact=self.config.exact, accuracy_level=self.config.accuracy_level):
                source = proto.SerializeToString()
        elif self.config.exact and external:
            log.warning("%s: exact mode cannot rewrite a model with external data; using it as is", label)
        cfg = self.config

        def opened(model: str | bytes, name: str) -> SessionHandle:
            return open_session(
                model,
                label=name,
                device=cfg.device,
                allow_cpu_fallback=cfg.allow_cpu_fallback,
                threads=cfg.threads,
                spinning=cfg.spinning,
            )

        handle = opened(source, label)
        del proto
        return handle

    def _load_tokenizer(self) -> HFTokenizer:
        folder = self.layout.folder
        if not (folder / "tokenizer.json").is_file():
            raise ConfigError(f"{folder}: tokenizer.json is missing (needed to encode text)", field="path")
        tokenizer = HFTokenizer.from_file(folder)
        # Compile the chat template now: a syntax error is the folder's fault and belongs at
        # load time, not in every chat call as a raw jinja2 exception.
        import jinja2

        try:
            ChatTemplate(tokenizer.chat_template)
        except jinja2.TemplateError as exc:
            raise ConfigError(
                f"{folder / 'tokenizer_config.json'}: chat_template does not compile: {exc}", field="chat_template"
            ) from None
        return tokenizer

    def _init_decoder(self) -> None:
        from ._decoder import DecoderRunner, inspect_decoder

        layout = self.layout
        # Hand-edited or foreign config files: a wrong type names the file and key here rather
        # than surfacing as a bare ValueError/AttributeError from deep inside the loader.
        genai = layout.read_table("genai_config.json", "model")
        hf_config = layout.read_json("config.json")
        shape_config = {**hf_config, **layout.read_table("genai_config.json", "model", "decoder")}
        graph = inspect_decoder(
            self.handle.session, label=str(layout.model_file), op_types=self.op_types, config=shape_config
        )
        if layout.kind in ("A", "E") and graph.style != "gqa":
            raise ConfigError(
                f"{layout.model_file}: genai layout without GroupQueryAttention past/present inputs", field="path"
            )
        limit = (
            layout.int_value("genai_config.json", "model.context_length", genai.get("context_length"))
            or layout.int_value("config.json", "max_position_embeddings", hf_config.get("max_position_embeddings"))
            or self.config.max_context
        )
        self.max_context = min(self.config.max_context, limit)
        self.decoder = DecoderRunner(
            self.handle.session,
            graph,
            max_len=self.max_context,
            device="cuda" if self.handle.on_cuda else "cpu",
        )
        eos = set(self._tokenizer.eos_token_ids)
        eos.update(layout.token_ids("genai_config.json", "model.eos_token_id", genai.get("eos_token_id")))
        generation = layout.read_json("generation_config.json")
        eos.update(layout.token_ids("generation_config.json", "eos_token_id", generation.get("eos_token_id")))
        eos.update(layout.token_ids("config.json", "eos_token_id", hf_config.get("eos_token_id")))
        self.eos_ids = frozenset(eos)
        self._grammar = GrammarCompiler(self._tokenizer.backend, self.eos_ids, str(layout.model_file))
        self._layout_kind = (
            {"gqa": "A", "optimum": "B", "merged": "C"}[graph.style] if layout.kind == "onnx" else layout.kind
        )

    def _init_encoder(self) -> None:
        from ._embed import Encoder, Pooling

        layout = self.layout
        outputs = {o.name for o in self.handle.session.get_outputs()}
        if not (
            outputs & {"last_hidden_state", "token_embeddings", "sentence_embedding"} or layout.is_sentence_transformers
        ):
            raise ConfigError(
                f"{layout.model_file}: neither a decoder (no past_key_values inputs) nor an encoder "
                "(no last_hidden_state / sentence_embedding output)",
                field="path",
            )
        st = layout.read_json("sentence_bert_config.json")
        max_length = (
            layout.int_value("sentence_bert_config.json", "max_seq_length", st.get("max_seq_length"))
            or layout.int_value(
                "config.json", "max_position_embeddings", layout.read_json("config.json").get("max_position_embeddings")
            )
            or 512
        )
        self.max_context = max_length
        self.encoder = Encoder(
            self.handle.session,
            self._tokenizer.backend,
            Pooling.from_layout(layout),
            max_length=max_length,
            batch_size=self.config.embed_batch_size,
        )
        self.eos_ids = frozenset()
        self._layout_kind = "D"

    def _build_info(self) -> ModelInfo:
        import onnxruntime

        from ._convert import file_sha256

        layout = self.layout
        marker = layout.read_json("byom_onnx.json")
        name = (
            self.config.model_id
            or str(marker.get("model_name") or "")
            or _friendly_name(layout.converted_from or Path(str(marker.get("source") or layout.folder)))
        )
        source = (
            layout.converted_from if layout.converted_from and layout.converted_from.is_file() else layout.source_file
        )
        attestations = (
            Attestation(name="model_sha256", value=file_sha256(source), ok=True, source=str(source)),
            *(
                [
                    Attestation(
                        name="converted_from_sha256",
                        value=str(marker["source_sha256"]),
                        ok=True,
                        source=str(marker.get("source")),
                    )
                ]
                if marker.get("source_sha256")
                else []
            ),
            Attestation(name="onnxruntime_version", value=onnxruntime.__version__, ok=True, source="onnxruntime"),
            Attestation(
                name="execution_provider", value=self.handle.provider, ok=True, source="InferenceSession.get_providers"
            ),
        )
        decoder = self.decoder is not None
        return ModelInfo(
            id=name,
            provider="onnx",
            capabilities=Capabilities(
                generate=decoder,
                chat=decoder,
                stream=decoder,
                embed=not decoder,
                tools=decoder,
                # Tool calls and response_format are decoded under a grammar (llguidance).
                tools_mode="constrained" if decoder else None,
                structured_output="constrained" if decoder else None,
                seed=decoder,
                stop_sequences=True,
                max_context=self.max_context,
                max_output_tokens=self.max_context if decoder else None,
            ),
            boundary=Boundary(
                provider="onnx",
                location_kind="process",
                network_path="in-process",
                retention="none",
                attestations=attestations,
            ),
            embedding_dimension=self.encoder.dimension if self.encoder else None,
            embedding_normalized=bool(self.encoder and self.encoder.pooling.normalize),
            version=f"sha256:{attestations[0].value[:16]}",  # the model file's own hash (model_sha256)
            description=f"local ONNX (layout {self._layout_kind}, {self.handle.provider}) from {layout.source_file}",
        )

    # -- the contract ---------------------------------------------------------------------

    @property
    def info(self) -> ModelInfo:
        return self._info

    @property
    def tokenizer(self) -> HFTokenizer:
        return self._tokenizer

    @property
    def layout_kind(self) -> str:
        """The layout letter (A-E) this model was loaded as."""
        return self._layout_kind

    def _check_open(self) -> None:
        if self.closed:
            raise BadRequest(f"model '{self._info.id}' is closed", provider="onnx")

    def _prompt_ids(self, request: GenerateRequest) -> list[int]:
        if request.messages is not None:
            try:
                prompt = self._tokenizer.apply_chat_template(request.messages, add_generation_prompt=True)
            except ByomError:
                raise
            except Exception as exc:  # noqa: BLE001 - template code may raise anything
                # Templates refuse message shapes they do not support (raise_exception(...) on a
                # system role, say): that is the request's problem, named as such.
                raise BadRequest(
                    f"model '{self._info.id}': its chat template ({self.layout.folder / 'tokenizer_config.json'}) "
                    f"refused these messages: {type(exc).__name__}: {exc}",
                    provider="onnx",
                ) from None
        else:
            prompt = request.prompt or ""
        ids = self._tokenizer.encode(prompt, add_special_tokens=True)
        if not ids:
            raise BadRequest("the prompt is empty after tokenisation", provider="onnx")
        if len(ids) >= self.max_context:
            raise BadRequest(
                f"prompt has {len(ids)} tokens; model '{self._info.id}' has a context of {self.max_context}",
                provider="onnx",
                code="ContextWindowExceeded",  # the code byom_sdk's own context check uses
            )
        return ids

    def _prepare(self, seq: Sequence) -> None:
        """Tokenise and resolve settings; runs on the engine's thread (see ``_engine``)."""
        import numpy as np

        request, cfg = seq.request, self.config
        seq.prompt_ids = self._prompt_ids(request)
        seq.max_new = min(request.max_tokens or cfg.max_tokens, self.max_context - len(seq.prompt_ids))
        seq.params = SamplingParams(
            temperature=cfg.temperature if request.temperature is None else request.temperature,
            top_k=cfg.top_k if request.top_k is None else request.top_k,
            top_p=cfg.top_p if request.top_p is None else request.top_p,
            repetition_penalty=_penalty(request.extra.get("repetition_penalty", cfg.repetition_penalty)),
        )
        ignore_eos = request.extra.get("ignore_eos", False)
        if not isinstance(ignore_eos, bool):  # bool("false") is True: refuse rather than guess
            raise BadRequest(f"extra.ignore_eos must be true or false, not {ignore_eos!r}", provider="onnx")
        seq.ignore_eos = ignore_eos
        # Tools / response_format: decoding follows their grammar (compiled here, off the loop).
        seq.constraint = self._grammar.constraint_for(request) if self._grammar is not None else None
        # numpy refuses negative seeds; any integer is a valid seed in the contract (OpenAI's
        # is an int64), so a negative one maps to 2**64 + seed (others keep their streams).
        seed = request.seed
        seq.rng = np.random.default_rng(seed if seed is None or seed >= 0 else seed % 2**64)
        seq.history = list(seq.prompt_ids)

    def _start(self, request: GenerateRequest, unary: bool) -> _Reader:
        self._check_open()
        engine = self._engine
        if engine is None:
            raise BadRequest(f"model '{self._info.id}' is closed", provider="onnx")
        reader = _Reader(self, request)
        reader.seq.channel.final_only = unary and not any(request.stop)
        engine.submit(reader.seq)
        return reader

    # Sync callers block on the sequence's channel; async callers await it, so a stream held
    # by an async caller costs no thread and the event loop never waits on model work.

    def handle_stream(self, request: GenerateRequest, *, unary: bool = False) -> Iterator[StreamEvent]:
        reader = self._start(request, unary)
        try:
            while not reader.done:
                yield from reader.events(reader.seq.channel.get(reader.wait_time()))
        finally:
            reader.seq.cancel()

    async def ahandle_stream(self, request: GenerateRequest, *, unary: bool = False) -> AsyncIterator[StreamEvent]:
        reader = self._start(request, unary)
        try:
            while not reader.done:
                for event in reader.events(await reader.seq.channel.aget(reader.wait_time())):
                    yield event
        finally:
            reader.seq.cancel()

    def handle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        return _collect(self.handle_stream(request, unary=True), self._info.id, started)

    async def ahandle_generate(self, request: GenerateRequest) -> GenerateResponse:
        started = time.perf_counter()
        events = [e async for e in self.ahandle_stream(request, unary=True)]
        return _collect(events, self._info.id, started)

    def handle_embed(self, request: EmbedRequest) -> EmbedResponse:
        self._check_open()
        assert self.encoder is not None
        started = time.perf_counter()
        limit = request.timeout or self.config.timeout
        deadline = time.monotonic() + limit if limit else None
        try:
            vectors, tokens, unit = self.encoder.embed(
                list(request.texts), normalize=request.normalize, deadline=deadline
            )
        except ByomError:
            raise
        except Exception as exc:
            raise ModelError(
                f"model '{self._info.id}': onnxruntime failed: {str(exc).splitlines()[0]}", provider="onnx"
            ) from exc
        return EmbedResponse(
            vectors=tuple(tuple(float(v) for v in row) for row in vectors),
            model=self._info.id,
            normalized=unit,
            usage=Usage(input_tokens=tokens, output_tokens=0, source="tokenizer"),
            latency_ms=(time.perf_counter() - started) * 1000.0,
        )

    @property
    def engine(self) -> BatchEngine | ThreadEngine | None:
        """The generation engine (continuous batching for layout A/E), ``None`` for encoders."""
        return self._engine

    def close(self) -> None:
        """Stop the engine (waiting callers get "closed"), release caches and sessions."""
        with self._lock:
            engine, self._engine = self._engine, None
            self.decoder = None
            self.encoder = None
        if engine is not None:
            engine.close()
        super().close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`: the engine's thread is awaited without blocking."""
        engine = self._engine
        if engine is not None:
            engine.stop()
            while engine.alive:
                await asyncio.sleep(0.005)
        self.close()

    def describe(self) -> dict[str, Any]:
        """Layout, provider and sizes, for ``byom`` diagnostics and logs."""
        return {
            "id": self._info.id,
            "layout": self._layout_kind,
            "provider": self.handle.provider,
            "provider_note": self.handle.note,
            "model_file": str(self.layout.model_file),
            "max_context": self.max_context,
            "exact": self.config.exact,
            "engine": type(self._engine).__name__ if self._engine else None,
            "max_batch": self.config.max_batch,
        }
