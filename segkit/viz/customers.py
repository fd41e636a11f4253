"""Figures of notebook 02 (the customer file): R/F/M distributions, correlations, the RFM score
heatmap and RFM segment sizes.

Histograms are binned here with numpy and drawn as bars, so a report embeds a few dozen numbers per
panel whatever the number of customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segkit.features import RFM_SEGMENT_NAMES
from segkit.schema import ParameterError, SchemaError
from segkit.viz._common import PALETTE, style

__all__ = ["correlation_heatmap", "is_skewed", "rfm_distributions", "rfm_score_heatmap", "segment_sizes"]

#: Skewness above which a positive feature is drawn on a log axis.
SKEW_THRESHOLD = 1.0
_RFM_LABELS = {
    "recency_days": "recency (days)",
    "frequency": "frequency (orders)",
    "monetary": "monetary (currency)",
}


def _require(table: object, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"{what} must be a DataFrame, got {type(table).__name__}", column=what)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SchemaError(f"{what}: column {missing[0]!r} is missing", column=missing[0])
    return table


def is_skewed(values: pd.Series | np.ndarray) -> bool:
    """True when ``values`` are all positive and their sample skewness exceeds :data:`SKEW_THRESHOLD`."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    if len(array) < 3 or array.min() <= 0 or array.std() == 0:
        return False
    skew = float(pd.Series(array).skew())
    return skew > SKEW_THRESHOLD


def _histogram(values: np.ndarray, log: bool, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bar centres, widths and counts; on a log axis the bins are equal in log10."""
    data = np.log10(values) if log else values
    low, high = float(data.min()), float(data.max())
    if high == low:
        high = low + 1.0
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    if log:
        edges = 10**edges
        return np.sqrt(edges[:-1] * edges[1:]), np.diff(edges), counts
    return (edges[:-1] + edges[1:]) / 2, np.diff(edges), counts


def rfm_distributions(customers: pd.DataFrame, bins: int = 40) -> go.Figure:
    """Histograms of recency, frequency and monetary value; skewed ones on a log x axis.

    Parameters
    ----------
    customers
        A customer file (or :func:`segkit.rfm` output) with ``recency_days``, ``frequency``, ``monetary``.
    bins
        Bins per histogram (equal-width, in log10 on log axes).
    """
    _require(customers, tuple(_RFM_LABELS), "customers")
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.07)
    logs = []
    for col, (column, label) in enumerate(_RFM_LABELS.items(), start=1):
        values = customers[column].to_numpy(dtype=float)
        log = is_skewed(values)
        logs.append(label.split(" ")[0] if log else None)
        centres, widths, counts = _histogram(values, log, bins)
        fig.add_trace(
            go.Bar(
                x=centres,
                y=counts,
                width=widths,
                marker_color=PALETTE[col - 1],
                name=label,
                showlegend=False,
                hovertemplate=label + " ~%{x:,.3g}: %{y:,} customers<extra></extra>",
            ),
            1,
            col,
        )
        fig.update_xaxes(  # short titles (three panels side by side must fit a phone); the caption names log axes
            title_text=label.split(" (")[0],
            type="log" if log else "linear",
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="customers", row=1, col=1)
    fig.update_layout(bargap=0)
    on_log = [name for name in logs if name]
    caption = f"log axes for skewed features: {', '.join(on_log)}" if on_log else ""
    return style(fig, "Recency, frequency and monetary value", caption=caption)


def correlation_heatmap(
    customers: pd.DataFrame, columns: list[str] | None = None, method: str = "spearman"
) -> go.Figure:
    """Correlation matrix of numeric customer-file features (Spearman by default: robust to skew).

    Constant columns (no correlation defined) are left out.
    """
    if method not in ("spearman", "pearson", "kendall"):
        raise ParameterError(f"method must be spearman, pearson or kendall, got {method!r}", column="method")
    if columns is None:
        numeric = customers.select_dtypes(include="number")
    else:
        numeric = _require(customers, tuple(columns), "customers")[list(columns)]
    numeric = numeric.loc[:, numeric.nunique() > 1]
    if numeric.shape[1] < 2:
        raise SchemaError(
            "customers: fewer than two non-constant numeric columns to correlate", column="columns"
        )
    corr = numeric.corr(method=method)
    fig = go.Figure(
        go.Heatmap(
            z=corr.to_numpy(),
            x=list(corr.columns),
            y=list(corr.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            colorbar=dict(title=method),
            hovertemplate="%{y} x %{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    size = max(450, 24 * len(corr) + 200)
    fig.update_layout(height=size, width=size + 120)
    return style(fig, f"Feature correlations ({method})")


def rfm_score_heatmap(scores: pd.DataFrame, monetary: pd.Series) -> go.Figure:
    """R score (rows) x F score (columns), coloured by mean monetary value, with customer counts.

    Parameters
    ----------
    scores
        ``r_score`` and ``f_score`` (from :func:`segkit.rfm_scores`).
    monetary
        Monetary value per customer, aligned with ``scores`` (same index).
    """
    _require(scores, ("r_score", "f_score"), "scores")
    if not isinstance(monetary, pd.Series) or not monetary.index.equals(scores.index):
        raise SchemaError("monetary must be a Series with the same index as scores", column="monetary")
    frame = pd.DataFrame({"r": scores["r_score"], "f": scores["f_score"], "m": monetary})
    grouped = frame.groupby(["r", "f"])["m"]
    levels = range(1, int(max(frame["r"].max(), frame["f"].max())) + 1)
    mean = grouped.mean().unstack("f").reindex(index=levels, columns=levels)
    count = grouped.size().unstack("f").reindex(index=levels, columns=levels).fillna(0).astype(int)
    text = [[f"{mean.iloc[i, j]:,.0f}<br>n={count.iloc[i, j]:,}" if count.iloc[i, j] else "" for j in range(len(levels))]
            for i in range(len(levels))]  # fmt: skip  # a 5 x 5 grid of labels
    fig = go.Figure(
        go.Heatmap(
            z=mean.to_numpy(),
            x=[str(level) for level in levels],
            y=[str(level) for level in levels],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar=dict(title="mean monetary"),
            hovertemplate="R=%{y}, F=%{x}: mean monetary %{z:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="F score (5 = most orders)", type="category")
    fig.update_yaxes(title="R score (5 = most recent)", type="category", autorange="reversed")
    return style(fig, "RFM scores: recency x frequency, coloured by mean monetary value")


def segment_sizes(segments: pd.Series, monetary: pd.Series) -> go.Figure:
    """Share of customers and share of revenue of each RFM segment (grouped horizontal bars).

    Segments are shown in the order of :data:`segkit.features.RFM_SEGMENT_NAMES` (custom names after).
    """
    if not isinstance(segments, pd.Series) or not isinstance(monetary, pd.Series):
        raise SchemaError("segments and monetary must be pandas Series", column="segments")
    if not monetary.index.equals(segments.index):
        raise SchemaError("monetary must have the same index as segments", column="monetary")
    table = pd.DataFrame({"segment": segments.astype("str"), "monetary": monetary})
    summary = table.groupby("segment").agg(customers=("monetary", "size"), revenue=("monetary", "sum"))
    order = [name for name in RFM_SEGMENT_NAMES if name in summary.index]
    order += sorted(set(summary.index) - set(order))
    summary = summary.loc[order]
    customer_share = 100 * summary["customers"] / summary["customers"].sum()
    revenue_share = 100 * summary["revenue"] / summary["revenue"].sum()
    fig = go.Figure()
    for i, (label, values) in enumerate(
        (("% of customers", customer_share), ("% of revenue", revenue_share))
    ):
        fig.add_trace(
            go.Bar(
                y=summary.index,
                x=values,
                name=label,
                orientation="h",
                marker_color=PALETTE[i],
                hovertemplate="%{y}: %{x:.1f}" + label[0] + "<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(barmode="group", height=max(400, 45 * len(summary) + 150))
    fig.update_yaxes(autorange="reversed", title="RFM segment")
    fig.update_xaxes(title="%")
    return style(fig, "RFM segments: share of customers and of revenue")
