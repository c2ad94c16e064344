"""``python -m materials_ai``: the same command as the ``materials-ai`` script."""

from __future__ import annotations

from materials_ai.cli.app import main

if __name__ == "__main__":
    main()
