"""Clustering customers: preprocessing, the search over algorithms and k, fitting, profiles and names.

Feature selection (the default, :func:`select_features`)
--------------------------------------------------------
Candidates are the RFM columns (:data:`RFM_FEATURES`) and the behaviour columns built from the
transactions (:data:`BEHAVIOUR_FEATURES` and the spend mix: every ``share_cat_*`` / ``share_channel_*``
column) present in the customer file, in that order. Engagement columns from the optional sessions and
reviews tables (:data:`ENGAGEMENT_FEATURES`) and demographics are profiled but clustered only when
asked for (``features=``): the default model then needs nothing but transactions to score new data
(``segkit score`` on a plain transaction file), and on the demo shop they blur the planted types
(browsing and review counts largely repeat frequency). A candidate is kept when it carries signal:

1. it is present (a dataset without sessions or reviews simply has fewer features);
2. at most 50 % of its values are missing;
3. its most common value covers less than 95 % of the customers (not near-constant);
4. it is not redundant: a candidate whose absolute Spearman correlation with an already kept one is
   0.95 or more is dropped (e.g. one of two complementary channel shares).

The rule is evaluated on a seeded sample of at most 20,000 customers.

Preprocessing (:func:`build_preprocessor`)
-----------------------------------------
A scikit-learn ``ColumnTransformer`` inside the model: median imputation, then ``log1p`` for
non-negative features with skewness above 1 (money, counts, days), Yeo-Johnson for skewed features with
negative values, standardisation of every numeric feature, one-hot encoding for categorical
features (most-frequent imputation, unknown categories ignored), optionally followed by PCA.

Large n (DESIGN "Large n")
-------------------------
:func:`search_models` fits on one seeded subsample (``sample_size``, the same for every algorithm).
Ward linkage needs the full distance matrix, so it is computed once per fit on at most
``WARD_MAX_FIT`` (5,000) customers of that subsample and the rest are assigned to the nearest cluster
mean; one linkage serves every k. Silhouettes use a seeded sample of at most 10,000 customers
(``silhouette_size``; distance blocks are computed once and shared by every candidate model). k-means
switches to ``MiniBatchKMeans`` above 100,000 customers.

Model selection (:func:`choose_models`)
--------------------------------------
Stability and segment size are *filters*, not objectives: a row of the search table passes when its
smallest segment holds at least ``min_segment_share`` (2 %) of the customers, it found k clusters and
its bootstrap stability (mean ARI across resamples) is at least ``min_stability`` (0.75). Among the rows
that pass, the choice is a consensus of the shape metrics (:data:`CONSENSUS_CRITERIA`): silhouette
(higher is better), Calinski-Harabasz (higher), Davies-Bouldin (lower), the distance ``|k - knee|`` to
the elbow of the algorithm's inertia curve (kneedle: the k farthest below the chord of the normalised
curve; an elbow is read to +-1 cluster, so distances within 1 of the best tie) and, for Gaussian
mixtures, BIC (lower). On each criterion a row's rank is 1 + the number of rows
better than it by more than the criterion's tolerance (differences within the noise of a sampled
silhouette do not decide), scaled to 0 (best) .. 1 (worst) among the rows where the criterion is
defined; the row with the smallest mean of these normalised ranks wins. Exact ties go to the higher
silhouette, then to the larger k: no rule prefers fewer segments. The runner-up is the best row with
another k; its reason names the criteria on which it is behind and ahead. Silhouette and
Calinski-Harabasz alone tend to favour few clusters on customer data and the elbow alone is often
blurred; the consensus needs a model to be separated, compact and at a bend of the inertia curve. The
reasons are sentences built from these numbers, and the table keeps ``consensus`` and
``consensus_rank`` so that what they quote can be read there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segkit.model import (
    CATEGORICAL_DTYPE,
    NUMERIC_DTYPE,
    REFERENCE_QUANTILES,
    SegmentationModel,
    __version__,
    _as_customer_frame,
)
from segkit.naming import (  # noqa: F401  (re-exported: names and actions live in segkit.naming)
    NAME_RULES,
    base_name,
    name_segments,
    segment_action,
    segment_actions,
)
from segkit.schema import (
    CUSTOMER_ID,
    DataError,
    ParameterError,
    SchemaError,
    missing_column_error,
)

# --------------------------------------------------------------------------- feature lists
#: RFM-type columns of the customer file, clustering candidates in this order.
RFM_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "mean_days_between_orders",
)
#: Behaviour columns built from the transactions (besides the ``share_cat_*`` / ``share_channel_*``
#: spend-mix families): default clustering candidates.
BEHAVIOUR_FEATURES: tuple[str, ...] = ("cancelled_share", "distinct_products")
#: Engagement columns from the optional sessions and reviews tables: profiled, clustered only on request.
ENGAGEMENT_FEATURES: tuple[str, ...] = (
    "review_mean",
    "review_count",
    "sessions",
    "pages_per_session",
    "session_conversion",
)
BEHAVIOUR_PREFIXES: tuple[str, ...] = ("share_cat_", "share_channel_")
#: Demographic columns (used for profiling; for clustering only when passed in ``features``).
DEMOGRAPHIC_FEATURES: tuple[str, ...] = ("age", "gender", "income_band", "region", "acquisition_channel")

#: Which input table each feature family needs (recorded in the model file; checked by score_dataset).
FEATURE_TABLES: dict[str, str] = {
    "review_mean": "reviews",
    "review_count": "reviews",
    "sessions": "sessions",
    "pages_per_session": "sessions",
    "session_conversion": "sessions",
    "age": "customers",
    "gender": "customers",
    "income_band": "customers",
    "region": "customers",
    "acquisition_channel": "customers",
}

MAX_MISSING_SHARE = 0.5
MAX_MODE_SHARE = 0.95
MAX_ABS_SPEARMAN = 0.95
SKEW_THRESHOLD = 1.0
#: Customers (seeded sample) on which the feature rule and the preprocessing parameters are estimated.
RULE_SAMPLE = 20_000
PREPROCESS_FIT_MAX = 100_000

MINIBATCH_ABOVE = 100_000
WARD_MAX_FIT = 5_000
KMEANS_N_INIT = 10
REVENUE_COLUMN = "monetary"

#: Columns whose mean percentile rank per segment drives the names.
NAMING_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary", "tenure_days")


# --------------------------------------------------------------------------- features
def select_features(customer_file: pd.DataFrame, features: Sequence[str] | str | None = None) -> list[str]:
    """Return the clustering features for ``customer_file``.

    Parameters
    ----------
    customer_file
        One row per customer (index ``customer_id``).
    features
        ``None`` or ``""`` for the default rule (see the module docstring), else the columns to use
        (a list, or a comma-separated string), checked to exist.

    Raises
    ------
    SchemaError
        A requested feature is not a column of the customer file.
    DataError
        The default rule finds no usable feature.
    """
    frame = _as_customer_frame(customer_file)
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    if features:
        for name in features:
            if name not in frame.columns:
                raise missing_column_error(name, frame.columns, table="customer file")
        if len(set(features)) != len(features):
            raise ParameterError("features: a column is listed twice", column="features")
        return list(features)
    candidates = [c for c in _candidate_features(frame.columns) if pd.api.types.is_numeric_dtype(frame[c])]
    sample = frame.iloc[_seeded_rows(len(frame), RULE_SAMPLE, 0)]
    kept = [c for c in candidates if _carries_signal(sample[c])]
    kept = _drop_redundant(sample, kept)
    if not kept:
        raise DataError(
            "customer file: no clustering feature carries signal",
            column="features",
            hint=f"candidates were {candidates}; pass features= explicitly",
        )
    return kept


def _candidate_features(columns: Iterable[str]) -> list[str]:
    columns = [str(c) for c in columns]
    present = set(columns)
    ordered = [c for c in (*RFM_FEATURES, *BEHAVIOUR_FEATURES) if c in present]
    ordered += [c for c in columns if c.startswith(BEHAVIOUR_PREFIXES)]
    return ordered


def _carries_signal(values: pd.Series) -> bool:
    if values.isna().mean() > MAX_MISSING_SHARE:
        return False
    counts = values.value_counts(normalize=True, dropna=True)
    return len(counts) > 1 and counts.iloc[0] < MAX_MODE_SHARE


def _drop_redundant(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    if len(columns) < 2:
        return columns
    corr = frame[columns].rank().corr().abs().to_numpy()
    kept: list[int] = []
    for j in range(len(columns)):
        if all(not (corr[j, i] >= MAX_ABS_SPEARMAN) for i in kept):
            kept.append(j)
    return [columns[j] for j in kept]


def feature_dtypes(customer_file: pd.DataFrame, features: Sequence[str]) -> dict[str, str]:
    """``"float64"`` for numeric features, ``"str"`` for the others (one-hot encoded)."""
    frame = _as_customer_frame(customer_file)
    return {
        name: NUMERIC_DTYPE
        if pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name])
        else CATEGORICAL_DTYPE
        for name in features
    }


def build_preprocessor(customer_file: pd.DataFrame, features: Sequence[str], pca: int | float | None = None):
    """Build the (unfitted) preprocessing pipeline for ``features``.

    The transform of each numeric feature is chosen from ``customer_file``: ``log1p`` when the
    feature is non-negative with skewness above 1, Yeo-Johnson when skewed with negative values, else
    none; every numeric feature is then standardised. Categorical features are one-hot encoded.

    Parameters
    ----------
    customer_file
        Training customers (used only to choose the transforms, not fitted here).
    features
        Columns to use.
    pca
        Optional ``n_components`` of a PCA appended to the pipeline (an int, or a float in (0, 1) for
        the share of variance to keep).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``ColumnTransformer`` (step ``"columns"``), then ``PCA`` (step ``"pca"``) when asked.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, PowerTransformer, StandardScaler

    frame = _as_customer_frame(customer_file)
    dtypes = feature_dtypes(frame, features)
    groups = _transform_groups(frame, [f for f in features if dtypes[f] == NUMERIC_DTYPE])
    transformers = []
    if groups["log1p"]:
        log1p = FunctionTransformer(np.log1p, inverse_func=np.expm1, feature_names_out="one-to-one")
        transformers.append(
            (
                "log1p",
                make_pipeline(SimpleImputer(strategy="median"), log1p, StandardScaler()),
                groups["log1p"],
            )
        )
    if groups["yeo_johnson"]:
        transformers.append(
            (
                "yeo_johnson",
                make_pipeline(SimpleImputer(strategy="median"), PowerTransformer(method="yeo-johnson")),
                groups["yeo_johnson"],
            )
        )
    if groups["scale"]:
        transformers.append(
            ("scale", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), groups["scale"])
        )

    categorical = [f for f in features if dtypes[f] == CATEGORICAL_DTYPE]
    if categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(
            ("onehot", make_pipeline(SimpleImputer(strategy="most_frequent"), encoder), categorical)
        )
    steps: list[tuple[str, Any]] = [
        ("columns", ColumnTransformer(transformers, verbose_feature_names_out=False))
    ]
    if pca:
        steps.append(("pca", PCA(n_components=pca, random_state=0)))
    return Pipeline(steps)


def _transform_groups(frame: pd.DataFrame, numeric: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {"log1p": [], "yeo_johnson": [], "scale": []}
    for name in numeric:
        values = frame[name].astype("float64")
        skew = float(values.skew()) if values.notna().sum() > 2 else 0.0
        if not np.isfinite(skew) or abs(skew) <= SKEW_THRESHOLD:
            groups["scale"].append(name)
        elif values.min() >= 0:
            groups["log1p"].append(name)
        else:
            groups["yeo_johnson"].append(name)
    return groups


# --------------------------------------------------------------------------- fitting primitives
def _check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise ParameterError(
            f"algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}", column="algorithm"
        )
    return algorithm


def _kmeans(k: int, n: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n > MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=3, random_state=seed)
    return KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed)


#: Variance floor of the Gaussian mixtures: features are standardised, and 0.01 keeps components from
#: collapsing onto the many exact zeros of the share features.
GMM_REG_COVAR = 1e-2


def _gmm(k: int, seed: int):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        n_components=k,
        covariance_type="full",
        init_params="kmeans",
        reg_covar=GMM_REG_COVAR,
        max_iter=100,
        random_state=seed,
    )


def _nearest_centroid(X: np.ndarray, labels: np.ndarray):
    from sklearn.neighbors import NearestCentroid

    return NearestCentroid().fit(X, labels)


def _ward_tree(X: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ward linkage on at most WARD_MAX_FIT rows of X; return (row indices used, linkage matrix)."""
    from scipy.cluster.hierarchy import linkage

    if len(X) > WARD_MAX_FIT:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), WARD_MAX_FIT, replace=False))
    else:
        rows = np.arange(len(X))
    return rows, linkage(X[rows], method="ward")


def _ward_cut(tree: np.ndarray, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    labels = fcluster(tree, t=k, criterion="maxclust") - 1
    return labels.astype(np.int64)


def _fit_assigners(
    X_fit: np.ndarray, algorithm: str, ks: Sequence[int], seed: int
) -> dict[int, tuple[Any, dict[str, float]]]:
    """Fit ``algorithm`` on ``X_fit`` for each k; return k -> (assigner with predict, extras).

    extras holds ``bic`` for Gaussian mixtures. Ward is fitted once (one tree, cut at every k) and
    its assigner is the ``NearestCentroid`` of the fitted clusters.
    """
    from threadpoolctl import threadpool_limits

    # thread pools (BLAS, OpenMP) only add overhead on these small problems, and more on a busy machine
    with threadpool_limits(limits=1):
        return _fit_assigners_single_thread(X_fit, algorithm, ks, seed)


def _fit_assigners_single_thread(
    X_fit: np.ndarray, algorithm: str, ks: Sequence[int], seed: int
) -> dict[int, tuple[Any, dict[str, float]]]:
    return ALGORITHM_REGISTRY[_check_algorithm(algorithm)].fit_many(X_fit, ks, seed)


def _fit_ward(X: np.ndarray, ks: Sequence[int], seed: int) -> dict[int, tuple[Any, dict[str, float]]]:
    rows, tree = _ward_tree(X, seed)
    return {k: (_nearest_centroid(X[rows], _ward_cut(tree, k)), {}) for k in ks}


def _fit_gmm(X: np.ndarray, ks: Sequence[int], seed: int) -> dict[int, tuple[Any, dict[str, float]]]:
    out: dict[int, tuple[Any, dict[str, float]]] = {}
    for k in ks:
        model = _gmm(k, seed).fit(X)
        out[k] = (model, {"bic": float(model.bic(X))})
    return out


def _fit_kmeans(X: np.ndarray, ks: Sequence[int], seed: int) -> dict[int, tuple[Any, dict[str, float]]]:
    return {k: (_kmeans(k, len(X), seed).fit(X), {}) for k in ks}


@dataclass(frozen=True)
class Algorithm:
    """One clustering algorithm of the registry: how to fit it and how new customers are assigned.

    Attributes
    ----------
    name, label
        Registry key and the label shown in reports.
    needs_k
        The number of segments is a parameter of the fit (every shipped algorithm needs it).
    assign
        How a fitted model assigns customers it was not fitted on (recorded in the model file).
    fit_many
        ``fit_many(X, ks, seed) -> {k: (assigner, extras)}``: one fitted assigner (with ``predict``)
        per k, fitted on the preprocessed matrix ``X`` with ``seed``; ``extras`` holds e.g. ``bic``.
    estimator
        ``estimator(k, n, seed)``: the unfitted scikit-learn estimator for ``n`` rows (for figures that
        drive one, e.g. yellowbrick's elbow), or None.
    tree
        ``tree(X, seed) -> (rows used, linkage matrix)`` for hierarchical algorithms (the dendrogram),
        else None.
    """

    name: str
    label: str
    needs_k: bool
    assign: str
    fit_many: Callable[[np.ndarray, Sequence[int], int], dict[int, tuple[Any, dict[str, float]]]]
    estimator: Callable[[int, int, int], Any] | None = None
    tree: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]] | None = None

    def fit(self, X: np.ndarray, k: int, seed: int) -> Any:
        """The assigner fitted with ``k`` segments on ``X`` (one thread: see :func:`_fit_assigners`)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self.fit_many(X, [k], seed)[k][0]


#: The clustering engine: every fit of the model search, of :class:`SegmentationModel`, of the
#: maintenance simulation and of the figures goes through this registry (name -> :class:`Algorithm`).
ALGORITHM_REGISTRY: dict[str, Algorithm] = {
    "kmeans": Algorithm(
        "kmeans",
        "k-means",
        True,
        f"nearest centroid (MiniBatchKMeans above {MINIBATCH_ABOVE:,} customers)",
        _fit_kmeans,
        estimator=_kmeans,
    ),
    "agglomerative": Algorithm(
        "agglomerative",
        "agglomerative (Ward)",
        True,
        f"nearest centroid (Ward linkage on at most {WARD_MAX_FIT:,} customers)",
        _fit_ward,
        tree=_ward_tree,
    ),
    "gmm": Algorithm(
        "gmm",
        "GMM",
        True,
        "most probable mixture component (GaussianMixture.predict)",
        _fit_gmm,
        estimator=lambda k, n, seed: _gmm(k, seed),
    ),
}
ALGORITHMS: tuple[str, ...] = tuple(ALGORITHM_REGISTRY)
ALGORITHM_LABELS: dict[str, str] = {name: a.label for name, a in ALGORITHM_REGISTRY.items()}


def _compact(labels: np.ndarray) -> np.ndarray:
    """Relabel to 0..m-1 (an assigner may leave a fitted cluster without members)."""
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


# --------------------------------------------------------------------------- metrics
def _group_means(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean row of X per label 0..k-1 (NaN for an empty label); one bincount per column."""
    counts = np.bincount(labels, minlength=k).astype(float)
    sums = np.column_stack([np.bincount(labels, weights=X[:, j], minlength=k) for j in range(X.shape[1])])
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def _inertia(X: np.ndarray, labels: np.ndarray) -> float:
    """Within-cluster sum of squared distances to the cluster means."""
    labels = _compact(labels)
    means = _group_means(X, labels, int(labels.max()) + 1)
    return float(((X - means[labels]) ** 2).sum())


def silhouettes(
    X: np.ndarray, labelings: Sequence[np.ndarray], chunk: int = 1_000, n_jobs: int = 1
) -> list[float]:
    """Mean silhouette coefficient (Euclidean) of several labelings of the same points.

    Equal to :func:`sklearn.metrics.silhouette_score` for each labeling (to about 1e-6: distance blocks
    are held in float32), but each block of pairwise distances is computed once and shared by all
    labelings (one matrix product per labeling). Labelings with fewer than 2 clusters give NaN. With
    ``n_jobs`` > 1 the blocks of rows are shared among that many worker processes (same figures).
    """
    n = len(X)
    compacts = [_compact(np.asarray(labels)) for labels in labelings]
    starts = list(range(0, n, chunk))
    groups = [starts[i :: max(n_jobs, 1)] for i in range(min(max(n_jobs, 1), len(starts)))]
    parts = _parallel(
        _silhouette_rows, [(X, compacts, group, chunk) for group in groups], n_jobs, range(len(groups))
    )
    totals = [np.zeros(n) for _ in labelings]
    for group, part in zip(groups, parts, strict=True):
        for start, values in zip(group, part, strict=True):
            for j, s in enumerate(values):
                totals[j][start : start + len(s)] = s
    sizes = [np.bincount(labels) for labels in compacts]
    return [
        float(t.mean()) if len(size) >= 2 else float("nan") for t, size in zip(totals, sizes, strict=True)
    ]


def _silhouette_rows(
    X: np.ndarray, compacts: Sequence[np.ndarray], starts: Sequence[int], chunk: int
) -> list[list[np.ndarray]]:
    """Silhouette of rows ``start:start + chunk`` of X under each labeling, for each start (0 where a
    point is alone in its cluster or the labeling has one cluster)."""
    from sklearn.metrics import pairwise_distances
    from threadpoolctl import threadpool_limits

    n = len(X)
    onehots = [np.eye(int(labels.max()) + 1, dtype=np.float32)[labels] for labels in compacts]
    sizes = [onehot.sum(axis=0, dtype=np.float64) for onehot in onehots]
    out: list[list[np.ndarray]] = []
    with threadpool_limits(limits=1):
        for start in starts:
            rows = np.arange(start, min(start + chunk, n))
            block = pairwise_distances(X[rows], X).astype(np.float32)
            values = []
            for onehot, size, labels in zip(onehots, sizes, compacts, strict=True):
                if len(size) < 2:
                    values.append(np.zeros(len(rows)))
                    continue
                sums = (block @ onehot).astype(np.float64)
                own = labels[rows]
                own_size = size[own]
                a = sums[np.arange(len(rows)), own] / np.maximum(own_size - 1, 1)
                others = sums / size
                others[np.arange(len(rows)), own] = np.inf
                b = others.min(axis=1)
                s = (b - a) / np.maximum(np.maximum(a, b), np.finfo(float).tiny)
                values.append(np.where(own_size > 1, s, 0.0))
            out.append(values)
    return out


def _quality(X: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

    labels = _compact(labels)
    m = int(labels.max()) + 1
    ok = 1 < m < len(X)
    return {
        "n_clusters": m,
        "inertia": _inertia(X, labels),
        "calinski_harabasz": float(calinski_harabasz_score(X, labels)) if ok else np.nan,
        "davies_bouldin": float(davies_bouldin_score(X, labels)) if ok else np.nan,
        "smallest_share": float(np.bincount(labels).min() / len(labels)),
    }


def _seeded_rows(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted seeded sample of ``min(size, n)`` row positions out of ``n``."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


#: Worker processes of the fits of the model search and of :func:`bootstrap_stability` (``None``: this
#: value, or the environment variable ``SEGKIT_N_JOBS``; never more than the machine's cores). Every fit
#: is seeded and single-threaded, so the results do not depend on the number of workers.
SEARCH_N_JOBS = 2


def _n_jobs(n_jobs: int | None) -> int:
    """Worker processes to use: ``n_jobs``, else ``SEGKIT_N_JOBS``, else :data:`SEARCH_N_JOBS`, at most the cores."""
    import os

    if n_jobs is None:
        n_jobs = int(os.environ.get("SEGKIT_N_JOBS") or SEARCH_N_JOBS)
    return max(1, min(int(n_jobs), os.cpu_count() or 1))


def _resamples(n_rows: int, n_resamples: int, seed: int) -> list[np.ndarray]:
    """Row positions of bootstrap resample 0..n_resamples-1 (``n_rows`` drawn with replacement)."""
    rng = np.random.default_rng([seed, 1])
    return [rng.integers(0, n_rows, size=n_rows) for _ in range(n_resamples)]


def _fit_units(algorithm: str, ks: Sequence[int]) -> list[list[int]]:
    """The ks fitted in one task: all of them for a tree (one linkage, cut at every k), else one k each."""
    return [list(ks)] if ALGORITHM_REGISTRY[algorithm].tree is not None else [[k] for k in ks]


def _fit_task(
    X: np.ndarray,
    rows: np.ndarray | None,
    algorithm: str,
    ks: Sequence[int],
    seed: int,
    label_rows: np.ndarray | None,
) -> dict[int, tuple[np.ndarray, dict[str, float]]]:
    """One fit task: :func:`_fit_assigners` on ``X[rows]`` (all of X when ``rows`` is None); return
    k -> (the fitted assigner's labels of ``X[label_rows]`` (all of X when None), extras such as bic)."""
    fitted = _fit_assigners(X if rows is None else X[rows], algorithm, ks, seed)
    target = X if label_rows is None else X[label_rows]
    return {
        k: (np.asarray(assigner.predict(target), dtype=np.int64), extras)
        for k, (assigner, extras) in fitted.items()
    }


#: A fit task: (rows of X to fit or None for all, algorithm, ks, seed, rows of X to label or None for all).
FitTask = tuple[np.ndarray | None, str, list[int], int, np.ndarray | None]


def _parallel(
    function: Callable[..., Any], tasks: Sequence[tuple], n_jobs: int, order: Sequence[int]
) -> list[Any]:
    """``[function(*task) for task in tasks]``, run in ``n_jobs`` worker processes (joblib's loky backend;
    large arrays are shared by memory map) in the given ``order``; results in the order of ``tasks``."""
    if n_jobs <= 1 or len(tasks) <= 1:
        return [function(*task) for task in tasks]
    from joblib import Parallel, delayed

    done = Parallel(n_jobs=n_jobs, backend="loky")(delayed(function)(*tasks[i]) for i in order)
    results: list[Any] = [None] * len(tasks)
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results


def _run_fits(
    X: np.ndarray, tasks: Sequence[FitTask], n_jobs: int
) -> list[dict[int, tuple[np.ndarray, dict]]]:
    """The result of :func:`_fit_task` for every task, in the order given.

    With ``n_jobs`` > 1 the tasks run in that many worker processes, the costly ones first (Gaussian
    mixtures, then fits on every row, then higher k). Each fit is seeded by its task and runs on one
    thread, so the results are those of a sequential loop.
    """
    order = sorted(
        range(len(tasks)),
        key=lambda i: (tasks[i][1] != "gmm", tasks[i][0] is not None, -max(tasks[i][2])),
    )
    return _parallel(_fit_task, [(X, *task) for task in tasks], n_jobs, order)


def _collect(
    fits: Sequence[dict[int, tuple[np.ndarray, dict]]],
) -> dict[int, tuple[np.ndarray, dict[str, float]]]:
    """Merge the per-task results of one algorithm on one matrix into k -> (labels, extras)."""
    return {k: value for fitted in fits for k, value in fitted.items()}


def _aris(
    reference: Mapping[int, np.ndarray], refits: Sequence[Mapping[int, tuple[np.ndarray, dict]]]
) -> dict[int, list[float]]:
    """ARI between ``reference[k]`` and each refit's labels of the same rows, per k, in refit order."""
    from sklearn.metrics import adjusted_rand_score

    return {
        k: [float(adjusted_rand_score(labels, refit[k][0])) for refit in refits]
        for k, labels in reference.items()
    }


# --------------------------------------------------------------------------- model search
@dataclass(frozen=True)
class Choice:
    """The recommended model of a search: ``algorithm``, ``k`` and the ``reason`` in one sentence."""

    algorithm: str
    k: int
    reason: str


@dataclass
class ModelSearch:
    """Result of :func:`search_models`.

    Attributes
    ----------
    table
        One row per algorithm and k: ``algorithm``, ``k``, ``n_clusters``, ``inertia``,
        ``silhouette``, ``calinski_harabasz``, ``davies_bouldin``, ``bic`` (GMM only, else NaN),
        ``smallest_share``, ``stability`` (mean ARI across bootstrap resamples), ``stability_std``,
        ``knee`` (True at the kneedle knee of the algorithm's inertia curve) and ``usable``.
    best
        The recommended model (see :func:`choose_model`).
    runner_up
        The best model with another k and the sentence on why it lost (see :func:`choose_models`).
    features
        Features used.
    knees
        Algorithm -> knee k (None when the inertia curve has no knee).
    n_customers, sample_size, seed
        Customers in the file, customers in the fitted subsample, seed.
    """

    table: pd.DataFrame
    best: Choice
    features: list[str]
    knees: dict[str, int | None] = field(default_factory=dict)
    runner_up: Choice | None = None
    n_customers: int = 0
    sample_size: int = 0
    seed: int = 0


def knee_point(ks: Sequence[int], inertia: Sequence[float]) -> int | None:
    """Kneedle knee of a decreasing convex curve (inertia against k), or None.

    x and y are scaled to [0, 1]; the knee is the k where the normalised curve lies farthest below the
    chord from its first to its last point (``argmax(1 - x - y)``), provided that distance is positive.
    """
    ks = np.asarray(ks, dtype=float)
    values = np.asarray(inertia, dtype=float)
    if len(ks) < 3 or not np.all(np.isfinite(values)) or np.ptp(values) == 0:
        return None
    x = (ks - ks.min()) / np.ptp(ks)
    y = (values - values.min()) / np.ptp(values)
    gap = (1.0 - x) - y
    best = int(np.argmax(gap))
    return int(ks[best]) if gap[best] > 1e-9 else None


def search_models(
    customer_file: pd.DataFrame,
    k_range: Iterable[int] = range(2, 11),
    algorithms: Sequence[str] | str = ("kmeans", "agglomerative", "gmm"),
    features: Sequence[str] | str | None = None,
    seed: int = 0,
    sample_size: int = 20_000,
    silhouette_size: int = 10_000,
    n_bootstrap: int = 5,
    stability_size: int = 5_000,
    min_segment_share: float = 0.02,
    min_stability: float = 0.75,
    pca: int | float | None = None,
    n_jobs: int | None = None,
) -> ModelSearch:
    """Fit every algorithm for every k and tabulate technical metrics; recommend one model.

    Parameters
    ----------
    customer_file
        One row per customer (index ``customer_id``).
    k_range
        Numbers of segments to try (each >= 2 and below the number of customers).
    algorithms
        Any of ``"kmeans"``, ``"agglomerative"`` (Ward), ``"gmm"`` (full-covariance Gaussian mixture);
        a comma-separated string is accepted.
    features
        Clustering features; ``None`` applies :func:`select_features`.
    seed
        Seeds the subsample, every fit and every resample.
    sample_size
        Customers fitted (a seeded subsample, the same for every algorithm).
    silhouette_size
        Customers on which silhouettes are computed (a seeded sample of the fitted subsample).
    n_bootstrap, stability_size
        Bootstrap resamples, each of ``stability_size`` customers drawn with replacement from a
        seeded sample of the subsample; stability is the mean ARI between the resample's fit (applied
        to that sample) and the model fitted on the subsample.
    min_segment_share, min_stability
        Thresholds of a usable model (see :func:`choose_model`).
    pca
        Optional PCA components for :func:`build_preprocessor`.
    n_jobs
        Worker processes of the fits (default :data:`SEARCH_N_JOBS`); the results do not depend on it.

    Returns
    -------
    ModelSearch
    """
    frame = _as_customer_frame(customer_file)
    algorithms = _parse_algorithms(algorithms)
    ks = _parse_k_range(k_range, len(frame))
    _check_positive(sample_size=sample_size, silhouette_size=silhouette_size, stability_size=stability_size)
    if n_bootstrap < 1:
        raise ParameterError(f"n_bootstrap must be >= 1, got {n_bootstrap}", column="n_bootstrap")
    features = select_features(frame, features)
    fit_rows = _seeded_rows(len(frame), sample_size, seed)
    subsample = frame.iloc[fit_rows]
    X = build_preprocessor(subsample, features, pca).fit_transform(subsample[features])
    sil_rows = _seeded_rows(len(X), silhouette_size, seed + 1)
    stab_rows = _seeded_rows(len(X), stability_size, seed + 2)

    resamples = _resamples(len(stab_rows), n_bootstrap, seed)
    tasks: list[FitTask] = []
    slots: list[tuple[str, int]] = []  # (algorithm, -1 for the fit on X or the resample number)
    for algorithm in algorithms:
        for unit in _fit_units(algorithm, ks):
            tasks.append((None, algorithm, unit, seed, None))
            slots.append((algorithm, -1))
            for b, rows in enumerate(resamples):
                tasks.append((stab_rows[rows], algorithm, unit, seed + 1 + b, stab_rows))
                slots.append((algorithm, b))
    jobs = _n_jobs(n_jobs)
    done = _run_fits(X, tasks, jobs)

    records: list[dict[str, Any]] = []
    labelings: list[np.ndarray] = []
    for algorithm in algorithms:
        fitted = _collect([r for r, s in zip(done, slots, strict=True) if s == (algorithm, -1)])
        refits = [
            _collect([r for r, s in zip(done, slots, strict=True) if s == (algorithm, b)])
            for b in range(n_bootstrap)
        ]
        labels_by_k = {k: fitted[k][0] for k in ks}
        aris = _aris({k: labels_by_k[k][stab_rows] for k in ks}, refits)
        for k in ks:
            labels = labels_by_k[k]
            labelings.append(labels[sil_rows])
            records.append(
                {
                    "algorithm": algorithm,
                    "k": k,
                    **_quality(X, labels),
                    "bic": fitted[k][1].get("bic", np.nan),
                    "stability": float(np.mean(aris[k])),
                    "stability_std": float(np.std(aris[k])),
                }
            )
    table = pd.DataFrame.from_records(records)
    table.insert(
        table.columns.get_loc("inertia") + 1, "silhouette", silhouettes(X[sil_rows], labelings, n_jobs=jobs)
    )
    knees = {a: knee_point(ks, table.loc[table["algorithm"] == a, "inertia"]) for a in algorithms}
    table["knee"] = [knees[a] == k for a, k in zip(table["algorithm"], table["k"], strict=True)]
    table["usable"] = (table["smallest_share"] >= min_segment_share) & (table["stability"] >= min_stability)
    table["usable"] &= table["n_clusters"] == table["k"]
    best, runner_up = choose_models(
        table, knees, min_segment_share=min_segment_share, min_stability=min_stability
    )
    ranked = rank_models(table, knees)
    table["consensus"] = ranked["consensus"].reindex(table.index)
    table["consensus_rank"] = ranked["consensus_rank"].reindex(table.index).astype("Int64")
    return ModelSearch(
        table=table,
        best=best,
        runner_up=runner_up,
        features=features,
        knees=knees,
        n_customers=len(frame),
        sample_size=len(fit_rows),
        seed=seed,
    )


#: Shape criteria of the consensus: column -> (larger is better, tolerance, scale). Differences smaller
#: than the tolerance are ties (the noise of a sampled silhouette; 2% of a Calinski-Harabasz index,
#: compared on a log scale; a BIC difference below 10 is not "very strong" evidence, Kass & Raftery
#: 1995). ``knee_gap`` is ``|k - knee|`` of the row's algorithm (kneedle on its inertia curve); ``bic``
#: is defined for Gaussian mixtures only. Stability and segment size are filters, not criteria.
CONSENSUS_CRITERIA: dict[str, tuple[bool, float, str]] = {
    "silhouette": (True, 0.02, "linear"),
    "calinski_harabasz": (True, 0.02, "log"),
    "davies_bouldin": (False, 0.05, "linear"),
    "knee_gap": (False, 1.0, "linear"),  # an elbow is read to +-1 cluster: within 1 of it ties
    "bic": (False, 10.0, "linear"),
}
CRITERION_LABELS: dict[str, str] = {
    "silhouette": "silhouette",
    "calinski_harabasz": "Calinski-Harabasz",
    "davies_bouldin": "Davies-Bouldin",
    "knee_gap": "distance to the elbow",
    "bic": "BIC",
}


def tolerant_rank(values: pd.Series, larger_is_better: bool, tolerance: float) -> pd.Series:
    """Rank 1 + the number of values better than this one by more than ``tolerance`` (NaN ranks last)."""
    scores = values.to_numpy(dtype=float)
    scores = scores if larger_is_better else -scores
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    better = (scores[None, :] > scores[:, None] + tolerance).sum(axis=1)
    return pd.Series(1 + better, index=values.index)


def _criterion_values(pool: pd.DataFrame, knees: Mapping[str, int | None]) -> pd.DataFrame:
    """The consensus criteria of each row (NaN where a criterion is not defined for it)."""
    knee_gap = [
        abs(k - knees[a]) if knees.get(a) is not None else np.nan
        for a, k in zip(pool["algorithm"], pool["k"], strict=True)
    ]
    values = pd.DataFrame({"knee_gap": knee_gap}, index=pool.index, dtype=float)
    for column in CONSENSUS_CRITERIA:
        if column != "knee_gap":
            values[column] = pool[column].astype(float) if column in pool else np.nan
    return values[list(CONSENSUS_CRITERIA)]


def consensus_ranks(pool: pd.DataFrame, knees: Mapping[str, int | None]) -> pd.DataFrame:
    """Per criterion, each row's normalised rank among the rows where it is defined.

    A criterion's rank is :func:`tolerant_rank` among the rows where it is defined (finite), scaled to
    0 (best) .. 1 (worst) by ``(rank - 1) / (rows - 1)``; NaN where undefined. ``knee_gap`` is
    ``|k - knee|`` of the row's algorithm. The ``consensus`` column
    is the mean over the defined criteria (0 = best on every criterion), ``rank_*`` columns the plain
    ranks (1 = best).
    """
    values = _criterion_values(pool, knees)
    out = pd.DataFrame({"knee_gap": values["knee_gap"]}, index=pool.index)
    for column, (larger_is_better, tolerance, scale) in CONSENSUS_CRITERIA.items():
        defined = values[column][np.isfinite(values[column])]
        if scale == "log":
            defined = np.log(defined.where(defined > 0)).dropna()
        if len(defined) == 0:
            continue
        rank = tolerant_rank(defined, larger_is_better, tolerance)
        out[f"rank_{column}"] = rank.reindex(pool.index)
        out[f"norm_{column}"] = ((rank - 1) / max(len(defined) - 1, 1)).reindex(pool.index)
    out["consensus"] = out.filter(like="norm_").mean(axis=1)
    return out


def _pool(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    usable = table[table["usable"]] if "usable" in table else table
    return (usable, "usable") if len(usable) else (table, "fallback")


def rank_models(table: pd.DataFrame, knees: Mapping[str, int | None]) -> pd.DataFrame:
    """The pool of :func:`choose_model` in consensus order, with its ``consensus_rank`` (1 = chosen).

    Order: smallest ``consensus`` (mean normalised rank of :data:`CONSENSUS_CRITERIA`); exact ties go to
    the higher silhouette, then to the larger k (never to fewer segments), then to the more stable.
    """
    pool, _ = _pool(table)
    pool = pool.drop(columns=[c for c in ("consensus", "consensus_rank") if c in pool])
    ranks = consensus_ranks(pool, knees)
    ordered = pool.join(ranks).assign(
        _neg_sil=-pool["silhouette"], _neg_k=-pool["k"], _neg_st=-pool["stability"]
    )
    ordered = ordered.sort_values(["consensus", "_neg_sil", "_neg_k", "_neg_st"], kind="mergesort")
    ordered = ordered.drop(columns=["_neg_sil", "_neg_k", "_neg_st"])
    ordered["consensus_rank"] = np.arange(1, len(ordered) + 1)
    return ordered


def choose_models(
    table: pd.DataFrame,
    knees: Mapping[str, int | None],
    min_segment_share: float = 0.02,
    min_stability: float = 0.75,
) -> tuple[Choice, Choice | None]:
    """The recommended model and the runner-up of a search table (see the module docstring).

    The runner-up is the best model of the pool with another number of segments; its ``reason`` says
    why it lost. When every model that passes the filters has the same k, it is the best of the models
    with another k (consensus among them) and its reason names the filters it fails; None when the
    table holds a single k.
    """
    ordered = rank_models(table, knees)
    _, basis = _pool(table)
    row = ordered.iloc[0]
    best = Choice(
        algorithm=str(row["algorithm"]),
        k=int(row["k"]),
        reason=_reason(row, len(ordered), knees, basis, min_segment_share, min_stability),
    )
    others = ordered[ordered["k"] != row["k"]]
    if len(others):
        second = others.iloc[0]
        reason = _runner_up_reason(second, row)
    else:  # every passing model has this k: the runner-up is the best of the others, failing a filter
        failing = table[(table["k"] != row["k"]) & ~table.index.isin(ordered.index)]
        if not len(failing):
            return best, None
        ranked_all = rank_models(failing.assign(usable=True), knees)
        second = ranked_all.iloc[0]
        reason = _filtered_out_reason(second, row, min_segment_share, min_stability)
    return best, Choice(algorithm=str(second["algorithm"]), k=int(second["k"]), reason=reason)


def choose_model(
    table: pd.DataFrame,
    knees: Mapping[str, int | None],
    min_segment_share: float = 0.02,
    min_stability: float = 0.75,
) -> Choice:
    """The recommended model of a search table (:func:`choose_models` without the runner-up)."""
    return choose_models(table, knees, min_segment_share, min_stability)[0]


def _label(row: pd.Series) -> str:
    return f"{ALGORITHM_LABELS.get(str(row['algorithm']), str(row['algorithm']))} k={int(row['k'])}"


def _reason(
    row: pd.Series,
    n_pool: int,
    knees: Mapping[str, int | None],
    basis: str,
    min_segment_share: float,
    min_stability: float,
) -> str:
    k = int(row["k"])
    knee = knees.get(str(row["algorithm"]))
    thresholds = f"smallest segment >= {min_segment_share:.0%} of customers, stability >= {min_stability:.2f}"
    pool_text = (
        f"among the {n_pool} models that pass the filters ({thresholds})"
        if basis == "usable"
        else f"among all {n_pool} models, none of which passes the filters ({thresholds}); treat it with caution"
    )
    parts = [
        f"{CRITERION_LABELS[c]} {row[c]:,.0f} (rank {int(row[f'rank_{c}'])})"
        if c in ("calinski_harabasz", "bic")
        else f"{CRITERION_LABELS[c]} {row[c]:.2f} (rank {int(row[f'rank_{c}'])})"
        for c in CONSENSUS_CRITERIA
        if c != "knee_gap" and f"rank_{c}" in row and pd.notna(row.get(f"rank_{c}"))
    ]
    knee_text = (
        "its inertia curve has no clear elbow"
        if knee is None
        else (
            f"k={k} is the elbow of its inertia curve (kneedle)"
            if knee == k
            else f"the elbow of its inertia curve is at k={knee}"
        )
    )
    head = (
        f"{_label(row)} is the only model that passes the filters ({thresholds})"
        if basis == "usable" and n_pool == 1
        else f"{_label(row)} has the best consensus of the shape metrics {pool_text}"
    )
    return (
        f"{head}: mean normalised rank "
        f"{row['consensus']:.2f} (0 = best on every metric) from {', '.join(parts)}; {knee_text}. "
        f"Its smallest segment holds {row['smallest_share']:.1%} of customers and its bootstrap stability "
        f"(mean ARI) is {row['stability']:.2f}."
    )


def _filtered_out_reason(
    second: pd.Series, best: pd.Series, min_segment_share: float, min_stability: float
) -> str:
    """Why the best model with another k, when none passes the filters, lost: the filters it fails."""
    failed = []
    if second["stability"] < min_stability:
        failed.append(f"its stability (mean ARI) is {second['stability']:.2f}, below {min_stability:.2f}")
    if second["smallest_share"] < min_segment_share:
        failed.append(
            f"its smallest segment holds {second['smallest_share']:.1%}, below {min_segment_share:.0%}"
        )
    if "n_clusters" in second and second["n_clusters"] != second["k"]:
        failed.append(f"it found {int(second['n_clusters'])} clusters, not {int(second['k'])}")
    return (
        f"Runner-up: {_label(second)}, the best model with another number of segments, fails the filters "
        f"that {_label(best)} passes: {'; '.join(failed)}."
    )


def _runner_up_reason(second: pd.Series, best: pd.Series) -> str:
    """One sentence: why the runner-up lost to the chosen model, criterion by criterion."""
    worse, better = [], []
    for column in CONSENSUS_CRITERIA:
        a, b = second.get(f"norm_{column}"), best.get(f"norm_{column}")
        if pd.isna(a) or pd.isna(b) or a == b:
            continue
        label = CRITERION_LABELS[column]
        if column == "knee_gap":
            text = f"{label} ({int(second[column])} vs {int(best[column])})"
        elif column in ("calinski_harabasz", "bic"):
            text = f"{label} ({second[column]:,.0f} vs {best[column]:,.0f})"
        else:
            text = f"{label} ({second[column]:.2f} vs {best[column]:.2f})"
        (worse if a > b else better).append(text)
    sentence = (
        f"Runner-up: {_label(second)} (mean normalised rank {second['consensus']:.2f} against "
        f"{best['consensus']:.2f} for {_label(best)})"
    )
    if worse:
        sentence += f"; it is behind on {', '.join(worse)}"
    if better:
        sentence += f"{' and' if worse else '; it is'} ahead on {', '.join(better)}"
    if not worse and not better:
        sentence += "; it ties on every metric and loses on the tie rule (higher silhouette, then larger k)"
    return sentence + "."


def _parse_algorithms(algorithms: Sequence[str] | str) -> list[str]:
    if isinstance(algorithms, str):
        algorithms = [a.strip() for a in algorithms.split(",") if a.strip()]
    algorithms = list(dict.fromkeys(algorithms))
    if not algorithms:
        raise ParameterError("algorithms: give at least one algorithm", column="algorithms")
    return [_check_algorithm(a) for a in algorithms]


def _parse_k_range(k_range: Iterable[int], n_customers: int) -> list[int]:
    try:
        ks = sorted({int(k) for k in k_range})
    except (TypeError, ValueError):
        raise ParameterError(f"k_range must hold integers, got {k_range!r}", column="k_range") from None
    bad = [k for k in ks if k < 2 or k >= n_customers]
    if not ks or bad:
        raise ParameterError(
            f"k_range: every k must be >= 2 and below the number of customers ({n_customers:,})",
            column="k_range",
            n_bad=len(bad),
            examples=bad,
        )
    return ks


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int | np.integer) or value < 2:
            raise ParameterError(f"{name} must be an integer >= 2, got {value!r}", column=name)


# --------------------------------------------------------------------------- fitting a segmentation
def fit_segmentation(
    customer_file: pd.DataFrame,
    algorithm: str = "kmeans",
    k: int | None = None,
    features: Sequence[str] | str | None = None,
    seed: int = 0,
    names: Mapping[Any, str] | str | None = None,
    sample_size: int = 20_000,
    pca: int | float | None = None,
    metrics_size: int = 10_000,
) -> SegmentationModel:
    """Fit a segmentation model on a customer file.

    Parameters
    ----------
    customer_file
        One row per customer (index ``customer_id``) with at least the features and ``monetary``.
    algorithm
        ``"kmeans"`` (``MiniBatchKMeans`` above 100,000 customers), ``"agglomerative"`` (Ward) or
        ``"gmm"``.
    k
        Number of segments; ``None`` runs :func:`search_models` for this algorithm and uses its choice.
    features
        Clustering features; ``None`` applies :func:`select_features`.
    seed
        Seeds every random choice.
    names
        Overrides of the generated segment names: a mapping from segment id (or generated name) to the
        new name, or its JSON text.
    sample_size
        Agglomerative and GMM models are fitted on a seeded subsample of this many customers (Ward on
        at most 5,000 of them) and assign the others with ``predict`` (nearest cluster mean for Ward).
        k-means fits every customer. The preprocessing parameters (medians, means, standard
        deviations, Yeo-Johnson lambdas) are estimated on a seeded sample of at most 100,000.
    pca
        Optional PCA components for :func:`build_preprocessor`.
    metrics_size
        Customers (seeded sample) on which the training silhouette, Calinski-Harabasz and
        Davies-Bouldin indices are computed (inertia and the smallest segment use every customer).

    Returns
    -------
    SegmentationModel
        Segment ids 0..k-1 ordered by descending revenue share of the training customers.
    """
    frame = _as_customer_frame(customer_file)
    algorithm = _check_algorithm(algorithm)
    if REVENUE_COLUMN not in frame.columns:
        raise missing_column_error(REVENUE_COLUMN, frame.columns, table="customer file")
    features = select_features(frame, features)
    if k is None:
        k = search_models(frame, algorithms=(algorithm,), features=features, seed=seed, pca=pca).best.k
    k = _parse_k_range([k], len(frame))[0]
    fit_sample = frame.iloc[_seeded_rows(len(frame), PREPROCESS_FIT_MAX, seed)]
    preprocessor = build_preprocessor(fit_sample, features, pca).fit(fit_sample[features])
    X = np.asarray(preprocessor.transform(frame[features]), dtype=np.float64)
    fit_rows = np.arange(len(X)) if algorithm == "kmeans" else _seeded_rows(len(X), sample_size, seed)
    assigner = _fit_assigners(X[fit_rows], algorithm, [k], seed)[k][0]
    raw = np.asarray(assigner.predict(X), dtype=np.int64)
    label_map = _revenue_order(raw, frame[REVENUE_COLUMN].to_numpy(dtype=np.float64, na_value=0.0), k)
    segments = pd.Series(label_map[raw], index=frame.index, name="segment_id")
    profile = segment_profile(frame, segments, k)
    segment_names = name_segments(profile, names)
    actions = segment_actions(profile)
    profile.insert(0, "segment_name", pd.array([segment_names[i] for i in profile.index], dtype="str"))
    centroids = _group_means(X, segments.to_numpy(), k)
    dtypes = feature_dtypes(frame, features)
    metadata = _training_metadata(
        frame, X, segments.to_numpy(), features, dtypes, algorithm, k, seed, metrics_size
    )
    return SegmentationModel(
        preprocessor=preprocessor,
        assigner=assigner,
        label_map=label_map,
        features=features,
        feature_dtypes=dtypes,
        segment_names=segment_names,
        actions=actions,
        profile=profile,
        centroid_matrix=centroids,
        metadata=metadata,
    )


def recommend_and_fit(
    customer_file: pd.DataFrame,
    k_range: Iterable[int] = range(2, 11),
    algorithms: Sequence[str] | str = ("kmeans", "agglomerative", "gmm"),
    features: Sequence[str] | str | None = None,
    seed: int = 0,
    names: Mapping[Any, str] | str | None = None,
    n_bootstrap: int = 5,
    **search_options: Any,
) -> tuple[ModelSearch, SegmentationModel]:
    """The recommended segmentation: :func:`search_models`, then :func:`fit_segmentation` of its choice.

    The one call path of notebook 03 (and of anything that must ship what it ships): the model is fitted
    with the algorithm and k of ``search.best``, the search's features and the same seed.

    Parameters
    ----------
    customer_file, k_range, algorithms, features, seed, n_bootstrap
        As for :func:`search_models`.
    names
        Segment name overrides (:func:`fit_segmentation`).
    **search_options
        Further keywords of :func:`search_models` (``sample_size``, ``min_stability``, ...).

    Returns
    -------
    tuple of (ModelSearch, SegmentationModel)
    """
    search = search_models(
        customer_file,
        k_range=k_range,
        algorithms=algorithms,
        features=features,
        seed=seed,
        n_bootstrap=n_bootstrap,
        **search_options,
    )
    model = fit_segmentation(
        customer_file, search.best.algorithm, search.best.k, features=search.features, seed=seed, names=names
    )
    return search, model


@dataclass
class SpecFit:
    """A model's specification fitted on one customer file (the simulation's frozen and refitted models).

    Attributes
    ----------
    features
        The model's features, in its order.
    preprocessor
        A clone of the model's preprocessing pipeline (same transform of every feature), fitted here.
    assigner
        The algorithm's fitted assigner (from :data:`ALGORITHM_REGISTRY`).
    label_map
        Raw assigner label -> segment id (descending revenue share of the customers it was fitted on).
    k
        Number of segments.
    """

    features: list[str]
    preprocessor: Any
    assigner: Any
    label_map: np.ndarray
    k: int

    def transform(self, customer_file: pd.DataFrame) -> np.ndarray:
        """Preprocessed feature matrix of ``customer_file``."""
        return np.asarray(
            self.preprocessor.transform(_spec_input(customer_file, self.features)), dtype=np.float64
        )

    def predict_matrix(self, X: np.ndarray) -> np.ndarray:
        """Segment ids of rows already transformed by *this* fit's preprocessor."""
        return self.label_map[np.asarray(self.assigner.predict(X), dtype=np.int64)]

    def predict(self, customer_file: pd.DataFrame) -> np.ndarray:
        """Segment ids (``0..k-1``) of the customers of ``customer_file``."""
        return self.predict_matrix(self.transform(customer_file))


def _spec_input(customer_file: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The features as a float64 array (numeric features) or an object array (with categorical ones)."""
    frame = customer_file[features]
    if all(
        pd.api.types.is_numeric_dtype(frame[f]) and not pd.api.types.is_bool_dtype(frame[f]) for f in features
    ):
        return frame.to_numpy(dtype=np.float64, na_value=np.nan)
    return frame.to_numpy(dtype=object)


def _positional_clone(preprocessor: Any, features: list[str]) -> Any:
    """An unfitted clone of a model's preprocessing whose columns are addressed by position.

    The same transformers on the same features (so the same preprocessing); positions let it take a
    numpy array, which skips pandas' per-call checks (the simulation refits it at every step).
    """
    from sklearn.base import clone

    clone_ = clone(preprocessor)
    position = {name: i for i, name in enumerate(features)}
    columns = clone_.named_steps["columns"]
    columns.set_params(
        transformers=[(name, step, [position[c] for c in cols]) for name, step, cols in columns.transformers]
    )
    return clone_


def fit_spec(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    seed: int | None = None,
    sample_size: int = 20_000,
    fit_size: int | None = None,
) -> tuple[SpecFit, np.ndarray]:
    """Refit ``model``'s specification (features, preprocessing, algorithm, k, seed) on ``customer_file``.

    The preprocessing pipeline is cloned from the model (each feature keeps its transform), so only
    its parameters are re-estimated, on a seeded sample of at most 100,000 customers as in
    :func:`fit_segmentation`; the assigner comes from :data:`ALGORITHM_REGISTRY` (k-means on every
    customer, the others on a seeded subsample of ``sample_size``). ``seed`` defaults to the model's.
    ``fit_size`` fits the preprocessing and every algorithm on one seeded sample of at most that many
    customers (as the model search fits on its subsample) and assigns the others; the maintenance
    simulation uses it for speed, for the frozen model, the noise refits and every step alike.

    Returns
    -------
    tuple
        The :class:`SpecFit` and the segment id of each row of ``customer_file`` (ids ordered by
        descending revenue share, as :func:`fit_segmentation` orders them).
    """
    seed = int(model.metadata.get("seed", 0)) if seed is None else int(seed)
    features = list(model.features)
    k = _parse_k_range([model.k], len(customer_file))[0]
    preprocessor = _positional_clone(model.preprocessor, features)
    data = _spec_input(customer_file, features)
    if fit_size is not None:
        rows = _seeded_rows(len(customer_file), fit_size, seed)
        preprocessor.fit(data[rows])
        X = np.asarray(preprocessor.transform(data), dtype=np.float64)
        X_fit = X[rows]
    else:
        fit_rows = _seeded_rows(len(customer_file), PREPROCESS_FIT_MAX, seed)
        if len(fit_rows) == len(customer_file):
            X = np.asarray(preprocessor.fit_transform(data), dtype=np.float64)
        else:
            preprocessor.fit(data[fit_rows])
            X = np.asarray(preprocessor.transform(data), dtype=np.float64)
        rows = np.arange(len(X)) if model.algorithm == "kmeans" else _seeded_rows(len(X), sample_size, seed)
        X_fit = X[rows]
    assigner = ALGORITHM_REGISTRY[_check_algorithm(model.algorithm)].fit(X_fit, k, seed)
    raw = np.asarray(assigner.predict(X), dtype=np.int64)
    revenue = customer_file[REVENUE_COLUMN].to_numpy(dtype=np.float64, na_value=0.0)
    label_map = _revenue_order(raw, revenue, k)
    return SpecFit(features, preprocessor, assigner, label_map, k), label_map[raw]


def _revenue_order(raw: np.ndarray, revenue: np.ndarray, k: int) -> np.ndarray:
    """label_map with label_map[raw] = rank of the raw cluster by descending revenue (ties: raw id)."""
    n_raw = max(int(raw.max()) + 1, k)
    totals = np.bincount(raw, weights=np.nan_to_num(revenue), minlength=n_raw)
    counts = np.bincount(raw, minlength=n_raw)
    order = np.lexsort((np.arange(n_raw), -counts, -totals))
    label_map = np.empty(n_raw, dtype=np.int64)
    label_map[order] = np.arange(n_raw)
    if n_raw > k:  # more raw labels than k (cannot happen with the shipped assigners)
        raise DataError(f"clustering produced {n_raw} clusters for k={k}", column="k")
    return label_map


def _training_metadata(
    frame: pd.DataFrame,
    X: np.ndarray,
    segments: np.ndarray,
    features: list[str],
    dtypes: dict[str, str],
    algorithm: str,
    k: int,
    seed: int,
    metrics_size: int,
) -> dict[str, Any]:
    rows = _seeded_rows(len(X), metrics_size, seed + 1)
    metrics = {
        **_quality(X[rows], segments[rows]),
        "inertia": _inertia(X, segments),
        "smallest_share": float(np.bincount(segments, minlength=k).min() / len(segments)),
        "silhouette": silhouettes(X[rows], [segments[rows]])[0],
        "metrics_sample": int(len(rows)),
    }
    numeric = [f for f in features if dtypes[f] == NUMERIC_DTYPE]
    quantiles = frame[numeric].quantile(list(REFERENCE_QUANTILES)) if numeric else pd.DataFrame()
    return {
        "segkit_version": __version__,
        "algorithm": algorithm,
        "k": int(k),
        "seed": int(seed),
        "input_tables": input_tables(features),
        "snapshot_convention": str(
            frame.attrs.get("convention", frame.attrs.get("snapshot_convention", "marketing"))
        ),
        "snapshot_date": _attr_text(frame.attrs.get("snapshot_date")),
        "training_period": _training_period(frame),
        "n_customers": int(len(frame)),
        "rfm_bin_edges": rfm_bin_edges(frame),
        "reference_quantiles": {
            "levels": list(REFERENCE_QUANTILES),
            **{name: quantiles[name].tolist() for name in numeric},
        },
        "metrics": metrics,
        "prediction": ALGORITHM_REGISTRY[algorithm].assign,
    }


def input_tables(features: Iterable[str]) -> list[str]:
    """Input tables the features need (``transactions`` always), sorted."""
    tables = {"transactions"}
    tables.update(FEATURE_TABLES[f] for f in features if f in FEATURE_TABLES)
    return sorted(tables)


def _attr_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return str(value)


def _training_period(frame: pd.DataFrame) -> dict[str, str | None]:
    period = frame.attrs.get("training_period") or frame.attrs.get("period")
    if isinstance(period, Mapping):
        return {str(k): _attr_text(v) for k, v in period.items()}
    start = frame["first_purchase"].min() if "first_purchase" in frame.columns else None
    end = frame["last_purchase"].max() if "last_purchase" in frame.columns else None
    return {
        "start": _attr_text(pd.Timestamp(start)) if start is not None and pd.notna(start) else None,
        "end": _attr_text(pd.Timestamp(end)) if end is not None and pd.notna(end) else None,
    }


def rfm_bin_edges(customer_file: pd.DataFrame, bins: int = 5) -> dict[str, list[float]] | None:
    """RFM score bin edges of the training customers (:class:`segkit.features.RFMScorer`), or None.

    None when the file lacks ``recency_days``, ``frequency`` or ``monetary``.
    """
    from segkit.features import RFMScorer

    if not {"recency_days", "frequency", "monetary"} <= set(customer_file.columns):
        return None
    scorer = RFMScorer(bins=bins).fit(customer_file)
    return {name: np.asarray(edges, dtype=float).tolist() for name, edges in scorer.edges_.items()}


# --------------------------------------------------------------------------- profiles, names, actions
def segment_profile(customer_file: pd.DataFrame, segments: pd.Series, k: int | None = None) -> pd.DataFrame:
    """Describe each segment in business terms.

    Parameters
    ----------
    customer_file
        One row per customer; every numeric column is profiled.
    segments
        Segment id per customer (aligned on the index).
    k
        Number of segments (segments without customers get a row of size 0); default max id + 1.

    Returns
    -------
    pd.DataFrame
        Index ``segment_id``; columns ``size``, ``customer_share``, ``revenue_share`` (share of the
        total ``monetary``), then for every numeric column f: ``mean_<f>``, ``median_<f>``, ``z_<f>``
        (segment mean minus overall mean, in overall standard deviations; 0 for a constant column);
        and ``rank_<f>`` for the naming columns (:data:`NAMING_FEATURES`): the segment's mean
        percentile rank of f (0-1, 0.5 = typical), ``base_median_<f>``: the median of f over all
        customers (the same in every row; the names compare segments with it), and
        ``one_time_share``: the share of the segment's customers with one order.
    """
    frame = _as_customer_frame(customer_file)
    ids = pd.Series(
        np.asarray(segments.reindex(frame.index) if isinstance(segments, pd.Series) else segments),
        index=frame.index,
    )
    if ids.isna().any():
        raise DataError(
            "segments: some customers have no segment",
            column="segment_id",
            n_bad=int(ids.isna().sum()),
            examples=ids[ids.isna()].index[:5].tolist(),
        )
    ids = ids.astype(np.int64)
    k = int(ids.max()) + 1 if k is None else int(k)
    index = pd.RangeIndex(k, name="segment_id")
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    values = frame[numeric].astype("float64")
    grouped = values.groupby(ids.to_numpy())
    means = grouped.mean().reindex(index)
    medians = grouped.median().reindex(index)
    overall_mean = values.mean()
    overall_std = values.std(ddof=0).replace(0.0, np.nan)
    z = ((means - overall_mean) / overall_std).fillna(0.0)
    size = ids.value_counts().reindex(index, fill_value=0).astype(np.int64)
    revenue = (
        values[REVENUE_COLUMN].fillna(0.0).groupby(ids.to_numpy()).sum().reindex(index, fill_value=0.0)
        if REVENUE_COLUMN in values.columns
        else pd.Series(np.nan, index=index)
    )
    total_revenue = revenue.sum()
    parts = [
        pd.DataFrame(
            {
                "size": size.to_numpy(),
                "customer_share": (size / max(len(ids), 1)).to_numpy(),
                "revenue_share": (revenue / total_revenue if total_revenue else revenue * np.nan).to_numpy(),
            },
            index=index,
        ),
        means.add_prefix("mean_"),
        medians.add_prefix("median_"),
        z.add_prefix("z_"),
    ]
    naming = [c for c in NAMING_FEATURES if c in values.columns]
    if naming:
        ranks = values[naming].rank(pct=True).groupby(ids.to_numpy()).mean().reindex(index)
        parts.append(ranks.add_prefix("rank_"))
        base = pd.DataFrame({f"base_median_{c}": values[c].median() for c in naming}, index=index)
        parts.append(base)
    if "frequency" in values.columns:
        one_time = (values["frequency"] <= 1).astype(float).groupby(ids.to_numpy()).mean().reindex(index)
        parts.append(pd.DataFrame({"one_time_share": one_time.to_numpy()}, index=index))
    profile = pd.concat(parts, axis=1)
    profile.index = index
    return profile


# --------------------------------------------------------------------------- stability
def bootstrap_stability(
    customer_file: pd.DataFrame,
    model_spec: Mapping[str, Any] | Choice | SegmentationModel,
    n: int = 20,
    seed: int = 0,
    sample_size: int = 20_000,
    n_jobs: int | None = None,
) -> pd.Series:
    """ARIs between a reference fit and refits on bootstrap resamples, at one date.

    The reference model is fitted on a seeded sample of at most ``sample_size`` customers with
    ``seed``; resample i draws that many customers with replacement and refits with seed
    ``seed + 1 + i`` (so both the data and the algorithm's random state vary); both models label the
    sample and the ARI of the two labelings is recorded.

    Parameters
    ----------
    customer_file
        One row per customer.
    model_spec
        ``{"algorithm": ..., "k": ..., "features": ... (optional)}``, a search's ``best`` or a fitted
        :class:`SegmentationModel` (its algorithm, k and features are reused).
    n
        Number of resamples.
    seed
        Seed of the sample, the resamples and the fits.
    n_jobs
        Worker processes of the fits (see :func:`search_models`); the results do not depend on it.

    Returns
    -------
    pd.Series
        ARI per resample (index ``resample`` 0..n-1), named ``ari``.
    """
    frame = _as_customer_frame(customer_file)
    algorithm, k, features = _spec(model_spec)
    algorithm = _check_algorithm(algorithm)
    if n < 1:
        raise ParameterError(f"n must be >= 1, got {n}", column="n")
    k = _parse_k_range([k], len(frame))[0]
    features = select_features(frame, features)
    rows = _seeded_rows(len(frame), sample_size, seed)
    sample = frame.iloc[rows]
    X = build_preprocessor(sample, features).fit_transform(sample[features])
    tasks: list[FitTask] = [(None, algorithm, [k], seed, None)]
    tasks += [
        (rows, algorithm, [k], seed + 1 + b, None) for b, rows in enumerate(_resamples(len(X), n, seed))
    ]
    reference, *refits = _run_fits(X, tasks, _n_jobs(n_jobs))
    aris = _aris({k: reference[k][0]}, refits)[k]
    return pd.Series(aris, index=pd.RangeIndex(n, name="resample"), name="ari")


def _spec(model_spec: Mapping[str, Any] | Choice | SegmentationModel) -> tuple[str, int, Any]:
    if isinstance(model_spec, SegmentationModel):
        return model_spec.algorithm, model_spec.k, list(model_spec.features)
    if isinstance(model_spec, Choice):
        return model_spec.algorithm, model_spec.k, None
    if isinstance(model_spec, Mapping) and {"algorithm", "k"} <= set(model_spec):
        return str(model_spec["algorithm"]), model_spec["k"], model_spec.get("features")
    raise ParameterError(
        "model_spec must be a mapping with 'algorithm' and 'k', a Choice or a model", column="model_spec"
    )


# --------------------------------------------------------------------------- scoring new data
def score_dataset(model: SegmentationModel, dataset: Any, snapshot_date: Any = None) -> pd.DataFrame:
    """Assign the customers of new data to the model's segments.

    The transactions are cleaned with the default rules and the customer file rebuilt with
    :func:`segkit.features.customer_file` (snapshot convention of the training, default snapshot
    date unless given); RFM segments use the training RFM bin edges when the model recorded them.

    Parameters
    ----------
    model
        A fitted or loaded :class:`SegmentationModel`.
    dataset
        A :class:`segkit.io.Dataset` (or anything with ``transactions`` and optional side tables).

    Returns
    -------
    pd.DataFrame
        ``customer_id, segment_id, segment_name, rfm_segment``, sorted by ``customer_id``.

    Raises
    ------
    SchemaError
        An input table the model's features need is absent (named), or a feature cannot be built.
    """
    from segkit import cleaning, features

    tables = {name: getattr(dataset, name, None) for name in ("customers", "sessions", "reviews")}
    if getattr(dataset, "transactions", None) is None:
        raise SchemaError("dataset has no transactions table", column="transactions")
    needed = model.metadata.get("input_tables") or input_tables(model.features)
    check_input_tables(
        model, ["transactions", *(name for name, table in tables.items() if table is not None)]
    )
    clean, report = cleaning.clean_transactions(dataset.transactions)
    cancellations = getattr(report, "by_customer", None)
    kwargs: dict[str, Any] = {"snapshot_date": snapshot_date, "cancellations": cancellations}
    cf = features.customer_file(clean, **{k: v for k, v in tables.items() if k in needed}, **kwargs)
    return score_customer_file(model, cf, clean.columns)


def check_input_tables(model: SegmentationModel, tables: Sequence[str]) -> None:
    """Raise a :class:`~segkit.schema.SchemaError` naming the first table the model needs and ``tables`` lack."""
    needed = model.metadata.get("input_tables") or input_tables(model.features)
    for table in needed:
        if table not in tables:
            raise SchemaError(
                f"the model needs the {table!r} table (features "
                f"{[f for f in model.features if FEATURE_TABLES.get(f) == table]}), which the data lack",
                column=table,
            )


def score_customer_file(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    line_columns: Sequence[str],
    segment_frame: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The scoring half of :func:`score_dataset`, on a customer file built from new data.

    Parameters
    ----------
    customer_file
        :func:`segkit.customer_file` of the new data's clean lines.
    line_columns
        The columns of those lines (a category or channel the model knows and nobody bought is a
        0 share only when the lines have the column).
    segment_frame
        ``segment_frame(customer_file) -> frame``: how to assign segments (default
        ``model.segment_frame``; an engine passes its batched :meth:`~segkit.engines.Engine.score`).

    Returns
    -------
    pd.DataFrame
        ``customer_id, segment_id, segment_name, rfm_segment``, sorted by ``customer_id``.
    """
    cf = _zero_absent_shares(customer_file, model.features, line_columns)
    cf = _add_rfm_segment(cf, model)
    frame = (segment_frame or model.segment_frame)(cf)
    if "rfm_segment" not in frame.columns:
        frame["rfm_segment"] = pd.array([None] * len(frame), dtype="str")
    return frame.sort_values(CUSTOMER_ID, kind="mergesort").reset_index(drop=True)


#: Spend-mix feature families and the transaction column each is built from.
_SHARE_FAMILIES: dict[str, str] = {"share_cat_": "category", "share_channel_": "channel"}


def _zero_absent_shares(
    cf: pd.DataFrame, feature_names: Sequence[str], line_columns: Sequence[str]
) -> pd.DataFrame:
    """A category (channel) the model knows but nobody in the new batch bought is a 0 share.

    Only when the batch has the category (channel) column at all; a batch without it lacks an
    input and the model's own error names the feature.
    """
    absent = {
        name: 0.0
        for name in feature_names
        for prefix, column in _SHARE_FAMILIES.items()
        if name.startswith(prefix) and name not in cf.columns and column in line_columns
    }
    return cf.assign(**absent) if absent else cf


def _add_rfm_segment(cf: pd.DataFrame, model: SegmentationModel) -> pd.DataFrame:
    """Named RFM segments scored with the training bin edges (the file's own scores when none)."""
    from segkit.features import RFMScorer, rfm_scores, rfm_segments

    edges = model.metadata.get("rfm_bin_edges")
    if edges:
        scorer = RFMScorer(bins=len(next(iter(edges.values()))))
        scorer.edges_ = {name: np.asarray(values, dtype=float) for name, values in edges.items()}
        scorer.n_customers_ = int(model.metadata.get("n_customers", 0))
        scores = scorer.transform(cf)
    else:
        scores = rfm_scores(cf)
    return cf.assign(rfm_segment=rfm_segments(scores, bins=scorer.bins if edges else 5))
