"""Figures of notebook 04 (maintenance simulation): when does the segmentation go stale?

Every function takes the results of :mod:`segkit.stability` (a :class:`~segkit.stability.Simulation`,
a :class:`~segkit.stability.Recommendation`, a :class:`~segkit.stability.Migration`) and returns a
plotly figure (or, for the recommendation, an HTML/Markdown box). Nothing here computes results.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from segkit.viz._common import PALETTE, segment_colour, short_feature_label, style

_FEATURE_LABELS = {
    "recency_days": ("last order {:.0f} days ago", 1),
    "order_count": ("{:.1f} orders", 1),
    "mean_order_value": ("{:,.0f} per order", 1),
    "monetary": ("{:,.0f} spent", 1),
    "active_days": ("{:.1f} active days", 1),
    "tenure_days": ("first order {:.0f} days ago", 1),
}
NOISE_COLOUR = "rgba(127, 127, 127, 0.18)"
ALARM_COLOUR = "#D55E00"


def segment_labels(sim) -> dict[int, str]:
    """Label of each frozen segment: its id and the deployed model's segment name (``"S0 High-value loyal"``)."""
    names = getattr(sim, "segment_names", None) or {}
    return {i: f"S{i} {names[i]}" if i in names else f"S{i}" for i in range(sim.k)}


def _colour(segment: int) -> str:
    return segment_colour(segment)


def ari_over_time(
    sim,
    recommendation=None,
    ari_threshold: float | None = None,
    noise: pd.Series | None = None,
    events: dict[str, Any] | None = None,
):
    """Agreement (ARI) between the frozen model and a model retrained at each step, over time.

    Parameters
    ----------
    sim
        A :class:`~segkit.stability.Simulation`.
    recommendation
        Its :class:`~segkit.stability.Recommendation`: marks the obsolescence point and the alarm run,
        and gives the threshold.
    ari_threshold
        Threshold line (default the recommendation's, else 0.75).
    noise
        Bootstrap ARIs at the start (default ``sim.noise``): drawn as a band from the 5th to the 95th
        percentile, the ARI one gets from resampling alone.
    events
        Extra dated markers, e.g. ``{"planted shift": shop.shift_date}`` for the demo shop.
    """
    import plotly.graph_objects as go

    steps = sim.steps
    if ari_threshold is None:
        ari_threshold = getattr(sim, "threshold", None)
    if ari_threshold is None:
        ari_threshold = (recommendation.thresholds.get("ari_threshold") if recommendation else None) or 0.75
    noise = sim.noise if noise is None else noise
    fig = go.Figure()
    if noise is not None and len(noise):
        low, high = float(noise.quantile(0.05)), float(noise.quantile(0.95))
        fig.add_hrect(
            y0=low,
            y1=high,
            fillcolor=NOISE_COLOUR,
            line_width=0,
            layer="below",
            annotation_text=f"refits on unchanged data (5-95%: {low:.2f}-{high:.2f})",
            annotation_position="bottom left",
        )
    fig.add_trace(
        go.Scatter(
            x=steps["date"],
            y=steps["ari"],
            mode="lines+markers",
            name="ARI, all active customers",
            line=dict(color=PALETTE[0], width=2),
            marker=dict(size=5),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps["date"],
            y=steps["ari_initial_customers"],
            mode="lines",
            name="ARI, customers already active at training",
            line=dict(color=PALETTE[5], dash="dot"),
        )
    )
    fig.add_hline(
        y=ari_threshold,
        line=dict(color=ALARM_COLOUR, dash="dash"),
        annotation_text=f"threshold {ari_threshold:.2f}",
        annotation_position="top right",
    )
    if recommendation is not None and recommendation.obsolete_on is not None:
        _mark_date(
            fig, recommendation.obsolete_on, f"obsolete on {recommendation.obsolete_on.date()}", ALARM_COLOUR
        )
        if recommendation.trigger == "ari":
            run = steps[steps["date"] >= recommendation.obsolete_on].head(
                int(recommendation.thresholds.get("consecutive", 3))
            )
            fig.add_trace(
                go.Scatter(
                    x=run["date"],
                    y=run["ari"],
                    mode="markers",
                    name="alarm run",
                    marker=dict(color=ALARM_COLOUR, size=11, symbol="x"),
                )
            )
    for label, date in (events or {}).items():
        if date is not None:
            _mark_date(fig, pd.Timestamp(date), label, "#7F7F7F", top=False)
    fig.update_yaxes(
        title="adjusted Rand index (frozen vs retrained)", range=[min(0.0, steps["ari"].min()), 1.05]
    )
    fig.update_xaxes(title="date")
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return style(
        fig,
        "Does the deployed segmentation still match a fresh one?",
        f"{sim.k} segments trained on {sim.params['start'].date()}, compared every "
        f"{sim.params['period_days']} days",
    )


def _mark_date(fig, date: pd.Timestamp, text: str, colour: str, top: bool = True) -> None:
    # add_vline's annotation does not accept Timestamps on every plotly version: draw line and text apart
    fig.add_vline(x=date, line=dict(color=colour, dash="dot"))
    fig.add_annotation(
        x=date,
        y=1.04 if top else 0.02,
        yref="paper",
        text=text,
        showarrow=False,
        font=dict(color=colour),
        xanchor="left" if top else "right",
    )


def drift_heatmap(sim, metric: str = "psi"):
    """Drift of every feature against the training window (rows) at every step (columns)."""
    import plotly.graph_objects as go

    table = sim.drift[sim.drift["metric"] == metric].pivot(index="feature", columns="date", values="value")
    table = table.reindex(index=[f for f in sim.start_model.features if f in table.index])
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=table.columns,
            y=[short_feature_label(f) for f in table.index],
            customdata=[[f] * table.shape[1] for f in table.index],
            colorscale="OrRd",
            zmin=0,
            colorbar=dict(title=metric.upper(), thickness=12),
            hovertemplate="%{customdata}<br>%{x|%Y-%m-%d}<br>" + metric.upper() + " %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(height=max(420, 160 + 22 * len(table.index)), yaxis=dict(automargin=True))
    fig.update_xaxes(title="date")
    caption = "context only: the alarm comes from the agreement, not from drift" if metric == "psi" else ""
    return style(fig, f"Feature drift against the training window ({metric.upper()})", caption)


def top_drifting_features(sim, date: Any = None, metric: str = "psi", n: int = 10):
    """Bar chart of the features that drifted most at one step (default the last), by ``metric``,
    with the other metrics in the hover."""
    import plotly.express as px

    step = len(sim.steps) - 1 if date is None else sim.step_at(date)
    at_step = sim.drift[sim.drift["step"] == step]
    wide = at_step.pivot(index="feature", columns="metric", values="value")
    wide = wide.sort_values(metric, ascending=False).head(n).reset_index()
    wide.insert(0, "label", [short_feature_label(f) for f in wide["feature"]])
    fig = px.bar(
        wide,
        x=metric,
        y="label",
        orientation="h",
        hover_data=[c for c in wide.columns if c != "label"],
        color_discrete_sequence=[PALETTE[3]],
    )
    fig.update_yaxes(autorange="reversed", title="")
    fig.update_xaxes(title=metric.upper())
    when = sim.steps.loc[step, "date"].date()
    return style(fig, f"Top drifting features on {when}", f"{metric.upper()} against the training window")


def segment_shares(sim, labels: str = "refit"):
    """Share of active customers in each segment over time (stacked areas).

    ``labels="refit"``: segments of the model retrained at each step, aligned to the frozen ones;
    ``"frozen"``: segments the deployed model assigns.
    """
    import plotly.graph_objects as go

    prefix = "share_" if labels == "refit" else "frozen_share_"
    names = segment_labels(sim)
    fig = go.Figure()
    for segment in range(sim.k):
        fig.add_trace(
            go.Scatter(
                x=sim.steps["date"],
                y=sim.steps[f"{prefix}{segment}"],
                name=names[segment],
                stackgroup="shares",
                mode="lines",
                line=dict(width=0.5, color=_colour(segment)),
            )
        )
    fig.update_yaxes(title="share of active customers", tickformat=".0%", range=[0, 1])
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    which = (
        "retrained model, segments matched to the deployed ones" if labels == "refit" else "deployed model"
    )
    return style(fig, "Segment shares over time", which)


def migration_sankey(migration, names: dict[Any, str] | None = None):
    """Sankey diagram of customers moving between segments from ``migration.date_a`` to ``date_b``.

    ``migration`` is a :class:`~segkit.stability.Migration`; ``names`` maps segment ids to labels.
    """
    import plotly.graph_objects as go

    names = names or {}
    table = migration.table
    sources = list(migration.counts.index)
    targets = list(migration.counts.columns)

    def label(value, when):  # short on the diagram (it must fit a phone); the full name in the hover
        return f"{value if isinstance(value, str) else f'S{value}'} ({when})"

    def full(value):
        return names.get(value, value if isinstance(value, str) else f"S{value}")

    date_a = migration.date_a.date() if migration.date_a is not None else "before"
    date_b = migration.date_b.date() if migration.date_b is not None else "after"
    node_labels = [label(v, date_a) for v in sources] + [label(v, date_b) for v in targets]
    colours = [_colour(v) if not isinstance(v, str) else "#BBBBBB" for v in sources + targets]
    fig = go.Figure(
        go.Sankey(
            node=dict(
                label=node_labels,
                color=colours,
                pad=14,
                thickness=16,
                customdata=[full(v) for v in sources + targets],
                hovertemplate="%{customdata}<br>%{value:,} customers<extra></extra>",
            ),
            link=dict(
                source=[sources.index(v) for v in table["from"]],
                target=[len(sources) + targets.index(v) for v in table["to"]],
                value=table["customers"].tolist(),
                color=[_link_colour(v) for v in table["from"]],
                hovertemplate="%{source.label} -> %{target.label}: %{value:,} customers<extra></extra>",
            ),
        )
    )
    return style(fig, f"Where customers moved: {date_a} -> {date_b}", "customers per segment at both dates")


def _link_colour(segment) -> str:
    if isinstance(segment, str):
        return "rgba(187, 187, 187, 0.45)"
    hex_colour = _colour(segment).lstrip("#")
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red}, {green}, {blue}, 0.35)"


_VERDICT_COLOURS = {
    "alarm": ALARM_COLOUR,
    "retrain_every": ALARM_COLOUR,
    "unstable": "#E69F00",
    "too_short": "#7F7F7F",
}


def recommendation_html(recommendation) -> str:
    """The recommendation as a highlighted HTML box (safe: every text is escaped)."""
    colour = _VERDICT_COLOURS.get(recommendation.verdict, "#009E73")
    status = (
        f"Obsolete on {recommendation.obsolete_on.date()} ({recommendation.delay_days} days after training; "
        f"confidence {recommendation.confidence})"
        if recommendation.obsolete_on is not None
        else ""
    )
    status_html = (
        f'<div style="color: {colour}; font-weight: bold; margin: 4px 0">{html.escape(status)}</div>'
    )
    return (
        f'<div style="border-left: 6px solid {colour}; background: #f7f7f7; padding: 12px 16px; '
        f'margin: 8px 0; font-size: 15px; line-height: 1.45">'
        f'<div style="font-size: 18px; font-weight: bold">{html.escape(recommendation.headline)}</div>'
        f"{status_html if status else ''}"
        f"<div>{html.escape(recommendation.explanation)}</div></div>"
    )


def recommendation_markdown(recommendation) -> str:
    """The recommendation as a Markdown block quote."""
    return f"> **{recommendation.headline}**\n>\n> " + recommendation.explanation


def noise_figure(sim):
    """The model's agreement with itself on unchanged data (one bar per refit), with the alarm threshold
    and the level below which the model is too unstable to monitor."""
    import plotly.graph_objects as go

    from segkit.stability import UNSTABLE_NOISE_ARI

    fig = go.Figure(
        go.Bar(
            x=[f"refit {i + 1}" for i in range(len(sim.noise))],
            y=sim.noise.to_numpy(),
            marker_color=PALETTE[0],
            hovertemplate="%{x}: ARI %{y:.3f}<extra></extra>",
        )
    )
    fig.add_hline(
        y=sim.threshold, line=dict(color=ALARM_COLOUR, dash="dash"), annotation_text="alarm threshold"
    )
    fig.add_hline(
        y=UNSTABLE_NOISE_ARI, line=dict(color="#E69F00", dash="dot"), annotation_text="too unstable below"
    )
    fig.update_yaxes(title="adjusted Rand index with the deployed model", range=[0, 1.05])
    return style(
        fig,
        "How far the model agrees with itself on unchanged data",
        "refits on bootstrap resamples of the training window, each with another seed",
    )


def recommendation_box(recommendation):
    """An ``IPython.display.HTML`` object of :func:`recommendation_html`, for notebooks."""
    from IPython.display import HTML

    return HTML(recommendation_html(recommendation))
