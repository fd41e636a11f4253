"""segkit.viz.clusters: each figure is built from the model's numbers, samples large scatters and says so."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score
from test_clustering import synthetic_customer_file

from segkit import clustering
from segkit.schema import SchemaError
from segkit.viz import clusters


@pytest.fixture(scope="module")
def fitted():
    cf, _ = synthetic_customer_file(400, seed=3)
    search = clustering.search_models(cf, k_range=range(2, 6), n_bootstrap=2, stability_size=200)
    model = clustering.fit_segmentation(cf, "kmeans", 4, seed=0)
    return cf, search, model


def test_model_search_panel(fitted):
    _, search, _ = fitted
    fig = clusters.model_search_panel(search)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert len(lines) == 3 * len(clusters.SEARCH_PANELS)  # every algorithm in every panel
    silhouette = [t for t in lines if t.xaxis == "x2"]
    expected = search.table.loc[search.table["algorithm"] == "kmeans", "silhouette"]
    np.testing.assert_allclose(silhouette[0].y, expected)
    stars = [t for t in fig.data if t.name == "recommended"]
    assert len(stars) == len(clusters.SEARCH_PANELS) and stars[0].x[0] == search.best.k
    assert f"k={search.best.k}" in fig.layout.title.text


def test_silhouette_plot_matches_sklearn(fitted):
    cf, _, model = fitted
    fig = clusters.silhouette_plot(model, cf)
    expected = silhouette_score(model.transform(cf), model.predict(cf))
    assert f"mean {expected:.2f}" in fig.layout.title.text
    assert sum(len(t.x) for t in fig.data) == len(cf) and len(fig.data) == model.k


def test_dendrogram_cuts_into_k_clusters(fitted):
    cf, _, model = fitted
    fig = clusters.dendrogram(model, cf, sample_size=120)
    assert "120 of 400" in fig.layout.title.text
    coloured = [t for t in fig.data if t.line.color != "#7F7F7F"]
    assert len(coloured) == model.k  # one colour per cluster below the cut


def test_rfm_scatter_samples_and_uses_log_axes(fitted):
    cf, _, model = fitted
    segments = model.predict(cf)
    fig = clusters.rfm_scatter_3d(cf, segments, model.segment_names, sample_size=150)
    assert sum(len(t.x) for t in fig.data) == 150
    assert "150 of 400" in fig.layout.title.text
    assert fig.layout.scene.xaxis.type == "log" and fig.layout.scene.zaxis.type == "log"
    full = clusters.rfm_scatter_3d(cf, segments, model.segment_names)
    assert sum(len(t.x) for t in full.data) == 400 and "sample" not in full.layout.title.text
    with pytest.raises(SchemaError, match="monetary"):
        clusters.rfm_scatter_3d(cf.drop(columns="monetary"), segments, model.segment_names)


def test_pca_projection(fitted):
    cf, _, model = fitted
    fig = clusters.pca_projection(model, cf)
    assert sum(len(t.x) for t in fig.data[:-1]) == len(cf)
    assert len(fig.data[-1].x) == model.k and "variance" in fig.layout.xaxis.title.text


def test_profile_heatmap_and_snake_plot_show_z_scores(fitted):
    _, _, model = fitted
    heat = clusters.profile_heatmap(model)
    z = model.profile[[f"z_{f}" for f in model.features]].to_numpy()
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=float), z.T)  # a row per feature
    assert list(heat.data[0].y) == model.features
    assert list(heat.data[0].x) == [str(i) for i in model.profile.index]
    snake = clusters.snake_plot(model, ["recency_days", "monetary"])
    assert len(snake.data) == model.k
    np.testing.assert_allclose(
        snake.data[1].y, model.profile.loc[1, ["z_recency_days", "z_monetary"]].to_numpy()
    )
    with pytest.raises(SchemaError):
        clusters.profile_heatmap(model, ["not_a_feature"])


def test_size_vs_revenue_bars(fitted):
    _, _, model = fitted
    fig = clusters.segment_size_vs_revenue(model)
    np.testing.assert_allclose(fig.data[0].y, model.profile["customer_share"])
    np.testing.assert_allclose(fig.data[1].y, model.profile["revenue_share"])
    assert list(fig.data[1].y) == sorted(fig.data[1].y, reverse=True)  # ids follow revenue share
