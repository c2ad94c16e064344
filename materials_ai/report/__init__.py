"""Outputs people read: ranked candidate lists, CIFs, the HTML report and its plots.

* :mod:`~materials_ai.report.ranked`: ranked candidate lists (CSV + JSON) and CIFs;
* :mod:`~materials_ai.report.html`: the self-contained HTML campaign report;
* :mod:`~materials_ai.report.analysis`: the numbers behind the report's plots;
* :mod:`~materials_ai.report.structures`: structure summaries, symmetrised CIFs, molfiles;
* :mod:`~materials_ai.report.i18n`: English and Spanish strings.

The report only renders: it reads run directories through
:mod:`materials_ai.campaign.inspect`. The lab hand-off bundle is :mod:`materials_ai.lab`.
"""

from __future__ import annotations

from materials_ai.report.ranked import RankedList, build_ranked_list, write_ranked_list

__all__ = [
    "RankedList",
    "build_ranked_list",
    "write_ranked_list",
    "write_report",
]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    """``write_report``, imported on first use (it pulls in more)."""
    if name == "write_report":
        from materials_ai.report.html import write_report

        return write_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
