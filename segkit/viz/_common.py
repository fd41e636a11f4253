"""Shared figure settings: palette, layout defaults, scatter sampling and the notebook renderer."""

from __future__ import annotations

import re
from typing import Any

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


#: Longest axis label of a feature name on charts that list features (the full name is in the hover).
MAX_FEATURE_LABEL = 20


def short_feature_label(name: str, max_chars: int = MAX_FEATURE_LABEL) -> str:
    """A feature name short enough for a phone's axis: ``share_cat_fashion_bags_accessories`` ->
    ``"cat fashion bags ac…"``; names of at most ``max_chars`` characters keep their words."""
    text = str(name).replace("share_channel_", "channel ").replace("share_cat_", "cat ").replace("_", " ")
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "\u2026"


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
    """Apply segkit's layout to a plotly figure; append ``caption`` under the title when given.

    Text from the data in the figure (categories, countries, segment names, ids...) is escaped
    (:func:`escape_figure_text`): plotly draws a subset of HTML in labels, a category named
    ``<b>x</b>`` or ``<a href=...>`` must show as it is spelled.
    """
    fig.update_layout(**LAYOUT)
    if title is not None:
        text = title if not caption else f"{title}<br><sup>{caption}</sup>"
        fig.update_layout(title=dict(text=text))
    return escape_figure_text(fig)


#: A ``<`` that does not open plotly's line break or super/subscript tags (segkit's own markup).
_UNSAFE_TAG = re.compile(r"<(?!/?(?:br|sup|sub)\s*/?>)", re.IGNORECASE)
#: Trace properties that can hold text from the data.
_TRACE_TEXT_KEYS = (
    "x",
    "y",
    "labels",
    "parents",
    "ids",
    "text",
    "hovertext",
    "name",
    "customdata",
    "legendgroup",
)


def escape_text(value: Any) -> Any:
    """Escape plotly's pseudo-HTML in a label or an array of labels (``<`` -> ``&lt;``).

    ``<br>``, ``<sup>`` and ``<sub>`` are kept (segkit's captions use them); numbers pass unchanged.
    """
    if isinstance(value, str):
        return _UNSAFE_TAG.sub("&lt;", value)
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        array = np.asarray(value, dtype=object)
        flat = array.ravel()
        if not any(isinstance(v, str) and "<" in v for v in flat):
            return value
        escaped = np.array([escape_text(v) if isinstance(v, str) else v for v in flat], dtype=object)
        return escaped.reshape(array.shape)
    return value


def escape_figure_text(fig):
    """Escape the data text of every trace, the title, axis tick labels and annotations of ``fig``."""
    for trace in fig.data:
        for key in _TRACE_TEXT_KEYS:
            if key in trace and trace[key] is not None:
                value = trace[key]
                escaped = escape_text(value)
                if escaped is not value:
                    trace[key] = escaped
    layout = fig.layout
    if layout.title and layout.title.text:
        layout.title.text = escape_text(layout.title.text)
    for axis in [getattr(layout, name) for name in layout if name.startswith(("xaxis", "yaxis"))]:
        if axis.ticktext is not None:
            axis.ticktext = escape_text(axis.ticktext)
        if axis.title and axis.title.text:
            axis.title.text = escape_text(axis.title.text)
    for annotation in layout.annotations or ():
        if annotation.text:
            annotation.text = escape_text(annotation.text)
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
