"""Both languages say the same things: same keys, same placeholders."""

from __future__ import annotations

import string

import pytest

from materials_ai.errors import ConfigError
from materials_ai.report import i18n


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_is_translated_with_the_same_placeholders() -> None:
    assert set(i18n.EN) == set(i18n.ES)
    for key in i18n.EN:
        assert _fields(i18n.EN[key]) == _fields(i18n.ES[key]), key
    for table in (i18n.MEASURED_DESCRIPTIONS, i18n.TARGET_NAMES):
        assert set(table["en"]) == set(table["es"])


def test_translator_and_labels() -> None:
    es = i18n.translator("es")
    assert es("targets_found_of", found=3, total=19) == "3 de 19 en el banco"
    assert i18n.translator("en")("sec_summary") == "Campaign summary"
    assert i18n.target_label("band_gap", "es") == "banda prohibida"
    assert i18n.target_label("unknown_target", "es") == "unknown_target"
    assert i18n.crystal_system_label("orthorhombic", "es") == "ortorrómbico"
    assert i18n.crystal_system_label("orthorhombic", "en") == "orthorhombic"
    with pytest.raises(ConfigError, match="unsupported language 'pt'"):
        i18n.translator("pt")
