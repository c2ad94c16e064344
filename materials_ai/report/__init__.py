"""Outputs people read: ranked candidate lists and CIF bundles."""

from __future__ import annotations

from materials_ai.report.ranked import RankedList, build_ranked_list, write_ranked_list

__all__ = ["RankedList", "build_ranked_list", "write_ranked_list"]
