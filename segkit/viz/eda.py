"""Figures of notebook 01 (exploratory data analysis), drawn from the tables of :mod:`segkit.eda`.

Every function takes a table computed by :mod:`segkit.eda` (or a cleaning report frame) and returns a
plotly figure styled with :func:`segkit.viz._common.style`; nothing here computes results.
"""

from __future__ import annotations

import calendar

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segkit.schema import ParameterError, SchemaError
from segkit.viz._common import PALETTE, style

__all__ = [
    "breakdown_bars",
    "cleaning_summary",
    "cohort_heatmap",
    "items_and_customers",
    "monthly_revenue_by_year",
    "new_vs_existing_bars",
    "revenue_per_order",
]

_MONTH_NAMES = [calendar.month_abbr[m] for m in range(1, 13)]


def _require(table: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise SchemaError(f"{what} must be a DataFrame, got {type(table).__name__}", column=what)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SchemaError(
            f"{what}: column {missing[0]!r} is missing (compute it with segkit.eda)", column=missing[0]
        )


def monthly_revenue_by_year(kpis: pd.DataFrame) -> go.Figure:
    """Revenue per calendar month, one line per year (from :func:`segkit.eda.monthly_kpis`).

    Partial months (the data start or end inside them) are drawn with open markers and say so on hover.
    """
    _require(kpis, ("year", "month_of_year", "revenue", "partial"), "kpis")
    fig = go.Figure()
    for i, (year, rows) in enumerate(kpis.groupby("year", sort=True)):  # one trace per year
        symbols = ["circle-open" if partial else "circle" for partial in rows["partial"]]
        fig.add_trace(
            go.Scatter(
                x=[_MONTH_NAMES[m - 1] for m in rows["month_of_year"]],
                y=rows["revenue"],
                name=str(year),
                mode="lines+markers",
                marker=dict(symbol=symbols, size=8),
                line=dict(color=PALETTE[i % len(PALETTE)]),
                customdata=rows["partial"].map({True: " (partial month)", False: ""}),
                hovertemplate="%{x} " + str(year) + ": %{y:,.0f}%{customdata}<extra></extra>",
            )
        )
    fig.update_xaxes(categoryorder="array", categoryarray=_MONTH_NAMES, title="month")
    fig.update_yaxes(title="revenue", rangemode="tozero")
    return style(
        fig, "Monthly revenue by year", caption="open markers: months only partly covered by the data"
    )


def items_and_customers(kpis: pd.DataFrame) -> go.Figure:
    """Items sold and active customers per month, on two stacked panels sharing the time axis."""
    _require(kpis, ("items_sold", "active_customers"), "kpis")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_trace(
        go.Bar(x=kpis.index, y=kpis["items_sold"], name="items sold", marker_color=PALETTE[0]), 1, 1
    )
    fig.add_trace(
        go.Scatter(
            x=kpis.index,
            y=kpis["active_customers"],
            name="active customers",
            mode="lines+markers",
            line_color=PALETTE[1],
        ),
        2,
        1,
    )
    fig.update_yaxes(title_text="items sold", row=1, col=1)
    fig.update_yaxes(title_text="active customers", row=2, col=1, rangemode="tozero")
    return style(fig, "Items sold and active customers per month")


def revenue_per_order(kpis: pd.DataFrame) -> go.Figure:
    """Revenue per order and per active customer, each month."""
    _require(kpis, ("revenue_per_order", "revenue_per_customer"), "kpis")
    fig = go.Figure()
    for i, (column, label) in enumerate(
        (("revenue_per_order", "revenue per order"), ("revenue_per_customer", "revenue per active customer"))
    ):
        fig.add_trace(
            go.Scatter(x=kpis.index, y=kpis[column], name=label, mode="lines+markers", line_color=PALETTE[i])
        )
    fig.update_yaxes(title="currency", rangemode="tozero")
    fig.update_xaxes(title="month")
    return style(fig, "Revenue per order and per customer")


def new_vs_existing_bars(table: pd.DataFrame) -> go.Figure:
    """Revenue (top) and customers (bottom) per month, stacked new vs existing (from
    :func:`segkit.eda.new_vs_existing`)."""
    _require(table, ("new_revenue", "existing_revenue", "new_customers", "existing_customers"), "table")
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("revenue", "active customers"),
    )
    for row, kind in ((1, "revenue"), (2, "customers")):
        for i, group in enumerate(("existing", "new")):
            fig.add_trace(
                go.Bar(
                    x=table.index,
                    y=table[f"{group}_{kind}"],
                    name=group,
                    marker_color=PALETTE[i],
                    legendgroup=group,
                    showlegend=row == 1,
                ),
                row,
                1,
            )
    fig.update_layout(barmode="stack")
    return style(
        fig,
        "New vs existing customers",
        caption="new = first purchase in the month (the first month is all new)",
    )


def cohort_heatmap(cohorts: pd.DataFrame, value: str = "share_active") -> go.Figure:
    """Acquisition cohorts (rows) x months since first purchase (columns), from
    :func:`segkit.eda.cohort_retention`.

    Parameters
    ----------
    value
        ``"share_active"`` (retention, shown in percent), ``"revenue"`` or ``"revenue_per_customer"``.
    """
    allowed = ("share_active", "revenue", "revenue_per_customer", "active_customers")
    if value not in allowed:
        raise ParameterError(f"value must be one of {allowed}, got {value!r}", column="value")
    _require(cohorts, ("cohort", "months_since", value), "cohorts")
    grid = cohorts.pivot(index="cohort", columns="months_since", values=value).sort_index()
    percent = value == "share_active"
    z = grid.to_numpy() * (100 if percent else 1)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=grid.columns,
            y=[f"{c:%Y-%m}" for c in grid.index],
            colorscale="Blues",
            colorbar=dict(title="% active" if percent else value.replace("_", " ")),
            hovertemplate="cohort %{y}, month %{x}: %{z:,.1f}" + ("%" if percent else "") + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="cohort (first-purchase month)", type="category")
    fig.update_xaxes(title="months since first purchase")
    title = (
        "Cohort retention: share of each cohort active" if percent else f"Cohorts: {value.replace('_', ' ')}"
    )
    return style(fig, title)


def breakdown_bars(table: pd.DataFrame, top: int = 15) -> go.Figure:
    """Revenue share and customers of the ``top`` levels of a :func:`segkit.eda.breakdown` table
    (the rest summed as "other")."""
    _require(table, ("revenue", "revenue_share", "customers"), "table")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ParameterError(f"top must be a positive integer, got {top!r}", column="top")
    by = table.index.name or "level"
    shown = table.head(top)
    labels = [str(level) for level in shown.index]
    shares = shown["revenue_share"].tolist()
    if len(table) > top:
        labels.append(f"other ({len(table) - top})")
        shares.append(float(table["revenue_share"].iloc[top:].sum()))
    fig = go.Figure(
        go.Bar(
            x=[share * 100 for share in shares],
            y=labels,
            orientation="h",
            marker_color=PALETTE[0],
            hovertemplate="%{y}: %{x:.1f}% of revenue<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title=by)
    fig.update_xaxes(title="% of revenue")
    return style(fig, f"Revenue by {by}")


def cleaning_summary(report_frame: pd.DataFrame) -> go.Figure:
    """Input rows per cleaning reason (from ``CleaningReport.to_frame()``), log scale."""
    _require(report_frame, ("reason", "rows"), "report_frame")
    colors = [PALETTE[2] if reason == "kept" else PALETTE[3] for reason in report_frame["reason"]]
    fig = go.Figure(
        go.Bar(
            x=report_frame["rows"],
            y=report_frame["reason"],
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", title="input rows (log scale)")
    fig.update_yaxes(autorange="reversed", title="reason")
    return style(
        fig,
        "Cleaning: every input row by reason",
        caption="each row counts under the first reason that applies",
    )
