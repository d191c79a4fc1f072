"""The distributions install and work outside the workspace.

Builds wheels and sdists the way ``make dist`` does (``uv build`` for every package of
``DIST_PACKAGES`` in the Makefile), installs the wheels into a fresh virtual environment
under a temporary folder — no workspace sources, no editable installs, third-party
dependencies from PyPI — and there runs ``byom plugins --json``, ``byom models --check``
and ``byom conformance``; then copies contrib/_template out of the repository, installs it
from the copy and runs its conformance suite.

Marked ``dist`` (it needs PyPI and takes a minute or two); CI runs it with the rest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dist

ROOT = Path(__file__).resolve().parent.parent


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to build and install the distributions (make setup installs it)")
    return found


def _packages() -> list[str]:
    """What `make dist` builds: the package list as make computes it."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "print-dist"],
        input="print-dist:\n\t@echo $(DIST_PACKAGES)\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def _env(venv: Path) -> dict[str, str]:
    """The environment of a user with only that venv: no workspace paths, no test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYOM_", "PYTEST", "VIRTUAL_ENV", "UV_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    return env


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, dist folder, environment) with every distribution installed from its wheel."""
    base = tmp_path_factory.mktemp("dist")
    assert ROOT not in base.parents, "the fresh environment must live outside the workspace"
    dist, venv = base / "dist", base / "venv"
    uv = _uv()
    build_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    for package in _packages():
        _run([uv, "build", "--quiet", "--package", package, "--out-dir", str(dist)], cwd=ROOT, env=build_env)
    env = _env(venv)
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=base, env=env)
    wheels = sorted(dist.glob("*.whl"))
    core = next(w for w in wheels if w.name.startswith("byom_sdk-"))
    others = [str(w) for w in wheels if w != core]
    # Explicit wheel files (never a same-named package from an index), dependencies from PyPI.
    args = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--find-links", str(dist)]
    _run([*args, f"byom-sdk[conformance] @ {core.as_uri()}", *others], cwd=base, env=env)
    return venv, dist, env, args


def test_make_dist_builds_a_wheel_and_an_sdist_per_package(installed):
    _, dist, _, _ = installed
    names = {p.name for p in dist.iterdir()}
    for package in _packages():
        stem = package.replace("-", "_")
        assert any(n.startswith(f"{stem}-") and n.endswith(".whl") for n in names), package
        assert any(n.startswith(f"{stem}-") and n.endswith(".tar.gz") for n in names), package


def test_installed_from_wheels_not_from_the_workspace(installed):
    venv, _, env, _ = installed
    python = str(venv / "bin" / "python")
    where = _run([python, "-c", "import byom_sdk; print(byom_sdk.__file__)"], cwd=venv, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    listing = _run([_uv(), "pip", "list", "--python", python, "--format", "json"], cwd=venv, env=env).stdout
    editable = [p["name"] for p in json.loads(listing) if p.get("editable_project_location")]
    assert editable == []


def test_dist_covers_every_plugin():
    folders = {p.name for p in (*ROOT.glob("plugins/byom-*"), *ROOT.glob("contrib/byom-*")) if p.is_dir()}
    assert set(_packages()) == {"byom-sdk", *folders}


def test_byom_plugins_lists_every_plugin(installed):
    venv, _, env, _ = installed
    data = json.loads(_run([str(venv / "bin" / "byom"), "plugins", "--json"], cwd=venv, env=env).stdout)
    assert data["failures"] == []
    loaded = {p["distribution"]: p for p in data["plugins"]}
    for package in _packages():
        assert package in loaded, sorted(loaded)
        assert loaded[package]["version"] == data["core_version"] == "0.1.0"
    providers = {provider for p in data["plugins"] for provider in p["providers"]}
    assert {"onnx", "sagemaker", "vertex", "openai-compat", "scripted"} <= providers


def test_template_copied_out_of_the_repository_installs_and_passes_conformance(installed, tmp_path):
    venv, _, env, install = installed
    plugin = tmp_path / "byom-acme"
    shutil.copytree(ROOT / "contrib" / "_template", plugin, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([*install, f"{plugin}[testing]"], cwd=tmp_path, env=env)
    report = tmp_path / "conformance.json"
    python = str(venv / "bin" / "python")
    _run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", f"--byom-conformance-report={report}"],
        cwd=plugin,
        env=env,
    )
    subject = json.loads(report.read_text())["subjects"][0]
    assert subject["conformant"] and subject["summary"]["passed"] > 20
    assert subject["plugin"]["distribution"] == "byom-template" and subject["plugin"]["entry_point"] == "template-echo"

    (tmp_path / "byom.toml").write_text('[models.echo]\nprovider = "template-echo"\n')
    byom = str(venv / "bin" / "byom")
    models = json.loads(_run([byom, "models", "--check", "--json"], cwd=tmp_path, env=env).stdout)
    assert models["broken"] == [] and models["models"][0]["checks"]["build"] == "ok"
    ran = json.loads(_run([byom, "conformance", "echo", "--json"], cwd=tmp_path, env=env).stdout)
    assert ran["totals"]["failed"] == 0 and ran["subjects"][0]["conformant"]
