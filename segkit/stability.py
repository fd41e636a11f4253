"""When does a segmentation go stale? The maintenance simulation and the retraining recommendation.

The simulation replays the transaction log week by week (``period``). At the start date it fits a
segmentation on the customers active in the trailing ``window`` (the *frozen* model: the feature
scaler and the centroids, as it would be deployed). At every later step ``t`` it rebuilds the same
features over the trailing window ending at ``t`` and

* assigns segments with the frozen model, and with a model refitted at ``t`` with the same settings
  and seed;
* records the adjusted Rand index (ARI) between the two assignments: close to 1 while the frozen
  model still describes the customer base, falling when the structure changes;
* records segment shares (refitted segments aligned to frozen ones by Hungarian matching on the
  centroids), the number of active customers, and the drift of every feature against the start
  window (PSI, KS, JS, KL, scaled Wasserstein: :mod:`segkit.drift`).

Why a trailing window: features accumulated over all history age the population (recency grows,
counts accumulate) and alarm without any change in behaviour; a trailing window is stationary when
behaviour is (DESIGN.md, "Maintenance simulation"). ``window=None`` keeps the cumulative features for
comparison.

Conventions
-----------
* Step dates are snapshot days, inclusive: the window ending at ``t`` covers the days
  ``t - window + 1 ... t`` and ``recency_days = t - last order day`` (0 for a customer who ordered
  on ``t``). A short log (less history than ``window``) starts the window at the first transaction.
* An order is one ``order_id`` of one customer (one customer at one timestamp when the table has no
  ``order_id``); its day is the day of its first line and its value the sum of its lines.
* Features are log1p-transformed, then standardised with the statistics of the window they are
  fitted on (the frozen model keeps the start window's).
* Segment ids ``0..k-1`` are ordered by descending revenue share in the start window.

Seasonality: a trailing window removes ageing, not seasons. ``recency_days`` is measured from the
step date, so in a shop whose customers buy mostly in some months (gift buyers in November-December)
its distribution, and the segment structure, swing with the time of year although behaviour does not
change; both alarms can then fire on the season. The explanation says so when recency drives a PSI
alarm, and ``recommend_retrain_period(psi_features=...)`` can keep point-in-time features out of the
PSI rule.

Speed: ids are factorised and orders reduced to a per-(customer, day) table once; each step slices
that day-sorted table with ``searchsorted`` and reduces it with ``numpy.bincount``. The raw log is
never regrouped per step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

# Imported here, not in the fitting functions: threadpool_limits only limits thread pools of libraries
# already loaded, and the OpenMP runtime of scikit-learn's k-means loads with sklearn.cluster.
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from segkit import drift as drift_metrics
from segkit.schema import (
    AMOUNT,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    DataError,
    ParameterError,
    SchemaError,
    bad_rows_error,
    missing_column_error,
)

#: Features the simulation can build from a trailing window, with their unit and meaning.
WINDOW_FEATURES: dict[str, str] = {
    "recency_days": "days from the customer's last order in the window to the step date",
    "order_count": "number of orders in the window",
    "mean_order_value": "mean order value in the window (currency)",
    "monetary": "total spend in the window (currency)",
    "active_days": "number of distinct days with an order in the window",
    "tenure_days": "days from the customer's first order in the window to the step date",
}
DEFAULT_FEATURES: tuple[str, ...] = ("recency_days", "order_count", "mean_order_value")
#: Features measured from the step date (they move with the season in a seasonal shop).
POINT_IN_TIME_FEATURES: tuple[str, ...] = ("recency_days", "tenure_days")
ALGORITHMS: tuple[str, ...] = ("kmeans", "gmm", "agglomerative")
#: Default start: this much history (days), or half the log when the log is shorter than twice it.
DEFAULT_HISTORY_DAYS = 365
#: k-means restarts of every fit (the frozen model and each refit use the same settings).
KMEANS_N_INIT = 4
#: Choice of k (:func:`choose_k`): candidates, sample size, bootstrap rounds, smallest segment share.
K_CANDIDATES = range(2, 9)
K_SEARCH_SAMPLE = 5_000
K_BOOTSTRAP = 8
K_MIN_SHARE = 0.02
#: Agglomerative (Ward) fits on a seeded sample of at most this many customers; the rest are assigned
#: to the nearest centroid.
AGGLOMERATIVE_SAMPLE = 5_000
MIN_STEPS_AFTER_START = 3
DRIFT_METRICS: tuple[str, ...] = drift_metrics.NUMERIC_METRICS


# =========================================================================== input and time
def _transactions_of(data: Any) -> pd.DataFrame:
    """The transaction frame of ``data`` (a DataFrame or a :class:`segkit.io.Dataset`), validated."""
    frame = (
        data.transactions if hasattr(data, "transactions") and not isinstance(data, pd.DataFrame) else data
    )
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(
            f"data must be a transaction DataFrame or a segkit Dataset, got {type(data).__name__}",
            column="data",
        )
    for column in (CUSTOMER_ID, ORDER_DATE, AMOUNT):
        if column not in frame.columns:
            raise missing_column_error(column, frame.columns)
    if frame.empty:
        raise DataError("transactions: the table is empty; the simulation needs a transaction log")
    if not pd.api.types.is_datetime64_any_dtype(frame[ORDER_DATE].dtype):
        raise SchemaError(
            f"transactions: column 'order_date' must be datetime64, got {frame[ORDER_DATE].dtype}",
            column=ORDER_DATE,
            hint="read the data with segkit.read_transactions, which parses dates",
        )
    checks = (
        (frame[CUSTOMER_ID].isna(), CUSTOMER_ID, "missing customer ids"),
        (frame[ORDER_DATE].isna(), ORDER_DATE, "missing order dates"),
    )
    for bad, column, what in checks:
        if bad.any():
            raise bad_rows_error(
                DataError,
                f"transactions: {what}; clean the log first (segkit.clean_transactions)",
                column,
                frame.index[bad.to_numpy()],
            )
    amount = pd.to_numeric(frame[AMOUNT], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(amount) & (amount >= 0))
    if bad.any():
        raise bad_rows_error(
            DataError,
            "transactions: amounts must be finite and not negative (cancellations are removed by "
            "segkit.clean_transactions; $0 purchases are kept and count as purchases)",
            AMOUNT,
            frame[AMOUNT][bad],
        )
    return frame


def _parse_days(value: Any, name: str) -> int:
    """Whole days of a period such as ``"7D"``, ``"1W"``, ``"30 days"``, a Timedelta or an int (days)."""
    if isinstance(value, bool):
        raise ParameterError(f"{name}={value!r} does not parse as a period", column=name)
    if isinstance(value, int | np.integer):
        delta = pd.Timedelta(days=int(value))
    else:
        try:
            delta = pd.Timedelta(value)
        except (ValueError, TypeError):
            raise ParameterError(
                f"{name}={value!r} does not parse as a period",
                column=name,
                hint='write a number of days or weeks, e.g. "7D", "30D", "2W", "365D"',
            ) from None
    if pd.isna(delta) or delta < pd.Timedelta(days=1):
        raise ParameterError(f"{name}={value!r} must be at least one day", column=name)
    return int(delta / pd.Timedelta(days=1))


def _parse_date(value: Any, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ParameterError(f"{name}={value!r} does not parse as a date", column=name) from None
    if pd.isna(stamp):
        raise ParameterError(f"{name}={value!r} does not parse as a date", column=name)
    return stamp.tz_localize(None).normalize() if stamp.tzinfo else stamp.normalize()


def _check_features(features: Sequence[str] | None) -> tuple[str, ...]:
    if features is None:
        return DEFAULT_FEATURES
    if isinstance(features, str):
        features = [features]
    features = tuple(features)
    unknown = [f for f in features if f not in WINDOW_FEATURES]
    if unknown or not features:
        raise ParameterError(
            f"unknown feature(s) {unknown}" if unknown else "features is empty",
            column="features",
            examples=unknown,
            hint=f"the simulation builds: {', '.join(WINDOW_FEATURES)}",
        )
    if len(set(features)) != len(features):
        raise ParameterError(f"features repeats a name: {list(features)}", column="features")
    return features


# =========================================================================== the compact daily log
@dataclass(frozen=True)
class DailyLog:
    """Orders reduced to one row per (customer, day), sorted by day: the simulation's only input.

    Attributes
    ----------
    customer_ids
        Customer id of each integer code (sorted ids, so codes do not depend on row order).
    origin
        Calendar date of day 0 (the first order day).
    day, customer, orders, amount
        One entry per (customer, day) with orders: day number (days since ``origin``), customer code,
        number of orders that day and their total value (currency). Sorted by day, then customer.
    """

    customer_ids: pd.Index
    origin: pd.Timestamp
    day: np.ndarray
    customer: np.ndarray
    orders: np.ndarray
    amount: np.ndarray

    @classmethod
    def from_transactions(cls, transactions: pd.DataFrame) -> DailyLog:
        """Build the daily table from a cleaned canonical transaction frame (one pass over the log)."""
        codes, customer_ids = pd.factorize(transactions[CUSTOMER_ID].astype("str"), sort=True)
        dates = transactions[ORDER_DATE]
        days64 = dates.to_numpy().astype("datetime64[D]")
        origin64 = days64.min()
        line_day = (days64 - origin64).astype(np.int64)
        if ORDER_ID in transactions.columns and transactions[ORDER_ID].notna().all():
            order_code = pd.factorize(transactions[ORDER_ID].astype("str"))[0]
        else:  # one order = one customer at one timestamp
            order_code = pd.factorize(dates)[0]
        amount = pd.to_numeric(transactions[AMOUNT]).to_numpy(np.float64)
        # one row per (customer, order): its first day and its value
        order_key = codes.astype(np.int64) * (int(order_code.max()) + 1) + order_code
        order_of_line, order_keys = pd.factorize(order_key)
        order_day = np.full(len(order_keys), np.iinfo(np.int64).max)
        np.minimum.at(order_day, order_of_line, line_day)
        order_amount = np.bincount(order_of_line, weights=amount, minlength=len(order_keys))
        order_customer = order_keys // (int(order_code.max()) + 1)
        # one row per (day, customer), sorted by day then customer
        n_customers = len(customer_ids)
        daily_keys, daily_of_order = np.unique(order_day * n_customers + order_customer, return_inverse=True)
        return cls(
            customer_ids=pd.Index(customer_ids, dtype="str", name=CUSTOMER_ID),
            origin=pd.Timestamp(origin64),
            day=daily_keys // n_customers,
            customer=daily_keys % n_customers,
            orders=np.bincount(daily_of_order, minlength=len(daily_keys)).astype(np.float64),
            amount=np.bincount(daily_of_order, weights=order_amount, minlength=len(daily_keys)),
        )

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def last_day(self) -> int:
        return int(self.day[-1])

    def to_day(self, date: pd.Timestamp) -> int:
        return int((date - self.origin) // pd.Timedelta(days=1))

    def to_date(self, day: int) -> pd.Timestamp:
        return self.origin + pd.Timedelta(days=int(day))

    def window_features(
        self, end_day: int, window_days: int | None, features: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of the customers with at least one order in the window ending at ``end_day``.

        Returns
        -------
        codes
            Customer codes of the active customers (ascending).
        values
            ``(len(codes), len(features))`` raw feature values (days, counts, currency).
        revenue
            Spend of each active customer in the window (currency).
        """
        first = 0 if window_days is None else end_day - window_days + 1
        lo = np.searchsorted(self.day, first, side="left")
        hi = np.searchsorted(self.day, end_day, side="right")
        customer, day = self.customer[lo:hi], self.day[lo:hi]
        n = self.n_customers
        order_count = np.bincount(customer, weights=self.orders[lo:hi], minlength=n)
        codes = np.flatnonzero(order_count > 0)
        monetary = np.bincount(customer, weights=self.amount[lo:hi], minlength=n)
        columns = []
        for name in features:
            if name == "recency_days":
                last = np.full(n, -1, dtype=np.int64)
                np.maximum.at(last, customer, day)
                columns.append(end_day - last[codes])
            elif name == "tenure_days":
                first_day = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
                np.minimum.at(first_day, customer, day)
                columns.append(end_day - first_day[codes])
            elif name == "order_count":
                columns.append(order_count[codes])
            elif name == "mean_order_value":
                columns.append(monetary[codes] / order_count[codes])
            elif name == "monetary":
                columns.append(monetary[codes])
            elif name == "active_days":
                columns.append(np.bincount(customer, minlength=n)[codes])
        values = np.column_stack(columns).astype(np.float64) if codes.size else np.empty((0, len(features)))
        return codes, values, monetary[codes]


# =========================================================================== the window model
@dataclass
class WindowModel:
    """A segmentation fitted on one window: log1p + standardisation + clusters.

    Attributes
    ----------
    features, algorithm, k, seed
        The settings it was fitted with.
    date
        The window's end (snapshot) date.
    mean, scale
        Standardisation of the log1p features (per feature).
    centroids
        ``(k, n_features)`` segment centres in standardised space; row ``i`` is segment ``i``.
        Segments are ordered by descending revenue share in the fitting window.
    estimator
        The fitted GaussianMixture for ``algorithm="gmm"`` (else None; segments are assigned to the
        nearest centroid).
    """

    features: tuple[str, ...]
    algorithm: str
    k: int
    seed: int
    date: pd.Timestamp
    mean: np.ndarray
    scale: np.ndarray
    centroids: np.ndarray
    estimator: Any = None
    relabel: np.ndarray | None = None  # estimator component -> segment id (gmm)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardised log1p features of raw ``values`` (columns in ``self.features`` order)."""
        return (np.log1p(values) - self.mean) / self.scale

    def predict(self, values: np.ndarray) -> np.ndarray:
        """Segment id (``0..k-1``) of each row of raw feature ``values``."""
        return self._predict_scaled(self.transform(values))

    def _predict_scaled(self, scaled: np.ndarray) -> np.ndarray:
        if self.estimator is not None:
            return self.relabel[self.estimator.predict(scaled)]
        return _nearest(scaled, self.centroids)

    def centroids_raw(self) -> pd.DataFrame:
        """Segment centres back in feature units (expm1 of the log-scale centre: a geometric-mean-like
        typical customer), one row per segment."""
        raw = np.expm1(self.centroids * self.scale + self.mean)
        return pd.DataFrame(raw, columns=list(self.features)).rename_axis("segment")

    def centroids_in(self, other: WindowModel) -> np.ndarray:
        """This model's centroids expressed in ``other``'s standardised space (for alignment)."""
        return (self.centroids * self.scale + self.mean - other.mean) / other.scale


def _pairs(counts: np.ndarray) -> float:
    return float(np.sum(counts * (counts - 1)) / 2)


def _ari(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (as ``sklearn.metrics.adjusted_rand_score``, computed on
    a dense contingency table with ``numpy.bincount``: the labels are small integers)."""
    a = np.asarray(labels_a, dtype=np.int64)
    b = np.asarray(labels_b, dtype=np.int64)
    n = a.size
    if n < 2:
        return 1.0
    width = int(b.max()) + 1
    table = np.bincount(a * width + b, minlength=(int(a.max()) + 1) * width).astype(np.float64)
    index = _pairs(table)
    rows = _pairs(table.reshape(-1, width).sum(axis=1))
    cols = _pairs(table.reshape(-1, width).sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    maximum = (rows + cols) / 2
    if maximum == expected:  # both labelings trivial (one cluster, or all singletons)
        return 1.0
    return (index - expected) / (maximum - expected)


def _nearest(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    distances = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)


def _cluster(scaled: np.ndarray, algorithm: str, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """Fit ``algorithm`` with ``k`` clusters; return labels, centroids and the estimator (gmm only)."""
    if algorithm == "kmeans":
        fitted = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed).fit(scaled)
        return fitted.labels_, fitted.cluster_centers_, None
    if algorithm == "gmm":
        fitted = GaussianMixture(n_components=k, n_init=2, random_state=seed).fit(scaled)
        return fitted.predict(scaled), fitted.means_, fitted
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(scaled), size=min(len(scaled), AGGLOMERATIVE_SAMPLE), replace=False))
    sample_labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(scaled[sample])
    centres = np.vstack([scaled[sample][sample_labels == c].mean(axis=0) for c in range(k)])
    return _nearest(scaled, centres), centres, None


def fit_window_model(
    values: np.ndarray,
    revenue: np.ndarray,
    *,
    features: Sequence[str],
    algorithm: str,
    k: int,
    seed: int,
    date: pd.Timestamp,
) -> tuple[WindowModel, np.ndarray]:
    """Fit a :class:`WindowModel` on raw window features; return it and the segment of each row."""
    if len(values) < 2 * k:
        raise DataError(
            f"only {len(values)} active customers in the window ending {date.date()}, too few for k={k} segments",
            column="window",
        )
    logged = np.log1p(values)
    mean = logged.mean(axis=0)
    scale = logged.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    scaled = (logged - mean) / scale
    labels, centres, estimator = _cluster(scaled, algorithm, k, seed)
    revenue_by_label = np.bincount(labels, weights=revenue, minlength=k)
    order = np.argsort(-revenue_by_label, kind="stable")  # new id i <- old label order[i]
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    model = WindowModel(
        features=tuple(features),
        algorithm=algorithm,
        k=k,
        seed=seed,
        date=date,
        mean=mean,
        scale=scale,
        centroids=centres[order],
        estimator=estimator,
        relabel=relabel if estimator is not None else None,
    )
    return model, relabel[labels]


def align_segments(refitted: WindowModel, reference: WindowModel) -> np.ndarray:
    """Map each refitted segment to a reference segment by Hungarian matching on centroids.

    Centroids are compared in the reference's standardised space (squared Euclidean distance).
    Returns ``mapping`` with ``mapping[refitted_id] = reference_id``.
    """
    centres = refitted.centroids_in(reference)
    cost = ((centres[:, None, :] - reference.centroids[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    mapping = np.empty(refitted.k, dtype=np.int64)
    mapping[rows] = cols
    return mapping


def choose_k(
    values: np.ndarray, revenue: np.ndarray, *, features: Sequence[str], algorithm: str, seed: int
) -> tuple[int, str]:
    """Number of segments for the start window, and how it was chosen.

    The simulation's alarm compares the frozen-vs-refitted ARI with a fixed threshold (0.75), which
    only means something when refitting on unchanged data gives an ARI well above it. So k is the
    number of segments whose model is the most reproducible *as the simulation fits it* (log1p,
    standardisation, ``algorithm``, seed): for each k in 2..8, the model fitted on a seeded sample of
    at most 5,000 start-window customers is compared (ARI) with refits on 8 bootstrap resamples of
    that sample (seeds ``seed + 1 ...``); the k with the highest ``mean - std`` of those ARIs wins
    (ties: fewer segments), among models whose smallest segment holds at least 2% of customers.

    :func:`segkit.clustering.search_models` is not used here: its stability is measured in its own
    preprocessing (log only for skewed features), and on the demo shop it did not predict the
    simulation's ARI noise (measured: a k it rated 0.95 stable gave refit ARIs down to 0.42).
    """
    with threadpool_limits(limits=1):
        return _choose_k(values, revenue, features=features, algorithm=algorithm, seed=seed)


def _choose_k(
    values: np.ndarray, revenue: np.ndarray, *, features: Sequence[str], algorithm: str, seed: int
) -> tuple[int, str]:
    rng = np.random.default_rng([seed, 7])
    size = min(len(values), K_SEARCH_SAMPLE)
    rows = np.sort(rng.choice(len(values), size=size, replace=False))
    sample, sample_revenue = values[rows], revenue[rows]
    scores: dict[int, tuple[float, float, float]] = {}
    for k in K_CANDIDATES:
        if size < 4 * k:
            break
        settings = dict(features=features, algorithm=algorithm, k=k, date=pd.Timestamp(0))
        model, labels = fit_window_model(sample, sample_revenue, seed=seed, **settings)
        if np.bincount(labels, minlength=k).min() < K_MIN_SHARE * size:
            continue
        aris = []
        for round_ in range(K_BOOTSTRAP):
            idx = rng.integers(0, size, size=size)
            refit, _ = fit_window_model(sample[idx], sample_revenue[idx], seed=seed + round_ + 1, **settings)
            aris.append(_ari(labels, refit.predict(sample)))
        scores[k] = (float(np.mean(aris) - np.std(aris)), float(np.mean(aris)), float(np.std(aris)))
    if not scores:
        raise DataError("too few active customers in the start window to choose k", column="k")
    best = max(scores, key=lambda k: (round(scores[k][0], 2), -k))
    return best, (
        f"the most reproducible model: bootstrap ARI {scores[best][1]:.2f} +- {scores[best][2]:.2f} "
        f"(k = 2..{max(scores)} tried on {size:,} customers, highest mean - std)"
    )


# =========================================================================== the simulation
@dataclass
class Simulation:
    """Result of :func:`maintenance_simulation`.

    Attributes
    ----------
    steps
        One row per step: ``step`` (0 = start), ``date``, ``days_since_start``, ``n_customers`` (active
        in the window), ``n_initial_customers`` (also active at start), ``ari`` (frozen vs refitted
        segments on the active customers), ``ari_initial_customers`` (on those also active at start),
        ``max_psi`` (largest feature PSI against the start window), ``share_<i>`` (share of refitted
        segment aligned to frozen segment ``i``) and ``frozen_share_<i>`` (share assigned to segment
        ``i`` by the frozen model).
    drift
        Long frame ``step``, ``date``, ``feature``, ``metric``, ``value``: every feature's drift against
        the start window (metrics ``psi``, ``ks``, ``js``, ``kl``, ``wasserstein``).
    start_model
        The frozen :class:`WindowModel` fitted at the start date.
    params
        Every parameter, resolved (dates, days, k and how k was chosen).
    noise
        Bootstrap ARIs at the start date once :func:`noise_band` ran (else None).
    """

    steps: pd.DataFrame
    drift: pd.DataFrame
    start_model: WindowModel
    params: dict[str, Any]
    log: DailyLog = field(repr=False)
    assignments: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        repr=False, default_factory=dict
    )
    noise: pd.Series | None = None

    @property
    def k(self) -> int:
        return self.start_model.k

    def step_at(self, date: Any) -> int:
        """The last step on or before ``date`` (the first step when ``date`` is earlier)."""
        stamp = _parse_date(date, "date")
        on_or_before = self.steps.index[self.steps["date"] <= stamp]
        return int(self.steps.loc[on_or_before[-1], "step"]) if len(on_or_before) else 0

    def segments_at(self, date: Any, labels: str = "frozen") -> pd.Series:
        """Segment of each active customer at the step of ``date``: ``labels="frozen"`` (the start
        model) or ``"refit"`` (the refitted model, aligned to the frozen ids)."""
        if labels not in ("frozen", "refit"):
            raise ParameterError(f"labels={labels!r} must be 'frozen' or 'refit'", column="labels")
        codes, frozen, refit = self.assignments[self.step_at(date)]
        values = frozen if labels == "frozen" else refit
        return pd.Series(values, index=self.log.customer_ids[codes], name="segment")


def _default_start(log: DailyLog) -> int:
    span = log.last_day
    return min(DEFAULT_HISTORY_DAYS - 1, span // 2)


def _step_days(log: DailyLog, start: Any, end: Any, period_days: int) -> tuple[int, int]:
    start_day = _default_start(log) if start is None else log.to_day(_parse_date(start, "start"))
    if end is None:
        end_day = log.last_day
    elif isinstance(end, int | np.integer) and not isinstance(end, bool):
        if end <= 0:
            raise ParameterError(f"end={end} days after the start must be positive", column="end")
        end_day = start_day + int(end)
    else:
        end_day = log.to_day(_parse_date(end, "end"))
    end_day = min(end_day, log.last_day)
    if start_day < 0 or start_day > log.last_day:
        raise ParameterError(
            f"start={log.to_date(start_day).date()} is outside the log "
            f"({log.origin.date()} to {log.to_date(log.last_day).date()})",
            column="start",
        )
    n_after = (end_day - start_day) // period_days if end_day >= start_day else -1
    if n_after < MIN_STEPS_AFTER_START:
        raise DataError(
            f"the log is too short: from {log.to_date(start_day).date()} to {log.to_date(end_day).date()} "
            f"only {max(n_after, 0)} step(s) of {period_days} days remain after the start, at least "
            f"{MIN_STEPS_AFTER_START} are needed",
            column="period",
            hint="use a shorter period, an earlier start or a longer log",
        )
    return start_day, end_day


def _progress(iterable, enabled: bool, total: int):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc="maintenance simulation", unit="step")


def maintenance_simulation(
    data: Any,
    start: Any = None,
    end: Any = None,
    period: Any = "7D",
    window: Any = "365D",
    algorithm: str = "kmeans",
    k: int | None = None,
    features: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Simulation:
    """Replay the log step by step and measure how fast a segmentation fitted at ``start`` goes stale.

    Parameters
    ----------
    data
        A cleaned canonical transaction frame (``customer_id``, ``order_date``, ``amount``, optional
        ``order_id``) or a :class:`segkit.io.Dataset` (its ``transactions``).
    start
        Date the model is fitted (inclusive snapshot day). Default: the first day with 12 months of
        history, or half-way through the log when it spans less than two years.
    end
        Last step date, or an int: the horizon in days after ``start``; default the last transaction
        day (later dates are clipped to it).
    period
        Step length (``"7D"``, ``"2W"``, ``"30D"``, a Timedelta or whole days).
    window
        Trailing window of the features (``"365D"``); ``None`` = all history up to the step
        (cumulative features, for comparison). With less history than the window, the window starts
        at the first transaction.
    algorithm
        ``"kmeans"``, ``"gmm"`` or ``"agglomerative"`` (Ward on a seeded sample of at most 5,000
        customers, the rest assigned to the nearest centroid).
    k
        Number of segments; chosen on the start window when None (:func:`choose_k`).
    features
        Window features (:data:`WINDOW_FEATURES`); default recency_days, order_count,
        mean_order_value. They are log1p-scaled and standardised.
    seed
        Seed of every fit (the frozen model and each refit use the same one).
    progress
        Show a tqdm progress bar.

    Returns
    -------
    Simulation

    Raises
    ------
    ParameterError
        Unknown feature or algorithm, a period/window/date that does not parse, k < 2.
    DataError
        Fewer than 3 steps after the start, too few active customers, invalid rows.
    """
    features = _check_features(features)
    if algorithm not in ALGORITHMS:
        raise ParameterError(
            f"algorithm={algorithm!r} is not supported", column="algorithm", hint=f"use one of {ALGORITHMS}"
        )
    period_days = _parse_days(period, "period")
    window_days = None if window is None else _parse_days(window, "window")
    if k is not None and (not isinstance(k, int | np.integer) or k < 2):
        raise ParameterError(f"k={k!r} must be an integer >= 2", column="k")
    log = DailyLog.from_transactions(_transactions_of(data))
    start_day, end_day = _step_days(log, start, end, period_days)
    # Many small fits: one thread each is much faster than OpenMP/BLAS thread pools (and deterministic).
    with threadpool_limits(limits=1):
        return _simulate(
            log, start_day, end_day, period_days, window_days, algorithm, k, features, seed, progress
        )


def _simulate(
    log: DailyLog,
    start_day: int,
    end_day: int,
    period_days: int,
    window_days: int | None,
    algorithm: str,
    k: int | None,
    features: tuple[str, ...],
    seed: int,
    progress: bool,
) -> Simulation:
    start_date = log.to_date(start_day)

    codes0, values0, revenue0 = log.window_features(start_day, window_days, features)
    k_reason = "given"
    if k is None:
        k, k_reason = choose_k(values0, revenue0, features=features, algorithm=algorithm, seed=seed)
    frozen, labels0 = fit_window_model(
        values0, revenue0, features=features, algorithm=algorithm, k=int(k), seed=seed, date=start_date
    )
    active_at_start = np.zeros(log.n_customers, dtype=bool)
    active_at_start[codes0] = True

    references = [drift_metrics.Reference.from_sample(values0[:, j]) for j in range(len(features))]
    step_days = np.arange(start_day, end_day + 1, period_days)
    rows, drift_rows, assignments = [], [], {}
    for step, day in enumerate(_progress(step_days, progress, len(step_days))):
        date = log.to_date(day)
        if step == 0:
            codes, values, labels_frozen, labels_refit = codes0, values0, labels0, labels0
            refit = frozen
        else:
            codes, values, revenue = log.window_features(int(day), window_days, features)
            labels_frozen = frozen.predict(values)
            refit, labels_refit = fit_window_model(
                values, revenue, features=features, algorithm=algorithm, k=frozen.k, seed=seed, date=date
            )
            labels_refit = align_segments(refit, frozen)[labels_refit]
        initial = active_at_start[codes]
        row = {
            "step": step,
            "date": date,
            "days_since_start": int(day - start_day),
            "n_customers": len(codes),
            "n_initial_customers": int(initial.sum()),
            "ari": _ari(labels_frozen, labels_refit),
            "ari_initial_customers": (
                _ari(labels_frozen[initial], labels_refit[initial]) if initial.any() else np.nan
            ),
        }
        step_psi = []
        for j, feature in enumerate(features):
            metrics = references[j].compare(values[:, j])
            step_psi.append(metrics["psi"])
            drift_rows.extend((step, date, feature, m, v) for m, v in metrics.items())
        row["max_psi"] = max(step_psi)
        refit_shares = np.bincount(labels_refit, minlength=frozen.k) / len(codes)
        frozen_shares = np.bincount(labels_frozen, minlength=frozen.k) / len(codes)
        row.update({f"share_{i}": s for i, s in enumerate(refit_shares)})
        row.update({f"frozen_share_{i}": s for i, s in enumerate(frozen_shares)})
        rows.append(row)
        assignments[step] = (
            codes.astype(np.int32),
            labels_frozen.astype(np.int16),
            labels_refit.astype(np.int16),
        )

    drift = pd.DataFrame(drift_rows, columns=["step", "date", "feature", "metric", "value"]).astype(
        {"feature": "str", "metric": "str"}
    )
    params = {
        "start": start_date,
        "end": log.to_date(step_days[-1]),
        "period_days": period_days,
        "window_days": window_days,
        "algorithm": algorithm,
        "k": int(frozen.k),
        "k_reason": k_reason,
        "features": list(features),
        "seed": seed,
        "first_transaction": log.origin,
        "last_transaction": log.to_date(log.last_day),
        "n_steps": len(step_days),
        "start_window_days": int(min(start_day + 1, window_days or start_day + 1)),
    }
    return Simulation(
        steps=pd.DataFrame(rows),
        drift=drift,
        start_model=frozen,
        params=params,
        log=log,
        assignments=assignments,
    )


# =========================================================================== noise band
def noise_band(sim: Simulation, n: int = 20, seed: int = 0) -> pd.Series:
    """Bootstrap ARI at the start date: the noise floor of the frozen-vs-refit ARI.

    Each of ``n`` rounds draws the start window's customers with replacement (seeded), refits the
    model with a different seed (``seed + round + 1``) on the resample, assigns every start customer
    with it and measures the ARI against the frozen model's segments. The result is stored in
    ``sim.noise`` and returned (one ARI per round).
    """
    if n < 2:
        raise ParameterError(f"n={n} must be at least 2", column="n")
    frozen = sim.start_model
    start_day = sim.log.to_day(frozen.date)
    _, values, revenue = sim.log.window_features(start_day, sim.params["window_days"], frozen.features)
    labels = frozen.predict(values)
    rng = np.random.default_rng(seed)
    with threadpool_limits(limits=1):
        aris = [
            _bootstrap_round(values, revenue, labels, frozen, rng, seed + round_ + 1) for round_ in range(n)
        ]
    sim.noise = pd.Series(aris, name="bootstrap_ari").rename_axis("round")
    return sim.noise


def _bootstrap_round(values, revenue, labels, frozen: WindowModel, rng, seed: int) -> float:
    idx = rng.integers(0, len(values), size=len(values))
    model, _ = fit_window_model(
        values[idx],
        revenue[idx],
        features=frozen.features,
        algorithm=frozen.algorithm,
        k=frozen.k,
        seed=seed,
        date=frozen.date,
    )
    return float(_ari(labels, model.predict(values)))


# =========================================================================== recommendation
@dataclass
class Alarm:
    """The first run of steps that makes the model obsolete: which rule, and on which steps."""

    trigger: str  # "ari" or "psi"
    first_step: int
    steps: list[int]


def _first_run(flags: np.ndarray, length: int) -> int | None:
    """Index of the first position starting a run of ``length`` True values (None when there is none)."""
    run = 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run == length:
            return i - length + 1
    return None


def find_alarm(
    steps: pd.DataFrame,
    ari_threshold: float = 0.75,
    consecutive: int = 3,
    psi_threshold: float = 0.2,
    psi_consecutive: int = 2,
) -> Alarm | None:
    """The earliest alarm in a simulation's steps: ARI below ``ari_threshold`` at ``consecutive`` steps
    in a row, or the largest feature PSI above ``psi_threshold`` at ``psi_consecutive`` steps in a row.
    An ARI run wins a tie."""
    ari_start = _first_run((steps["ari"] < ari_threshold).to_numpy(), consecutive)
    psi_start = _first_run((steps["max_psi"] > psi_threshold).to_numpy(), psi_consecutive)
    candidates = [
        (s, name, n)
        for s, name, n in ((ari_start, "ari", consecutive), (psi_start, "psi", psi_consecutive))
        if s is not None
    ]
    if not candidates:
        return None
    first, trigger, length = min(candidates, key=lambda c: (c[0], c[1] != "ari"))
    return Alarm(
        trigger=trigger,
        first_step=int(steps["step"].iloc[first]),
        steps=steps["step"].iloc[first : first + length].astype(int).tolist(),
    )


@dataclass
class Recommendation:
    """When the model went stale and how often to retrain.

    Attributes
    ----------
    obsolete_on
        Date of the first step of the first alarm run (None when no alarm fired).
    reason
        One sentence saying which rule fired and on which dates (or that none did).
    trigger
        ``"ari"``, ``"psi"`` or None.
    days
        Recommended retraining period in days.
    delay_days
        Days from the start to ``obsolete_on`` (None when no alarm fired).
    explanation
        A paragraph for a manager; every number in it is computed from the simulation.
    """

    obsolete_on: pd.Timestamp | None
    reason: str
    trigger: str | None
    days: int
    delay_days: int | None
    explanation: str
    thresholds: dict[str, float | int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly numbers and strings (for summary files)."""
        return {
            "recommended_retraining_days": int(self.days),
            "obsolete_on": None if self.obsolete_on is None else self.obsolete_on.date().isoformat(),
            "delay_days": self.delay_days,
            "trigger": self.trigger,
            "reason": self.reason,
            "explanation": self.explanation,
            **self.thresholds,
        }

    def _repr_markdown_(self) -> str:
        return f"**Recommendation: retrain every {self.days} days.**\n\n{self.explanation}"


def _fmt_date(date: pd.Timestamp) -> str:
    return date.strftime("%d %b %Y").lstrip("0")


def _top_drift(sim: Simulation, step: int) -> tuple[str, float]:
    psi_rows = sim.drift[(sim.drift["step"] == step) & (sim.drift["metric"] == "psi")]
    best = psi_rows.loc[psi_rows["value"].idxmax()]
    return str(best["feature"]), float(best["value"])


def recommend_retrain_period(
    sim: Simulation,
    ari_threshold: float = 0.75,
    consecutive: int = 3,
    psi_threshold: float = 0.2,
    origins: RollingOrigins | None = None,
    psi_features: Sequence[str] | None = None,
) -> Recommendation:
    """Decide when the frozen model became obsolete and recommend a retraining period.

    The model is obsolete on the first step of the first run of ``consecutive`` steps with ARI below
    ``ari_threshold``, or of 2 steps in a row whose largest feature PSI exceeds ``psi_threshold``,
    whichever comes first. Single dips never alarm (the ARI is noisy: see :func:`noise_band`).

    ``days``: with ``origins`` (:func:`rolling_origins`), the median observed delay to obsolescence
    across start dates, rounded down to whole steps (the median, not the minimum: an origin trained
    in the middle of a change goes stale at once and says nothing about how long a model usually
    lasts); when none went stale, the shortest horizon watched without an alarm.
    Without, the delay from the start to ``obsolete_on``, or the whole horizon watched without an
    alarm. Never shorter than one step.

    ``psi_features`` restricts the PSI rule to some features (default: every feature). Point-in-time
    features such as ``recency_days`` move with the season in a seasonal shop even when behaviour does
    not change; leaving them out of the PSI rule keeps it to structural drift.
    """
    if not 0 < ari_threshold <= 1:
        raise ParameterError(f"ari_threshold={ari_threshold} must be in (0, 1]", column="ari_threshold")
    if not isinstance(consecutive, int | np.integer) or consecutive < 1:
        raise ParameterError(f"consecutive={consecutive!r} must be a positive integer", column="consecutive")
    if psi_threshold <= 0:
        raise ParameterError(f"psi_threshold={psi_threshold} must be positive", column="psi_threshold")
    steps = sim.steps
    if psi_features is not None:
        unknown = sorted(set(psi_features) - set(sim.start_model.features))
        if unknown or not len(psi_features):
            raise ParameterError(
                f"psi_features {unknown or list(psi_features)} are not features of the simulation",
                column="psi_features",
                hint=f"the simulation's features: {', '.join(sim.start_model.features)}",
            )
        psi = sim.drift[(sim.drift["metric"] == "psi") & sim.drift["feature"].isin(list(psi_features))]
        steps = steps.assign(max_psi=psi.groupby("step")["value"].max().reindex(steps["step"]).to_numpy())
    period = sim.params["period_days"]
    horizon = int(steps["days_since_start"].iloc[-1])
    alarm = find_alarm(steps, ari_threshold, consecutive, psi_threshold)
    window_days = sim.params["window_days"]
    if window_days is None:
        window_text = "all their history up to each date"
    elif sim.params["start_window_days"] < window_days:
        window_text = (
            f"the {sim.params['start_window_days']} days of data before it (the log starts on "
            f"{_fmt_date(sim.params['first_transaction'])}; later windows grow to {window_days} days)"
        )
    else:
        window_text = f"the {window_days} days before it (the same trailing window at every date)"
    intro = (
        f"The segmentation ({sim.k} segments, {sim.params['algorithm']}) was trained on "
        f"{_fmt_date(sim.params['start'])} on the {int(steps['n_customers'].iloc[0]):,} customers who ordered in "
        f"{window_text}. It was then compared every {period} days with a model retrained on the fresh "
        f"data, over {horizon} days (to {_fmt_date(steps['date'].iloc[-1])}). "
    )
    noise_text = ""
    if sim.noise is not None:
        noise_text = (
            f"Retraining on resampled customers at the start gives an agreement (adjusted Rand index) of "
            f"{sim.noise.mean():.2f} +- {sim.noise.std():.2f}: that is the noise floor. "
        )
        if sim.noise.mean() < ari_threshold:
            noise_text += (
                f"It lies below the alarm threshold ({ari_threshold:.2f}): with "
                f"{int(steps['n_customers'].iloc[0]):,} customers the agreement cannot tell a change from "
                f"noise, so read the dates below as indicative only. "
            )
    if alarm is None:
        obsolete_on, delay, trigger = None, None, None
        reason = (
            f"No alarm over {horizon} days: the agreement never stayed below {ari_threshold:.2f} for "
            f"{consecutive} steps and no feature's PSI stayed above {psi_threshold:.2f} for 2 steps."
        )
        detail = (
            f"The agreement between the deployed and a retrained model stayed between "
            f"{steps['ari'].min():.2f} and {steps['ari'].max():.2f} (alarm threshold {ari_threshold:.2f} "
            f"for {consecutive} steps in a row), and the largest feature drift (PSI) reached "
            f"{steps['max_psi'].max():.3f} (alarm above {psi_threshold:.2f}). The segments stayed valid."
        )
        days = horizon
    else:
        rows = steps.set_index("step").loc[alarm.steps]
        obsolete_on = rows["date"].iloc[0]
        delay = int(rows["days_since_start"].iloc[0])
        trigger = alarm.trigger
        feature, feature_psi = _top_drift(sim, alarm.first_step)
        dates = f"{_fmt_date(rows['date'].iloc[0])} to {_fmt_date(rows['date'].iloc[-1])}"
        if trigger == "ari":
            reason = (
                f"ARI below {ari_threshold:.2f} at {consecutive} consecutive steps ({dates}: "
                + ", ".join(f"{v:.2f}" for v in rows["ari"])
                + ")."
            )
        else:
            reason = (
                f"Largest feature PSI above {psi_threshold:.2f} at 2 consecutive steps ({dates}: "
                + ", ".join(f"{v:.3f}" for v in rows["max_psi"])
                + ")."
            )
        before = steps[(steps["days_since_start"] < delay) & (steps["step"] > 0)]
        before_text = (
            f"Before that the agreement stayed at or above {before['ari'].min():.2f}. " if len(before) else ""
        )
        seasonal_text = (
            f" {feature} is measured from each date, so it moves with the season even when behaviour does "
            f"not: if the shop is seasonal, compare with the same time of year before retraining."
            if trigger == "psi" and feature in POINT_IN_TIME_FEATURES
            else ""
        )
        detail = (
            f"The model became obsolete on {_fmt_date(obsolete_on)}, {delay} days after training: {reason} "
            f"{before_text}The feature that moved most that day is {feature} (PSI {feature_psi:.3f} against "
            f"the training window).{seasonal_text}"
        )
        days = delay
    if origins is not None and len(origins.table):
        observed = origins.table[origins.table["observed"]]
        if len(observed):
            days = int(observed["delay_days"].median() // period * period)
            origin_text = (
                f"Across {len(origins.table)} training dates, the model went stale after "
                f"{int(observed['delay_days'].min())} to {int(observed['delay_days'].max())} days "
                f"(median {observed['delay_days'].median():.0f}; {len(observed)} of {len(origins.table)} "
                f"went stale within the data). "
            )
        else:
            days = int(origins.table["horizon_days"].min())
            origin_text = (
                f"Across {len(origins.table)} training dates no model went stale within the "
                f"{days}-{int(origins.table['horizon_days'].max())} days watched. "
            )
    else:
        origin_text = ""
    days = max(int(days), period)
    advice = (
        f"Recommendation: retrain at least every {days} days, and keep watching the agreement and the "
        f"feature drift every {period} days; retrain at once when the alarm fires."
    )
    explanation = intro + noise_text + detail + " " + origin_text + advice
    return Recommendation(
        obsolete_on=obsolete_on,
        reason=reason,
        trigger=trigger,
        days=days,
        delay_days=delay,
        explanation=explanation,
        thresholds={
            "ari_threshold": ari_threshold,
            "consecutive": consecutive,
            "psi_threshold": psi_threshold,
        },
    )


# =========================================================================== rolling origins
@dataclass
class RollingOrigins:
    """Simulations from several start dates.

    Attributes
    ----------
    table
        One row per start: ``start``, ``obsolete_on``, ``delay_days`` (NaN when no alarm),
        ``observed`` (an alarm fired), ``horizon_days`` (days watched), ``trigger``, ``k``.
    simulations
        The simulations, in the order of ``table``.
    """

    table: pd.DataFrame
    simulations: list[Simulation]

    def summary(self) -> pd.Series:
        """Distribution of the delay to obsolescence (days) over the starts where an alarm fired."""
        observed = self.table.loc[self.table["observed"], "delay_days"]
        return pd.Series(
            {
                "origins": len(self.table),
                "observed": len(observed),
                "min_delay_days": observed.min() if len(observed) else np.nan,
                "median_delay_days": observed.median() if len(observed) else np.nan,
                "max_delay_days": observed.max() if len(observed) else np.nan,
            }
        )


def rolling_origins(
    data: Any,
    starts: Sequence[Any] | int = 4,
    *,
    ari_threshold: float = 0.75,
    consecutive: int = 3,
    psi_threshold: float = 0.2,
    **simulation_kwargs: Any,
) -> RollingOrigins:
    """Run :func:`maintenance_simulation` from several start dates; report the delay to obsolescence.

    Parameters
    ----------
    data
        As for :func:`maintenance_simulation`.
    starts
        Start dates, or a number of starts spread evenly (whole periods apart) from the default start
        to half-way between it and the end, so every origin is watched over at least half the span.
    ari_threshold, consecutive, psi_threshold
        The alarm rules (:func:`recommend_retrain_period`).
    **simulation_kwargs
        Passed to every simulation (period, window, algorithm, k, features, seed, end...). ``k`` is
        fixed to the first simulation's choice when not given, so every origin uses the same k.
    """
    if simulation_kwargs.get("start") is not None:
        raise ParameterError("give the start dates with starts=, not start=", column="start")
    simulation_kwargs.pop("start", None)
    simulation_kwargs.setdefault("progress", False)
    if isinstance(starts, int | np.integer):
        if starts < 1:
            raise ParameterError(f"starts={starts} must be at least 1", column="starts")
        transactions = _transactions_of(data)
        log = DailyLog.from_transactions(transactions)
        period_days = _parse_days(simulation_kwargs.get("period", "7D"), "period")
        end = simulation_kwargs.get("end")
        relative = end is None or isinstance(end, int | np.integer)
        end_day = log.last_day if relative else min(log.to_day(_parse_date(end, "end")), log.last_day)
        first = _default_start(log)
        # every origin watches at least half the span from the default start to the end
        last = min(first + (end_day - first) // 2, end_day - MIN_STEPS_AFTER_START * period_days)
        if last < first:
            raise DataError("the log is too short for rolling origins", column="starts")
        offsets = np.unique(np.linspace(0, (last - first) // period_days, int(starts)).round().astype(int))
        starts = [log.to_date(first + o * period_days) for o in offsets]
        data = transactions
    rows, sims = [], []
    for start in starts:
        sim = maintenance_simulation(data, start=start, **simulation_kwargs)
        if simulation_kwargs.get("k") is None:
            simulation_kwargs["k"] = sim.k
        rec = recommend_retrain_period(sim, ari_threshold, consecutive, psi_threshold)
        rows.append(
            {
                "start": sim.params["start"],
                "obsolete_on": rec.obsolete_on,
                "delay_days": np.nan if rec.delay_days is None else float(rec.delay_days),
                "observed": rec.obsolete_on is not None,
                "horizon_days": int(sim.steps["days_since_start"].iloc[-1]),
                "trigger": rec.trigger,
                "k": sim.k,
            }
        )
        sims.append(sim)
    return RollingOrigins(table=pd.DataFrame(rows), simulations=sims)


# =========================================================================== migration
@dataclass
class Migration:
    """Customers moving between segments from ``date_a`` to ``date_b``.

    Attributes
    ----------
    counts
        Matrix of customers: rows = segment at ``date_a``, columns = segment at ``date_b``; the
        ``"not active"`` row/column holds customers active at only one of the two dates.
    rates
        ``counts`` divided by its row totals (share of each date-a segment going to each date-b one).
    table
        Long form: ``from``, ``to``, ``customers``.
    date_a, date_b
        The step dates used.
    """

    counts: pd.DataFrame
    rates: pd.DataFrame
    table: pd.DataFrame
    date_a: pd.Timestamp | None
    date_b: pd.Timestamp | None


NOT_ACTIVE = "not active"


def segment_migration(
    sim_or_models: Simulation | Mapping[Any, pd.Series],
    date_a: Any = None,
    date_b: Any = None,
    labels: str = "frozen",
) -> Migration:
    """Migration matrix of customers between the segments at two dates.

    Parameters
    ----------
    sim_or_models
        A :class:`Simulation` (segments at the steps on or before ``date_a`` and ``date_b``), or a
        mapping of exactly two labelled assignments ``{date_a: segments, date_b: segments}`` (Series of
        segment labels indexed by customer id, e.g. two models' ``predict`` outputs).
    date_a, date_b
        For a simulation: default the start and the last step.
    labels
        For a simulation: ``"frozen"`` (the deployed model at both dates: how customers move) or
        ``"refit"`` (the model retrained at each date, aligned to the frozen ids).
    """
    if isinstance(sim_or_models, Simulation):
        sim = sim_or_models
        date_a = sim.params["start"] if date_a is None else date_a
        date_b = sim.steps["date"].iloc[-1] if date_b is None else date_b
        before, after = sim.segments_at(date_a, labels), sim.segments_at(date_b, labels)
        date_a = sim.steps.loc[sim.step_at(date_a), "date"]
        date_b = sim.steps.loc[sim.step_at(date_b), "date"]
    elif isinstance(sim_or_models, Mapping) and len(sim_or_models) == 2:
        (date_a, before), (date_b, after) = list(sim_or_models.items())
        if not (isinstance(before, pd.Series) and isinstance(after, pd.Series)):
            raise ParameterError(
                "each assignment must be a pandas Series indexed by customer id", column="sim_or_models"
            )
    else:
        raise ParameterError(
            "sim_or_models must be a Simulation or a mapping of two segment Series", column="sim_or_models"
        )
    joined = pd.concat([before.rename("from"), after.rename("to")], axis=1, join="outer")
    categories = sorted(set(before.unique()) | set(after.unique()), key=lambda v: (str(type(v)), v))
    order = [*categories, NOT_ACTIVE]
    joined = joined.astype(object).where(joined.notna(), NOT_ACTIVE)
    counts = pd.crosstab(joined["from"], joined["to"]).reindex(index=order, columns=order, fill_value=0)
    counts = counts.rename_axis(index="from", columns="to").astype(np.int64)
    totals = counts.sum(axis=1).replace(0, np.nan)
    rates = counts.div(totals, axis=0).fillna(0.0)
    table = counts.stack().rename("customers").reset_index()
    table = table[table["customers"] > 0].reset_index(drop=True)
    return Migration(
        counts=counts, rates=rates, table=table, date_a=pd.Timestamp(date_a), date_b=pd.Timestamp(date_b)
    )
