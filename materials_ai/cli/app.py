"""The ``materials-ai`` command.

Commands only parse arguments, call library functions and print results; anything
worth testing lives in the library. Heavy imports happen inside the commands so that
``materials-ai --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from materials_ai.cli.benchmark import benchmark_app
from materials_ai.cli.campaign import campaign_app, report_app
from materials_ai.cli.common import console, err_console
from materials_ai.cli.datasets import datasets_app
from materials_ai.cli.models import models_app
from materials_ai.errors import MaterialsAIError

app = typer.Typer(
    name="materials-ai",
    help="AI-driven discovery of semiconductor materials.",
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
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except MaterialsAIError as error:  # pragma: no cover - commands catch their own
        err_console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)
