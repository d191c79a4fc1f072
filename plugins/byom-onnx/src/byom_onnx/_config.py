"""The ``provider = "onnx"`` configuration schema (kept free of heavy imports)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from byom_sdk import ConfigPath

__all__ = ["OnnxConfig"]


class OnnxConfig(BaseModel):
    """Config of one local ONNX model.

    :param path: a model folder (layouts A-D), a ``.gguf`` file (converted once and cached)
        or a ``.onnx`` file; relative paths resolve against the byom.toml folder.
    :param file: a graph inside the folder to use instead of the default
        (``"onnx/model_q4.onnx"``).
    :param max_context: KV-cache length and context limit (prompt + output tokens).
    :param exact: fp32 activations everywhere (MatMulNBits accuracy level 0, fp32 LM head):
        logits match the original weights; about 20 % slower decode on CPU.
    :param accuracy_level: MatMulNBits accuracy level outside exact mode (4 = int8 activations).
    :param device: ``"auto"`` uses CUDA when it is usable, else CPU.
    :param allow_cpu_fallback: with ``device = "cuda"``, run on CPU when CUDA is unusable
        instead of failing.
    :param threads: intra-op threads (default: physical cores).
    :param max_batch: sequences decoded together by one model (continuous batching of
        concurrent calls, layouts A and E); further calls wait for a free slot in order.
        Each slot reserves a ``max_context`` KV cache in address space; memory is committed
        only as its sequence grows.
    :param timeout: default deadline in seconds for one call when the request carries none.
    :param spinning: let onnxruntime's worker threads spin-wait between operators (its default).
        Measured on a 2-core machine: +15-25 % decode when the cores are free (105-118 vs 88-92
        tok/s), but up to 2x slower when other processes compete for them; turn it off where the
        model shares its cores.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    path: ConfigPath
    file: str | None = None
    model_id: str | None = None
    max_context: int = Field(default=2048, ge=16, le=1_048_576)
    exact: bool = False
    accuracy_level: Literal[0, 1, 2, 3, 4] = 4
    device: Literal["auto", "cpu", "cuda"] = "auto"
    allow_cpu_fallback: bool = True
    threads: int | None = Field(default=None, ge=1, le=512)
    spinning: bool = True
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=50, ge=0)
    repetition_penalty: float = Field(default=1.0, gt=0.0, le=10.0)
    max_batch: int = Field(default=8, ge=1, le=256)
    embed_batch_size: int = Field(default=32, ge=1)
    timeout: float | None = Field(default=None, gt=0.0)
    progress: bool | None = None
