"""Consoles and the error exit shared by every command module."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(error: Exception) -> None:
    """Print ``error`` as one line and exit with code 2."""
    err_console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(code=2)
