"""The report's figures, drawn with Matplotlib's Agg canvas and returned as PNG bytes.

Figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg canvas, never
through ``pyplot``: no global backend is switched, no window opens, and a notebook's own
backend is left alone. Each function takes the numbers of :mod:`materials_ai.report.analysis`
and a translator for the axis labels.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from materials_ai.report.analysis import (
    COVERAGE_LEVELS,
    DiscoveryCurve,
    OutOfSamplePairs,
    interval_coverage,
    random_search_expectation,
    z_scores,
)

Translate = Callable[..., str]

#: Colours (colour-blind-safe Okabe–Ito palette).
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#777777"
_FIDELITY_STYLE = {"experiment": (VERMILLION, "^")}
DPI = 110


def _figure(width_in: float, height_in: float):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig) -> bytes:  # type: ignore[no-untyped-def]
    """Render a figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,…`` for embedding in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _grid(n: int) -> tuple[int, int]:
    cols = 1 if n == 1 else 2
    return math.ceil(n / cols), cols


def parity_png(
    pairs: Mapping[str, OutOfSamplePairs],
    units: Mapping[str, str],
    labels: Mapping[str, str],
    t: Translate,
) -> bytes:
    """Predicted (at selection time) against observed, one panel per target, ±1 std bars."""
    targets = list(pairs)
    rows, cols = _grid(len(targets))
    fig = _figure(4.2 * cols, 3.8 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, target in zip(axes, targets, strict=False):
        p = pairs[target]
        unit = units.get(target, "")
        fid = np.array(p.fidelity)
        for kind in sorted(set(p.fidelity)):
            sel = fid == kind
            colour, marker = _FIDELITY_STYLE.get(kind, (BLUE, "o"))
            ax.errorbar(
                p.predicted_mean[sel],
                p.observed[sel],
                xerr=np.where(np.isfinite(p.predicted_std[sel]), p.predicted_std[sel], 0.0),
                fmt=marker,
                ms=4,
                alpha=0.75,
                color=colour,
                ecolor=colour,
                elinewidth=0.8,
                label=kind,
            )
        both = np.concatenate([p.predicted_mean, p.observed])
        if both.size:
            lo, hi = float(both.min()), float(both.max())
            pad = 0.05 * (hi - lo) if hi > lo else 0.5
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color=GREY, lw=1, ls="--")
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(t("axis_predicted", target=labels.get(target, target), unit=unit))
        ax.set_ylabel(t("axis_observed", target=labels.get(target, target), unit=unit))
        ax.set_title(f"{labels.get(target, target)} (n = {len(p)})", fontsize=10)
        if len(set(p.fidelity)) > 1:
            ax.legend(fontsize=8)
    for ax in axes[len(targets) :]:
        ax.set_visible(False)
    return figure_png(fig)


def calibration_png(
    pairs: Mapping[str, OutOfSamplePairs], labels: Mapping[str, str], t: Translate
) -> bytes:
    """Observed coverage of central intervals vs nominal, and the histogram of z-scores."""
    from statistics import NormalDist

    fig = _figure(9.0, 3.8)
    ax_cov, ax_z = fig.subplots(1, 2)
    levels = np.array(COVERAGE_LEVELS)
    ax_cov.plot([0, 1], [0, 1], color=GREY, lw=1, ls="--", label=t("legend_ideal"))
    colours = [BLUE, ORANGE, GREEN, VERMILLION, "#CC79A7", "#56B4E9"]
    all_z = []
    for k, (target, p) in enumerate(pairs.items()):
        z = z_scores(p)
        if z.size == 0:
            continue
        all_z.append(z)
        colour = colours[k % len(colours)]
        ax_cov.plot(
            levels,
            interval_coverage(z, COVERAGE_LEVELS),
            marker="o",
            ms=3,
            color=colour,
            label=labels.get(target, target),
        )
        ax_z.hist(
            np.clip(z, -6, 6),
            bins=np.linspace(-6, 6, 37),
            density=True,
            histtype="step",
            color=colour,
            lw=1.2,
            label=labels.get(target, target),
        )
    grid = np.linspace(-6, 6, 241)
    normal = NormalDist()
    ax_z.plot(
        grid, [normal.pdf(float(x)) for x in grid], color="black", lw=1.5, label=t("legend_normal")
    )
    ax_cov.set_xlim(0, 1)
    ax_cov.set_ylim(0, 1.02)
    ax_cov.set_xlabel(t("axis_nominal"))
    ax_cov.set_ylabel(t("axis_coverage"))
    ax_cov.legend(fontsize=8)
    ax_z.set_xlabel(t("axis_z"))
    ax_z.set_ylabel(t("axis_density"))
    ax_z.legend(fontsize=8)
    return figure_png(fig)


def discovery_png(curve: DiscoveryCurve, pool_size: int | None, t: Translate) -> bytes:
    """Hits found against oracle calls, with the random-search expectation ``K c / N``."""
    fig = _figure(6.0, 3.8)
    ax = fig.subplots()
    ax.step(
        curve.oracle_calls,
        curve.targets_found,
        where="post",
        color=BLUE,
        lw=2,
        label=t("legend_campaign"),
    )
    ax.plot(curve.oracle_calls, curve.targets_found, "o", color=BLUE, ms=4)
    top = float(np.nanmax(curve.targets_found)) if curve.targets_found.size else 0.0
    if curve.targets_total is not None and pool_size:
        calls = np.linspace(0, float(curve.oracle_calls.max()), 50)
        expected = random_search_expectation(calls, curve.targets_total, pool_size)
        ax.plot(calls, expected, color=GREY, ls="--", lw=1.5, label=t("legend_random"))
        top = max(top, float(expected.max()))
    # Scale to the curves (the pool's total is in the text): a campaign that found 3 of 19
    # should not be a flat line at the bottom.
    ax.set_ylim(0, 1.25 * top + 1)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(t("axis_calls"))
    ax.set_ylabel(t("axis_found"))
    ax.set_xlim(left=0)
    ax.legend(fontsize=8, loc="upper left")
    return figure_png(fig)


def acquisition_png(
    iterations: Sequence[int], values: Sequence[Sequence[float]], t: Translate
) -> bytes:
    """Acquisition values of the picks per selection round, with the round's median."""
    fig = _figure(6.0, 3.6)
    ax = fig.subplots()
    medians = []
    for it, vals in zip(iterations, values, strict=True):
        v = np.asarray(vals, dtype=np.float64)
        v = v[np.isfinite(v)]
        ax.plot(np.full(v.size, it), v, "o", color=BLUE, alpha=0.5, ms=4)
        medians.append(float(np.median(v)) if v.size else np.nan)
    ax.plot(iterations, medians, color=ORANGE, lw=2, marker="s", ms=4, label=t("legend_median"))
    ax.set_xlabel(t("axis_iteration"))
    ax.set_ylabel(t("axis_acquisition"))
    ax.legend(fontsize=8)
    return figure_png(fig)


def _clip(
    window: tuple[float | None, float | None], limits: tuple[float, float]
) -> tuple[float, float]:
    lo, hi = window
    return (
        max(lo, limits[0]) if lo is not None else limits[0],
        min(hi, limits[1]) if hi is not None else limits[1],
    )


def pareto_png(
    x: np.ndarray,
    y: np.ndarray,
    front: np.ndarray,
    meets_all: np.ndarray,
    x_window: tuple[float | None, float | None],
    y_window: tuple[float | None, float | None],
    x_label: str,
    y_label: str,
    t: Translate,
) -> bytes:
    """Validated values of two targets; criterion windows shaded, the front highlighted."""
    fig = _figure(6.0, 4.4)
    ax = fig.subplots()
    ax.scatter(x, y, s=14, color=GREY, alpha=0.6, label=t("legend_validated"))
    if meets_all.any():
        ax.scatter(
            x[meets_all],
            y[meets_all],
            s=90,
            marker="*",
            color=GREEN,
            zorder=3,
            label=t("legend_meets_all"),
        )
    ax.scatter(
        x[front],
        y[front],
        s=40,
        facecolors="none",
        edgecolors=VERMILLION,
        lw=1.6,
        zorder=4,
        label=t("legend_pareto"),
    )
    if x.size:
        pad_x = 0.05 * (float(x.max() - x.min()) or 1.0)
        pad_y = 0.05 * (float(y.max() - y.min()) or 1.0)
        x_lim = (float(x.min()) - pad_x, float(x.max()) + pad_x)
        y_lim = (float(y.min()) - pad_y, float(y.max()) + pad_y)
        ax.set_xlim(*x_lim)
        ax.set_ylim(*y_lim)
        # Shade each criterion's window, clipped to the visible range.
        x0, x1 = _clip(x_window, x_lim)
        if x0 < x1:
            ax.axvspan(x0, x1, color=GREEN, alpha=0.08)
        y0, y1 = _clip(y_window, y_lim)
        if y0 < y1:
            ax.axhspan(y0, y1, color=GREEN, alpha=0.08)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(fontsize=8)
    return figure_png(fig)
