"""Find out which kind of model folder (or file) the user pointed at.

=====  =====================================================================================
A      onnxruntime-genai folder: ``genai_config.json`` + a GroupQueryAttention ``model.onnx``
B      Optimum ≥ 1.14 / onnx-community: ``model.onnx`` (or ``onnx/model*.onnx``) with
       ``past_key_values.N.*`` and ``position_ids``
C      legacy Optimum: ``decoder_model_merged.onnx`` with ``use_cache_branch``
D      encoder / sentence-transformers: ``onnx/model.onnx`` → ``last_hidden_state`` with
       ``1_Pooling/config.json`` and ``modules.json``; a ``model.safetensors`` BERT folder is
       converted into this layout once and cached
E      a ``.gguf`` file, converted once into layout A and cached
=====  =====================================================================================

B, C and D share a file name, so the final word comes from the graph's inputs once the
session is open (``past_key_values.*`` → decoder, ``use_cache_branch`` → C).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from byom_sdk import ConfigError

__all__ = ["Layout", "detect_layout"]

Kind = Literal["A", "B", "C", "D", "E", "onnx"]


@dataclass(frozen=True)
class Layout:
    """A resolved model location.

    :param kind: the layout letter; ``"onnx"`` when only the graph can tell B/C/D apart.
    :param folder: the folder holding tokenizer and config files.
    :param model_file: the ``.onnx`` graph to load.
    :param source_file: the file the user's model comes from (hashed for the attestation).
    :param converted_from: the GGUF / safetensors original, for converted models.
    """

    kind: Kind
    folder: Path
    model_file: Path
    source_file: Path
    converted_from: Path | None = None

    def read_json(self, name: str) -> dict[str, Any]:
        file = self.folder / name
        if not file.is_file():
            return {}
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{file}: invalid JSON: {exc}", field="path") from exc
        return data if isinstance(data, dict) else {}

    def read_table(self, name: str, *keys: str) -> dict[str, Any]:
        """``name``'s nested object at ``keys`` (``{}`` when absent); anything but an object
        there is a :class:`ConfigError` naming the file and key, not an AttributeError later."""
        data: Any = self.read_json(name)
        for depth, key in enumerate(keys):
            data = data.get(key, {})
            if not isinstance(data, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"{self.folder / name}: '{where}' must be an object", field="path")
        result: dict[str, Any] = data
        return result

    def int_value(self, name: str, key: str, value: Any) -> int | None:
        """``value`` (read from ``name``'s ``key``) as a positive int, or None when unset;
        a string, a float with a fraction, a bool or a number below 1 names the file and key."""
        if value is None:
            return None
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not integral or value < 1:
            raise ConfigError(f"{self.folder / name}: '{key}' must be a positive integer, not {value!r}", field="path")
        return int(value)

    def token_ids(self, name: str, key: str, value: Any) -> list[int]:
        """An ``eos_token_id``-style entry (an id or a list of ids) as ids, naming the file on error."""
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in items):
            raise ConfigError(
                f"{self.folder / name}: '{key}' must be a token id or a list of ids, not {value!r}", field="path"
            )
        return [int(v) for v in items]

    @property
    def is_sentence_transformers(self) -> bool:
        return (self.folder / "modules.json").is_file() or (self.folder / "1_Pooling" / "config.json").is_file()


def _is_gguf(path: Path) -> bool:
    if path.suffix.lower() == ".gguf":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def detect_layout(
    path: str | Path,
    *,
    file: str | None = None,
    dtype: str = "float32",
    cache: str | Path | None = None,
    progress: bool | None = None,
) -> Layout:
    """Resolve ``path`` (a folder, a ``.gguf`` or a ``.onnx`` file) to a :class:`Layout`.

    :param file: a graph file inside the folder to use instead of the default (e.g.
        ``"onnx/model_q4.onnx"``).
    :param dtype: activation type for GGUF conversion (``"float16"`` for CUDA).
    """
    from ._convert import converted_gguf

    source = Path(path).expanduser()
    if not source.exists():
        raise ConfigError(f"model path not found: {source}", field="path")
    if source.is_file():
        if _is_gguf(source):
            folder = converted_gguf(source, dtype=dtype, cache=cache, progress=progress)
            return Layout("E", folder, folder / "model.onnx", source, converted_from=source)
        if source.suffix.lower() == ".onnx":
            kind: Kind = "C" if source.name == "decoder_model_merged.onnx" else "onnx"
            return Layout(kind, source.parent, source, source)
        raise ConfigError(
            f"{source} is neither a .gguf nor a .onnx file (give a GGUF file, an ONNX file or a model folder)",
            field="path",
        )
    folder = source
    if file is not None:
        chosen = folder / file
        if not chosen.is_file():
            raise ConfigError(f"model file not found: {chosen}", field="file")
        if _is_gguf(chosen):
            return detect_layout(chosen, dtype=dtype, cache=cache, progress=progress)
        kind = "C" if chosen.name == "decoder_model_merged.onnx" else "onnx"
        return Layout(kind, folder, chosen, chosen)
    if (folder / "genai_config.json").is_file():
        decoder = Layout("A", folder, folder, folder).read_table("genai_config.json", "model", "decoder")
        name = str(decoder.get("filename", "model.onnx"))
        model_file = folder / name
        if not model_file.is_file():
            raise ConfigError(f"{folder}: genai_config.json names {name}, which is missing", field="path")
        return Layout("A", folder, model_file, model_file)
    ggufs = sorted(folder.glob("*.gguf"))
    if len(ggufs) == 1:
        return detect_layout(ggufs[0], dtype=dtype, cache=cache, progress=progress)
    if len(ggufs) > 1:
        raise ConfigError(f"{folder} holds several .gguf files; point 'path' at one of them", field="path")
    merged = folder / "decoder_model_merged.onnx"
    if merged.is_file():
        return Layout("C", folder, merged, merged)
    for candidate in (folder / "model.onnx", folder / "onnx" / "model.onnx"):
        if candidate.is_file():
            return Layout("onnx", folder, candidate, candidate)
    if (folder / "model.safetensors").is_file():
        from ._bert import converted_bert

        converted = converted_bert(folder, cache=cache)
        return Layout(
            "D", converted, converted / "onnx" / "model.onnx", folder / "model.safetensors", converted_from=folder
        )
    raise ConfigError(
        f"no model found in {folder}: expected genai_config.json, a .gguf file, model.onnx, onnx/model.onnx, "
        "decoder_model_merged.onnx, or a sentence-transformers folder with model.safetensors",
        field="path",
    )
