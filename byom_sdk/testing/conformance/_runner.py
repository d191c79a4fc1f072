"""Run the suite against any model factory, outside a plugin's own test tree.

This is what ``byom conformance ALIAS`` calls: it generates a throw-away test module with
a :class:`ModelConformance` subclass whose ``make_model`` calls the factory (and whose
scenarios come from a :class:`ConformanceProfile`), and runs pytest on it in-process with
the conformance plugin and none of the caller's configuration.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._profile import ConformanceProfile

if TYPE_CHECKING:
    from ..._provider import Provider

__all__ = ["run_conformance"]

ModelFactory = Callable[[], "Provider"]
FaultyFactory = Callable[[str], "Provider | None"]

#: token → (factory, profile, expected failures); read by the generated module.
_SUBJECTS: dict[str, tuple[ModelFactory, ConformanceProfile, dict[str, str]]] = {}

_MODULE = """\
from byom_sdk.testing.conformance import ModelConformance
from byom_sdk.testing.conformance._runner import _SUBJECTS

_factory, _profile, _expected = _SUBJECTS[{token!r}]


class {name}(ModelConformance):
    expected_failures = _expected
    slow_seconds = _profile.slow_seconds
    throttled_retry_after = _profile.throttled_retry_after

    def make_model(self):
        return _factory()

    def make_faulty_model(self, fault):
        return _profile.faulty_model(fault) if _profile.faulty_model is not None else None

    def make_slow_model(self):
        return _profile.slow_model() if _profile.slow_model is not None else None

    def tool_request(self, model):
        return _profile.tool_request(model) if _profile.tool_request is not None else None

    def make_unreachable_model(self):
        return _profile.unreachable_model() if _profile.unreachable_model is not None else None

    def make_broken_stream_model(self):
        return _profile.broken_stream_model() if _profile.broken_stream_model is not None else None

    def fault_requests(self, fault):
        return _profile.fault_requests(fault) if _profile.fault_requests is not None else None
"""


def run_conformance(
    model_factory: ModelFactory,
    *,
    report_path: str | Path | None = None,
    faulty_model_factory: FaultyFactory | None = None,
    expected_failures: Mapping[str, str] | None = None,
    preview: bool = False,
    name: str = "model",
    pytest_args: Sequence[str] = (),
    profile: ConformanceProfile | None = None,
) -> int:
    """Run :class:`ModelConformance` on the models ``model_factory()`` builds.

    :param model_factory: returns a fresh plugin model (not a ``ManagedModel``) per call.
    :param report_path: write the JSON report there (``None``: no report, whatever
        ``$BYOM_CONFORMANCE_REPORT`` says).
    :param faulty_model_factory: ``fault -> Provider | None`` for the ``errors.*`` checks;
        without it they are skipped with a reason.
    :param expected_failures: ``{check_id: reason}`` applied as strict xfail.
    :param preview: also run the preview group.
    :param name: shown in test ids (e.g. the model alias).
    :param pytest_args: extra pytest arguments (``-x``, ``-k generate``...).
    :param profile: the plugin's scenarios and known limitations (see
        :func:`conformance_profile`); its ``cleanup`` is not called here.
    :returns: pytest's exit code: 0 when every check passed, was skipped or xfailed.
    """
    import pytest

    profile = profile or ConformanceProfile()
    if faulty_model_factory is not None:
        profile = dataclasses.replace(profile, faulty_model=faulty_model_factory)
    expected = {**profile.known_limitations, **(expected_failures or {})}
    token = uuid.uuid4().hex[:12]
    cls_name = "TestConformance_" + "".join(c if c.isalnum() else "_" for c in name)
    _SUBJECTS[token] = (model_factory, profile, expected)
    try:
        with tempfile.TemporaryDirectory(prefix="byom-conformance-") as tmp:
            folder = Path(tmp)
            module = folder / f"test_byom_conformance_{token}.py"
            module.write_text(_MODULE.format(token=token, name=cls_name), encoding="utf-8")
            ini = folder / "pytest.ini"
            ini.write_text("[pytest]\n", encoding="utf-8")
            args = [
                str(module),
                "-c",
                str(ini),
                "--rootdir",
                str(folder),
                "--confcutdir",
                str(folder),
                "--import-mode=importlib",
                "-p",
                "byom_sdk.testing.plugin",
                "-p",
                "no:cacheprovider",
                # The suite runs its async checks in asyncio.run(); it needs no async plugin.
                "-p",
                "no:asyncio",
                "-rfEsxX",
            ]
            # Explicit either way, so $BYOM_CONFORMANCE_REPORT of a surrounding CI run is not
            # overwritten by this nested run.
            args.append(f"--byom-conformance-report={Path(report_path).resolve() if report_path else ''}")
            if preview:
                args.append("--byom-conformance-preview")
            args.extend(pytest_args)
            return int(pytest.main(args))
    finally:
        _SUBJECTS.pop(token, None)
