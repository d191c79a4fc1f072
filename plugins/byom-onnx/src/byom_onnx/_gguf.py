"""Read a GGUF file and repack its tensors for onnxruntime's block-quantized operators.

GGUF stores a weight ``W (N out, K in)`` row-major with ``ne0 = K`` first, so a quantized
tensor's numpy view is ``(N, K/32 * block_bytes)``: rows are output features, already in
``MatMulNBits``' ``(N, k_blocks, blob)`` order. Only the nibble order inside a block and the
zero-point convention differ; both are fixed here without touching a value, so every supported
type converts exactly:

============  ==========================================================================
``Q4_0``      ``w = d·(q-8)``: 4-bit MatMulNBits, scales ``d``, default zero point 8
``Q4_1``      ``w = d·q + m = d·(q-8) + (m + 8d)``: the symmetric 4-bit kernel plus a
              per-block offset term ``blocksum(A) @ C`` (the fast path; float zero points
              are 50x slower and rounding them to uint4 is lossy)
``Q8_0``      ``w = d·q`` with int8 ``q``: 8-bit MatMulNBits on ``u = q + 128``
``F32/F16``   a plain fp32 MatMul (fp16 and bf16 widen to fp32 exactly)
============  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byom_sdk import ConfigError

if TYPE_CHECKING:
    import numpy as np
    from gguf import GGUFReader, ReaderTensor

__all__ = [
    "SUPPORTED_TYPES",
    "EmbeddingTable",
    "GGUFFile",
    "LinearWeight",
    "concat_linear",
    "embedding_table",
    "linear_weight",
    "open_gguf",
    "type_name",
    "validate_tensor",
]

#: GGML tensor types converted exactly (ids of ``gguf.GGMLQuantizationType``).
SUPPORTED_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0", 30: "BF16"}
_BLOCK = 32
_BLOCK_BYTES = {2: 18, 3: 20, 8: 34}
_ELEMENT_BYTES = {0: 4, 1: 2, 30: 2}
#: No weight or norm gain of a trained model comes near this magnitude, while random bytes read
#: as fp16 / fp32 land above it about half the time (up to 65504 / 3e38): the line between a
#: real tensor and a corrupted one.
WEIGHT_LIMIT = 1e4
#: Largest |q| per block type: Q4_1 ``d·q + m`` (q 0..15), Q4_0 ``d·(q-8)``, Q8_0 ``d·q`` (int8).
_Q_RANGE = {2: 8.0, 3: 15.0, 8: 128.0}


def type_name(tensor_type: int) -> str:
    """The GGML name of a tensor type id (``Q4_K``…), for error messages."""
    try:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(int(tensor_type)).name
    except ValueError:
        return f"type {int(tensor_type)}"


def _field_value(field: Any) -> Any:
    contents = getattr(field, "contents", None)
    if contents is not None:
        return contents()
    # gguf < 0.11 has no contents(): decode the parts the reader kept.
    values = [field.parts[i] for i in field.data]
    decoded = [
        bytes(v).decode("utf-8") if v.dtype.kind == "u" and v.dtype.itemsize == 1 else v.tolist()[0] for v in values
    ]
    return decoded[0] if len(decoded) == 1 and len(field.types) == 1 else decoded


@dataclass
class GGUFFile:
    """An opened GGUF file: its metadata and tensors (memory-mapped, read lazily).

    :param path: the file.
    :param metadata: every key/value pair except the tokenizer's large arrays (read on demand).
    :param tensors: tensors by name.
    """

    path: Path
    reader: GGUFReader
    metadata: dict[str, Any]
    tensors: dict[str, ReaderTensor]

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))

    def get(self, key: str, default: Any = None) -> Any:
        """A metadata value; large arrays (tokens, merges) are decoded on first request."""
        if key in self.metadata:
            return self.metadata[key]
        field = self.reader.fields.get(key)
        if field is None:
            return default
        value = _field_value(field)
        self.metadata[key] = value
        return value

    def arch_key(self, suffix: str, default: Any = None) -> Any:
        return self.get(f"{self.architecture}.{suffix}", default)

    def require(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise ConfigError(f"{self.path}: GGUF metadata key '{key}' is missing", field="path")
        return value

    def tensor(self, name: str) -> ReaderTensor:
        found = self.tensors.get(name)
        if found is None:
            raise ConfigError(f"{self.path}: tensor '{name}' is missing from the GGUF file", field="path")
        return found


def open_gguf(path: str | Path) -> GGUFFile:
    """Open a GGUF file; a missing or corrupt file raises one :class:`ConfigError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file not found: {path}", field="path")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ConfigError(f"cannot read model file {path}: {exc}", field="path") from exc
    if magic != b"GGUF":
        raise ConfigError(f"{path} is not a GGUF file (magic {magic!r}, expected b'GGUF')", field="path")
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path), "r")
    except Exception as exc:
        raise ConfigError(
            f"{path} is a corrupt or truncated GGUF file: {type(exc).__name__}: {exc}", field="path"
        ) from exc
    metadata: dict[str, Any] = {}
    for key, field in reader.fields.items():
        vocab_array = key.startswith("tokenizer.ggml.") and key not in ("tokenizer.ggml.model", "tokenizer.ggml.pre")
        if vocab_array and len(field.data) > 1:
            continue  # vocab arrays: decoded on demand by GGUFFile.get
        try:
            metadata[key] = _field_value(field)
        except Exception as exc:
            raise ConfigError(f"{path}: GGUF metadata key '{key}' is corrupt: {exc}", field="path") from exc
    return GGUFFile(path=path, reader=reader, metadata=metadata, tensors={t.name: t for t in reader.tensors})


# -- weights ----------------------------------------------------------------------------


@dataclass
class LinearWeight:
    """One linear layer ``y = x @ W.T`` in the form the graph builder emits.

    ``bits`` is 0 for a plain float MatMul (``weight`` is ``(K, N)``); 4 or 8 for
    MatMulNBits with ``blob (N, k_blocks, 32*bits/8)`` and ``scales (N, k_blocks)``.
    ``offset (k_blocks, N)`` is the Q4_1 per-block correction, added as ``blocksum(x) @ offset``.
    """

    n: int
    k: int
    bits: int
    blob: np.ndarray | None = None
    scales: np.ndarray | None = None
    offset: np.ndarray | None = None
    weight: np.ndarray | None = None


@dataclass
class EmbeddingTable:
    """The token embedding: block-quantized for GatherBlockQuantized, or a float table."""

    vocab: int
    hidden: int
    bits: int
    data: np.ndarray
    scales: np.ndarray | None = None


def _check_type(tensor: ReaderTensor, path: Path) -> int:
    ttype = int(tensor.tensor_type)
    if ttype not in SUPPORTED_TYPES:
        raise ConfigError(
            f"{path}: tensor '{tensor.name}' has GGUF type {type_name(ttype)}, which the converter does not "
            f"handle yet (supported: {', '.join(sorted(SUPPORTED_TYPES.values()))})",
            field="path",
        )
    return ttype


def _refuse(path: Path, tensor: ReaderTensor, why: str) -> ConfigError:
    return ConfigError(
        f"{path}: tensor '{tensor.name}' fails validation ({why}); the file is corrupt or truncated",
        field="path",
    )


def _first_bad(mask: np.ndarray) -> int:
    import numpy as np

    return int(np.flatnonzero(mask.ravel())[0])


def validate_tensor(tensor: ReaderTensor, path: Path, file_size: int | None = None) -> None:
    """Refuse a tensor whose bytes no real model produces, naming it.

    Checked: the byte size the shape and type imply (and that it lies inside the file);
    every float finite and below :data:`WEIGHT_LIMIT`; per block of a quantized type, a
    finite scale, non-negative where the quantizer makes it so (Q4_1 ``d = (max-min)/15``,
    Q8_0 ``d = amax/127``), and a weight range below the limit. Random bytes written over a
    tensor fail these almost surely (a negative scale alone is a coin flip per block), where
    before they converted and later answered NaN logits.
    """
    import numpy as np

    ttype = _check_type(tensor, path)
    elements = int(np.prod([int(d) for d in tensor.shape], dtype=np.int64))
    if ttype in _BLOCK_BYTES:
        if elements % _BLOCK:
            raise _refuse(path, tensor, f"{elements} elements is not a whole number of {_BLOCK}-blocks")
        expected = elements // _BLOCK * _BLOCK_BYTES[ttype]
    else:
        expected = elements * _ELEMENT_BYTES[ttype]
    size = int(tensor.data.nbytes)
    if size != expected:
        raise _refuse(path, tensor, f"size mismatch: {size} bytes of data where its shape needs {expected}")
    if file_size is not None and int(tensor.data_offset) + size > file_size:
        raise _refuse(path, tensor, f"size mismatch: its data ends past the end of the file ({file_size} bytes)")
    if ttype in _BLOCK_BYTES:
        blocks = tensor.data.reshape(-1, _BLOCK_BYTES[ttype])
        d = blocks[:, 0:2].copy().view(np.float16).ravel().astype(np.float32)
        low = blocks[:, 2:4].copy().view(np.float16).ravel().astype(np.float32) if ttype == 3 else None
        bad = ~np.isfinite(d) if low is None else ~(np.isfinite(d) & np.isfinite(low))
        if bad.any():
            raise _refuse(path, tensor, f"block {_first_bad(bad)} has a NaN/Inf scale")
        if ttype in (3, 8) and (d < 0).any():
            index = _first_bad(d < 0)
            raise _refuse(path, tensor, f"block {index} has the impossible negative scale {d[index]:.4g}")
        reach = np.abs(d) * _Q_RANGE[ttype] + (np.abs(low) if low is not None else 0.0)
        if (reach > WEIGHT_LIMIT).any():
            index = _first_bad(reach > WEIGHT_LIMIT)
            why = f"block {index} has the impossible scale {d[index]:.4g} (weights up to {reach[index]:.4g})"
            raise _refuse(path, tensor, why)
        return
    values = _dequantized(tensor) if ttype == 30 else np.asarray(tensor.data, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        raise _refuse(path, tensor, f"element {_first_bad(~finite)} is NaN/Inf")
    if values.size and float(np.abs(values).max()) > WEIGHT_LIMIT:
        index = _first_bad(np.abs(values) > WEIGHT_LIMIT)
        raise _refuse(path, tensor, f"element {index} has the impossible magnitude {values.ravel()[index]:.4g}")


def _blocks(tensor: ReaderTensor, ttype: int) -> np.ndarray:
    data = tensor.data
    rows = int(data.shape[0])
    return data.reshape(rows, -1, _BLOCK_BYTES[ttype])


def _pack_nibbles(qs: np.ndarray) -> np.ndarray:
    """GGML puts element j in the low nibble of byte j and j+16 in the high nibble;
    MatMulNBits wants elements 2i / 2i+1 in the low / high nibble of byte i."""
    import numpy as np

    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)
    packed: np.ndarray = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return packed


def _dequantized(tensor: ReaderTensor) -> np.ndarray:
    import numpy as np
    from gguf.quants import dequantize

    return np.ascontiguousarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)


def linear_weight(tensor: ReaderTensor, path: Path) -> LinearWeight:
    """Repack a GGUF weight ``(N, K)`` for ``x @ W.T``; exact for every supported type."""
    import numpy as np

    ttype = _check_type(tensor, path)
    k, n = (int(d) for d in tensor.shape[:2])
    if ttype in _BLOCK_BYTES:
        blocks = _blocks(tensor, ttype)
        d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
        if ttype == 8:  # Q8_0
            q = blocks[..., 2:34].copy().view(np.int8)
            blob = (q.astype(np.int16) + 128).astype(np.uint8)
            return LinearWeight(n=n, k=k, bits=8, blob=np.ascontiguousarray(blob), scales=d)
        if ttype == 2:  # Q4_0
            return LinearWeight(n=n, k=k, bits=4, blob=_pack_nibbles(blocks[..., 2:18]), scales=d)
        m = blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
        offset = np.ascontiguousarray((m + np.float32(8.0) * d).T)
        return LinearWeight(n=n, k=k, bits=4, blob=_pack_nibbles(blocks[..., 4:20]), scales=d, offset=offset)
    weight = _dequantized(tensor).reshape(n, k)
    return LinearWeight(n=n, k=k, bits=0, weight=np.ascontiguousarray(weight.T))


def embedding_table(tensor: ReaderTensor, path: Path) -> EmbeddingTable:
    """The token embedding for GatherBlockQuantized (Q8_0, Q4_0) or a plain Gather."""

    ttype = _check_type(tensor, path)
    hidden, vocab = (int(d) for d in tensor.shape[:2])
    if ttype in (2, 8):
        weight = linear_weight(tensor, path)
        assert weight.blob is not None
        return EmbeddingTable(
            vocab=vocab, hidden=hidden, bits=weight.bits, data=weight.blob.reshape(vocab, -1), scales=weight.scales
        )
    # Q4_1 needs float zero points, which GatherBlockQuantized does not take: widen exactly.
    return EmbeddingTable(vocab=vocab, hidden=hidden, bits=0, data=_dequantized(tensor).reshape(vocab, hidden))


def concat_linear(parts: list[LinearWeight]) -> LinearWeight | None:
    """Fuse weights sharing K along N (QKV, gate|up); ``None`` when their forms differ."""
    import numpy as np

    first = parts[0]
    if any(p.bits != first.bits or p.k != first.k for p in parts):
        return None
    n = sum(p.n for p in parts)
    if first.bits == 0:
        return LinearWeight(n=n, k=first.k, bits=0, weight=np.concatenate([p.weight for p in parts], axis=1))
    offset = None
    if any(p.offset is not None for p in parts):
        kb = first.k // _BLOCK
        offset = np.concatenate(
            [p.offset if p.offset is not None else np.zeros((kb, p.n), np.float32) for p in parts], axis=1
        )
    return LinearWeight(
        n=n,
        k=first.k,
        bits=first.bits,
        blob=np.concatenate([p.blob for p in parts], axis=0),
        scales=np.concatenate([p.scales for p in parts], axis=0),
        offset=offset,
    )
