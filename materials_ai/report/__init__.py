"""Outputs people read: ranked candidate lists, CIF bundles, the HTML report, lab bundles.

* :mod:`~materials_ai.report.ranked`: ranked candidate lists (CSV + JSON) and CIFs;
* :mod:`~materials_ai.report.html`: the self-contained HTML campaign report;
* :mod:`~materials_ai.report.bundle`: the lab hand-off bundle;
* :mod:`~materials_ai.report.analysis`: the numbers behind the report's plots;
* :mod:`~materials_ai.report.i18n`: English and Spanish strings.
"""

from __future__ import annotations

from materials_ai.report.ranked import RankedList, build_ranked_list, write_ranked_list

__all__ = [
    "RankedList",
    "build_ranked_list",
    "write_bundle",
    "write_ranked_list",
    "write_report",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """``write_report`` and ``write_bundle``, imported on first use (they pull in more)."""
    if name == "write_report":
        from materials_ai.report.html import write_report

        return write_report
    if name == "write_bundle":
        from materials_ai.report.bundle import write_bundle

        return write_bundle
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
