"""``BoundaryConformance``: the declared boundary matches the configuration it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..._types import Boundary
from ._core import Conformance, check, plugin_label

if TYPE_CHECKING:
    from ..._provider import Provider

__all__ = ["BoundaryConformance"]

_FIELDS = ("provider", "location_kind", "region", "network_path", "endpoint", "tls", "retention")


class BoundaryConformance(Conformance):
    """Checks that a model's ``info.boundary`` tells the truth about its configuration.

    The trust policy gates every call on this boundary, so a plugin that reports the wrong
    region or endpoint defeats it. Subclass, build the model from a known config and say
    what the boundary must be::

        class TestBoundary(BoundaryConformance):
            def make_model(self):
                return MyModel(MyConfig(endpoint="https://eu.example/v1", region="eu-west-1"))

            def expected_boundary(self):
                return {"location_kind": "customer-cloud", "region": "eu-west-1",
                        "endpoint": "https://eu.example/v1", "tls": True}

    Only the fields given are compared; attestations are compared by name (``value`` and
    ``ok``).
    """

    def make_model(self) -> Provider:
        """Build the model under test from a known configuration (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_model(self) -> Provider")

    def expected_boundary(self) -> Boundary | Mapping[str, Any]:
        """The boundary the configuration implies: a ``Boundary`` or a mapping of the fields
        to compare (required)."""
        raise NotImplementedError(f"{type(self).__name__} must implement expected_boundary(self)")

    def _expected(self) -> dict[str, Any]:
        expected = self.expected_boundary()
        if isinstance(expected, Boundary):
            return {name: getattr(expected, name) for name in (*_FIELDS, "attestations")}
        return dict(expected)

    @check("boundary.declared")
    def test_boundary_declared(self, byom_model: Provider) -> None:
        """The model declares a ``Boundary`` with provider and location kind, stable across reads.

        Fix: build the ``Boundary`` from config in ``__init__`` and return it in ``info``.
        """
        boundary = byom_model.info.boundary
        assert isinstance(boundary, Boundary), f"info.boundary is {type(boundary).__name__}"
        assert boundary.provider.strip(), "boundary.provider is empty"
        assert byom_model.info.boundary == boundary, "boundary changes between two reads"

    @check("boundary.matches_config")
    def test_boundary_matches_config(self, byom_model: Provider) -> None:
        """Every field of ``expected_boundary()`` equals the model's declared boundary.

        Fix: derive region, endpoint, TLS and retention from the config the model was
        built with (not from defaults or the environment).
        """
        boundary = byom_model.info.boundary
        problems = []
        for name, want in self._expected().items():
            if name == "attestations":
                continue
            if name not in _FIELDS:
                problems.append(f"expected_boundary() names unknown field {name!r}")
                continue
            got = getattr(boundary, name)
            if got != want:
                problems.append(f"{name}: declared {got!r}, config implies {want!r}")
        assert not problems, f"{plugin_label(byom_model)} boundary: " + "; ".join(problems)

    @check("boundary.attestations")
    def test_boundary_attestations(self, byom_model: Provider) -> None:
        """Expected attestations are present with the expected value and ``ok`` flag.

        Fix: read the fact back from the control plane and record it as an ``Attestation``
        with its source.
        """
        expected = self._expected().get("attestations") or ()
        boundary = byom_model.info.boundary
        problems = []
        for item in expected:
            want = item if isinstance(item, Mapping) else item.model_dump()
            got = boundary.attestation(want["name"])
            if got is None:
                problems.append(f"attestation {want['name']!r} missing")
                continue
            for key in ("value", "ok"):
                if key in want and getattr(got, key) != want[key]:
                    problems.append(f"attestation {want['name']!r}.{key}: {getattr(got, key)!r} != {want[key]!r}")
        names = [a.name for a in boundary.attestations]
        if len(set(names)) != len(names):
            problems.append(f"duplicate attestation names {names}")
        assert not problems, f"{plugin_label(byom_model)}: " + "; ".join(problems)
