"""Drift metrics between a reference sample and a current sample: pure functions of arrays.

Conventions (DESIGN.md, "Drift definitions")
--------------------------------------------
* **reference** is the training sample (the customers the model was fitted on), **current** the sample
  to compare with it.
* Binned metrics (PSI, KL, JS) share one binning: 10 bins cut at the reference deciles, the outer
  bins open (``(-inf, q10]``, ``(q10, q20]``, ..., ``(q90, +inf)``). Duplicate deciles (discrete or
  heavily tied features such as order counts) are merged, so there may be fewer than 10 bins. A
  constant reference gets three bins: below, equal to and above its value.
* Proportions are floored at ``1e-6`` before taking logs (an empty bin would otherwise give an
  infinite divergence); logs are natural except for Jensen-Shannon.
* ``psi = sum((cur - ref) * ln(cur / ref))``. Rule of thumb: < 0.1 stable, 0.1-0.2 moderate shift,
  > 0.2 large shift.
* ``kl_divergence`` is KL(reference || current) = ``sum(ref * ln(ref / cur))``, in nats.
* ``js_divergence`` is the Jensen-Shannon *divergence* in bits (base 2), in ``[0, 1]``. scipy's
  ``scipy.spatial.distance.jensenshannon`` returns the Jensen-Shannon *distance*, its square root.
* ``ks_statistic`` is ``scipy.stats.ks_2samp(reference, current).statistic`` (in ``[0, 1]``; the statistic does not
  depend on the p-value method, so the fast ``method="asymp"`` is used).
* ``wasserstein_scaled`` is ``scipy.stats.wasserstein_distance(reference, current)`` divided by the
  reference standard deviation (population, ``ddof=0``), so it reads in reference standard deviations.
* Categorical features: :func:`psi_categorical` and :func:`js_categorical` on category proportions
  (categories of either sample; missing values form their own category ``"<NA>"``).

Missing values (NaN) are not allowed in the array functions (a :class:`~segkit.schema.DataError`
names how many); :func:`drift_table` drops them per feature and says so in its ``n_reference`` /
``n_current`` columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from segkit.schema import DataError, ParameterError, SchemaError, bad_rows_error

#: Floor applied to bin / category proportions before taking logs.
PROPORTION_FLOOR = 1e-6
#: Number of reference-quantile bins for PSI, KL and JS.
N_BINS = 10
#: Metric names of numeric and categorical features in :func:`drift_table`, in order.
NUMERIC_METRICS: tuple[str, ...] = ("psi", "ks", "js", "kl", "wasserstein")
CATEGORICAL_METRICS: tuple[str, ...] = ("psi", "js")
MISSING_CATEGORY = "<NA>"


# --------------------------------------------------------------------------- validation
def _as_sample(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-d float array; raise :class:`DataError` when empty or not finite."""
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataError(
            f"{name}: values must be numeric", column=name, hint="use psi_categorical for categories"
        ) from None
    if array.size == 0:
        raise DataError(f"{name}: the sample is empty; drift needs at least one value", column=name)
    bad = ~np.isfinite(array)
    if bad.any():
        raise bad_rows_error(
            DataError, f"{name}: values must be finite (drop missing values first)", name, array[bad]
        )
    return array


# --------------------------------------------------------------------------- binning
def reference_edges(reference, n_bins: int = N_BINS) -> np.ndarray:
    """Inner bin edges at the reference quantiles ``1/n_bins, ..., (n_bins-1)/n_bins``.

    Duplicate quantiles are merged. A constant reference ``c`` gets the edges ``[c-, c]`` (the largest
    float below ``c``, then ``c``), i.e. the bins ``x < c``, ``x == c`` and ``x > c``.
    Bins are right-closed: a value equal to an edge falls in the bin below it.
    """
    ref = _as_sample(reference, "reference")
    if n_bins < 2:
        raise ParameterError(f"n_bins must be at least 2, got {n_bins}", column="n_bins")
    edges = np.unique(np.quantile(ref, np.arange(1, n_bins) / n_bins))
    if edges.size == 1 and np.all(ref == edges[0]):
        edges = np.array([np.nextafter(edges[0], -np.inf), edges[0]])
    return edges


def binned_proportions(values, edges: np.ndarray, floor: float = PROPORTION_FLOOR) -> np.ndarray:
    """Share of ``values`` in each bin of ``edges`` (right-closed, open outer bins), floored at ``floor``.

    The floored shares are not renormalised (the usual PSI convention).
    """
    array = _as_sample(values, "values")
    bins = np.searchsorted(edges, array, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return np.maximum(counts / array.size, floor)


def _binned_pair(reference, current) -> tuple[np.ndarray, np.ndarray]:
    ref = _as_sample(reference, "reference")
    cur = _as_sample(current, "current")
    edges = reference_edges(ref)
    return binned_proportions(ref, edges), binned_proportions(cur, edges)


def _psi(ref_p: np.ndarray, cur_p: np.ndarray) -> float:
    return float(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))


def _js(p: np.ndarray, q: np.ndarray) -> float:
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2
    value = 0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m))
    return float(np.clip(value, 0.0, 1.0))


# --------------------------------------------------------------------------- numeric metrics
def psi(reference, current) -> float:
    """Population stability index of ``current`` against ``reference`` (natural log).

    Parameters
    ----------
    reference, current
        1-d numeric samples (any units; the binning is at the reference deciles, so PSI does not
        depend on the units or on any increasing transform of the feature).

    Returns
    -------
    float
        ``sum((cur_i - ref_i) * ln(cur_i / ref_i))`` over the 10 reference-decile bins, proportions
        floored at 1e-6. 0 for identical distributions; > 0.2 is commonly read as a large shift.
    """
    return _psi(*_binned_pair(reference, current))


def kl_divergence(reference, current) -> float:
    """Kullback-Leibler divergence KL(reference || current) in nats, on the PSI bins."""
    return _kl(*_binned_pair(reference, current))


def js_divergence(reference, current) -> float:
    """Jensen-Shannon divergence in bits (base 2, in ``[0, 1]``) on the PSI bins.

    The floored bin proportions are renormalised to sum to 1 first. This is the square of
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``, which returns the distance.
    """
    return _js(*_binned_pair(reference, current))


def ks_statistic(reference, current) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``): the largest gap between the
    two empirical CDFs, in ``[0, 1]``."""
    ref = _as_sample(reference, "reference")
    cur = _as_sample(current, "current")
    return float(stats.ks_2samp(ref, cur, method="asymp").statistic)


def wasserstein_scaled(reference, current) -> float:
    """Earth mover's distance between the samples, in reference standard deviations.

    ``scipy.stats.wasserstein_distance(reference, current) / std(reference)`` (``ddof=0``).

    Raises
    ------
    DataError
        When the reference is constant (its standard deviation is 0, the scale is undefined).
    """
    ref = _as_sample(reference, "reference")
    cur = _as_sample(current, "current")
    scale = float(np.std(ref))
    if scale == 0.0:
        raise DataError(
            "reference: the sample is constant (standard deviation 0), so the scaled Wasserstein "
            "distance is undefined",
            column="reference",
        )
    return float(stats.wasserstein_distance(ref, cur) / scale)


# --------------------------------------------------------------------------- categorical metrics
def _category_proportions(reference, current) -> tuple[np.ndarray, np.ndarray]:
    ref = pd.Series(np.asarray(reference, dtype=object).ravel(), dtype=object)
    cur = pd.Series(np.asarray(current, dtype=object).ravel(), dtype=object)
    for name, sample in (("reference", ref), ("current", cur)):
        if sample.empty:
            raise DataError(f"{name}: the sample is empty; drift needs at least one value", column=name)
    ref = ref.where(ref.notna(), MISSING_CATEGORY).astype(str)
    cur = cur.where(cur.notna(), MISSING_CATEGORY).astype(str)
    categories = sorted(set(ref.unique()) | set(cur.unique()))
    ref_p = ref.value_counts(normalize=True).reindex(categories, fill_value=0.0).to_numpy()
    cur_p = cur.value_counts(normalize=True).reindex(categories, fill_value=0.0).to_numpy()
    return np.maximum(ref_p, PROPORTION_FLOOR), np.maximum(cur_p, PROPORTION_FLOOR)


def psi_categorical(reference, current) -> float:
    """PSI on category proportions (categories of either sample, proportions floored at 1e-6)."""
    return _psi(*_category_proportions(reference, current))


def js_categorical(reference, current) -> float:
    """Jensen-Shannon divergence (base 2, in ``[0, 1]``) on category proportions."""
    return _js(*_category_proportions(reference, current))


NUMERIC_FUNCTIONS = {
    "psi": psi,
    "ks": ks_statistic,
    "js": js_divergence,
    "kl": kl_divergence,
    "wasserstein": wasserstein_scaled,
}
CATEGORICAL_FUNCTIONS = {"psi": psi_categorical, "js": js_categorical}


@dataclass(frozen=True)
class Reference:
    """A reference sample prepared once for many comparisons (the maintenance simulation compares every
    step with the same training window).

    Holds the sorted values, the PSI bin edges, the floored reference bin proportions and the standard
    deviation. :meth:`compare` gives exactly the values of :func:`psi`, :func:`ks_statistic`,
    :func:`js_divergence`, :func:`kl_divergence` and :func:`wasserstein_scaled` (the KS and Wasserstein
    computations are scipy's, on pre-sorted arrays).
    """

    values: np.ndarray
    edges: np.ndarray
    proportions: np.ndarray
    std: float

    @classmethod
    def from_sample(cls, reference) -> Reference:
        ref = np.sort(_as_sample(reference, "reference"))
        edges = reference_edges(ref)
        return cls(
            values=ref, edges=edges, proportions=binned_proportions(ref, edges), std=float(np.std(ref))
        )

    def compare(self, current) -> dict[str, float]:
        """Every numeric metric of ``current`` against this reference: ``psi``, ``ks``, ``js``, ``kl``,
        ``wasserstein`` (NaN when the reference is constant)."""
        cur = np.sort(_as_sample(current, "current"))
        cur_p = binned_proportions(cur, self.edges)
        ref_cdf, cur_cdf, deltas = _cdfs(self.values, cur)
        return {
            "psi": _psi(self.proportions, cur_p),
            "ks": float(np.max(np.abs(ref_cdf - cur_cdf))),
            "js": _js(self.proportions, cur_p),
            "kl": _kl(self.proportions, cur_p),
            "wasserstein": float(np.sum(np.abs(ref_cdf - cur_cdf)[:-1] * deltas) / self.std)
            if self.std > 0
            else float("nan"),
        }


def _cdfs(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both empirical CDFs at every pooled value (as ``scipy.stats.ks_2samp`` and
    ``wasserstein_distance`` compute them) and the gaps between consecutive pooled values."""
    pooled = np.sort(np.concatenate([ref_sorted, cur_sorted]), kind="mergesort")
    ref_cdf = np.searchsorted(ref_sorted, pooled, side="right") / ref_sorted.size
    cur_cdf = np.searchsorted(cur_sorted, pooled, side="right") / cur_sorted.size
    return ref_cdf, cur_cdf, np.diff(pooled)


def numeric_drift(reference, current) -> dict[str, float]:
    """Every numeric metric at once (one binning): ``{"psi", "ks", "js", "kl", "wasserstein"}``.

    ``wasserstein`` is NaN when the reference is constant.
    """
    return Reference.from_sample(reference).compare(current)


# --------------------------------------------------------------------------- tables
def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype))


def drift_table(
    reference_df: pd.DataFrame, current_df: pd.DataFrame, features: Sequence[str] | None = None
) -> pd.DataFrame:
    """Drift of every feature between two customer files (or any two frames with the same columns).

    Parameters
    ----------
    reference_df
        The reference sample (e.g. the customer file the model was trained on).
    current_df
        The sample to compare (e.g. today's customer file).
    features
        Columns to compare; default every column present in both frames (datetime columns skipped).
        Numeric columns get PSI, KS, JS, KL and scaled Wasserstein; string, categorical and boolean
        columns get PSI and JS on category proportions.

    Returns
    -------
    pandas.DataFrame
        Long frame with columns ``feature``, ``metric``, ``value``, ``kind`` (numeric|categorical),
        ``n_reference``, ``n_current`` (values used after dropping missing ones). A numeric feature
        with no non-missing value on one side gets NaN values.

    Raises
    ------
    SchemaError
        When a requested feature is missing from either frame.
    """
    for name, frame in (("reference_df", reference_df), ("current_df", current_df)):
        if not isinstance(frame, pd.DataFrame):
            raise SchemaError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}", column=name)
    if features is None:
        features = [
            c
            for c in reference_df.columns
            if c in current_df.columns and not pd.api.types.is_datetime64_any_dtype(reference_df[c].dtype)
        ]
    else:
        features = list(features)
        for name, frame in (("reference_df", reference_df), ("current_df", current_df)):
            absent = [f for f in features if f not in frame.columns]
            if absent:
                raise SchemaError(
                    f"{name}: feature(s) {absent} not in the frame",
                    column=absent[0],
                    hint=f"available columns: {', '.join(map(str, list(frame.columns)[:20]))}",
                )
    rows: list[dict] = []
    for feature in features:
        ref, cur = reference_df[feature], current_df[feature]
        if _is_categorical(ref) or _is_categorical(cur):
            kind, values = "categorical", {m: f(ref, cur) for m, f in CATEGORICAL_FUNCTIONS.items()}
            n_ref, n_cur = len(ref), len(cur)
        else:
            kind = "numeric"
            ref, cur = ref.dropna().to_numpy(float), cur.dropna().to_numpy(float)
            n_ref, n_cur = len(ref), len(cur)
            if n_ref and n_cur:
                values = numeric_drift(ref, cur)
            else:
                values = dict.fromkeys(NUMERIC_METRICS, float("nan"))
        rows.extend(
            {
                "feature": feature,
                "metric": m,
                "value": v,
                "kind": kind,
                "n_reference": n_ref,
                "n_current": n_cur,
            }
            for m, v in values.items()
        )
    return pd.DataFrame(
        rows, columns=["feature", "metric", "value", "kind", "n_reference", "n_current"]
    ).astype({"feature": "str", "metric": "str", "kind": "str"})
