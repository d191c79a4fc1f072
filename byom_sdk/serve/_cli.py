"""``byom serve``: the models of a byom.toml behind the OpenAI API, the LLM Open Connector,
and the SageMaker / Vertex container contracts.

Inside a container the platform runs ``docker run IMAGE serve``; with ``ENTRYPOINT
["byom"]`` that is this command, configured by environment (``BYOM_CONFIG``,
``BYOM_SERVE_PROFILE``, ``BYOM_SERVE_HOST``) and listening on the platform's port
(``SAGEMAKER_BIND_TO_PORT`` / ``AIP_HTTP_PORT``, else 8080).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

import click

from .._redact import RedactRecords
from ..trust._residency._hosts import redact_url

__all__ = ["serve"]

_PROFILE_CHOICES = ("openai", "open-connector", "sagemaker", "vertex", "all")


class _MissingExtra(click.ClickException):
    exit_code = 5  # the CLI's code for a missing optional dependency


def _split(values: Sequence[str]) -> list[str]:
    return [name for value in values for name in value.replace(",", " ").split()]


_URL_IN_LOG = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


class _RedactUrls(logging.Filter):
    """Client libraries log the URLs they call (httpx at INFO): user info and query values
    in them are credentials, so every URL in a record is redacted before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _URL_IN_LOG.sub(lambda match: redact_url(match.group(0)), message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_logged_urls() -> None:
    """Put :class:`_RedactUrls` on every handler the serve command's logging uses."""
    loggers = [
        logging.getLogger(),
        *(logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, _RedactUrls) for f in handler.filters):
                handler.addFilter(_RedactUrls())
            # The access log prints the request's path with its query and no scheme
            # ("GET /v1/models?api_key=..."), which only redact()'s query rule catches.
            if not any(isinstance(f, RedactRecords) for f in handler.filters):
                handler.addFilter(RedactRecords())


@click.command("serve")
@click.argument("aliases", nargs=-1, metavar="[ALIAS]...")
@click.option("--config", "-c", "config", default=None, help="The byom.toml (default: the global --config).")
@click.option("--host", envvar="BYOM_SERVE_HOST", default=None, help="Interface to bind ([serve] host, 127.0.0.1).")
@click.option(
    "--port",
    envvar="BYOM_SERVE_PORT",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port ([serve] port, 8080); SAGEMAKER_BIND_TO_PORT / AIP_HTTP_PORT win for their profiles.",
)
@click.option(
    "--profile",
    "profiles",
    envvar="BYOM_SERVE_PROFILE",
    multiple=True,
    help=f"Protocols to serve: {', '.join(_PROFILE_CHOICES)} (repeat or comma-separate).",
)
@click.option("--models", "models", envvar="BYOM_SERVE_MODELS", multiple=True, help="Aliases to serve (default: all).")
@click.option("--log-level", default="info", type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
@click.pass_context
def serve(
    ctx: click.Context,
    aliases: Sequence[str],
    config: str | None,
    host: str | None,
    port: int | None,
    profiles: Sequence[str],
    models: Sequence[str],
    log_level: str,
    access_log: bool,
) -> None:
    """Serve models over HTTP: OpenAI, LLM Open Connector, SageMaker, Vertex.

    Every request runs through the configured trust policy (gate, masking, scoring,
    audit with the caller's tenant). Stop with SIGTERM or Ctrl-C: requests and streams
    in flight finish first (up to [serve] drain_timeout).
    """
    try:
        import starlette  # noqa: F401 - checked here so the message can name the extra
        import uvicorn.config
    except ImportError as exc:
        raise _MissingExtra(f"byom serve needs the serve extra: pip install 'byom-sdk[serve]' ({exc})") from None

    from byom_sdk import Client

    from ._app import create_app
    from ._server import bind, make_server, uvicorn_config
    from ._settings import expand_profiles, load_settings, resolve_port

    path = config or getattr(ctx.obj, "config", None) or os.environ.get("BYOM_CONFIG") or "byom.toml"
    settings = load_settings(path)
    chosen = expand_profiles(_split(profiles) or settings.profile)
    served = _split(models) + list(aliases) or list(settings.models)
    client = Client.from_config(path, only=served or None)
    try:
        app = create_app(client, profile=chosen, models=served or None, settings=settings)
        bind_host = host or settings.host
        bind_port = resolve_port(chosen, port, settings, os.environ)
        try:
            sock = bind(bind_host, bind_port)
        except OSError as exc:  # in use, not an address of this machine, no such host
            shown_host = f"[{bind_host}]" if ":" in bind_host else bind_host
            raise click.ClickException(
                f"byom serve cannot listen on {shown_host}:{bind_port}: {exc.strerror or exc} (--host / --port, "
                "[serve] host / port)"
            ) from None
        logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
        config_ = uvicorn_config(app, drain_timeout=settings.drain_timeout, log_level=log_level, access_log=access_log)
        config_.log_config = uvicorn.config.LOGGING_CONFIG
        config_.configure_logging()
        redact_logged_urls()
        server = make_server(config_)
        failures: list[BaseException] = []

        def stop_on_load_error(error: BaseException) -> None:
            failures.append(error)
            server.should_exit = True

        app.state.byom.on_load_error = stop_on_load_error
        actual = sock.getsockname()[1]
        shown = f"[{bind_host}]" if ":" in bind_host else bind_host
        click.echo(
            f"byom serve: {', '.join(chosen)} on http://{shown}:{actual} (models: {', '.join(app.state.byom.aliases)})",
            err=True,
        )
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        client.close()
    if failures:
        raise failures[0]
