"""Jinja2 templates of the documents people read (``materials_ai/report/templates/``).

HTML templates (``*.html.j2``) are autoescaped: a value from a run (a candidate id, a
campaign name, a lab's note) is always text, never markup. Text templates (``*.txt.j2``,
the lab README) are not escaped. Undefined variables raise, so a template and the code
that fills it cannot drift apart silently.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

#: Folder of the templates (shipped as package data).
TEMPLATE_DIR = Path(__file__).with_name("templates")


@functools.cache
def environment() -> Environment:
    """The shared template environment (autoescaping on for HTML)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=True, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` (a file in :data:`TEMPLATE_DIR`) with ``context``."""
    return environment().get_template(name).render(**context)
