"""Find dataset cards and the data files they describe.

Cards live in the cards directory (``datasets/`` of the checkout, or
``MATERIALS_AI_CARDS_DIR``); data files live under the data directory
(``MATERIALS_AI_DATA_DIR``). Nothing here touches the network: a missing file is an
error that says where the file was expected and where to obtain it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from materials_ai import settings
from materials_ai.data.cards import DatasetCard, load_card
from materials_ai.errors import (
    ChecksumMismatchError,
    ConfigError,
    DataError,
    DatasetNotFoundError,
)

__all__ = [
    "dataset_path",
    "get_card",
    "list_cards",
    "sha256_file",
    "verify_checksum",
]

_CARD_SUFFIXES = (".yaml", ".yml")
_CHUNK_BYTES = 1 << 20


def _card_files(cards_dir: Path) -> list[Path]:
    if not cards_dir.is_dir():
        raise DatasetNotFoundError(
            f"Dataset cards folder {cards_dir} does not exist (set {settings.CARDS_DIR_ENV} "
            "or pass cards_dir)."
        )
    return sorted(p for p in cards_dir.iterdir() if p.suffix in _CARD_SUFFIXES and p.is_file())


def list_cards(cards_dir: str | Path | None = None) -> list[DatasetCard]:
    """Load every card in the cards directory, sorted by name.

    Args:
        cards_dir: Folder of ``*.yaml`` cards; default :func:`materials_ai.settings.cards_dir`.

    Raises:
        DatasetNotFoundError: If the folder does not exist.
        ConfigError: If a card is invalid or two cards share a name.
    """
    folder = settings.cards_dir(cards_dir)
    cards: dict[str, tuple[DatasetCard, Path]] = {}
    for path in _card_files(folder):
        card = load_card(path)
        if card.name in cards:
            raise ConfigError(
                f"Dataset name {card.name!r} is used by two cards: "
                f"{cards[card.name][1]} and {path}."
            )
        cards[card.name] = (card, path)
    return [cards[name][0] for name in sorted(cards)]


def get_card(name: str, cards_dir: str | Path | None = None) -> DatasetCard:
    """Return the card called ``name``.

    Args:
        name: Dataset name as on its card (e.g. ``castelli_perovskites``).
        cards_dir: Folder of cards; default :func:`materials_ai.settings.cards_dir`.

    Raises:
        DatasetNotFoundError: If no card has that name; the message lists the known names.
    """
    cards = list_cards(cards_dir)
    for card in cards:
        if card.name == name:
            return card
    known = ", ".join(card.name for card in cards) or "none"
    raise DatasetNotFoundError(
        f"No dataset card named {name!r} in {settings.cards_dir(cards_dir)}; known datasets: "
        f"{known}."
    )


def _describe_data_dir(data_dir: str | Path | None) -> str:
    if data_dir is not None:
        return f"data_dir={data_dir!s} (given explicitly; {settings.DATA_DIR_ENV} not used)"
    value = os.environ.get(settings.DATA_DIR_ENV)
    return f"{settings.DATA_DIR_ENV}={value}" if value else f"{settings.DATA_DIR_ENV} is not set"


def dataset_path(
    card: DatasetCard, data_dir: str | Path | None = None, *, must_exist: bool = True
) -> Path:
    """Return the absolute path of a card's data file.

    Args:
        card: The dataset card.
        data_dir: Data directory; default ``MATERIALS_AI_DATA_DIR``.
        must_exist: Raise if the file is not there.

    Raises:
        DatasetNotFoundError: If no data directory is configured, or the file is missing
            (and ``must_exist``); the message names the expected path, the
            ``MATERIALS_AI_DATA_DIR`` setting and the card's upstream source.
    """
    hint = (
        f"Obtain {card.file!r} from: {card.source_summary()}; see datasets/README.md for the "
        "expected folder layout."
    )
    try:
        root = settings.data_dir(data_dir)
    except DataError as exc:
        raise DatasetNotFoundError(f"Dataset {card.name!r}: {exc} {hint}") from exc
    path = root / Path(*card.file.split("/"))
    if must_exist and not path.is_file():
        raise DatasetNotFoundError(
            f"Dataset {card.name!r}: file {path} not found ({_describe_data_dir(data_dir)}). "
            + hint
        )
    return path


def sha256_file(path: str | Path) -> str:
    """Return the lower-case hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checksum(card: DatasetCard, data_dir: str | Path | None = None) -> Path:
    """Check that a card's data file has the card's sha256, and return its path.

    Args:
        card: The dataset card.
        data_dir: Data directory; default ``MATERIALS_AI_DATA_DIR``.

    Raises:
        DatasetNotFoundError: If the file is missing (see :func:`dataset_path`).
        ChecksumMismatchError: Naming the file, the expected and the actual sha256.
    """
    path = dataset_path(card, data_dir)
    actual = sha256_file(path)
    if actual != card.sha256:
        raise ChecksumMismatchError(
            f"Dataset {card.name!r}: {path} has sha256 {actual}, but its card expects "
            f"{card.sha256}. The file is corrupt or a different version; obtain it again from "
            f"{card.source_summary()}, or update the card if the change is intended."
        )
    return path
