"""Yellowbrick 1.5 on the current scientific stack: a small, idempotent compatibility layer.

Yellowbrick 1.5 (its latest release) predates three changes, each of which breaks one of the three
cluster visualizers segkit uses:

1. **Clusterer check.** ``yellowbrick.utils.types.is_clusterer`` looks for the
   ``_estimator_type == "clusterer"`` attribute, which scikit-learn >= 1.6 replaced by estimator tags;
   every visualizer's constructor then raises ``YellowbrickTypeError: The supplied model is not a
   clustering estimator``. The shim wraps the check so that it also accepts
   :func:`sklearn.base.is_clusterer`, and rebinds it where yellowbrick imported it by name
   (``yellowbrick.utils``, ``yellowbrick.utils.types``, ``yellowbrick.cluster.base``).
2. **``matplotlib.cm.get_cmap``** was removed in matplotlib 3.9; ``SilhouetteVisualizer`` colours go
   through ``yellowbrick.style.colors.resolve_colors``, which calls it. The shim gives that module
   (and ``yellowbrick.features.base``) a view of ``matplotlib.cm`` whose ``get_cmap`` looks the map up
   in ``matplotlib.colormaps``. ``matplotlib`` itself is untouched.
3. **``np.percentile(interpolation=...)``** was removed in numpy 2.4; ``InterclusterDistance`` uses it
   for its size legend. The shim gives ``yellowbrick.cluster.icdm`` a view of numpy whose
   ``percentile`` maps ``interpolation`` to ``method``. ``numpy`` itself is untouched.

Nothing in site-packages is edited and no version is pinned: :func:`apply` patches the imported
modules' namespaces once (a second call does nothing) and the figure functions call it.

Figures (matplotlib ``Figure`` objects, rendered with the Agg backend in reports):
:func:`elbow_yb`, :func:`silhouette_yb`, :func:`intercluster_yb`; :func:`figure_png` turns one into
PNG bytes for ``IPython.display.Image``.
"""

from __future__ import annotations

import types
import warnings
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from segkit.viz._common import segment_colours

#: Attribute set on each patched module, so that :func:`apply` is idempotent.
MARKER = "_segkit_yb_compat"


class _ModuleView(types.ModuleType):
    """A module that forwards every attribute to ``base`` except the given overrides."""

    def __init__(self, base: types.ModuleType, **overrides: Any) -> None:
        super().__init__(base.__name__, base.__doc__)
        self.__dict__.update(overrides)
        self._segkit_base = base

    def __getattr__(self, name: str) -> Any:
        return getattr(self._segkit_base, name)


def get_cmap(name: Any = None, lut: int | None = None):
    """``matplotlib.cm.get_cmap`` as it was before matplotlib 3.9, built on ``matplotlib.colormaps``."""
    import matplotlib as mpl
    from matplotlib.colors import Colormap

    if isinstance(name, Colormap):
        cmap = name
    else:
        cmap = mpl.colormaps[name if name is not None else mpl.rcParams["image.cmap"]]
    return cmap.resampled(lut) if lut is not None else cmap


def percentile(a: Any, q: Any, *args: Any, interpolation: str | None = None, **kwargs: Any):
    """``numpy.percentile`` accepting the removed ``interpolation=`` keyword (mapped to ``method=``)."""
    if interpolation is not None:
        kwargs.setdefault("method", interpolation)
    return np.percentile(a, q, *args, **kwargs)


def _make_is_clusterer(original):
    def is_clusterer(estimator: Any) -> bool:
        """True for clustering estimators (scikit-learn tags, or yellowbrick's own test)."""
        from sklearn.base import is_clusterer as sklearn_is_clusterer

        if original(estimator):
            return True
        candidate = estimator() if isinstance(estimator, type) else estimator
        try:
            return bool(sklearn_is_clusterer(candidate))
        except (AttributeError, TypeError):
            return False

    is_clusterer._segkit_original = original  # type: ignore[attr-defined]
    return is_clusterer


def _patch_clusterer_check() -> None:
    import yellowbrick.cluster.base as cluster_base
    import yellowbrick.utils as utils
    import yellowbrick.utils.types as yb_types

    if getattr(yb_types, MARKER, False):
        return
    patched = _make_is_clusterer(yb_types.is_clusterer)
    for module in (yb_types, utils):
        module.is_clusterer = patched
        module.isclusterer = patched
    cluster_base.isclusterer = patched
    yb_types.__dict__[MARKER] = True


def _patch_get_cmap() -> None:
    import matplotlib as mpl
    import matplotlib.cm
    import yellowbrick.features.base as features_base
    import yellowbrick.style.colors as colors

    if getattr(colors, MARKER, False) or hasattr(matplotlib.cm, "get_cmap"):
        return
    cm_view = _ModuleView(matplotlib.cm, get_cmap=get_cmap)
    colors.cm = cm_view
    features_base.mpl = _ModuleView(mpl, cm=cm_view)
    colors.__dict__[MARKER] = True


def _patch_percentile() -> None:
    import yellowbrick.cluster.icdm as icdm

    if getattr(icdm, MARKER, False) or _numpy_has_interpolation():
        return
    icdm.np = _ModuleView(np, percentile=percentile)
    icdm.__dict__[MARKER] = True


def apply() -> None:
    """Make yellowbrick's cluster visualizers work on this stack (idempotent; see the module docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # yellowbrick's import-time distutils use
        import yellowbrick.cluster  # noqa: F401
    _patch_clusterer_check()
    _patch_get_cmap()
    _patch_percentile()


def is_applied() -> bool:
    """True once :func:`apply` has run (or nothing needed patching)."""
    import matplotlib.cm
    import yellowbrick.cluster.icdm as icdm
    import yellowbrick.style.colors as colors
    import yellowbrick.utils.types as yb_types

    clusterer = getattr(yb_types, MARKER, False)
    cmap = getattr(colors, MARKER, False) or hasattr(matplotlib.cm, "get_cmap")
    percentile_ok = getattr(icdm, MARKER, False) or _numpy_has_interpolation()
    return bool(clusterer and cmap and percentile_ok)


def _numpy_has_interpolation() -> bool:
    try:
        np.percentile([0.0, 1.0], 50, interpolation="nearest")
    except TypeError:
        return False
    return True


# --------------------------------------------------------------------------- a fitted model for yellowbrick
def _segments_estimator(model: Any):
    """A fitted scikit-learn clusterer view of a SegmentationModel, for yellowbrick's visualizers.

    ``predict`` takes points of the model's clustering space and returns segment ids;
    ``cluster_centers_`` are the segment centroids; ``labels_`` are set by ``fit(X)`` (no refit).
    """
    from sklearn.base import BaseEstimator, ClusterMixin

    class FittedSegments(ClusterMixin, BaseEstimator):
        def __init__(self, n_clusters: int = model.k) -> None:
            self.n_clusters = n_clusters

        def fit(self, X, y=None):
            self.cluster_centers_ = np.nan_to_num(np.asarray(model.centroid_matrix))
            self.labels_ = self.predict(X)
            return self

        def predict(self, X):
            raw = np.asarray(model.assigner.predict(np.asarray(X)), dtype=np.int64)
            return model.label_map[raw]

    return FittedSegments()


def _model_sample(model: Any, customer_file: pd.DataFrame, sample_size: int, seed: int) -> np.ndarray:
    if len(customer_file) > sample_size:
        rows = np.sort(np.random.default_rng(seed).choice(len(customer_file), sample_size, replace=False))
        customer_file = customer_file.iloc[rows]
    return model.transform(customer_file)


@contextmanager
def _no_pyplot_figures():
    """Close the pyplot figures yellowbrick opens as a side effect (the notebook's inline backend would
    show each a second time); segkit's figures are plain ``matplotlib.figure.Figure`` objects."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        yield
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def _new_axes(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def figure_png(figure: Any, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure (for ``IPython.display.Image`` in notebooks and reports)."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def elbow_yb(
    model: Any,
    customer_file: pd.DataFrame,
    k_range: range | tuple[int, int] = range(2, 11),
    metric: str = "distortion",
    seed: int = 0,
    sample_size: int = 5_000,
    search: Any = None,
):
    """Yellowbrick ``KElbowVisualizer`` of k-means over ``k_range`` in the model's clustering space.

    Parameters
    ----------
    model
        A :class:`segkit.model.SegmentationModel` (its preprocessing defines the space).
    customer_file
        Customers to transform (a seeded sample of ``sample_size`` when larger).
    k_range
        ks to fit (a range, or ``(k_min, k_max)`` inclusive).
    metric
        ``"distortion"``, ``"silhouette"`` or ``"calinski_harabasz"``.
    search
        A :class:`segkit.clustering.ModelSearch` that tried k-means at every k of ``k_range``: its
        distortions (the ``inertia`` column: within-cluster sums of squares on the search's customers)
        are drawn instead of refitting k-means here, so the figure shows the curve the search read its
        elbow from. Used for ``metric="distortion"`` only; otherwise (or without it) k-means is fitted on
        the sample.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from yellowbrick.cluster import KElbowVisualizer

    from segkit.clustering import ALGORITHM_REGISTRY

    apply()
    ks = list(k_range) if isinstance(k_range, range) else list(range(k_range[0], k_range[1] + 1))
    X = _model_sample(model, customer_file, sample_size, seed)
    figure, ax = _new_axes((7, 4.5))
    estimator = ALGORITHM_REGISTRY["kmeans"].estimator(ks[0], len(X), seed)  # the engine's k-means
    visualizer = KElbowVisualizer(estimator, k=ks, metric=metric, timings=False, ax=ax)
    with warnings.catch_warnings(), _no_pyplot_figures():
        warnings.simplefilter("ignore")  # "no knee found" is shown on the figure instead
        scores = _search_distortions(search, ks) if metric == "distortion" else None
        if scores is None:
            visualizer.fit(X)
        else:
            _draw_scores(visualizer, ks, scores)
        visualizer.finalize()
    ax.set_title(f"Elbow of k-means ({metric}); knee at k={visualizer.elbow_value_}")
    return figure


def _search_distortions(search: Any, ks: list[int]) -> list[float] | None:
    """k-means inertia of a model search at each of ``ks`` (None when it lacks one of them)."""
    if search is None:
        return None
    table = search.table
    rows = table[table["algorithm"] == "kmeans"].set_index("k")["inertia"]
    if not set(ks) <= set(rows.index) or not np.isfinite(rows.reindex(ks)).all():
        return None
    return [float(rows[k]) for k in ks]


def _draw_scores(visualizer: Any, ks: list[int], scores: list[float]) -> None:
    """What ``KElbowVisualizer.fit`` does after its fits (elbow by yellowbrick's kneedle, then draw),
    from scores computed elsewhere."""
    from yellowbrick.utils import KneeLocator

    visualizer.k_values_, visualizer.k_scores_, visualizer.k_timers_ = list(ks), list(scores), []
    knee = KneeLocator(ks, scores, curve_nature="convex", curve_direction="decreasing").knee
    visualizer.elbow_value_ = knee
    visualizer.elbow_score_ = scores[ks.index(knee)] if knee is not None else 0
    visualizer.draw()


def silhouette_yb(model: Any, customer_file: pd.DataFrame, seed: int = 0, sample_size: int = 5_000):
    """Yellowbrick ``SilhouetteVisualizer`` of the model's segments (seeded sample of customers)."""
    from yellowbrick.cluster import SilhouetteVisualizer

    apply()
    X = _model_sample(model, customer_file, sample_size, seed)
    figure, ax = _new_axes((7, 5))
    with _no_pyplot_figures():
        visualizer = SilhouetteVisualizer(
            _segments_estimator(model).fit(X), ax=ax, is_fitted=True, colors=segment_colours(model.k)
        )
        visualizer.fit(X)
        visualizer.finalize()
    ax.set_title(f"Silhouette of {model.k} segments (mean {visualizer.silhouette_score_:.2f})")
    return figure


def _colour_centres(ax: Any, k: int) -> None:
    """Give each segment's circle on an intercluster map its segment colour (yellowbrick draws all in one)."""
    from matplotlib.colors import to_rgba

    for collection in ax.collections:
        if len(collection.get_offsets()) == k:
            colours = segment_colours(k)
            collection.set_facecolor([to_rgba(c, 0.35) for c in colours])
            collection.set_edgecolor([to_rgba(c, 0.9) for c in colours])


def intercluster_yb(model: Any, customer_file: pd.DataFrame, seed: int = 0, sample_size: int = 5_000):
    """Yellowbrick ``InterclusterDistance`` map of the segment centroids (MDS, sized by membership)."""
    from yellowbrick.cluster import InterclusterDistance

    apply()
    X = _model_sample(model, customer_file, sample_size, seed)
    figure, ax = _new_axes((7, 6))
    visualizer = InterclusterDistance(
        _segments_estimator(model).fit(X), ax=ax, is_fitted=True, random_state=seed, legend_loc="upper left"
    )
    with warnings.catch_warnings(), _no_pyplot_figures():
        warnings.simplefilter("ignore", FutureWarning)  # sklearn's MDS default-init notice
        visualizer.fit(X)
        visualizer.finalize()
    _colour_centres(ax, model.k)
    ax.set_title(f"Intercluster distance map of {model.k} segments")
    return figure
