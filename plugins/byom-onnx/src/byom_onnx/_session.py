"""onnxruntime sessions: execution-provider choice, CPU threading, exact-mode graph patching.

onnxruntime-gpu lists ``CUDAExecutionProvider`` even where no GPU or CUDA library exists, and
when asked for it without the libraries it logs errors and *silently* runs on CPU. So CUDA is
probed first (can its provider library load?), and after creation ``session.get_providers()``
is the only proof of where a session runs; both give a one-line reason when CUDA is unusable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from byom_sdk import ConfigError

if TYPE_CHECKING:
    import onnx
    import onnxruntime

__all__ = ["Device", "SessionHandle", "cuda_status", "open_session", "patch_for_accuracy", "physical_cores"]

log = logging.getLogger("byom_onnx")
Device = Literal["auto", "cpu", "cuda"]
_cuda_probe: tuple[bool, str] | None = None
_probe_lock = threading.Lock()


def physical_cores() -> int:
    """Physical cores available to this process (hyper-threads share MLAS's int8 units)."""
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        physical = core = ""
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "physical id":
                physical = value.strip()
            elif key == "core id":
                core = value.strip()
                cores.add((physical, core))
    except OSError:
        pass
    return max(1, min(allowed, len(cores) or allowed))


def cuda_status() -> tuple[bool, str]:
    """Whether onnxruntime's CUDA provider can load here, and why not in one line."""
    global _cuda_probe
    with _probe_lock:
        if _cuda_probe is not None:
            return _cuda_probe
        import ctypes

        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            _cuda_probe = (False, f"onnxruntime {ort.__version__} was built without CUDA (install onnxruntime-gpu)")
            return _cuda_probe
        preload = getattr(ort, "preload_dlls", None)
        if preload is not None and importlib.util.find_spec("nvidia") is not None:
            # CUDA/cuDNN from the nvidia-*-cu* wheels; it prints every library it misses, so
            # only call it where those wheels exist, and keep its chatter off the console.
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    preload(directory="")
            except Exception:  # noqa: BLE001 - optional; the library load below reports the cause
                pass
        library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
        if os.name == "nt":
            library = library.with_name("onnxruntime_providers_cuda.dll")
        try:
            ctypes.CDLL(str(library))
        except OSError as exc:
            _cuda_probe = (
                False,
                f"CUDA provider cannot load ({str(exc).splitlines()[0]}); needs the CUDA/cuDNN versions onnxruntime-gpu {ort.__version__} was built for",  # noqa: E501
            )
            return _cuda_probe
        _cuda_probe = (True, "CUDA provider library loaded")
        return _cuda_probe


@dataclass
class SessionHandle:
    """A session plus where it actually runs."""

    session: onnxruntime.InferenceSession
    provider: str
    note: str

    @property
    def on_cuda(self) -> bool:
        return self.provider == "CUDAExecutionProvider"


def patch_for_accuracy(model: onnx.ModelProto, *, exact: bool, accuracy_level: int) -> bool:
    """Rewrite MatMulNBits nodes in place for the requested numerics; True if anything changed.

    Exact mode runs 4-bit weights at ``accuracy_level=0`` (fp32 activations) and turns every
    8-bit MatMulNBits (the LM head of a Q8_0 table) into a plain fp32 MatMul over the exactly
    dequantized weight: the 8-bit kernel at level 0 takes a slow CPU path (7.7 tok/s
    measured), while the fp32 GEMM is both exact and fast.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    changed = False
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "MatMulNBits" or node.domain != "com.microsoft":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        target = 0 if exact else accuracy_level
        bits = int(attrs.get("bits", 4))
        plain = len(node.input) == 3 or all(not n for n in node.input[3:])
        if exact and bits == 8 and plain and node.input[1] in inits and node.input[2] in inits:
            blob = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            scales = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            n, k = int(attrs["N"]), int(attrs["K"])
            weight = (
                (blob.reshape(n, -1, int(attrs.get("block_size", 32))) - 128.0) * scales.reshape(n, -1, 1)
            ).reshape(n, k)
            name = f"{node.input[1]}.dequantized"
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight.T), name))
            graph.node[index].CopyFrom(
                helper.make_node("MatMul", [node.input[0], name], list(node.output), name=node.name)
            )
            changed = True
            continue
        if int(attrs.get("accuracy_level", 0)) != target:
            for attr in graph.node[index].attribute:
                if attr.name == "accuracy_level":
                    attr.i = target
                    break
            else:
                graph.node[index].attribute.append(helper.make_attribute("accuracy_level", target))
            changed = True
    if changed:
        # Drop initializers the rewrite orphaned (the 8-bit head blob) so they are not loaded.
        used = {name for node in graph.node for name in node.input}
        keep = [init for init in graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(keep)
    return changed


def _session_options(threads: int | None, *, spinning: bool) -> onnxruntime.SessionOptions:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or physical_cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    # Errors only: keeps onnxruntime's CUDA-missing chatter off a CPU user's stderr.
    options.log_severity_level = 3
    return options


def open_session(
    model: str | Path | bytes,
    *,
    label: str,
    device: Device = "auto",
    allow_cpu_fallback: bool = True,
    threads: int | None = None,
    spinning: bool = True,
    profile_prefix: str | None = None,
    extra_options: dict[str, str] | None = None,
) -> SessionHandle:
    """Create a session on the requested device and verify where it landed.

    :param label: names the model in logs and errors.
    :param device: ``"cuda"`` insists (unless ``allow_cpu_fallback``), ``"auto"`` uses CUDA
        when it is usable, ``"cpu"`` never tries it.
    """
    import onnxruntime as ort

    options = _session_options(threads, spinning=spinning)
    for key, value in (extra_options or {}).items():
        options.add_session_config_entry(key, value)
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    source: Any = bytes(model) if isinstance(model, (bytes, bytearray)) else str(model)
    want_cuda = device in ("auto", "cuda")
    note = "CPU requested"
    if want_cuda:
        usable, note = cuda_status()
        if not usable:
            if device == "cuda" and not allow_cpu_fallback:
                raise ConfigError(
                    f"{label}: device 'cuda' requested but {note} (set allow_cpu_fallback = true to run on CPU)",
                    field="device",
                )
            if device == "cuda":
                log.warning("%s: CUDA unusable, falling back to CPU: %s", label, note)
            want_cuda = False
    providers: list[Any] = ["CPUExecutionProvider"]
    if want_cuda:
        providers = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
        if device == "auto":
            # "auto" may legitimately end on CPU (a CUDA library but no device): keep
            # onnxruntime's fallback errors off stderr; the outcome is logged below.
            options.log_severity_level = 4
    try:
        session = ort.InferenceSession(source, options, providers=providers)
    except Exception as exc:
        raise ConfigError(
            f"{label}: onnxruntime cannot load the model: {str(exc).splitlines()[0]}", field="path"
        ) from exc
    provider = session.get_providers()[0]
    if want_cuda and provider != "CUDAExecutionProvider":
        note = "onnxruntime created the session on CPU (no usable CUDA device)"
        if device == "cuda" and not allow_cpu_fallback:
            raise ConfigError(f"{label}: device 'cuda' requested but {note}", field="device")
    elif provider == "CUDAExecutionProvider":
        note = "running on CUDA"
    log.info("%s: session on %s (%s)", label, provider, note)
    return SessionHandle(session=session, provider=provider, note=note)
