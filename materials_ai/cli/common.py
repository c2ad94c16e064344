"""Consoles, exit codes and option types shared by every command module.

Exit codes (``materials-ai --help`` lists them):

=====  ===================================================================================
0      success
1      the work failed (training, validation, a check, some inputs or rows rejected)
2      usage error or unusable input (bad option or argument, invalid workflow or data
       file, a run directory that cannot be used as asked)
130    stopped by Ctrl-C (SIGINT); 143: stopped by SIGTERM (a campaign prints how to
       resume)
=====  ===================================================================================
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.console import Console

from materials_ai.errors import (
    CampaignError,
    ConfigError,
    DataError,
    GraphConstructionError,
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

#: Exit code of a command that did its work.
EXIT_OK = 0
#: Exit code of a command whose work failed.
EXIT_FAILED = 1
#: Exit code of a usage error or an unusable input (click's own code for usage errors).
EXIT_USAGE = 2

#: The exit codes, as ``materials-ai --help`` states them.
EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 the work failed (training, validation, a check, or some "
    "inputs or rows rejected); 2 usage error or unusable input (bad option, invalid "
    "workflow or data file, unusable run directory); 130 stopped by Ctrl-C, 143 by "
    "SIGTERM (a campaign prints its resume command)."
)

#: Errors that mean the input cannot be used as given (exit code 2).
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    DataError,
    CampaignError,
    GraphConstructionError,
    ValueError,
    OSError,
)

#: Languages of the documents (report, lab README); the same as
#: ``materials_ai.report.i18n.LANGUAGES`` (a test checks), kept here so ``--help`` stays fast.
LANGUAGES = ("en", "es")


def exit_code_for(error: Exception) -> int:
    """2 for an error in what the user gave (``INPUT_ERRORS``), 1 for work that failed."""
    return EXIT_USAGE if isinstance(error, INPUT_ERRORS) else EXIT_FAILED


def fail(error: Exception, code: int | None = None) -> NoReturn:
    """Print ``error`` as one line and exit.

    Args:
        error: What went wrong.
        code: The exit code (default: :func:`exit_code_for` the error).
    """
    err_console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(code=exit_code_for(error) if code is None else code)


def parse_language(value: str) -> str:
    """``--lang``: one of :data:`LANGUAGES` (any case); another value is a usage error
    (exit code 2) that lists them."""
    if value.lower() in LANGUAGES:
        return value.lower()
    raise typer.BadParameter(
        f"unsupported language {value!r}; choose one of: {', '.join(LANGUAGES)}"
    )


def lang_option(help_text: str = "Language of the documents") -> Any:
    """A ``--lang`` option that lists :data:`LANGUAGES` in ``--help`` and refuses others."""
    return typer.Option(
        "--lang",
        parser=parse_language,
        metavar="[" + "|".join(LANGUAGES) + "]",
        help=f"{help_text}: {', '.join(LANGUAGES)}.",
    )
