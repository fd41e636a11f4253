"""The yellowbrick compatibility layer: each failure it fixes, idempotence, and each visualizer drawing."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.cm  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import silhouette_score  # noqa: E402
from test_clustering import synthetic_customer_file  # noqa: E402

from segkit import clustering  # noqa: E402
from segkit.viz import yb_compat  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    cf, _ = synthetic_customer_file(300, seed=2)
    return clustering.fit_segmentation(cf, "kmeans", 4, seed=0), cf


def test_unpatched_yellowbrick_rejects_modern_clusterers():
    code = (
        "from sklearn.cluster import KMeans\n"
        "from yellowbrick.cluster import KElbowVisualizer\n"
        "try:\n"
        "    KElbowVisualizer(KMeans(), k=(2, 4))\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "YellowbrickTypeError"


def test_clusterer_check_is_fixed():
    import yellowbrick.cluster.base as cluster_base
    import yellowbrick.utils.types as yb_types

    yb_compat.apply()
    original = yb_types.is_clusterer._segkit_original
    assert original(KMeans()) is False  # the failure the shim fixes
    for check in (yb_types.is_clusterer, yb_types.isclusterer, cluster_base.isclusterer):
        assert check(KMeans()) is True and check(KMeans) is True
        assert check(LogisticRegression()) is False


def test_get_cmap_is_provided_to_yellowbrick_only():
    import yellowbrick.style.colors as colors

    yb_compat.apply()
    if hasattr(matplotlib.cm, "get_cmap"):
        pytest.skip("this matplotlib still has cm.get_cmap")
    assert not hasattr(matplotlib.cm, "get_cmap")  # matplotlib itself is left alone
    assert colors.cm.get_cmap("viridis").name == "viridis"
    assert colors.cm.get_cmap("viridis", lut=5).N == 5
    assert colors.cm.ScalarMappable is matplotlib.cm.ScalarMappable  # everything else forwards
    assert len(colors.resolve_colors(n_colors=3, colormap="viridis")) == 3


def test_percentile_interpolation_is_fixed_in_icdm_only():
    import yellowbrick.cluster.icdm as icdm

    yb_compat.apply()
    values = np.array([5.0, 1.0, 3.0, 9.0])
    if not yb_compat._numpy_has_interpolation():
        with pytest.raises(TypeError):
            np.percentile(values, 50, interpolation="nearest")  # the failure the shim fixes
    assert icdm.percentile_index(values, 75) == 0  # value 5 is the nearest 75th percentile
    assert icdm.np.percentile(values, 50, interpolation="lower") == 3.0
    assert icdm.np.mean is np.mean


def test_apply_is_idempotent():
    import yellowbrick.cluster.icdm as icdm
    import yellowbrick.style.colors as colors
    import yellowbrick.utils.types as yb_types

    yb_compat.apply()
    before = (yb_types.is_clusterer, colors.cm, icdm.np)
    yb_compat.apply()
    assert (yb_types.is_clusterer, colors.cm, icdm.np) == before
    assert not hasattr(yb_types.is_clusterer._segkit_original, "_segkit_original")  # not wrapped twice
    assert yb_compat.is_applied()


def test_elbow_figure(fitted):
    model, cf = fitted
    figure = yb_compat.elbow_yb(model, cf, k_range=range(2, 7))
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    assert list(ax.lines[0].get_xdata()) == [2, 3, 4, 5, 6]
    assert "knee at k=" in ax.get_title()


def test_elbow_figure_draws_the_search_distortions_without_refitting(fitted, monkeypatch):
    from sklearn.cluster import KMeans

    from segkit import clustering

    model, cf = fitted
    search = clustering.search_models(
        cf, k_range=range(2, 7), algorithms="kmeans,agglomerative", n_bootstrap=2
    )

    def no_fit(*args, **kwargs):
        raise AssertionError("k-means refitted")

    monkeypatch.setattr(KMeans, "fit", no_fit)
    figure = yb_compat.elbow_yb(model, cf, k_range=range(2, 7), search=search)
    ax = figure.axes[0]
    expected = search.table[search.table["algorithm"] == "kmeans"].sort_values("k")["inertia"]
    assert list(ax.lines[0].get_xdata()) == [2, 3, 4, 5, 6]
    assert list(ax.lines[0].get_ydata()) == pytest.approx(expected.tolist())
    assert "knee at k=" in ax.get_title()
    without_kmeans = clustering.search_models(
        cf, k_range=range(2, 7), algorithms="agglomerative", n_bootstrap=2
    )
    assert yb_compat._search_distortions(without_kmeans, [2, 3, 4, 5, 6]) is None  # then it fits


def test_silhouette_figure_shows_the_model_segments(fitted):
    model, cf = fitted
    figure = yb_compat.silhouette_yb(model, cf)
    expected = silhouette_score(model.transform(cf), model.predict(cf))
    assert f"mean {expected:.2f}" in figure.axes[0].get_title()
    assert len(figure.axes[0].collections) >= model.k  # one filled silhouette per segment


def test_intercluster_figure(fitted):
    model, cf = fitted
    figure = yb_compat.intercluster_yb(model, cf)
    assert isinstance(figure, Figure) and "4 segments" in figure.axes[0].get_title()
    figure.canvas.draw()  # renders with Agg without error
