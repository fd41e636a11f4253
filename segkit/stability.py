"""When does the shipped segmentation go stale? The maintenance simulation and the retraining advice.

The simulation replays the segmentation that ships (DESIGN "Maintenance simulation"): the
:class:`~segkit.model.SegmentationModel` notebook 03 saved gives the *specification* (features,
preprocessing, algorithm, k, seed). At the start date that specification is fitted on the customer
file of the trailing window (the *frozen* model, as it would have been deployed then); at every later
step ``t`` the customer file of the window ending at ``t`` is rebuilt, assigned with the frozen model,
and the same specification is refitted on it (:func:`segkit.clustering.fit_spec`, the one clustering
engine). The two assignments are compared by the adjusted Rand index (ARI); refitted segments are
aligned to the frozen ones by Hungarian matching on centroids (in the frozen model's feature space)
before shares are compared.

Windows (all of equal length)
-----------------------------
A step dated ``t`` is a snapshot day in notebook 02's convention: the window holds the ``window``
days *before* ``t`` (``t - window ... t - 1``) and ``recency_days = t - last order day`` (>= 1), as
:func:`segkit.features.customer_file` computes it with ``snapshot_date=t`` on those lines. Every step
uses the same window length, so no alarm comes from a window growing. The default start is the first
day with a full window of history. When ``start`` is given with less history than ``window``, the
window is what the start has (``start - first day``) and stays fixed. A log shorter than ``window``
plus :data:`MIN_STEPS_AFTER_START` steps raises :class:`HistoryTooShort` ("too short to tell"),
which says how much history is needed; :func:`too_short_recommendation` turns it into the answer.

The customer file of a window
-----------------------------
:class:`WindowLog` reduces the cleaned log once (lines -> one row per customer and day, spend per
share column, purchase lines and cancelled lines for ``cancelled_share``, distinct products) and
slices it per step with ``searchsorted`` and ``numpy.bincount``; it never regroups the log. Its
columns equal :func:`segkit.features.customer_file` on the window's lines (tested), with
``cancelled_share`` computed from the cleaning of the whole log restricted to the window's purchase
lines. Share columns the model has but the window lacks are 0 (the customer spent nothing there).

The alarm, calibrated to the model's own noise
----------------------------------------------
At the start, :data:`NOISE_ROUNDS` bootstrap resamples of the start window are refitted with other
seeds and compared (ARI) with the frozen model on the start customers: that is the ARI the model
gives on *unchanged* data. A step below the threshold (until the alarm fires), and a noise round
below the rounds' median, gets the refits of :data:`REFITS` - 1 other seeds and keeps the best
agreement (:func:`best_refit`): a refit now and then lands in a neighbouring
partition of unchanged data, and a step counts toward the alarm only when no refit reproduces the
deployed segments. The alarm threshold is ``mean - 3 x std`` of those ARIs (std at
least :data:`MIN_NOISE_STD`), and at most their minimum minus :data:`THRESHOLD_MARGIN`
(:func:`alarm_threshold`); the alarm fires on the
first run of ``consecutive`` (3) steps in a row below it, never on a single step. A model whose
noise mean is below :data:`UNSTABLE_NOISE_ARI` (or whose threshold falls below
:data:`MIN_THRESHOLD`) is *too unstable to monitor*: the answer says so with the figure, does not
alarm, and names the most reproducible alternative of the same algorithm and features
(:func:`stable_alternative`). Feature drift (PSI...) is reported against the start window, not used
for the alarm: with 20 features, several of them shares with many zeros, a PSI rule alarmed on
noise.

Advice (:func:`recommend_retrain_period`)
----------------------------------------
"Retrain every N days" needs independent training dates whose alarms are distinct events:
:func:`retraining_chain` retrains at each alarm (the next training date is the alarm date, on data
after the previous change) and runs on. With at least two alarms from such dates, N is their
median interval; with one, the answer gives the date, the reason and how confident it is; with
none, how long the model stayed valid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from segkit import cleaning, narrative
from segkit import drift as drift_metrics
from segkit.clustering import ALGORITHM_LABELS, fit_spec, recommend_and_fit
from segkit.features import _slug
from segkit.model import SegmentationModel, load_model
from segkit.schema import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    DataError,
    ParameterError,
    SchemaError,
    missing_column_error,
)

#: At least this many steps after the start (else "too short to tell").
MIN_STEPS_AFTER_START = 3
#: Bootstrap + reseed refits at the start that measure the model's own noise.
NOISE_ROUNDS = 10
#: Threshold = min(mean - NOISE_SIGMAS x std, min - THRESHOLD_MARGIN) of the noise ARIs.
NOISE_SIGMAS = 3.0
THRESHOLD_MARGIN = 0.05
#: Smallest spread of the noise ARIs used by the threshold (DESIGN: bootstrap ARI 0.92 +- 0.04).
MIN_NOISE_STD = 0.04
#: Below these the model is too unstable for its agreement to mean anything.
UNSTABLE_NOISE_ARI = 0.6
MIN_THRESHOLD = 0.4
#: Steps in a row below the threshold that make an alarm.
CONSECUTIVE = 3
#: Every fit of the simulation (frozen, noise refits, step refits) is made on a seeded sample of at
#: most this many window customers and assigns the others (as the model search fits on a subsample);
#: agreement is always measured on every customer of the window. Measured on the demo shop's shipped
#: model (Ward, k=7, 20 features; ~11,300 customers per window; benchmarks/bench_maintenance.py
#: --fit-size): refits on 2,000 customers agree with refits on 5,000 (the model search's Ward sample)
#: as much as refits on 5,000 agree among themselves (ARI 0.88 vs 0.88 and 0.88 vs 0.90 at two
#: dates), and their own noise is the same (0.92 +- 0.05 vs 0.92 +- 0.07), while a Ward linkage on
#: 2,000 rows costs ~15x less than on 5,000 (O(n^2)).
FIT_SIZE = 2_000
#: Refits of the specification per comparison (each noise round, each step until the alarm fires):
#: the comparison keeps the best agreement with the deployed segments. A k-means or Ward refit now and
#: then lands in a neighbouring partition of unchanged data (measured on the unshifted demo shops:
#: single weekly refits at ARI 0.64-0.73 where other seeds give 0.93-0.96); a step counts toward the
#: alarm only when none of its refits reproduces the deployed segments, and the noise that sets the
#: threshold is measured with the same statistic.
REFITS = 3
#: Seeds of a comparison's refits: ``seed, seed + REFIT_SEED_STRIDE, ...`` (the noise rounds use seed + 1 + b).
REFIT_SEED_STRIDE = 1_000
#: Shortest fixed window (days) when the start has less history than ``window``.
MIN_WINDOW_DAYS = 90
DRIFT_METRICS: tuple[str, ...] = drift_metrics.NUMERIC_METRICS
NOT_ACTIVE = "not active"


class HistoryTooShort(DataError):
    """The log is too short to tell when the model goes stale; ``needed_days`` says how much it needs."""

    def __init__(self, message: str, needed_days: int, available_days: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.needed_days = int(needed_days)
        self.available_days = int(available_days)


# =========================================================================== input and time
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


def _raw_transactions(data: Any) -> pd.DataFrame:
    """The transaction frame of ``data`` (a frame, a Dataset, or notebook inputs with ``raw``)."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif hasattr(data, "raw") and hasattr(data, "report"):
        frame = data.raw.transactions
    elif hasattr(data, "transactions"):
        frame = data.transactions
    else:
        raise SchemaError(
            f"data must be a transaction DataFrame or a segkit Dataset, got {type(data).__name__}",
            column="data",
        )
    for column in (CUSTOMER_ID, ORDER_DATE):
        if column not in frame.columns:
            raise missing_column_error(column, frame.columns)
    if frame.empty:
        raise DataError("transactions: the table is empty; the simulation needs a transaction log")
    return frame


@dataclass(frozen=True)
class _Transactions:
    transactions: pd.DataFrame


@dataclass(frozen=True)
class _CleanedLog:
    """A log cleaned once (notebook 02's cleaning), in the shape of notebook inputs (raw, clean, report)."""

    raw: Any
    clean: Any
    report: Any


def _cleaned(data: Any) -> Any:
    """``data`` itself when it already holds its cleaning (notebook inputs), else the log cleaned once."""
    if hasattr(data, "raw") and hasattr(data, "clean") and hasattr(data, "report"):
        return data
    raw = _raw_transactions(data)
    clean, report = cleaning.clean_transactions(raw)
    return _CleanedLog(_Transactions(raw), _Transactions(clean), report)


def _model_of(model: Any) -> SegmentationModel | None:
    if model is None or isinstance(model, SegmentationModel):
        return model
    if isinstance(model, str | os.PathLike):
        return load_model(model)
    raise ParameterError(
        f"model must be a SegmentationModel or the path of a model.skops, got {type(model).__name__}",
        column="model",
    )


# =========================================================================== the window customer file
@dataclass(frozen=True)
class WindowLog:
    """The cleaned log reduced once, so that any window's customer file is a slice and a few bincounts.

    Attributes
    ----------
    customer_ids
        Customer id of each integer code (sorted ids).
    origin
        Calendar date of day 0 (the first order day).
    share_features
        The ``share_cat_*`` / ``share_channel_*`` columns built (those of the model).
    day, customer, orders, amount, spend, lines, cancelled
        One entry per (customer, day), sorted by day then customer: orders starting that day, their
        value (currency), spend per share column, purchase lines and cancelled purchase lines.
    product_day, product_customer, product_code
        One entry per (customer, product, day) of the clean lines, sorted by day (distinct products).
    """

    customer_ids: pd.Index
    origin: pd.Timestamp
    share_features: tuple[str, ...]
    day: np.ndarray
    customer: np.ndarray
    orders: np.ndarray
    amount: np.ndarray
    spend: np.ndarray
    lines: np.ndarray
    cancelled: np.ndarray
    product_day: np.ndarray | None = None
    product_customer: np.ndarray | None = None
    product_code: np.ndarray | None = None

    @classmethod
    def from_transactions(cls, data: Any, share_features: Sequence[str] = ()) -> WindowLog:
        """Clean the log as notebook 02 does (:func:`segkit.cleaning.clean_transactions`) and reduce it.

        ``data`` is a raw (or already clean) transaction frame, a Dataset, or notebook inputs holding
        ``raw``, ``clean`` and ``report`` (then the cleaning is not repeated).
        """
        data = _cleaned(data)
        raw, clean, report = data.raw.transactions, data.clean.transactions, data.report
        if clean.empty:
            raise DataError("transactions: no line is left after cleaning", column=CUSTOMER_ID)
        reasons = report.reasons.reindex(raw.index)
        purchase = reasons.isin(list(cleaning._PURCHASE_REASONS)).to_numpy()
        clean_amount = pd.Series(np.nan, index=raw.index)
        clean_amount.loc[clean.index] = pd.to_numeric(clean[AMOUNT]).to_numpy(np.float64)
        # netted by a cancellation: fully (cancelled_purchase) or partly (kept with a reduced amount)
        netted = (reasons == "cancelled_purchase").to_numpy() | (
            (reasons == "kept").to_numpy()
            & (clean_amount.to_numpy() < report.amounts.reindex(raw.index).to_numpy() - 1e-9)
        )
        ids = pd.Index(np.unique(clean[CUSTOMER_ID].astype("str").to_numpy()), dtype="str", name=CUSTOMER_ID)
        origin64 = clean[ORDER_DATE].to_numpy().astype("datetime64[D]").min()

        def days_of(dates: pd.Series) -> np.ndarray:
            return (dates.to_numpy().astype("datetime64[D]") - origin64).astype(np.int64)

        code = ids.get_indexer(clean[CUSTOMER_ID].astype("str"))
        line_day = days_of(clean[ORDER_DATE])
        amount = pd.to_numeric(clean[AMOUNT]).to_numpy(np.float64)
        # orders: order_id (a line without one: its timestamp), counted on the day of their first line
        stamp = clean[ORDER_DATE].to_numpy().astype(np.int64)
        if ORDER_ID in clean.columns:
            order_text = (
                clean[ORDER_ID]
                .astype("str")
                .where(clean[ORDER_ID].notna(), "\0" + pd.Series(stamp, index=clean.index).astype("str"))
            )
        else:
            order_text = pd.Series(stamp, index=clean.index).astype("str")
        order_code = pd.factorize(order_text)[0].astype(np.int64)
        order_of_line, order_keys = pd.factorize(
            code.astype(np.int64) * (int(order_code.max()) + 1) + order_code
        )
        order_day = np.full(len(order_keys), np.iinfo(np.int64).max)
        np.minimum.at(order_day, order_of_line, line_day)
        order_customer = order_keys // (int(order_code.max()) + 1)
        n = len(ids)
        # purchase lines (kept and cancelled ones) of the raw log, for cancelled_share
        raw_purchase = raw.iloc[np.flatnonzero(purchase)]
        p_code = ids.get_indexer(raw_purchase[CUSTOMER_ID].astype("str"))
        p_known = p_code >= 0
        p_day = days_of(raw_purchase[ORDER_DATE])[p_known]
        p_code, p_netted = p_code[p_known], netted[purchase][p_known]
        # one row per (day, customer) present in any of the three sources
        keys_line = line_day * n + code
        keys_order = order_day * n + order_customer
        keys_purchase = p_day * n + p_code
        keys, inverse = np.unique(np.concatenate([keys_line, keys_order, keys_purchase]), return_inverse=True)
        inv_line = inverse[: len(keys_line)]
        inv_order = inverse[len(keys_line) : len(keys_line) + len(keys_order)]
        inv_purchase = inverse[len(keys_line) + len(keys_order) :]
        m = len(keys)
        share_features = tuple(share_features)
        spend = np.zeros((m, len(share_features)))
        for j, (column, level_of) in enumerate(_share_levels(clean, share_features)):
            if column is None:
                continue
            spend[:, j] = np.bincount(inv_line, weights=np.where(level_of, amount, 0.0), minlength=m)
        products = None
        if PRODUCT_ID in clean.columns:
            product = pd.factorize(clean[PRODUCT_ID].astype("str").fillna("\0missing"))[0].astype(np.int64)
            n_products = int(product.max()) + 1
            triple = np.unique((line_day * n + code) * n_products + product)
            products = (triple // n_products // n, triple // n_products % n, triple % n_products)
        return cls(
            customer_ids=ids,
            origin=pd.Timestamp(origin64),
            share_features=share_features,
            day=keys // n,
            customer=keys % n,
            orders=np.bincount(inv_order, minlength=m).astype(np.float64),
            amount=np.bincount(inv_line, weights=amount, minlength=m),
            spend=spend,
            lines=np.bincount(inv_purchase, minlength=m).astype(np.float64),
            cancelled=np.bincount(inv_purchase, weights=p_netted.astype(np.float64), minlength=m),
            product_day=None if products is None else products[0],
            product_customer=None if products is None else products[1],
            product_code=None if products is None else products[2],
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

    def customer_frame(self, snapshot_day: int, window_days: int, features: Sequence[str]) -> pd.DataFrame:
        """The customer file of the window ``snapshot_day - window_days ... snapshot_day - 1``.

        Columns: ``features`` plus ``monetary`` (revenue, used to order segment ids); one row per
        customer with an order in the window, indexed by ``customer_id`` (sorted). Values equal
        :func:`segkit.features.customer_file` on the window's lines with ``snapshot_date`` on
        ``snapshot_day``.
        """
        lo = np.searchsorted(self.day, snapshot_day - window_days, side="left")
        hi = np.searchsorted(self.day, snapshot_day - 1, side="right")
        customer, day, n = self.customer[lo:hi], self.day[lo:hi], self.n_customers
        frequency = np.bincount(customer, weights=self.orders[lo:hi], minlength=n)
        codes = np.flatnonzero(frequency > 0)
        monetary = np.bincount(customer, weights=self.amount[lo:hi], minlength=n)
        with_orders = self.orders[lo:hi] > 0  # a $0 purchase is a purchase (cleaning keeps it)
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, customer[with_orders], day[with_orders])
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, customer[with_orders], day[with_orders])
        freq, money = frequency[codes], monetary[codes]
        first_c, last_c = first[codes], last[codes]
        tenure = snapshot_day - first_c
        columns: dict[str, np.ndarray] = {
            "recency_days": snapshot_day - last_c,
            "frequency": freq.astype(np.int64),
            "monetary": money,
            "avg_order_value": money / freq,
            "tenure_days": tenure,
            "mean_days_between_orders": np.where(
                freq > 1, (last_c - first_c) / np.maximum(freq - 1, 1), tenure
            ).astype(np.float64),
        }
        wanted = list(dict.fromkeys([*features, "monetary"]))
        for name in wanted:
            if name in columns:
                continue
            if name in self.share_features:
                j = self.share_features.index(name)
                spent = np.bincount(customer, weights=self.spend[lo:hi, j], minlength=n)[codes]
                with np.errstate(divide="ignore", invalid="ignore"):
                    columns[name] = np.where(money != 0, spent / money, 0.0)
            elif name == "cancelled_share":
                lines = np.bincount(customer, weights=self.lines[lo:hi], minlength=n)[codes]
                cancelled = np.bincount(customer, weights=self.cancelled[lo:hi], minlength=n)[codes]
                with np.errstate(divide="ignore", invalid="ignore"):
                    columns[name] = np.clip(np.where(lines > 0, cancelled / np.maximum(lines, 1), 0.0), 0, 1)
            elif name == "distinct_products" and self.product_day is not None:
                plo = np.searchsorted(self.product_day, snapshot_day - window_days, side="left")
                phi = np.searchsorted(self.product_day, snapshot_day - 1, side="right")
                pairs = np.unique(
                    self.product_customer[plo:phi] * (int(self.product_code.max()) + 1)
                    + self.product_code[plo:phi]
                )
                owner = pairs // (int(self.product_code.max()) + 1)
                columns[name] = np.bincount(owner, minlength=n)[codes].astype(np.int64)
            else:
                raise SchemaError(
                    f"the maintenance simulation cannot build the feature {name!r} from a transaction log "
                    "window (it builds RFM, spend shares, cancelled_share and distinct_products)",
                    column=name,
                    hint="refit the model on transaction features only (notebook 03's default)",
                )
        return pd.DataFrame({name: columns[name] for name in wanted}, index=self.customer_ids[codes])


def _share_levels(clean: pd.DataFrame, share_features: Sequence[str]) -> list[tuple[str | None, np.ndarray]]:
    """For each share feature: its source column and the lines it sums (levels by slug, as customer_file;
    ``*_other`` sums the levels no other share feature of the model names)."""
    out: list[tuple[str | None, np.ndarray]] = []
    for name in share_features:
        column, prefix = (
            (CATEGORY, "share_cat_") if name.startswith("share_cat_") else (CHANNEL, "share_channel_")
        )
        if column not in clean.columns:
            out.append((None, np.zeros(len(clean), dtype=bool)))
            continue
        codes, levels = pd.factorize(clean[column])
        slugs = np.array([_slug(level) for level in levels] + ["unknown"], dtype=object)
        slug_of = slugs[np.where(codes >= 0, codes, len(levels))]
        named = {f[len(prefix) :] for f in share_features if f.startswith(prefix)}
        target = name[len(prefix) :]
        mask = ~np.isin(slug_of, list(named - {"other"})) if target == "other" else slug_of == target
        out.append((column, np.asarray(mask, dtype=bool)))
    return out


# =========================================================================== noise and the alarm
def _ari(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    return float(adjusted_rand_score(labels_a, labels_b)) if len(labels_a) > 1 else 1.0


def best_refit(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    frozen_labels: np.ndarray,
    seed: int,
    refits: int = REFITS,
    good_enough: float = np.inf,
    fit_on: pd.DataFrame | None = None,
    fit_size: int = FIT_SIZE,
    first: int = 0,
) -> tuple[np.ndarray, float, int]:
    """Refit the specification with up to ``refits`` seeds and keep the one that agrees best with the
    deployed segments: ``(its labels of customer_file, its ARI, refits made)``.

    Seeds ``seed + r * REFIT_SEED_STRIDE`` for ``r = first ... refits - 1``; stops at the first refit
    whose ARI reaches ``good_enough`` (the decision "below the threshold or not" is then the same as
    with every refit). The fit is made on ``fit_on`` (default ``customer_file``, e.g. a bootstrap
    resample of it); the agreement is always measured on every customer of ``customer_file``.
    """
    best_labels, best_ari, made = None, -np.inf, 0
    for r in range(first, max(int(refits), first + 1)):
        made += 1
        fitted, labels = fit_spec(
            model,
            customer_file if fit_on is None else fit_on,
            seed=seed + r * REFIT_SEED_STRIDE,
            fit_size=fit_size,
        )
        if fit_on is not None:
            labels = fitted.predict(customer_file)
        ari = _ari(frozen_labels, labels)
        if ari > best_ari:
            best_labels, best_ari = labels, ari
        if best_ari >= good_enough:
            break
    return best_labels, float(best_ari), made


def measure_noise(
    model: SegmentationModel,
    customer_file: pd.DataFrame,
    frozen_labels: np.ndarray,
    rounds: int,
    seed: int,
    refits: int = REFITS,
    fit_size: int = FIT_SIZE,
) -> pd.Series:
    """Agreement of the specification refitted on unchanged data: bootstrap resamples, other seeds.

    Round ``b`` draws the customers of ``customer_file`` with replacement (seeded), refits with seed
    ``seed + 1 + b`` and compares its segments of every customer with ``frozen_labels``. A round below
    the median of these agreements gets its other seeds' refits (``+ REFIT_SEED_STRIDE ...``, up to
    ``refits``) and keeps the best agreement (:func:`best_refit`), as a step below the threshold does:
    the rounds measure the statistic the steps compute. (The median, not the threshold, decides: when
    some rounds land in a neighbouring partition the threshold they give is too low to single them out.)
    """
    if rounds < 2:
        raise ParameterError(f"noise_rounds={rounds} must be at least 2", column="noise_rounds")
    rng = np.random.default_rng([seed, 14])
    resamples = [rng.integers(0, len(customer_file), size=len(customer_file)) for _ in range(rounds)]

    def judge(b: int, first: int, upto: int) -> float:
        fit_on = customer_file.iloc[resamples[b]]
        return best_refit(
            model,
            customer_file,
            frozen_labels,
            seed + 1 + b,
            upto,
            fit_on=fit_on,
            fit_size=fit_size,
            first=first,
        )[1]

    aris = np.array([judge(b, 0, 1) for b in range(rounds)])
    for b in np.flatnonzero(aris < np.median(aris)):
        aris[b] = max(aris[b], judge(int(b), 1, refits))
    return pd.Series(aris.copy(), name="noise_ari").rename_axis("round")


def alarm_threshold(noise: pd.Series) -> float:
    """The ARI below which a step counts towards an alarm:
    ``min(mean - 3 max(std, MIN_NOISE_STD), min - 0.05)`` of ``noise``.

    The floor on the spread: a handful of refits can agree almost perfectly (std near 0) while the
    weekly refits still land, now and then, in a neighbouring partition (measured on unshifted demo
    shops: bootstrap ARIs 0.99 +- 0.00, single steps down to 0.74).
    """
    spread = max(float(noise.std(ddof=1)), MIN_NOISE_STD)
    return float(min(noise.mean() - NOISE_SIGMAS * spread, noise.min() - THRESHOLD_MARGIN))


def is_unstable(noise: pd.Series) -> bool:
    """True when the model's agreement on unchanged data is too low for a drop to mean anything."""
    return bool(noise.mean() < UNSTABLE_NOISE_ARI or alarm_threshold(noise) < MIN_THRESHOLD)


def stable_alternative(
    model: SegmentationModel, customer_file: pd.DataFrame, seed: int, rounds: int = 5
) -> dict[str, Any] | None:
    """The most reproducible k (2 .. model's k + 2) of the model's algorithm and features, or None."""
    best = None
    for k in range(2, model.k + 3):
        if k == model.k or k >= len(customer_file) // 4:
            continue
        candidate = _KSpec(model, k)
        _, labels = fit_spec(candidate, customer_file, seed=seed, fit_size=FIT_SIZE)
        noise = measure_noise(candidate, customer_file, labels, rounds, seed)
        if best is None or noise.mean() > best["noise_ari_mean"]:
            best = {
                "algorithm": model.algorithm,
                "algorithm_label": ALGORITHM_LABELS.get(model.algorithm, model.algorithm),
                "k": k,
                "noise_ari_mean": float(noise.mean()),
            }
    return best if best is not None and best["noise_ari_mean"] >= UNSTABLE_NOISE_ARI else None


class _KSpec:
    """A model's specification with another k (what :func:`segkit.clustering.fit_spec` reads)."""

    def __init__(self, model: SegmentationModel, k: int) -> None:
        self.preprocessor, self.features, self.algorithm, self.k = (
            model.preprocessor,
            model.features,
            model.algorithm,
            k,
        )
        self.metadata = {**model.metadata, "k": k}


@dataclass
class Alarm:
    """The first run of ``consecutive`` steps below the threshold."""

    first_step: int
    steps: list[int]


def _first_run(flags: np.ndarray, length: int) -> int | None:
    run = 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run == length:
            return i - length + 1
    return None


def find_alarm(steps: pd.DataFrame, threshold: float, consecutive: int = CONSECUTIVE) -> Alarm | None:
    """The earliest run of ``consecutive`` steps (after the start) with ARI below ``threshold``."""
    if consecutive < 2:
        raise ParameterError(
            f"consecutive={consecutive} must be at least 2: the alarm never fires on a single step",
            column="consecutive",
        )
    later = steps[steps["step"] > 0]
    first = _first_run((later["ari"] < threshold).to_numpy(), consecutive)
    if first is None:
        return None
    run = later["step"].iloc[first : first + consecutive].astype(int).tolist()
    return Alarm(first_step=run[0], steps=run)


# =========================================================================== the simulation
class _StartModel:
    """What the figures need of the frozen model: its features and typical customer per segment."""

    def __init__(self, features: list[str], centres: pd.DataFrame, k: int) -> None:
        self.features, self._centres, self.k = features, centres, k

    def centroids_raw(self) -> pd.DataFrame:
        return self._centres


@dataclass
class Simulation:
    """Result of :func:`maintenance_simulation`.

    Attributes
    ----------
    steps
        One row per step: ``step`` (0 = start), ``date``, ``days_since_start``, ``n_customers``,
        ``n_initial_customers``, ``ari`` (frozen vs refitted), ``ari_initial_customers``, ``max_psi``,
        ``share_<i>`` (refitted segment aligned to frozen ``i``) and ``frozen_share_<i>``.
    drift
        Long frame ``step, date, feature, metric, value`` against the start window.
    noise
        ARIs of the refits on unchanged data at the start (:func:`measure_noise`).
    threshold
        The alarm threshold derived from ``noise`` (:func:`alarm_threshold`).
    unstable
        The model is too unstable for its agreement to mean anything (then no alarm is raised).
    alarm
        The first alarm (None when none fired or the model is unstable).
    model
        The monitored :class:`SegmentationModel` (its specification is what is refitted).
    params
        Every parameter, resolved.
    """

    steps: pd.DataFrame
    drift: pd.DataFrame
    noise: pd.Series
    threshold: float
    unstable: bool
    alarm: Alarm | None
    model: SegmentationModel
    params: dict[str, Any]
    start_model: _StartModel
    log: WindowLog = field(repr=False)
    assignments: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        repr=False, default_factory=dict
    )
    alternative: dict[str, Any] | None = None

    @property
    def k(self) -> int:
        return self.model.k

    @property
    def segment_names(self) -> dict[int, str]:
        return dict(self.model.segment_names)

    @property
    def obsolete_on(self) -> pd.Timestamp | None:
        return None if self.alarm is None else self.steps.loc[self.alarm.first_step, "date"]

    def step_at(self, date: Any) -> int:
        """The last step on or before ``date`` (the first step when ``date`` is earlier)."""
        stamp = _parse_date(date, "date")
        on_or_before = self.steps.index[self.steps["date"] <= stamp]
        return int(self.steps.loc[on_or_before[-1], "step"]) if len(on_or_before) else 0

    def segments_at(self, date: Any, labels: str = "frozen") -> pd.Series:
        """Segment of each active customer at the step of ``date`` (``"frozen"`` or ``"refit"``)."""
        if labels not in ("frozen", "refit"):
            raise ParameterError(f"labels={labels!r} must be 'frozen' or 'refit'", column="labels")
        codes, frozen, refit = self.assignments[self.step_at(date)]
        values = frozen if labels == "frozen" else refit
        return pd.Series(values, index=self.log.customer_ids[codes], name="segment")


#: What to change when the log is too short, by the parameter to blame.
_TOO_SHORT_HINTS = {
    "window": "collect more history, or use a shorter window or period",
    "start": "use a later start",
    "period": "use a shorter period, an earlier start or a longer log",
}


def _too_short(detail: str, needed: int, available: int, column: str) -> HistoryTooShort:
    """The "too short to tell" error, with the days needed and available and what to change."""
    return HistoryTooShort(
        f"too short to tell: {detail}",
        needed_days=needed,
        available_days=available,
        column=column,
        hint=_TOO_SHORT_HINTS[column],
    )


def _windows(
    log: WindowLog, start: Any, end: Any, period_days: int, window_days: int
) -> tuple[int, int, int]:
    """Start snapshot day, last snapshot day and the (fixed) window length; HistoryTooShort when needed."""
    last_snapshot = log.last_day + 1  # notebook 02's default snapshot: the day after the last order
    span = last_snapshot
    needed = window_days + MIN_STEPS_AFTER_START * period_days
    if start is None:
        if span < needed:
            raise _too_short(
                f"the log covers {span} days ({log.origin.date()} to {log.to_date(log.last_day).date()}); a "
                f"{window_days}-day window plus {MIN_STEPS_AFTER_START} steps of {period_days} days needs "
                f"{needed} days of history, {needed - span} more",
                needed,
                span,
                "window",
            )
        start_day = window_days
    else:
        start_day = log.to_day(_parse_date(start, "start"))
        if start_day <= 0 or start_day > last_snapshot:
            raise ParameterError(
                f"start={log.to_date(start_day).date()} is outside the log "
                f"({log.origin.date()} to {log.to_date(last_snapshot).date()})",
                column="start",
            )
    fixed_window = min(window_days, start_day)
    if fixed_window < MIN_WINDOW_DAYS:
        detail = f"the start {log.to_date(start_day).date()} has only {fixed_window} days of history"
        needed = MIN_WINDOW_DAYS + MIN_STEPS_AFTER_START * period_days
        raise _too_short(
            f"{detail}; at least {MIN_WINDOW_DAYS} are needed for a window", needed, span, "start"
        )
    if end is None:
        end_day = last_snapshot
    elif isinstance(end, int | np.integer) and not isinstance(end, bool):
        if end <= 0:
            raise ParameterError(f"end={end} days after the start must be positive", column="end")
        end_day = min(start_day + int(end), last_snapshot)
    else:
        end_day = min(log.to_day(_parse_date(end, "end")), last_snapshot)
    n_after = (end_day - start_day) // period_days if end_day >= start_day else 0
    if n_after < MIN_STEPS_AFTER_START:
        raise _too_short(
            f"from {log.to_date(start_day).date()} to {log.to_date(end_day).date()} only {max(n_after, 0)} "
            f"step(s) of {period_days} days remain, at least {MIN_STEPS_AFTER_START} are needed",
            start_day + MIN_STEPS_AFTER_START * period_days,
            span,
            "period",
        )
    return start_day, end_day, fixed_window


def _progress(iterable, enabled: bool, total: int):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc="maintenance simulation", unit="step")


def _group_means(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    counts = np.bincount(labels, minlength=k).astype(float)
    sums = np.column_stack([np.bincount(labels, weights=X[:, j], minlength=k) for j in range(X.shape[1])])
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def align_segments(refit_centres: np.ndarray, frozen_centres: np.ndarray) -> np.ndarray:
    """``mapping[refit_id] = frozen_id`` by Hungarian matching on squared centroid distances.

    Both centre matrices are in the frozen model's feature space (empty segments: NaN, matched last).
    """
    cost = ((refit_centres[:, None, :] - frozen_centres[None, :, :]) ** 2).sum(axis=2)
    cost = np.where(np.isfinite(cost), cost, 1e12)
    rows, cols = linear_sum_assignment(cost)
    mapping = np.empty(len(refit_centres), dtype=np.int64)
    mapping[rows] = cols
    return mapping


def maintenance_simulation(
    data: Any,
    model: SegmentationModel | str | os.PathLike | None = None,
    start: Any = None,
    end: Any = None,
    period: Any = "7D",
    window: Any = "365D",
    seed: int | None = None,
    noise_rounds: int = NOISE_ROUNDS,
    consecutive: int = CONSECUTIVE,
    progress: bool = False,
    log: WindowLog | None = None,
) -> Simulation:
    """Replay the log step by step with the shipped segmentation and find when it goes stale.

    Parameters
    ----------
    data
        The transaction log (raw or clean: it is cleaned with notebook 02's code), a Dataset, or
        notebook inputs (:func:`segkit.load_inputs`).
    model
        The :class:`SegmentationModel` notebook 03 saved, or the path of its ``model.skops``. Its
        specification (features, preprocessing, algorithm, k, seed) is fitted at the start and
        refitted at every step. ``None``: the start window's customer file (built with
        :func:`segkit.features.customer_file`) goes through :func:`segkit.clustering.recommend_and_fit`,
        the search and fit of notebook 03.
    start, end
        Start snapshot date (default: the first with a full window of history) and last step date (or
        an int: days after the start; default the day after the last order).
    period, window
        Step and window lengths (``"7D"``, ``"365D"``, a Timedelta or whole days).
    seed
        Seed of every fit (default the model's).
    noise_rounds
        Bootstrap + reseed refits at the start that calibrate the alarm (:func:`measure_noise`).
    consecutive
        Steps in a row below the threshold that make an alarm (at least 2).
    log
        A :class:`WindowLog` of ``data`` already built (saves the reduction when simulating often).

    Raises
    ------
    HistoryTooShort
        The log is shorter than the window plus 3 steps (the message says how much is needed).
    """
    period_days = _parse_days(period, "period")
    window_days = _parse_days(window, "window")
    if consecutive < 2:
        raise ParameterError(f"consecutive={consecutive} must be at least 2", column="consecutive")
    model = _model_of(model)
    if model is None or log is None:
        data = _cleaned(data)  # cleaned once, for the window log and the search
    if log is None or (model is not None and not set(_shares(model.features)) <= set(log.share_features)):
        log = WindowLog.from_transactions(data, _shares(model.features) if model is not None else ())
    start_day, end_day, fixed_window = _windows(log, start, end, period_days, window_days)
    k_source = "given"
    if model is None:
        model = _search_start_window(data, log, start_day, fixed_window, seed or 0)
        k_source = "searched on the start window as notebook 03 does"
        log = WindowLog.from_transactions(data, _shares(model.features))
    seed = int(model.metadata.get("seed", 0)) if seed is None else int(seed)
    # one thread (small fits; a busy machine), and scikit-learn's per-call input checks skipped: the
    # window customer files are built here, finite and of fixed columns (same results, ~10% less time)
    with (
        threadpool_limits(limits=1),
        sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
    ):
        return _simulate(
            log, model, start_day, end_day, period_days, fixed_window, window_days, seed, noise_rounds,
            consecutive, progress, k_source,
        )  # fmt: skip


def _shares(features: Sequence[str]) -> list[str]:
    return [f for f in features if f.startswith(("share_cat_", "share_channel_"))]


def _search_start_window(
    data: Any, log: WindowLog, start_day: int, window_days: int, seed: int
) -> SegmentationModel:
    """The model notebook 03 would ship if trained on the start window (customer_file + search + fit)."""
    from segkit import features as feature_code

    data = _cleaned(data)
    clean, report = data.clean.transactions, data.report
    first, last = log.to_date(start_day - window_days), log.to_date(start_day - 1)
    in_window = (clean[ORDER_DATE] >= first) & (clean[ORDER_DATE] < last + pd.Timedelta(days=1))
    customers = feature_code.customer_file(
        clean[in_window.to_numpy()], snapshot_date=log.to_date(start_day), cancellations=report.by_customer
    )
    customers = customers.assign(
        cancelled_share=log.customer_frame(start_day, window_days, ["cancelled_share"])["cancelled_share"]
        .reindex(customers.index)
        .fillna(0.0)
    )
    return recommend_and_fit(feature_code.with_rfm_segments(customers), seed=seed)[1]


def _simulate(
    log: WindowLog,
    model: SegmentationModel,
    start_day: int,
    end_day: int,
    period_days: int,
    window_days: int,
    requested_window: int,
    seed: int,
    noise_rounds: int,
    consecutive: int,
    progress: bool,
    k_source: str,
) -> Simulation:
    features = list(model.features)
    k = model.k
    cf0 = log.customer_frame(start_day, window_days, features)
    frozen, labels0 = fit_spec(model, cf0, seed=seed, fit_size=FIT_SIZE)
    X0 = frozen.transform(cf0)
    centres0 = _group_means(X0, labels0, k)
    noise = measure_noise(model, cf0, labels0, noise_rounds, seed)
    threshold = alarm_threshold(noise)
    unstable = is_unstable(noise)
    active_at_start = np.zeros(log.n_customers, dtype=bool)
    codes0 = log.customer_ids.get_indexer(cf0.index)
    active_at_start[codes0] = True
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(cf0[f])]
    references = {f: drift_metrics.Reference.from_sample(cf0[f].to_numpy(np.float64)) for f in numeric}
    step_days = np.arange(start_day, end_day + 1, period_days)
    rows, drift_rows, assignments, run = [], [], {}, 0
    for step, day in enumerate(_progress(step_days, progress, len(step_days))):
        date = log.to_date(day)
        if step == 0:
            cf, labels_frozen, labels_refit, ari, n_refits = cf0, labels0, labels0, 1.0, 0
        else:
            cf = log.customer_frame(int(day), window_days, features)
            X = frozen.transform(cf)
            labels_frozen = frozen.predict_matrix(X)
            # until the alarm fires, a step below the threshold gets the other seeds' refits too: it
            # counts only when no refit reproduces the deployed segments (best_refit)
            watching = not unstable and run < consecutive
            labels_refit, ari, n_refits = best_refit(
                model, cf, labels_frozen, seed, REFITS if watching else 1, good_enough=threshold
            )
            run = run + 1 if ari < threshold else 0
            mapping = align_segments(_group_means(X, labels_refit, k), centres0)
            labels_refit = mapping[labels_refit]
        codes = log.customer_ids.get_indexer(cf.index)
        initial = active_at_start[codes]
        row = {
            "step": step,
            "date": date,
            "days_since_start": int(day - start_day),
            "n_customers": len(cf),
            "n_initial_customers": int(initial.sum()),
            "ari": ari,
            "refits": n_refits,
            "ari_initial_customers": _ari(labels_frozen[initial], labels_refit[initial])
            if initial.any()
            else np.nan,
        }
        step_psi = []
        for feature in numeric:
            metrics = references[feature].compare(cf[feature].to_numpy(np.float64))
            step_psi.append(metrics["psi"])
            drift_rows.extend((step, date, feature, m, v) for m, v in metrics.items())
        row["max_psi"] = max(step_psi) if step_psi else np.nan
        row.update({f"share_{i}": s for i, s in enumerate(np.bincount(labels_refit, minlength=k) / len(cf))})
        row.update(
            {f"frozen_share_{i}": s for i, s in enumerate(np.bincount(labels_frozen, minlength=k) / len(cf))}
        )
        rows.append(row)
        assignments[step] = (
            codes.astype(np.int32),
            labels_frozen.astype(np.int16),
            labels_refit.astype(np.int16),
        )
    steps = pd.DataFrame(rows)
    drift = pd.DataFrame(drift_rows, columns=["step", "date", "feature", "metric", "value"]).astype(
        {"feature": "str", "metric": "str"}
    )
    alarm = None if unstable else find_alarm(steps, threshold, consecutive)
    alternative = stable_alternative(model, cf0, seed) if unstable else None
    centres_raw = cf0[numeric].groupby(labels0).median().reindex(range(k)).rename_axis("segment")
    params = {
        "start": log.to_date(start_day),
        "end": log.to_date(step_days[-1]),
        "period_days": period_days,
        "window_days": window_days,
        "requested_window_days": requested_window,
        "algorithm": model.algorithm,
        "k": k,
        "k_source": k_source,
        "features": features,
        "seed": seed,
        "consecutive": consecutive,
        "noise_rounds": noise_rounds,
        "fit_size": FIT_SIZE,
        "refits": REFITS,
        "alarm_rule": {
            "sigmas": NOISE_SIGMAS,
            "min_std": MIN_NOISE_STD,
            "margin": THRESHOLD_MARGIN,
            "unstable_mean": UNSTABLE_NOISE_ARI,
            "min_threshold": MIN_THRESHOLD,
        },
        "first_transaction": log.origin,
        "last_transaction": log.to_date(log.last_day),
        "n_steps": len(step_days),
    }
    return Simulation(
        steps=steps,
        drift=drift,
        noise=noise,
        threshold=threshold,
        unstable=unstable,
        alarm=alarm,
        model=model,
        params=params,
        start_model=_StartModel(features, centres_raw, k),
        log=log,
        assignments=assignments,
        alternative=alternative,
    )


def noise_band(sim: Simulation) -> pd.Series:
    """The ARIs on unchanged data the simulation measured at the start (kept for older callers)."""
    return sim.noise


# =========================================================================== advice
@dataclass
class RetrainingChain:
    """Simulations from independent training dates: the first start, then each alarm date.

    Attributes
    ----------
    simulations
        One per training date; each after the first starts on the previous one's alarm date.
    table
        ``start, obsolete_on, delay_days, observed, horizon_days, threshold, unstable``.
    """

    simulations: list[Simulation]
    table: pd.DataFrame


def retraining_chain(data: Any, model: Any = None, max_trainings: int = 4, **kwargs: Any) -> RetrainingChain:
    """Training dates whose alarms are distinct events: the first start, then one window after each alarm.

    The first simulation starts where :func:`maintenance_simulation` starts; each later one is trained
    one window after the previous alarm, so its training window holds only data after the change the
    alarm caught (trained earlier, the window still mixes both sides of the change and the same change
    alarms again as the window fills). Same specification and window. Stops when a simulation raises
    no alarm, the model is unstable, or the log is too short for another window plus 3 steps.
    """
    start = kwargs.pop("start", None)
    sim = maintenance_simulation(data, model, start=start, **kwargs)
    sims = [sim]
    kwargs["window"] = f"{sim.params['window_days']}D"  # later trainings keep the first one's window
    kwargs.pop("log", None)
    while sim.alarm is not None and len(sims) < max_trainings:
        # the next training window starts after the alarm: it holds no data from before the change
        next_start = sim.obsolete_on + pd.Timedelta(days=sim.params["window_days"])
        steps_left = (sim.log.last_day + 1 - sim.log.to_day(next_start)) // sim.params["period_days"]
        if steps_left < MIN_STEPS_AFTER_START:
            break
        try:
            sim = maintenance_simulation(data, sim.model, start=next_start, log=sim.log, **kwargs)
        except HistoryTooShort:
            break
        sims.append(sim)
    table = pd.DataFrame(
        [
            {
                "start": s.params["start"],
                "obsolete_on": s.obsolete_on,
                "delay_days": np.nan if s.alarm is None else float((s.obsolete_on - s.params["start"]).days),
                "observed": s.alarm is not None,
                "horizon_days": int(s.steps["days_since_start"].iloc[-1]),
                "threshold": s.threshold,
                "unstable": s.unstable,
            }
            for s in sims
        ]
    )
    return RetrainingChain(simulations=sims, table=table)


@dataclass
class Recommendation:
    """The answer of the simulation, in numbers and plain words.

    Attributes
    ----------
    verdict
        ``"retrain_every"`` (two or more distinct alarms: ``days`` is the median interval),
        ``"alarm"`` (one alarm: a date and reason, no period), ``"no_alarm"``, ``"unstable"`` (the
        model cannot be monitored) or ``"too_short"`` (the log cannot tell).
    days
        Retraining period in days for ``"retrain_every"``, else None.
    obsolete_on, delay_days
        First alarm date and its delay after training (None without alarm).
    confidence
        ``"high"``, ``"moderate"``, ``"low"`` (see :func:`recommend_retrain_period`), or None.
    reason, explanation
        One sentence on what fired; a paragraph for a manager (every number computed).
    model
        Which model: k, algorithm, segment names and (when known) the sha256 of its file.
    """

    verdict: str
    days: int | None
    obsolete_on: pd.Timestamp | None
    delay_days: int | None
    confidence: str | None
    reason: str
    explanation: str
    thresholds: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    dates: list[str] = field(default_factory=list)

    @property
    def trigger(self) -> str | None:
        return "ari" if self.obsolete_on is not None else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly numbers and strings (for summary files)."""
        return {
            "verdict": self.verdict,
            "retrain_short": self.short,
            "recommended_retraining_days": self.days,
            "obsolete_on": None if self.obsolete_on is None else self.obsolete_on.date().isoformat(),
            "delay_days": self.delay_days,
            "confidence": self.confidence,
            "alarm_dates": list(self.dates),
            "reason": self.reason,
            "explanation": self.explanation,
            **self.thresholds,
        }

    def _repr_markdown_(self) -> str:
        return f"**{self.headline}**\n\n{self.explanation}"

    @property
    def short(self) -> str:
        """The answer in a few words, for the run index (:func:`segkit.narrative.retrain_short`)."""
        return narrative.retrain_short(self.verdict, self.days, self.obsolete_on) or ""

    @property
    def headline(self) -> str:
        """The headline (:func:`segkit.narrative.retrain_headline`)."""
        return narrative.retrain_headline(self.verdict, self.days, self.obsolete_on) or ""


def model_identity(model: SegmentationModel, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """k, algorithm, segment names and, given the file, the sha256 of ``model.skops``."""
    import hashlib

    identity = {
        "k": int(model.k),
        "algorithm": model.algorithm,
        "algorithm_label": ALGORITHM_LABELS.get(model.algorithm, model.algorithm),
        "segment_names": [model.segment_names[i] for i in range(model.k)],
    }
    if path is not None:
        with open(path, "rb") as handle:
            identity["model_sha256"] = hashlib.sha256(handle.read()).hexdigest()
    return identity


def _confidence(sim: Simulation) -> str:
    """high: every alarm step lies below the lowest noise ARI by twice the noise spread; moderate: below
    the threshold only; (low is for a single alarm seen at the very end of the log)."""
    rows = sim.steps.set_index("step").loc[sim.alarm.steps]
    spread = float(sim.noise.max() - sim.noise.min())
    if sim.alarm.steps[-1] == int(sim.steps["step"].iloc[-1]):
        return "low"
    if (rows["ari"] < sim.noise.min() - 2 * spread).all():
        return "high"
    return "moderate"


def recommend_retrain_period(
    sim_or_chain: Simulation | RetrainingChain, model_file: str | os.PathLike | None = None
) -> Recommendation:
    """Turn a simulation (or a retraining chain) into the advice.

    Rules: an unstable model gets ``"unstable"`` (with the noise figure and the alternative);
    ``"retrain_every"`` only when at least two training dates of the chain raised an alarm (each
    trained after the previous alarm: distinct events), ``days`` = the median delay rounded down to
    whole steps; one alarm gives its date, reason and confidence (:func:`_confidence`); none gives how
    long the model stayed valid.
    """
    chain = sim_or_chain if isinstance(sim_or_chain, RetrainingChain) else None
    sims = chain.simulations if chain else [sim_or_chain]
    sim = sims[0]
    identity = model_identity(sim.model, model_file)
    period = sim.params["period_days"]
    intro = narrative.maintenance_training(sim, identity) or ""
    noise_text = narrative.maintenance_noise(sim) or ""
    thresholds = {
        "ari_threshold": float(sim.threshold),
        "consecutive": int(sim.params["consecutive"]),
        "noise_ari_mean": float(sim.noise.mean()),
        "noise_ari_std": float(sim.noise.std(ddof=1)),
    }

    def paragraph(*sentences: str | None) -> str:
        return " ".join(s for s in sentences if s)

    if sim.unstable:
        reason = narrative.maintenance_unstable(sim)
        return Recommendation(
            "unstable", None, None, None, None, reason or "", paragraph(intro, reason), thresholds, identity
        )
    observed = [s for s in sims if s.alarm is not None]
    if not observed:
        reason = narrative.maintenance_no_alarm(sim) or ""
        explanation = paragraph(
            intro,
            noise_text,
            reason,
            narrative.keep_watching(int(sim.steps["days_since_start"].iloc[-1]), period),
        )
        return Recommendation("no_alarm", None, None, None, None, reason, explanation, thresholds, identity)
    first = observed[0]
    delays = [int((s.obsolete_on - s.params["start"]).days) for s in observed]
    reason = narrative.maintenance_alarm(first) or ""
    confidence = _confidence(first)
    advice = narrative.retrain_advice(delays, period, first.obsolete_on, confidence)
    explanation = paragraph(
        intro,
        noise_text,
        reason,
        narrative.maintenance_drift(*_top_drift(first, first.alarm.first_step)),
        advice,
    )
    several = len(observed) >= 2
    return Recommendation(
        "retrain_every" if several else "alarm",
        narrative.retrain_period_days(delays, period) if several else None,
        first.obsolete_on,
        delays[0],
        confidence,
        reason,
        explanation,
        thresholds,
        identity,
        [s.obsolete_on.date().isoformat() for s in observed],
    )


def too_short_recommendation(error: HistoryTooShort) -> Recommendation:
    """The "too short to tell" answer: no period, and how much history the log would need."""
    reason = str(error.args[0]) if error.args else str(error)
    explanation = narrative.too_short_to_tell(reason, error.needed_days, error.available_days) or reason
    return Recommendation(
        "too_short",
        None,
        None,
        None,
        None,
        reason,
        explanation,
        {"needed_days": error.needed_days, "available_days": error.available_days},
    )


def _top_drift(sim: Simulation, step: int) -> tuple[str | None, float]:
    psi_rows = sim.drift[(sim.drift["step"] == step) & (sim.drift["metric"] == "psi")]
    if psi_rows.empty:
        return None, float("nan")
    best = psi_rows.loc[psi_rows["value"].idxmax()]
    return str(best["feature"]), float(best["value"])


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


# =========================================================================== summary
def simulation_summary(sim: Simulation) -> dict[str, Any]:
    """Plain numbers of a simulation for ``summary_04.json``."""
    return {
        "start": sim.params["start"].date().isoformat(),
        "end": sim.steps["date"].iloc[-1].date().isoformat(),
        "period_days": int(sim.params["period_days"]),
        "window_days": int(sim.params["window_days"]),
        "steps": int(len(sim.steps)),
        "min_ari": float(sim.steps["ari"].min()),
        "max_psi": float(sim.steps["max_psi"].max()),
        "unstable": bool(sim.unstable),
        "stable_alternative": sim.alternative,
    }
