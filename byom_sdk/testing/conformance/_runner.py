"""Run the suite against any model factory, outside a plugin's own test tree.

This is what ``byom conformance ALIAS`` calls: it generates a throw-away test module with
a :class:`ModelConformance` subclass whose ``make_model`` calls the factory, and runs
pytest on it with the conformance plugin and none of the caller's configuration.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..._provider import Provider

__all__ = ["run_conformance"]

ModelFactory = Callable[[], "Provider"]
FaultyFactory = Callable[[str], "Provider | None"]

#: token → (factory, faulty factory, expected failures); read by the generated module.
_SUBJECTS: dict[str, tuple[ModelFactory, FaultyFactory | None, dict[str, str]]] = {}

_MODULE = """\
from byom_sdk.testing.conformance import ModelConformance
from byom_sdk.testing.conformance._runner import _SUBJECTS

_factory, _faulty, _expected = _SUBJECTS[{token!r}]


class {name}(ModelConformance):
    expected_failures = _expected

    def make_model(self):
        return _factory()

    def make_faulty_model(self, fault):
        return _faulty(fault) if _faulty is not None else None
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
) -> int:
    """Run :class:`ModelConformance` on the models ``model_factory()`` builds.

    :param model_factory: returns a fresh plugin model (not a ``ManagedModel``) per call.
    :param report_path: write the JSON report there (``None``: no report, whatever
        ``$BYOM_CONFORMANCE_REPORT`` says).
    :param faulty_model_factory: ``fault -> Model | None`` for the ``errors.*`` checks;
        without it they are skipped with a reason.
    :param expected_failures: ``{check_id: reason}`` applied as strict xfail.
    :param preview: also run the preview group.
    :param name: shown in test ids (e.g. the model alias).
    :param pytest_args: extra pytest arguments (``-x``, ``-k generate``...).
    :returns: pytest's exit code: 0 when every check passed, was skipped or xfailed.
    """
    import pytest

    token = uuid.uuid4().hex[:12]
    cls_name = "TestConformance_" + "".join(c if c.isalnum() else "_" for c in name)
    _SUBJECTS[token] = (model_factory, faulty_model_factory, dict(expected_failures or {}))
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
