"""Shared figure settings: palette, layout defaults, scatter sampling and the notebook renderer."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Qualitative palette (colour-blind friendly, Okabe-Ito extended); segment i gets PALETTE[i % len].
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
)


def segment_colour(segment_id: int) -> str:
    """The colour of segment ``segment_id`` on every page (plotly and matplotlib/yellowbrick alike)."""
    return PALETTE[int(segment_id) % len(PALETTE)]


def segment_colours(k: int) -> list[str]:
    """The colours of segments ``0..k-1``, in order (see :func:`segment_colour`)."""
    return [segment_colour(i) for i in range(int(k))]


#: Largest number of points a scatter plot draws; more are sampled (seeded) and the caption says so.
MAX_SCATTER_POINTS = 5_000

#: Default layout applied by :func:`style`.
LAYOUT = dict(template="plotly_white", font=dict(size=13), margin=dict(l=60, r=30, t=60, b=50))


def sample_for_scatter(
    df: pd.DataFrame, n: int = MAX_SCATTER_POINTS, seed: int = 0
) -> tuple[pd.DataFrame, str]:
    """Return at most ``n`` rows of ``df`` (a seeded sample when larger) and a caption saying so.

    The caption is ``""`` when every row is drawn, else e.g.
    ``"A random sample of 5,000 of 20,000 customers is drawn (seed 0)."``.
    """
    if len(df) <= n:
        return df, ""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(df), size=n, replace=False))
    caption = f"A random sample of {n:,} of {len(df):,} customers is drawn (seed {seed})."
    return df.iloc[idx], caption


def style(fig, title: str | None = None, caption: str = ""):
    """Apply segkit's layout to a plotly figure; append ``caption`` under the title when given."""
    fig.update_layout(**LAYOUT)
    if title is not None:
        text = title if not caption else f"{title}<br><sup>{caption}</sup>"
        fig.update_layout(title=dict(text=text))
    return fig


def setup_notebook() -> None:
    """Make plotly figures render in exported HTML, offline.

    papermill keeps only plotly's JSON output, which nbconvert's HTML exporter drops. The
    ``notebook`` renderer instead writes a ``text/html`` output with plotly.js embedded once per
    notebook (on first use) and one ``<div>`` per figure, so the HTML report draws every chart with
    no request to the internet. Call this once at the top of each notebook.
    """
    import plotly.io as pio

    pio.renderers.default = "notebook"
