"""Rebuild the grouped splits shipped in ``datasets/splits/`` (byte-identical for a seed).

* ``castelli_perovskites/grouped_cation_pair_5fold_seed0``: 5 folds, no unordered cation
  pair {A, B} in two folds;
* ``mp2018/grouped_chemsys_80_10_10_seed0``: 80/10/10 train/val/test, no chemical system in
  two parts.

The recipes are :data:`materials_ai.data.grouped_splits.GROUPED_SPLITS`; the real tables
are read from ``MATERIALS_AI_DATA_DIR``::

    .venv/bin/python benchmarks/make_grouped_splits.py           # rewrite both
    .venv/bin/python benchmarks/make_grouped_splits.py --check   # compare, write nothing
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from collections import Counter
from pathlib import Path

from materials_ai.data.grouped_splits import GROUPED_SPLITS, write_grouped_split
from materials_ai.data.splits import split_dir


def _sizes(folder: Path) -> dict[str, int]:
    return {p.stem: len(p.read_text().splitlines()) for p in sorted(folder.glob("*.txt"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"splits to build (default all: {list(GROUPED_SPLITS)})"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the stored files; write nothing"
    )
    parser.add_argument("--data-dir", default=None, help="default: MATERIALS_AI_DATA_DIR")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(GROUPED_SPLITS))
    if unknown:
        parser.error(f"unknown splits {unknown}; choose from {list(GROUPED_SPLITS)}")
    failed = 0
    for name in args.names or list(GROUPED_SPLITS):
        recipe = GROUPED_SPLITS[name]
        stored = split_dir(recipe.dataset, recipe.name)
        if not args.check:
            out = write_grouped_split(recipe, args.data_dir)
            print(f"wrote {out}: {_sizes(out)}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            fresh = write_grouped_split(recipe, args.data_dir, Path(tmp) / name)
            names = sorted(p.name for p in fresh.glob("*.txt"))
            _, mismatch, errors = filecmp.cmpfiles(stored, fresh, names, shallow=False)
            extra = Counter(p.name for p in stored.glob("*.txt")) - Counter(names)
            ok = not mismatch and not errors and not extra
            failed += not ok
            print(
                f"{stored}: {'identical' if ok else f'DIFFERS {mismatch + errors + list(extra)}'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
