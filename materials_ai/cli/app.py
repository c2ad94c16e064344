"""The ``materials-ai`` command.

Commands only parse arguments, call library functions and print results; anything
worth testing lives in the library. Heavy imports happen inside the commands so that
``materials-ai --help`` answers at once.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, TextIO

import typer

from materials_ai.cli.benchmark import benchmark_app
from materials_ai.cli.campaign import campaign_app, report_app
from materials_ai.cli.common import EXIT_CODES_HELP, EXIT_USAGE, console, err_console
from materials_ai.cli.datasets import datasets_app
from materials_ai.cli.models import models_app
from materials_ai.errors import MaterialsAIError

app = typer.Typer(
    name="materials-ai",
    help="AI-driven discovery of semiconductor materials.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(campaign_app, name="campaign")
app.add_typer(datasets_app, name="datasets")
app.add_typer(benchmark_app, name="benchmark")
app.add_typer(models_app)
app.add_typer(report_app)


def _version() -> str:
    """The installed distribution's version; ``materials_ai.__version__`` without metadata."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("materials-ai")
    except PackageNotFoundError:  # e.g. run from a source tree that is not installed
        from materials_ai import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        console.print(f"materials-ai {_version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    configure_logging(verbose)


#: Libraries whose INFO messages (MLflow creating its tables, alembic migrations, Dask
#: start-up) are noise next to the progress display: warnings only, even with --verbose.
QUIET_LOGGERS = ("mlflow", "alembic", "sqlalchemy", "distributed", "urllib3", "httpx")


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each message, so that while a progress bar is
    shown (Rich redirects ``sys.stderr``) log lines are printed above the bar."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # the base class assigns it; always stderr
        pass


def configure_logging(verbose: bool) -> None:
    """Warnings on standard error; with ``verbose`` also materials-ai's INFO messages.

    Third-party loggers (:data:`QUIET_LOGGERS`) stay at WARNING, and MLflow is told so
    through ``MLFLOW_LOGGING_LEVEL`` (it configures its own loggers when imported) unless
    that variable is set already.
    """
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    root = logging.getLogger()
    if not any(isinstance(h, _CurrentStderrHandler) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    # The root logger keeps its level (WARNING unless a host application changed it).
    logging.getLogger("materials_ai").setLevel(logging.INFO if verbose else logging.NOTSET)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MaterialsAIError as error:  # pragma: no cover - commands catch their own
        err_console.print(f"[bold red]error:[/] {error}")
        sys.exit(EXIT_USAGE)
