"""``materials-ai datasets ...``: inspect and verify the dataset registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from materials_ai.cli.common import console
from materials_ai.errors import MaterialsAIError

datasets_app = typer.Typer(help="Inspect and verify the dataset registry.", no_args_is_help=True)


@datasets_app.command("list")
def datasets_list() -> None:
    """List the dataset cards."""
    from materials_ai.data.registry import list_cards

    table = Table("name", "rows", "level of theory", "targets", "file")
    for card in list_cards():
        table.add_row(
            card.name, str(card.rows), card.level_of_theory, ", ".join(card.targets), card.file
        )
    console.print(table)


@datasets_app.command("verify")
def datasets_verify(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets (default: all).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder.")] = None,
) -> None:
    """Check that each dataset file exists and matches its card's sha256."""
    from materials_ai.data.registry import get_card, list_cards, verify_checksum

    cards = [get_card(n) for n in names] if names else list_cards()
    failed = False
    for card in cards:
        try:
            path = verify_checksum(card, data_dir)
            console.print(f"[green]ok[/]      {card.name}: {path}")
        except MaterialsAIError as error:
            failed = True
            console.print(f"[red]failed[/]  {card.name}: {error}")
    if failed:
        raise typer.Exit(code=1)
