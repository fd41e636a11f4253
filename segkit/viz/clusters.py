"""Figures of notebook 03 (clustering): the model search, silhouettes, a dendrogram, segment scatters,
profiles and the business view. All plotly (interactive in the HTML report); the yellowbrick
versions of the elbow, silhouette and intercluster-distance plots are in :mod:`segkit.viz.yb_compat`.

Scatter plots draw at most 5,000 customers (a seeded sample; the title's caption says so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from segkit.clustering import ALGORITHM_LABELS, ModelSearch
from segkit.model import SegmentationModel
from segkit.schema import SchemaError
from segkit.viz._common import MAX_SCATTER_POINTS, PALETTE, sample_for_scatter, segment_colour, style

__all__ = [
    "dendrogram",
    "model_search_panel",
    "pca_projection",
    "profile_heatmap",
    "rfm_scatter_3d",
    "segment_size_vs_revenue",
    "silhouette_plot",
    "snake_plot",
]

#: Panels of :func:`model_search_panel`: column, title, whether larger is better.
SEARCH_PANELS: tuple[tuple[str, str, bool], ...] = (
    ("inertia", "Inertia", False),
    ("silhouette", "Silhouette", True),
    ("calinski_harabasz", "Calinski-Harabasz", True),
    ("davies_bouldin", "Davies-Bouldin", False),
    ("stability", "Stability (mean ARI)", True),
    ("smallest_share", "Smallest segment share", True),
)


def _segment_colour(segment_id: int) -> str:
    return segment_colour(segment_id)


def _segment_label(model: SegmentationModel, segment_id: int) -> str:
    return f"{segment_id}: {model.segment_names[int(segment_id)]}"


def _sample(customer_file: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, str]:
    if not isinstance(customer_file, pd.DataFrame):
        raise SchemaError(f"customer file must be a DataFrame, got {type(customer_file).__name__}")
    return sample_for_scatter(customer_file, n=n, seed=seed)


# --------------------------------------------------------------------------- model search
def model_search_panel(search: ModelSearch) -> go.Figure:
    """Elbow and metrics panel: every metric of the search table against k, one line per algorithm.

    The knee of each inertia curve is ringed and the recommended model is starred.
    """
    table = search.table
    fig = make_subplots(
        rows=3, cols=2, subplot_titles=[title for _, title, _ in SEARCH_PANELS], vertical_spacing=0.11
    )
    algorithms = list(dict.fromkeys(table["algorithm"]))
    for panel, (column, _, _) in enumerate(SEARCH_PANELS):
        row, col = divmod(panel, 2)
        for i, algorithm in enumerate(algorithms):
            part = table[table["algorithm"] == algorithm]
            fig.add_trace(
                go.Scatter(
                    x=part["k"],
                    y=part[column],
                    mode="lines+markers",
                    name=ALGORITHM_LABELS.get(algorithm, algorithm),
                    legendgroup=algorithm,
                    showlegend=panel == 0,
                    line=dict(color=PALETTE[i % len(PALETTE)]),
                    hovertemplate=f"{algorithm} k=%{{x}}<br>{column}=%{{y:.3f}}<extra></extra>",
                ),
                row=row + 1,
                col=col + 1,
            )
            if column == "inertia" and search.knees.get(algorithm) is not None:
                knee = part[part["k"] == search.knees[algorithm]]
                fig.add_trace(
                    go.Scatter(
                        x=knee["k"],
                        y=knee[column],
                        mode="markers",
                        showlegend=False,
                        legendgroup=algorithm,
                        marker=dict(
                            size=16, symbol="circle-open", color=PALETTE[i % len(PALETTE)], line=dict(width=2)
                        ),
                        hovertemplate="kneedle knee k=%{x}<extra></extra>",
                    ),
                    row=1,
                    col=1,
                )
        best = table[(table["algorithm"] == search.best.algorithm) & (table["k"] == search.best.k)]
        fig.add_trace(
            go.Scatter(
                x=best["k"],
                y=best[column],
                mode="markers",
                name="recommended",
                showlegend=panel == 0,
                legendgroup="best",
                marker=dict(size=15, symbol="star", color="#D55E00"),
                hovertemplate="recommended<extra></extra>",
            ),
            row=row + 1,
            col=col + 1,
        )
    fig.update_xaxes(title_text="k", dtick=1)
    label = ALGORITHM_LABELS.get(search.best.algorithm, search.best.algorithm)
    return style(
        fig.update_layout(height=860),
        "Model search: metrics against the number of segments",
        f"Recommended: {label}, k={search.best.k} (star); rings mark each inertia curve's knee. "
        f"Fitted on {search.sample_size:,} of {search.n_customers:,} customers.",
    ).update_layout(margin=dict(t=120))


def silhouette_plot(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    seed: int = 0,
    sample_size: int = MAX_SCATTER_POINTS,
) -> go.Figure:
    """Silhouette coefficient of every (sampled) customer, grouped by segment and sorted within it."""
    from sklearn.metrics import silhouette_samples

    sample, caption = _sample(customer_file, sample_size, seed)
    X = model.transform(sample)
    segments = model.predict(sample).to_numpy()
    values = silhouette_samples(X, segments) if len(np.unique(segments)) > 1 else np.zeros(len(segments))
    order = np.lexsort((-values, segments))
    fig = go.Figure()
    position = np.arange(len(order))
    for segment_id in range(model.k):  # one filled outline per segment (not a bar per customer: fast to draw)
        mask = segments[order] == segment_id
        fig.add_trace(
            go.Scatter(
                x=values[order][mask],
                y=position[mask],
                mode="lines",
                fill="tozerox",
                name=_segment_label(model, segment_id),
                line=dict(color=_segment_colour(segment_id), width=0.5),
                fillcolor=_segment_colour(segment_id),
                hovertemplate="silhouette %{x:.2f}<extra></extra>",
            )
        )
    mean = float(values.mean())
    fig.add_vline(x=mean, line=dict(color="#D55E00", dash="dash"), annotation_text=f"mean {mean:.2f}")
    fig.update_layout(height=560, xaxis_title="silhouette coefficient", yaxis=dict(visible=False))
    return style(fig, f"Silhouette of the {model.k} segments (mean {mean:.2f})", caption)


def dendrogram(
    model: SegmentationModel, customer_file: pd.DataFrame, seed: int = 0, sample_size: int = 300
) -> go.Figure:
    """Ward dendrogram of a seeded sample of customers in the model's clustering space.

    The horizontal line cuts the tree into ``model.k`` clusters.
    """
    from scipy.cluster.hierarchy import dendrogram as scipy_dendrogram

    from segkit.clustering import ALGORITHM_REGISTRY

    sample, _ = _sample(customer_file, sample_size, seed)
    _, tree = ALGORITHM_REGISTRY["agglomerative"].tree(model.transform(sample), seed)  # the engine's Ward
    heights = np.sort(tree[:, 2])
    k = min(model.k, len(sample))
    cut = float((heights[-k] + heights[-k + 1]) / 2) if 1 < k < len(heights) + 1 else float(heights[-1])
    layout = scipy_dendrogram(tree, no_plot=True, color_threshold=cut)
    fig = go.Figure()
    links = pd.DataFrame({"x": layout["icoord"], "y": layout["dcoord"], "colour": layout["color_list"]})
    for colour, group in links.groupby("colour", sort=True):  # one trace per link group
        xs = np.concatenate([np.r_[np.asarray(x, dtype=float), np.nan] for x in group["x"]])
        ys = np.concatenate([np.r_[np.asarray(y, dtype=float), np.nan] for y in group["y"]])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                showlegend=False,
                hoverinfo="skip",
                # scipy's link groups are not segkit's segments: one neutral colour keeps the segment colours unambiguous
                line=dict(color="#7F7F7F" if colour == "C0" else "#3B3B3B", width=1.2),
            )
        )
    fig.add_hline(y=cut, line=dict(color="#D55E00", dash="dash"), annotation_text=f"cut into {k} clusters")
    fig.update_layout(xaxis=dict(visible=False), yaxis_title="Ward merge distance", height=480)
    caption = f"Ward linkage on a random sample of {len(sample):,} of {len(customer_file):,} customers (seed {seed})."
    return style(fig, "Hierarchical clustering (dendrogram)", caption)


# --------------------------------------------------------------------------- scatters
def _with_segments(
    model: SegmentationModel, customer_file: pd.DataFrame, segments: pd.Series | None
) -> pd.Series:
    if segments is None:
        return model.predict(customer_file)
    return segments.reindex(customer_file.index)


def rfm_scatter_3d(
    customer_file: pd.DataFrame,
    segments: pd.Series,
    names: dict[int, str],
    seed: int = 0,
    sample_size: int = MAX_SCATTER_POINTS,
) -> go.Figure:
    """3D scatter of recency, frequency and monetary (log axes) coloured by segment.

    Parameters
    ----------
    customer_file
        Needs ``recency_days``, ``frequency`` and ``monetary`` (positive values; log axes).
    segments
        Segment id per customer (index ``customer_id``).
    names
        Segment id -> name (legend).
    """
    for column in ("recency_days", "frequency", "monetary"):
        if column not in customer_file.columns:
            raise SchemaError(f"customer file: column {column!r} is missing", column=column)
    sample, caption = _sample(customer_file, sample_size, seed)
    ids = segments.reindex(sample.index).to_numpy()
    fig = go.Figure()
    for segment_id in sorted(names):
        part = sample[ids == segment_id]
        fig.add_trace(
            go.Scatter3d(
                x=part["recency_days"].clip(lower=1),
                y=part["frequency"].clip(lower=1),
                z=part["monetary"].clip(lower=0.01),
                mode="markers",
                name=f"{segment_id}: {names[segment_id]}",
                marker=dict(size=2.5, color=_segment_colour(segment_id), opacity=0.75),
                text=part.index.astype(str),
                hovertemplate="%{text}<br>recency %{x} d<br>frequency %{y}<br>monetary %{z:,.0f}<extra></extra>",
            )
        )
    fig.update_layout(
        height=640,
        scene=dict(
            xaxis=dict(title="recency (days)", type="log"),
            yaxis=dict(title="frequency (orders)", type="log"),
            zaxis=dict(title="monetary (currency)", type="log"),
        ),
    )
    return style(fig, "Customers in R, F, M space (log axes) by segment", caption)


def pca_projection(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    segments: pd.Series | None = None,
    seed: int = 0,
    sample_size: int = MAX_SCATTER_POINTS,
) -> go.Figure:
    """2D PCA projection of the clustering space, customers coloured by segment, centroids marked.

    The PCA is fitted on the sampled customers; axis titles give the variance each component explains.
    """
    from sklearn.decomposition import PCA

    sample, caption = _sample(customer_file, sample_size, seed)
    ids = _with_segments(model, sample, segments).to_numpy()
    X = model.transform(sample)
    pca = PCA(n_components=2, random_state=seed).fit(X)
    points = pca.transform(X)
    centres = pca.transform(np.nan_to_num(model.centroid_matrix))
    fig = go.Figure()
    for segment_id in range(model.k):
        mask = ids == segment_id
        fig.add_trace(
            go.Scatter(  # SVG: no WebGL start-up (about a second in a software-rendered browser)
                x=points[mask, 0],
                y=points[mask, 1],
                mode="markers",
                name=_segment_label(model, segment_id),
                marker=dict(size=4, color=_segment_colour(segment_id), opacity=0.6),
                text=sample.index[mask].astype(str),
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=centres[:, 0],
            y=centres[:, 1],
            mode="markers+text",
            name="centroids",
            text=[str(i) for i in range(model.k)],
            textposition="top center",
            marker=dict(size=14, symbol="x", color="#000000"),
        )
    )
    share = pca.explained_variance_ratio_
    fig.update_layout(
        xaxis_title=f"PC1 ({share[0]:.0%} of variance)", yaxis_title=f"PC2 ({share[1]:.0%})", height=560
    )
    return style(fig, "Segments in a 2D PCA projection of the clustering space", caption)


# --------------------------------------------------------------------------- profiles
def _z_table(model: SegmentationModel, features: list[str] | None) -> pd.DataFrame:
    features = list(model.features) if features is None else list(features)
    columns = [f"z_{f}" for f in features if f"z_{f}" in model.profile.columns]
    if not columns:
        raise SchemaError("profile has none of the requested features", column="features")
    table = model.profile[columns].astype(float)
    table.columns = [c[2:] for c in columns]
    table.index = [_segment_label(model, i) for i in model.profile.index]
    return table


def profile_heatmap(model: SegmentationModel, features: list[str] | None = None) -> go.Figure:
    """Heatmap of each segment's standardised difference from the overall mean, per feature.

    One row per feature and one column per segment (labelled by id, named in the hover and the title's
    caption), so that the chart stays legible on a phone. Cells are (segment mean - overall mean) /
    overall standard deviation; hover shows the segment mean.
    """
    z = _z_table(model, features)
    means = model.profile[[f"mean_{c}" for c in z.columns]].to_numpy()
    limit = float(np.nanmax(np.abs(z.to_numpy()))) or 1.0
    ids = [str(i) for i in model.profile.index]
    fig = go.Figure(
        go.Heatmap(
            z=z.to_numpy().T,
            x=ids,
            y=list(z.columns),
            zmin=-limit,
            zmax=limit,
            colorscale="RdBu_r",
            customdata=np.stack([means.T, np.tile(np.array(z.index, dtype=object), (len(z.columns), 1))], -1),
            text=np.round(z.to_numpy().T, 1),
            texttemplate="%{text}",
            hovertemplate="%{customdata[1]}<br>%{y}<br>z=%{z:.2f}<br>mean=%{customdata[0]:,.2f}<extra></extra>",
            colorbar=dict(title="z", thickness=12),
        )
    )
    fig.update_layout(
        height=max(420, 160 + 26 * len(z.columns)),
        yaxis=dict(autorange="reversed", automargin=True),
        xaxis=dict(title="segment id", type="category", side="top"),
    )
    return style(
        fig, "Segment profiles: standardised difference from the overall mean", "columns: segment ids"
    )


def snake_plot(model: SegmentationModel, features: list[str] | None = None) -> go.Figure:
    """Snake plot: one line per segment across features, in standardised units (z)."""
    z = _z_table(model, features)
    fig = go.Figure()
    for position, (label, row) in enumerate(z.iterrows()):  # one trace per segment (k rows)
        fig.add_trace(
            go.Scatter(
                x=list(z.columns),
                y=row.to_numpy(),
                mode="lines+markers",
                name=label,
                line=dict(color=_segment_colour(position)),
            )
        )
    fig.add_hline(y=0, line=dict(color="#7F7F7F", dash="dot"))
    fig.update_layout(yaxis_title="standardised mean (z)", xaxis=dict(tickangle=-40), height=480)
    return style(fig, "Snake plot of the segments")


def segment_size_vs_revenue(model: SegmentationModel) -> go.Figure:
    """Side-by-side bars of each segment's share of customers and share of revenue."""
    profile = model.profile
    labels = [_segment_label(model, i) for i in profile.index]
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=profile["customer_share"],
                name="share of customers",
                marker_color="#56B4E9",
                texttemplate="%{y:.0%}",
                textposition="outside",
            ),
            go.Bar(
                x=labels,
                y=profile["revenue_share"],
                name="share of revenue",
                marker_color="#E69F00",
                texttemplate="%{y:.0%}",
                textposition="outside",
            ),
        ]
    )
    fig.update_layout(barmode="group", yaxis=dict(tickformat=".0%", title="share"), height=460)
    return style(fig, "Segment size against revenue share")
