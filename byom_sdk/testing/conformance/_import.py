"""A check that importing the plugin does no work: every application with the plugin
installed imports its entry-point module when byom discovers plugins (``byom models``, the
first ``Client``), whether or not it uses a model of that plugin.

A plugin that loads a framework, opens a connection, starts a thread or prints a banner
at import makes every one of those applications pay for it at start, and one that
resolves a host at import reaches the network before any trust policy was read.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from typing import ClassVar

import pytest

from ..._plugins import ENTRY_POINT_GROUP
from ..._provider import Provider
from ._core import check, plugin_label
from ._subject import ModelSubject

__all__ = ["HEAVY_MODULES", "ImportChecks"]

#: Libraries too heavy to load at import (frameworks, cloud SDKs, numeric stacks): a plugin
#: imports them where a model is built or called.
HEAVY_MODULES: tuple[str, ...] = (
    "torch", "tensorflow", "jax", "transformers", "sentence_transformers", "onnxruntime", "onnxruntime_genai",
    "llama_cpp", "vllm", "numpy", "pandas", "scipy", "sklearn", "spacy", "presidio_analyzer", "boto3",
    "botocore", "aiobotocore", "google.cloud", "google.api_core", "google.auth", "grpc", "openai", "anthropic",
    "azure", "ray",
)  # fmt: skip

#: Seconds an import may take before it counts as work done at import.
IMPORT_BUDGET = 2.0

# Run in a fresh interpreter: byom_sdk first (what every application has loaded already),
# then the plugin's module with the network refused, the standard streams captured and the
# threads counted.
_PROBE = r"""
import contextlib, importlib, io, json, os, socket, sys, threading, time
import byom_sdk
real_stdout = sys.stdout
module_name, heavy = sys.argv[1], tuple(sys.argv[2].split(","))
events = []
def refuse(what):
    def guard(*args, **kwargs):
        events.append(f"{what}{args[1:2] if what.startswith('socket.') else args[:1]!r}")
        raise OSError(f"{what} refused by the conformance import check")
    return guard
socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.getaddrinfo = refuse("getaddrinfo")
socket.gethostbyname = refuse("gethostbyname")
before_modules, before_threads = set(sys.modules), set(threading.enumerate())
out, err = io.StringIO(), io.StringIO()
error = None
started = time.perf_counter()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        importlib.import_module(module_name)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
elapsed = time.perf_counter() - started
loaded = sorted(set(sys.modules) - before_modules)
found = sorted({m for m in loaded for h in heavy if m == h or m.startswith(h + ".")})
tops = sorted({m.split(".")[0] if not m.startswith("google.") else ".".join(m.split(".")[:2]) for m in found})
threads = sorted(t.name for t in set(threading.enumerate()) - before_threads)
real_stdout.write(json.dumps({
    "error": error, "seconds": elapsed, "heavy": tops, "threads": threads, "network": events,
    "stdout": out.getvalue()[:200], "stderr": err.getvalue()[:200], "files": sorted(os.listdir("."))[:10],
}))
"""


def _entry_point_module(provider: type) -> str | None:
    """The module of the ``byom`` entry point that ships ``provider`` (same top-level package)."""
    package = provider.__module__.split(".")[0]
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = entry.value.split(":")[0].strip()
        if module.split(".")[0] == package:
            return module
    return None


class ImportChecks(ModelSubject):
    """Importing the plugin does no work."""

    #: the module byom imports to discover the plugin (default: the ``byom`` entry point of
    #: the provider's package, else the provider's own module).
    plugin_module: ClassVar[str | None] = None

    @check("isolation.import")
    def test_isolation_import(self, byom_model: Provider) -> None:
        """Importing the plugin's entry-point module, in a fresh interpreter that has
        imported ``byom_sdk``, loads none of the heavy libraries (:data:`HEAVY_MODULES`:
        frameworks, cloud SDKs, numpy), starts no thread, opens no connection and resolves
        no host, writes nothing to the standard streams or the working directory, raises
        nothing, and takes under 2 s.

        byom imports every installed plugin's entry point to discover it, so what that
        module does at import, every application with the plugin installed does at start.
        Fix: import heavy libraries inside the functions that build or call a model; open
        clients in the provider's constructor; log instead of printing. The module checked
        is the ``byom`` entry point of the provider's package, or the provider's own module
        when it has none (set ``plugin_module`` on the suite to name another).
        """
        provider = type(byom_model)
        module = self.plugin_module or _entry_point_module(provider) or provider.__module__
        if module == "__main__" or module.startswith("byom_sdk."):
            pytest.skip(f"{plugin_label(byom_model)} is defined in {module!r}: no plugin module to import")
        path = os.pathsep.join(p for p in sys.path if p)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
        with tempfile.TemporaryDirectory(prefix="byom-import-") as folder:
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _PROBE, module, ",".join(HEAVY_MODULES)],
                    cwd=folder,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"{plugin_label(byom_model)}: importing {module} did not finish in 60 s")
        try:
            found = json.loads(done.stdout)
        except ValueError:
            pytest.fail(
                f"{plugin_label(byom_model)}: the import probe of {module} ended without a result "
                f"(exit {done.returncode}): {done.stderr.strip()[-300:]}"
            )
        problems = []
        if found["error"]:
            problems.append(f"raised {found['error']}")
        if found["heavy"]:
            problems.append(f"loaded {', '.join(found['heavy'])}")
        if found["threads"]:
            problems.append(f"started thread(s) {', '.join(found['threads'][:3])}")
        if found["network"]:
            problems.append(f"reached for the network ({', '.join(found['network'][:2])})")
        for stream in ("stdout", "stderr"):
            if found[stream]:
                problems.append(f"wrote to {stream}: {found[stream][:60]!r}")
        if found["files"]:
            problems.append(f"wrote {', '.join(found['files'][:3])} in the working directory")
        if found["seconds"] > IMPORT_BUDGET:
            problems.append(f"took {found['seconds']:.1f} s (budget {IMPORT_BUDGET:.0f} s)")
        assert not problems, f"{plugin_label(byom_model)}: importing {module} " + "; ".join(problems)
