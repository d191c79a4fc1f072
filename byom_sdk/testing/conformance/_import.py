"""A check that discovering the plugin does no work: every application with the plugin
installed loads its ``byom`` entry point and calls its hooks when byom discovers plugins
(``byom models``, the first ``Client``), whether or not it uses a model of that plugin.

A plugin that loads a framework, opens a connection, starts a thread or prints a banner
there makes every one of those applications pay for it at start, and one that resolves a
host reaches the network before any trust policy was read.
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

#: Libraries too heavy to load at discovery (frameworks, cloud SDKs, numeric stacks): a
#: plugin imports them where a model is built or called. A plugin's own package is never
#: counted against it (``google.cloud.myplugin``).
HEAVY_MODULES: tuple[str, ...] = (
    "torch", "tensorflow", "jax", "transformers", "sentence_transformers", "onnxruntime", "onnxruntime_genai",
    "llama_cpp", "vllm", "numpy", "pandas", "scipy", "sklearn", "spacy", "presidio_analyzer", "boto3",
    "botocore", "aiobotocore", "google.cloud", "google.api_core", "google.auth", "grpc", "openai", "anthropic",
    "azure.core", "azure.identity", "azure.ai", "azure.storage", "ray",
)  # fmt: skip

#: Seconds discovery may take before it counts as work done at import.
IMPORT_BUDGET = 2.0

#: The zero-argument hooks byom calls on every plugin it discovers (not the CLI's).
_DISCOVERY_HOOKS = ("byom_model_providers", "byom_tokenizers", "byom_detectors", "byom_audit_sinks", "byom_middleware")

# Run in a fresh interpreter that has imported byom_sdk (what every application has loaded
# already): load each entry point as byom does — import, attribute, hooks — with the
# network refused, Python's streams captured, the threads counted and atexit run; the
# result goes to a file, so that what reached file descriptors 1 and 2 is seen apart.
_PROBE = r"""
import atexit, contextlib, importlib.metadata, io, json, os, socket, sys, threading, time
settings = json.loads(sys.argv[1])
sys.path[:0] = [p for p in settings["path"] if p not in sys.path]
import byom_sdk
events = []
def refuse(what):
    def guard(*args, **kwargs):
        events.append(f"{what}{args[1:2] if what.startswith('socket.') else args[:1]!r}")
        raise OSError(f"{what} refused by the conformance import check")
    return guard
for name in ("connect", "connect_ex", "sendto", "sendmsg"):
    setattr(socket.socket, name, refuse(f"socket.{name}"))
for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
    setattr(socket, name, refuse(name))
before_modules, before_threads = set(sys.modules), set(threading.enumerate())
started_threads = []
original_start = threading.Thread.start
def start(self, *args, **kwargs):
    started_threads.append(self.name)
    return original_start(self, *args, **kwargs)
threading.Thread.start = start
out, err = io.StringIO(), io.StringIO()
error = None
began = time.perf_counter()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    for value in settings["entry_points"]:
        try:
            loaded = importlib.metadata.EntryPoint(name="probe", value=value, group="byom").load()
            for hook in settings["hooks"]:
                found = getattr(loaded, hook, None)
                if callable(found):
                    list(found() or ())
        except BaseException as exc:
            error = f"{value}: {type(exc).__name__}: {exc}"
            break
elapsed = time.perf_counter() - began
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
own = settings["own"]
loaded_now = sorted(set(sys.modules) - before_modules)
heavy = sorted({h for m in loaded_now for h in settings["heavy"]
                if (m == h or m.startswith(h + ".")) and not (m == own or m.startswith(own + "."))})
threads = sorted({*started_threads, *(t.name for t in set(threading.enumerate()) - before_threads)})
with open(settings["result"], "w", encoding="utf-8") as result:
    json.dump({"error": error, "seconds": elapsed, "heavy": heavy, "threads": threads, "network": events,
               "stdout": out.getvalue()[:200], "stderr": err.getvalue()[:200]}, result)
"""


def _entry_points(provider: type) -> list[str]:
    """The ``byom`` entry points (``module:attr`` values) of the plugin that ships
    ``provider``: the first class of its MRO whose top-level package has entry points (a
    subclass written in a test file is not the plugin), and among those the ones sharing
    the longest module prefix with it (distributions may share a namespace package)."""
    entries = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    shipped = importlib.metadata.packages_distributions()  # empty for editable installs
    for klass in provider.__mro__:
        module = klass.__module__
        top = module.split(".")[0]
        if top in ("byom_sdk", "builtins"):
            continue
        candidates = [e for e in entries if e.module.split(".")[0] == top]
        owners = set(shipped.get(top, ()))
        if owners:
            candidates = [e for e in candidates if e.dist is None or e.dist.name in owners] or candidates
        if not candidates:
            continue
        scored = [(_shared_prefix(e.module, module), e.value) for e in candidates]
        best = max(score for score, _ in scored)
        return [value for score, value in scored if score == best]
    return []


def _shared_prefix(one: str, other: str) -> int:
    """How many leading dotted parts two module names share."""
    parts, mine = one.split("."), other.split(".")
    return next((i for i, (a, b) in enumerate(zip(parts, mine, strict=False)) if a != b), min(len(parts), len(mine)))


class ImportChecks(ModelSubject):
    """Discovering the plugin does no work."""

    #: the module byom loads to discover the plugin (default: the ``byom`` entry points of
    #: the distribution that ships the provider's class, else the provider's own module).
    plugin_module: ClassVar[str | None] = None

    @check("isolation.import")
    def test_isolation_import(self, byom_model: Provider) -> None:
        """Loading the plugin as byom discovers it — importing each ``byom`` entry point of
        its distribution, resolving its object and calling its hooks — in a fresh
        interpreter that has imported ``byom_sdk``, loads none of the heavy libraries
        (:data:`HEAVY_MODULES`: frameworks, cloud SDKs, numpy), starts no thread, makes no
        connection and resolves no host, writes nothing to the standard streams, the
        working directory or the home and cache directories, raises nothing, and takes
        under 2 s (its ``atexit`` hooks included).

        What discovery does, every application with the plugin installed does at start.
        Fix: import heavy libraries inside the functions that build or call a model; open
        clients in the provider's constructor; log instead of printing. Set
        ``plugin_module`` on the suite to name the module to check (a provider class from
        ``byom_sdk`` itself, such as a ``WireProvider``, names none).
        """
        provider = type(byom_model)
        if self.plugin_module:
            entry_points = [self.plugin_module]
        else:
            entry_points = _entry_points(provider)
            if not entry_points:
                module = provider.__module__
                if module == "__main__" or module.startswith("byom_sdk."):
                    pytest.skip(
                        f"{plugin_label(byom_model)}: the provider class comes from {module!r} and no installed "
                        "distribution's byom entry point was found; set plugin_module on the suite to check one"
                    )
                entry_points = [module]
        own = entry_points[0].split(":")[0].split(".")[0]
        path = [os.path.abspath(os.fspath(p)) for p in sys.path if p]
        with tempfile.TemporaryDirectory(prefix="byom-import-") as folder:
            home, work = os.path.join(folder, "home"), os.path.join(folder, "work")
            os.mkdir(home)
            os.mkdir(work)
            result = os.path.join(folder, "result.json")
            settings = {
                "path": path,
                "entry_points": entry_points,
                "hooks": list(_DISCOVERY_HOOKS),
                "heavy": list(HEAVY_MODULES),
                "own": own,
                "result": result,
            }
            env = {**os.environ, "HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache")}
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPATH", None)
            try:
                done = subprocess.run(
                    [sys.executable, "-c", _PROBE, json.dumps(settings)],
                    cwd=work,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"{plugin_label(byom_model)}: loading {', '.join(entry_points)} did not finish in 60 s")
            try:
                with open(result, encoding="utf-8") as handle:
                    found = json.load(handle)
            except (OSError, ValueError):
                pytest.fail(
                    f"{plugin_label(byom_model)}: the import probe of {', '.join(entry_points)} ended without a "
                    f"result (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}"
                )
            written = sorted(
                os.path.relpath(os.path.join(root, name), folder)
                for top in (home, work)
                for root, _, names in os.walk(top)
                for name in names
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
        for stream, direct in (("stdout", done.stdout), ("stderr", done.stderr)):
            text = found[stream] or direct
            if text:
                problems.append(f"wrote to {stream}: {text[:60]!r}")
        if written:
            problems.append(f"wrote {', '.join(written[:3])}")
        if found["seconds"] > IMPORT_BUDGET:
            problems.append(f"took {found['seconds']:.1f} s (budget {IMPORT_BUDGET:.0f} s)")
        assert not problems, f"{plugin_label(byom_model)}: loading {', '.join(entry_points)} " + "; ".join(problems)
