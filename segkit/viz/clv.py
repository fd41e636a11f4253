"""Figures of notebook 05 (customer lifetime value).

Every function takes the results of :mod:`segkit.clv` (a :class:`~segkit.clv.ClvModel`'s tables)
and returns a plotly figure. Nothing here computes results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from segkit.viz._common import PALETTE, segment_colour, short_feature_label, style


def cumulative_purchases(weekly: pd.DataFrame, calibration_end: pd.Timestamp | None = None) -> go.Figure:
    """Cumulative repeat purchases per week, actual (solid) vs expected by the BG/NBD (dashed).

    Parameters
    ----------
    weekly
        :meth:`segkit.clv.ClvModel.cumulative_table` (``date``, ``actual``, ``expected``).
    calibration_end
        Drawn as a vertical line separating the calibration and the holdout periods.
    """
    fig = go.Figure()
    fig.add_scatter(x=weekly["date"], y=weekly["actual"], name="Actual", line=dict(color=PALETTE[0], width=3))
    fig.add_scatter(
        x=weekly["date"],
        y=weekly["expected"],
        name="Expected (BG/NBD)",
        line=dict(color=PALETTE[1], dash="dash"),
    )
    if calibration_end is not None:
        fig.add_vline(x=calibration_end, line=dict(color="grey", dash="dot"))
        fig.add_annotation(
            x=calibration_end, y=1, yref="paper", text="calibration end", showarrow=False, xanchor="right"
        )
    fig.update_layout(
        xaxis_title="Week ending",
        yaxis_title="Cumulative repeat purchases (purchase days)",
        hovermode="x unified",
    )
    return style(fig, "Repeat purchases: actual vs expected, week by week")


def holdout_by_frequency(table: pd.DataFrame) -> go.Figure:
    """Mean holdout purchases per number of calibration repeat purchases, actual vs expected.

    Parameters
    ----------
    table
        :meth:`segkit.clv.ClvModel.holdout_table`.
    """
    fig = go.Figure()
    x = list(table.index)
    fig.add_bar(x=x, y=table["actual"], name="Actual", marker_color=PALETTE[0])
    fig.add_bar(x=x, y=table["expected"], name="Expected (BG/NBD)", marker_color=PALETTE[1])
    fig.update_layout(
        barmode="group",
        xaxis_title="Repeat purchases in the calibration period",
        yaxis_title="Mean purchases in the holdout period",
    )
    return style(fig, "Holdout purchases by calibration purchases")


def clv_by_segment(table: pd.DataFrame, names: dict | None = None) -> go.Figure:
    """Expected value (CLV sum) per segment, with the mean probability alive in the hover.

    Parameters
    ----------
    table
        :meth:`segkit.clv.ClvModel.segment_value` (indexed by segment).
    names
        Optional segment label -> display name.
    """
    labels = [f"{s} {(names or {}).get(s, '')}".strip() for s in table.index]
    fig = go.Figure(
        go.Bar(
            y=[short_feature_label(label, 24) for label in labels],
            x=table["clv_sum"],
            orientation="h",
            marker_color=[
                segment_colour(s) if isinstance(s, int | np.integer) else PALETTE[-1] for s in table.index
            ],
            hovertext=labels,
            customdata=table[["customers", "clv_median", "prob_alive_mean"]].to_numpy(dtype=float),
            hovertemplate="%{hovertext}<br>CLV total %{x:,.0f}<br>%{customdata[0]:,} customers<br>"
            "median %{customdata[1]:,.1f}<br>P(alive) %{customdata[2]:.0%}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(360, 140 + 34 * len(table)),
        xaxis_title="Expected value (sum)",
        yaxis=dict(title="", autorange="reversed", automargin=True),
    )
    return style(fig, "Expected customer value per segment")
