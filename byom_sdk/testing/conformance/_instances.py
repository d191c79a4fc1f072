"""Checks added in suite 2.8 for state a plugin shares where it must not, and a boundary
that names another place than the one the data goes to.

Applications build several providers of one plugin (an alias per region, a fallback
endpoint, a fresh provider after a reload) and close them independently; the trust gate
admits a call by the boundary's host, so that host must be where the client connects.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from ..._errors import ByomError
from ..._provider import Provider
from ._core import FAULTS, check, plugin_label
from ._network import recording_destinations
from ._subject import ModelSubject, collect

__all__ = ["InstanceChecks"]

#: faults tried, in order, for a provider that must fail after another answered the same request.
_FAILING = ("bad_request", "auth", "unavailable", "model_error", "throttled")
_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
_DEFAULT_PORTS = {"https": 443, "http": 80, "grpcs": 443, "wss": 443, "ws": 80}


def _host_port(host: str, endpoint: str | None) -> tuple[str, int | None]:
    """``Boundary.host`` (``host[:port]``, ``[v6]:port``) as a lower-case name and a port,
    the port defaulting to the endpoint scheme's (None when neither says)."""
    parts = urlsplit("//" + host)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None and endpoint:
        port = _DEFAULT_PORTS.get(endpoint.split(":", 1)[0].lower())
    return (parts.hostname or host).lower(), port


class InstanceChecks(ModelSubject):
    """Two providers of the plugin never act on each other's state, and the boundary names
    the host the provider really connects to."""

    @check("isolation.instances")
    def test_isolation_instances(self) -> None:
        """Providers of the plugin are independent: closing one leaves another (built before
        or after it) answering every operation, and a provider that must fail (a fault
        scenario) fails even when another provider has just answered the same request.

        A module-level client shared per endpoint and closed by ``close()``, or an answer
        cache keyed by the request alone (not by the provider), passes every one-provider
        check. Fix: keep clients, caches and counters on the instance; a shared pool is
        closed only by its last user.
        """
        first, second = self.make_model(), self.make_model()
        label = plugin_label(first)
        problems: list[str] = []
        try:
            generating = first.info.capabilities.generate or first.info.capabilities.chat
            if generating:
                first.generate(self.reference(first))
                problems += self._fails_after_answer(first)
            first.close()
            third = self.make_model()
            try:
                for which, model in (("a provider built before", second), ("a provider built after", third)):
                    for name, operation in self.operations(model).items():
                        try:
                            operation(model)
                        except Exception as exc:  # noqa: BLE001 - any failure is the finding.
                            problems.append(
                                f"{which} another provider's close(): {name} raised {type(exc).__name__}: {exc}"
                            )
            finally:
                third.close()
        finally:
            first.close()
            second.close()
        assert not problems, f"{label}: " + "; ".join(problems[:4])

    def _fails_after_answer(self, model: Provider) -> list[str]:
        """The first fault scenario offered, called with the request ``model`` just answered:
        it must raise (an answer comes from state shared with ``model``)."""
        for fault in _FAILING:
            if fault not in FAULTS:
                continue
            faulty = self.faulty(fault)
            if faulty is None:
                continue
            try:
                faulty.generate(self.reference(faulty))
            except ByomError:
                return []
            except Exception:  # noqa: BLE001 - raw errors are the errors.* checks' finding.
                return []
            else:
                return [
                    f"the {fault!r} fault scenario answered a request another provider had just answered: "
                    "the answer came from state the providers share (a module-level cache or client)"
                ]
            finally:
                faulty.close()
        return []

    @check("info.boundary_host")
    def test_info_boundary_host(self) -> None:
        """The boundary's ``host`` is a destination the provider really uses: during a
        generate (or embed) of a fresh provider, the host is looked up or connected to, on
        its port.

        The trust gate admits or refuses a call by ``Boundary.host`` (from ``endpoint``); a
        boundary built from a documented or default endpoint while the client talks to the
        configured one lets data go where no policy looked. Fix: build the boundary from
        the URL the client is created with. Skipped for in-process models, without a host,
        behind a proxy variable, or when the client opens no Python-level socket (gRPC).
        """
        model = self.make_model()
        label = plugin_label(model)
        try:
            boundary = model.info.boundary
            if boundary.location_kind == "process" or not boundary.host:
                pytest.skip(f"{label}: the boundary names no host (in-process model)")
            if (boundary.endpoint or "").lower().startswith(("grpc://", "grpcs://")):
                # gRPC connects in C, unseen; a connection seen meanwhile is someone else's
                # (a local stand-in server forwarding to its container, say), not the client's.
                pytest.skip(f"{label}: a gRPC client opens no Python-level socket")
            caps = model.info.capabilities
            with recording_destinations() as seen:
                if caps.generate or caps.chat:
                    reply = model.stream(self.reference(model)) if caps.stream else None
                    if reply is not None:
                        collect(reply)
                    else:
                        model.generate(self.reference(model))
                elif caps.embed:
                    model.embed(self.embed_request())
                else:
                    pytest.skip(f"{label}: no generating or embedding capability to exercise")
        finally:
            model.close()
        if not seen:
            pytest.skip(f"{label}: no Python-level name lookup or connect seen (a native client)")
        host, port = _host_port(boundary.host, boundary.endpoint)
        if any(name == host and (port is None or used is None or used == port) for name, used in seen):
            return
        if any(os.environ.get(name) for name in _PROXY_VARIABLES):
            pytest.skip(f"{label}: a proxy variable is set; the client connects to the proxy")
        used = sorted({f"{name}:{number}" if number is not None else name for name, number in seen})
        raise AssertionError(
            f"{label}: boundary.host is {boundary.host!r} (endpoint {boundary.endpoint!r}), but the provider "
            f"looked up or connected to {used[:6]} only: the trust gate judges a host the data does not go to"
        )
