"""One record through a model's pipeline, and the output row it becomes.

Every runner ends up here: the record is sent with ``agenerate`` / ``aembed`` of a
``ManagedModel`` its worker's Client built, so masking, the residency gate, scoring,
structured output and the audit run per record exactly as for an online call. The audit
records carry the job and the record id (``tags``), which is what ties a shard's chain to
the output.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .._errors import ByomError
from ._records import Item, error_row

if TYPE_CHECKING:
    from .._facade import ManagedModel
    from .._types import EmbedResponse, GenerateResponse

__all__ = ["arun_item", "call_metadata", "failure_row", "success_row"]


def call_metadata(item: Item, job_id: str) -> dict[str, Any]:
    """The request metadata of ``item``: its own tenant/user/conversation and tags, plus
    the job and record ids (in every audit record of the call)."""
    meta = item.metadata
    tags = {**dict(meta.get("tags") or {}), "batch_job": job_id, "batch_item": item.id}
    out: dict[str, Any] = {"request_id": item.id, "tags": tags}
    for key in ("tenant", "user", "conversation_id"):
        if meta.get(key) is not None:
            out[key] = str(meta[key])
    return out


def success_row(item: Item, response: GenerateResponse | EmbedResponse, latency_ms: float) -> dict[str, Any]:
    body: dict[str, Any]
    usage = response.usage
    usage_row = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens} if usage else None
    if item.kind == "embed":
        embed: EmbedResponse = response  # type: ignore[assignment]  # kind "embed" answers with vectors
        body = {"vectors": [list(v) for v in embed.vectors], "normalized": embed.normalized, "usage": usage_row}
    else:
        generated: GenerateResponse = response  # type: ignore[assignment]
        body = {"text": generated.text, "finish_reason": generated.finish_reason, "usage": usage_row}
        if generated.tool_calls:
            body["tool_calls"] = [c.model_dump(mode="json") for c in generated.tool_calls]
        if generated.parsed is not None:
            parsed = generated.parsed
            body["parsed"] = parsed.model_dump(mode="json") if hasattr(parsed, "model_dump") else parsed
    return {"id": item.id, "response": body, "latency_ms": round(latency_ms, 3)}


def failure_row(item: Item, error: BaseException, latency_ms: float) -> dict[str, Any]:
    """The error row of a record whose call failed (the error as the application would see
    it: placeholders in its message already restored)."""
    if isinstance(error, ByomError):
        return error_row(
            item.id,
            type(error).__name__,
            error.message,
            line=item.line,
            retryable=bool(getattr(error, "retryable", False)),
            code=getattr(error, "code", None),
            latency_ms=latency_ms,
        )
    return error_row(
        item.id, "InternalError", f"{type(error).__name__}: {error}", line=item.line, latency_ms=latency_ms
    )


async def arun_item(model: ManagedModel, item: Item, job_id: str) -> dict[str, Any]:
    """Send ``item`` and return its output row; a failed call is an error row, never a
    raise (cancellation excepted)."""
    started = time.perf_counter()
    metadata = call_metadata(item, job_id)
    try:
        response: GenerateResponse | EmbedResponse
        if item.kind == "embed":
            response = await model.aembed(list(item.input), metadata=metadata, **item.params)
        else:
            response = await model.agenerate(item.input, metadata=metadata, **item.params)
    except Exception as exc:  # noqa: BLE001 - every failure is the record's error row
        return failure_row(item, exc, (time.perf_counter() - started) * 1000.0)
    return success_row(item, response, (time.perf_counter() - started) * 1000.0)
