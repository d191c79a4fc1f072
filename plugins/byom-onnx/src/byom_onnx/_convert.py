"""GGUF → layout-A folder conversion, and the conversion cache.

A converted folder holds ``model.onnx``, ``genai_config.json`` (so onnxruntime-genai can run
it too), ``tokenizer.json``, ``tokenizer_config.json`` (with the chat template) and
``byom_onnx.json`` (provenance). The cache key is the file's sha256, the converter version,
the onnxruntime version and the activation type; a conversion is written into a temporary
folder and renamed into place, so a crash never leaves a half-written cache entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from byom_sdk import ConfigError

__all__ = ["CONVERTER_VERSION", "cache_dir", "convert_gguf", "converted_gguf", "file_sha256"]

#: Bump when the emitted graph changes: it is part of the cache key.
CONVERTER_VERSION = "3"
_MARKER = "byom_onnx.json"
_EXTERNAL_DATA_THRESHOLD = 1_800_000_000  # protobuf's hard limit is 2 GiB


def cache_dir() -> Path:
    """``$BYOM_CACHE_DIR`` or ``~/.cache/byom-sdk``."""
    return Path(os.environ.get("BYOM_CACHE_DIR") or Path.home() / ".cache" / "byom-sdk").expanduser()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress_reporter(
    total: int, description: str, enabled: bool | None
) -> tuple[Callable[[str], None], Callable[[], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    show = console.is_terminal if enabled is None else enabled
    if not show:
        return (lambda _label: None), (lambda: None)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(description, total=total, step="")
    progress.start()

    def tick(label: str) -> None:
        progress.update(task, advance=1, step=label)

    return tick, progress.stop


def _genai_config(
    hyper: Any, eos_ids: list[int], tok_config: dict[str, Any], tokenizer: Any, *, dtype: str
) -> dict[str, Any]:
    def token_id(text: str | None, default: int) -> int:
        found = tokenizer.token_to_id(text) if text else None
        return int(found) if found is not None else default

    eos = eos_ids or [0]
    return {
        "model": {
            "bos_token_id": token_id(tok_config.get("bos_token"), eos[0]),
            "context_length": hyper.context_length,
            "eos_token_id": eos if len(eos) > 1 else eos[0],
            "pad_token_id": token_id(tok_config.get("pad_token"), eos[0]),
            "type": "llama",
            "vocab_size": hyper.vocab,
            "decoder": {
                "session_options": {
                    "log_id": "onnxruntime-genai",
                    "provider_options": [{"cuda": {"enable_cuda_graph": "0"}}] if dtype == "float16" else [],
                },
                "filename": "model.onnx",
                "head_size": hyper.head_dim,
                "hidden_size": hyper.hidden,
                "num_attention_heads": hyper.heads,
                "num_hidden_layers": hyper.layers,
                "num_key_value_heads": hyper.kv_heads,
                "inputs": {
                    "input_ids": "input_ids",
                    "attention_mask": "attention_mask",
                    "past_key_names": "past_key_values.%d.key",
                    "past_value_names": "past_key_values.%d.value",
                },
                "outputs": {
                    "logits": "logits",
                    "present_key_names": "present.%d.key",
                    "present_value_names": "present.%d.value",
                },
            },
        },
        "search": {
            "diversity_penalty": 0.0,
            "do_sample": False,
            "early_stopping": True,
            "length_penalty": 1.0,
            "max_length": hyper.context_length,
            "min_length": 0,
            "no_repeat_ngram_size": 0,
            "num_beams": 1,
            "num_return_sequences": 1,
            "past_present_share_buffer": True,
            "repetition_penalty": 1.0,
            "temperature": 1.0,
            "top_k": 1,
            "top_p": 1.0,
        },
    }


def convert_gguf(
    path: str | Path,
    out_dir: str | Path,
    *,
    dtype: str = "float32",
    accuracy_level: int = 4,
    progress: bool | None = None,
    source_sha256: str | None = None,
) -> Path:
    """Convert a llama-architecture GGUF file into a layout-A folder at ``out_dir``.

    :param dtype: ``"float32"`` (CPU; exact) or ``"float16"`` (the CUDA variant).
    :param accuracy_level: MatMulNBits accuracy level written into the graph.
    :param progress: show a rich progress bar (default: when stderr is a terminal).
    :returns: ``out_dir``.
    :raises ConfigError: naming the file and the tensor type, architecture or tokenizer
        the converter does not handle.
    """
    import onnx
    import onnxruntime

    from ._gguf import open_gguf
    from ._gguf_tokenizer import build_tokenizer
    from ._llama import build_llama_graph, llama_hyper

    source = Path(path)
    gguf = open_gguf(source)
    hyper = llama_hyper(gguf)
    bundle = build_tokenizer(gguf)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tick, stop = _progress_reporter(hyper.layers + 3, f"converting {source.name}", progress)
    started = time.perf_counter()
    try:
        model = build_llama_graph(gguf, dtype=dtype, accuracy_level=accuracy_level, progress=tick)
        # Summed by hand: ByteSize() itself fails past protobuf's 2 GiB limit.
        big = sum(len(t.raw_data) for t in model.graph.initializer) > _EXTERNAL_DATA_THRESHOLD
        onnx.save_model(model, str(out / "model.onnx"), save_as_external_data=big, location="model.onnx.data")
        tick("saved")
    finally:
        stop()
    bundle.tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(bundle.config, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    genai = _genai_config(hyper, bundle.eos_ids, bundle.config, bundle.tokenizer, dtype=dtype)
    (out / "genai_config.json").write_text(json.dumps(genai, indent=2), encoding="utf-8")
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": bundle.eos_ids}), encoding="utf-8")
    marker = {
        "source": str(source),
        "source_name": source.name,
        "source_sha256": source_sha256 or file_sha256(source),
        "model_name": gguf.get("general.name"),
        "converter_version": CONVERTER_VERSION,
        "onnxruntime_version": onnxruntime.__version__,
        "dtype": dtype,
        "accuracy_level": accuracy_level,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (out / _MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
    return out


def converted_gguf(
    path: str | Path,
    *,
    dtype: str = "float32",
    cache: str | Path | None = None,
    progress: bool | None = None,
    sha256: str | None = None,
) -> Path:
    """The cached layout-A folder for a GGUF file, converting it on first use.

    :param cache: cache root (default :func:`cache_dir`); entries live under ``onnx/``.
    :param sha256: the file's digest when the caller already computed it.
    """
    import onnxruntime

    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"model file not found: {source}", field="path")
    digest = sha256 or file_sha256(source)
    suffix = "" if dtype == "float32" else f"-{dtype}"
    root = Path(cache) if cache is not None else cache_dir()
    target = root / "onnx" / f"{digest}-{CONVERTER_VERSION}-{onnxruntime.__version__}{suffix}"
    if (target / _MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        convert_gguf(source, staging, dtype=dtype, progress=progress, source_sha256=digest)
        try:
            os.replace(staging, target)
        except OSError:
            # Another process finished the same conversion first: keep theirs.
            if not (target / _MARKER).is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
