"""Customer lifetime value: the BG/NBD purchase model and the Gamma-Gamma spend model.

Both are fitted by maximum likelihood on the BTYD summary of :func:`segkit.features.rfm`
(``convention="btyd"``: purchases counted per customer and day, ``frequency`` = repeat purchase
days, ``recency`` = days from the first to the last purchase day, ``T`` = days from the first
purchase day to the calibration end, ``monetary_value`` = mean amount of the repeat purchase
days). Times are converted to the fit's time unit (weeks by default, days / 7), as in the
published work:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
  the Pareto/NBD Model", Marketing Science 24(2), eq. (6) (log-likelihood), (10) (conditional
  expectation), appendix (probability alive).
- Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", eq. (1)
  (likelihood of a customer's mean spend) and (5) (conditional expected spend).

A purchase of $0 counts as a purchase (it is a purchase day); a customer whose repeat purchase
days are all $0 has no spend to fit and is left out of the Gamma-Gamma fit only.

Why scipy and not pymc-marketing: measured in ``benchmarks/bench_clv.py``'s docstring (install
size, import and fit time); the maximum-likelihood fit here reproduces the published CDNOW
figures to their decimals in well under a second, without a compiler or a sampler.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from segkit.features import rfm
from segkit.schema import CUSTOMER_ID, ORDER_DATE, DataError, ParameterError

#: Time units of the fit: name -> days per unit.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}

#: Days per month for horizons and the monthly discount rate (a mean Gregorian month).
DAYS_PER_MONTH = 365.25 / 12

#: Calibration-frequency buckets of the holdout table: 0 .. HOLDOUT_BUCKETS - 1, then "N+".
HOLDOUT_BUCKETS = 8

BGNBD_PARAMS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS = ("p", "q", "gamma")

#: Columns of :meth:`ClvModel.predict`, with their meaning (units in the docstring there).
PREDICTION_COLUMNS: dict[str, str] = {
    "frequency": "repeat purchase days in calibration",
    "recency": "time from the first to the last purchase day (fit time unit)",
    "T": "time from the first purchase day to the calibration end (fit time unit)",
    "monetary_value": "mean amount of the repeat purchase days (0 without repeat)",
    "expected_purchases": "expected purchase days over the horizon",
    "prob_alive": "probability that the customer is still active at the calibration end",
    "expected_order_value": "expected amount per future purchase day (Gamma-Gamma)",
    "clv": "expected amount over the horizon, discounted monthly",
}


# --------------------------------------------------------------------------- likelihoods
def bgnbd_log_likelihood(
    params: dict[str, float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6).

    Parameters
    ----------
    params
        ``r``, ``alpha`` (gamma heterogeneity of the purchase rate; ``alpha`` in time units),
        ``a``, ``b`` (beta heterogeneity of the drop-out probability).
    frequency, recency, T
        Repeat purchases x, time of the last purchase t_x and age T (time units), per customer.
    """
    r, alpha, a, b = (params[name] for name in BGNBD_PARAMS)
    x = np.asarray(frequency, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = (
        math.log(a)
        - np.log(b + x[repeat] - 1)
        - (r + x[repeat]) * np.log(alpha + np.asarray(recency)[repeat])
    )
    return a1 + np.logaddexp(a3, a4)


def gamma_gamma_log_likelihood(
    params: dict[str, float], frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend (Fader & Hardie 2013, eq. 1).

    Parameters
    ----------
    params
        ``p`` (shape of a transaction's spend), ``q``, ``gamma`` (gamma heterogeneity of the
        spend scale; ``gamma`` in currency).
    frequency, monetary_value
        Number x > 0 of repeat transactions and their mean value z > 0, per customer.
    """
    p, q, gamma = (params[name] for name in GAMMA_GAMMA_PARAMS)
    x = np.asarray(frequency, dtype=float)
    z = np.asarray(monetary_value, dtype=float)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * math.log(gamma)
        + (px - 1) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(gamma + x * z)
    )


@dataclass(frozen=True)
class MaximumLikelihood:
    """Result of :func:`maximise_likelihood`: parameters, log-likelihood, work done."""

    params: dict[str, float]
    log_likelihood: float
    evaluations: int
    restarts: int
    at_bound: tuple[str, ...] = ()


#: Bounds of the log-parameters: exp(+-15) is about 3e-7 .. 3e6 (a ridge, e.g. a and b of the BG/NBD
#: growing together when every customer has the same drop-out probability, stops there).
LOG_BOUND = 15.0


def maximise_likelihood(
    log_likelihood: Callable[[dict[str, float]], float],
    names: tuple[str, ...],
    n_observations: int,
    tolerance: float = 1e-10,
) -> MaximumLikelihood:
    """Maximise ``log_likelihood`` over positive parameters, deterministically.

    Nelder-Mead (gradient-free) on the logs of the parameters (bounded by :data:`LOG_BOUND`) from
    the start 1, 1, ..., minimising the mean negative log-likelihood per observation. The simplex
    is restarted from its best point until a restart improves that mean by less than ``tolerance``
    (a simplex can stall before the optimum; the restart checks it did not). Parameters at a bound
    are listed in :attr:`MaximumLikelihood.at_bound`.

    Raises
    ------
    DataError
        The likelihood is not finite at the start, or the search did not converge in 20 restarts.
    """
    scale = 1.0 / max(int(n_observations), 1)

    def objective(log_params: np.ndarray) -> float:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            value = log_likelihood(dict(zip(names, np.exp(log_params), strict=True)))
        return -value * scale if np.isfinite(value) else np.inf

    point = np.zeros(len(names))
    best = objective(point)
    if not np.isfinite(best):
        raise DataError(
            f"the likelihood of {', '.join(names)} is not finite at the start (check the summary)"
        )
    evaluations = 0
    options = {"xatol": 1e-7, "fatol": tolerance, "maxiter": 5_000, "maxfev": 5_000}
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    for restart in range(20):
        result = minimize(objective, point, method="Nelder-Mead", bounds=bounds, options=options)
        evaluations += int(result.nfev)
        improved = best - float(result.fun)
        point, best = result.x, min(best, float(result.fun))
        if restart > 0 and improved < tolerance:
            at_bound = tuple(name for name, x in zip(names, point, strict=True) if abs(x) > LOG_BOUND - 1e-3)
            return MaximumLikelihood(
                {name: float(value) for name, value in zip(names, np.exp(point), strict=True)},
                -best / scale,
                evaluations,
                restart,
                at_bound,
            )
    raise DataError(f"the maximum-likelihood fit of {', '.join(names)} did not converge in 20 restarts")


# --------------------------------------------------------------------------- predictions
def bgnbd_prob_alive(
    params: dict[str, float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """P(active at T | x, t_x, T) under the BG/NBD (Fader, Hardie & Lee 2005, appendix)."""
    r, alpha, a, b = (params[name] for name in BGNBD_PARAMS)
    x = np.asarray(frequency, dtype=float)
    with np.errstate(divide="ignore"):
        log_ratio = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + recency))
        )
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def bgnbd_expected_purchases(
    params: dict[str, float], t: float, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] under the BG/NBD (Fader, Hardie & Lee 2005, eq. 10).

    ``t`` in the fit's time unit. Valid for every a > 0, a != 1 (the hypergeometric term keeps the
    ratio positive when a < 1, as for CDNOW).
    """
    r, alpha, a, b = (params[name] for name in BGNBD_PARAMS)
    x = np.asarray(frequency, dtype=float)
    T = np.asarray(T, dtype=float)
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return head * tail * bgnbd_prob_alive(params, x, recency, T)


def bgnbd_unconditional_purchases(params: dict[str, float], t: np.ndarray) -> np.ndarray:
    """E[X(t)], expected repeat purchases of a new customer within t of the first (FHL 2005, eq. 9)."""
    r, alpha, a, b = (params[name] for name in BGNBD_PARAMS)
    t = np.asarray(t, dtype=float)
    value = (
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    return np.where(t > 0, value, 0.0)


def gamma_gamma_expected_spend(
    params: dict[str, float], frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """E[spend per transaction | x, z] (Fader & Hardie 2013, eq. 5); the population mean when x = 0."""
    p, q, gamma = (params[name] for name in GAMMA_GAMMA_PARAMS)
    x = np.asarray(frequency, dtype=float)
    return p * (gamma + x * np.asarray(monetary_value, dtype=float)) / (p * x + q - 1)


# --------------------------------------------------------------------------- the model
@dataclass
class ClvModel:
    """BG/NBD + Gamma-Gamma fit on a calibration period, with its holdout when there is one.

    Attributes
    ----------
    bgnbd_params, gamma_gamma_params
        Fitted parameters (``alpha`` in time units, ``gamma`` in currency).
    summary
        The calibration BTYD summary in time units (``frequency``, ``recency``, ``T``,
        ``monetary_value``), indexed by ``customer_id``: the customers the fit sees.
    time_unit
        ``"W"`` (weeks = days / 7) or ``"D"``.
    calibration_end, observation_end
        Last day of the calibration period and of the data (equal when there is no holdout).
    holdout_purchases
        Purchase days of each summary customer after the calibration end (None without holdout).
    first_day, repeat_days
        Each customer's first purchase day and the days of their repeat purchases (day numbers,
        for the cumulative weekly table).
    fit_seconds
        Wall time of the two maximum-likelihood fits.
    log_likelihoods
        Maximised log-likelihood of each model (``bgnbd``, ``gamma_gamma``).
    seen
        What the fit sees: customers, purchase days, repeat buyers, zero-value purchase days...
    at_bound
        Parameters whose estimate stopped at :data:`LOG_BOUND` (not identified by the data).
    """

    bgnbd_params: dict[str, float]
    gamma_gamma_params: dict[str, float]
    summary: pd.DataFrame
    time_unit: str
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    holdout_purchases: pd.Series | None
    first_day: pd.Series
    repeat_days: np.ndarray = field(repr=False)
    fit_seconds: float = 0.0
    log_likelihoods: dict[str, float] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    at_bound: tuple[str, ...] = ()

    @property
    def unit_days(self) -> float:
        return TIME_UNITS[self.time_unit]

    @property
    def holdout_length(self) -> float:
        """Length of the holdout period in time units (0 without holdout)."""
        return (self.observation_end - self.calibration_end).days / self.unit_days

    # -------------------------------------------------------------- per customer
    def predict(self, horizon: float = 12, discount_rate: float = 0.01) -> pd.DataFrame:
        """Expected value of every customer over the next ``horizon`` months.

        Parameters
        ----------
        horizon
            Months after the calibration end (a month is 365.25 / 12 days); > 0.
        discount_rate
            Monthly discount rate in [0, 1); the purchases of month i are divided by
            (1 + discount_rate) ** i.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``customer_id``, columns :data:`PREDICTION_COLUMNS`: the summary (time
            units), ``expected_purchases`` (purchase days over the horizon), ``prob_alive`` (at the
            calibration end), ``expected_order_value`` (currency per purchase day) and ``clv``
            (currency, discounted). ``attrs`` record the horizon, the rate and the calibration end.
        """
        horizon, discount_rate = _check_horizon(horizon, discount_rate)
        s = self.summary
        args = (s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy())
        months_to_units = DAYS_PER_MONTH / self.unit_days
        steps = np.minimum(np.arange(1, math.ceil(horizon) + 1, dtype=float), horizon)
        cumulative = [np.zeros(len(s))] + [
            bgnbd_expected_purchases(self.bgnbd_params, month * months_to_units, *args) for month in steps
        ]
        discount = (1 + discount_rate) ** np.arange(1, len(steps) + 1)
        discounted = sum((cumulative[i + 1] - cumulative[i]) / discount[i] for i in range(len(steps)))
        order_value = gamma_gamma_expected_spend(
            self.gamma_gamma_params, args[0], s["monetary_value"].to_numpy()
        )
        out = s.copy()
        out["expected_purchases"] = cumulative[-1]
        out["prob_alive"] = bgnbd_prob_alive(self.bgnbd_params, *args)
        out["expected_order_value"] = order_value
        out["clv"] = discounted * order_value
        bad = ~np.isfinite(out[["expected_purchases", "prob_alive", "clv"]].to_numpy()).all(axis=1)
        if bad.any():
            raise DataError(
                "the fitted model gives no finite value for some customers (too many repeat purchases for "
                "the fit's time unit?); fit with time_unit='W'",
                column="frequency",
                n_bad=int(bad.sum()),
                examples=list(out.index[bad]),
            )
        out.attrs.update(
            horizon_months=horizon,
            discount_rate=discount_rate,
            calibration_end=self.calibration_end.date().isoformat(),
        )
        return out

    def segment_value(
        self, segments: pd.Series, horizon: float = 12, discount_rate: float = 0.01
    ) -> pd.DataFrame:
        """Sums and medians of the predictions per segment.

        Parameters
        ----------
        segments
            Segment label per customer, indexed by ``customer_id``; customers the fit does not
            see are left out (their count is in ``attrs["unmatched"]``).
        horizon, discount_rate
            As :meth:`predict`.

        Returns
        -------
        pandas.DataFrame
            Per segment: ``customers``, ``clv_sum``, ``clv_median``, ``clv_share`` (of the total),
            ``expected_purchases_sum``, ``expected_purchases_median``, ``prob_alive_mean``,
            ``prob_alive_median``, ``expected_order_value_median``.
        """
        predictions = self.predict(horizon, discount_rate)
        labels = pd.Series(segments).copy()
        labels.index = labels.index.astype("str")
        index = predictions.index.astype("str")
        joined = predictions.set_axis(index).join(labels.rename("segment"), how="inner")
        if joined.empty:
            raise DataError(
                "no customer of the segments is in the CLV fit; pass segments indexed by customer_id",
                column=CUSTOMER_ID,
                examples=list(labels.index[:5]),
            )
        grouped = joined.groupby("segment", sort=True)
        table = pd.DataFrame(
            {
                "customers": grouped.size(),
                "clv_sum": grouped["clv"].sum(),
                "clv_median": grouped["clv"].median(),
                "expected_purchases_sum": grouped["expected_purchases"].sum(),
                "expected_purchases_median": grouped["expected_purchases"].median(),
                "prob_alive_mean": grouped["prob_alive"].mean(),
                "prob_alive_median": grouped["prob_alive"].median(),
                "expected_order_value_median": grouped["expected_order_value"].median(),
            }
        )
        table.insert(2, "clv_share", table["clv_sum"] / table["clv_sum"].sum())
        table.attrs.update(predictions.attrs, unmatched=int(len(labels) - len(joined)))
        return table

    # -------------------------------------------------------------- validation
    def _require_holdout(self) -> pd.Series:
        if self.holdout_purchases is None:
            raise ParameterError(
                "the model has no holdout period; fit with a calibration_end before the last transaction day",
                column="calibration_end",
            )
        return self.holdout_purchases

    def holdout_table(self) -> pd.DataFrame:
        """Expected vs actual holdout purchases per number of calibration repeat purchases.

        Returns
        -------
        pandas.DataFrame
            One row per bucket ``0``, ``1``, ..., ``"7+"`` (calibration ``frequency``):
            ``customers``, ``actual`` and ``expected`` (mean purchase days per customer in the
            holdout), ``actual_total`` and ``expected_total``. ``attrs["holdout_length"]`` is
            the holdout's length in time units.

        Raises
        ------
        ParameterError
            The model was fitted without a holdout period.
        """
        actual = self._require_holdout()
        s = self.summary
        expected = bgnbd_expected_purchases(
            self.bgnbd_params,
            self.holdout_length,
            s["frequency"].to_numpy(),
            s["recency"].to_numpy(),
            s["T"].to_numpy(),
        )
        top = HOLDOUT_BUCKETS - 1
        bucket = np.minimum(s["frequency"].to_numpy().astype(int), top)
        labels = [str(i) for i in range(top)] + [f"{top}+"]
        frame = pd.DataFrame(
            {
                "bucket": pd.Categorical.from_codes(bucket, labels),
                "actual": actual.to_numpy(),
                "expected": expected,
            }
        )
        grouped = frame.groupby("bucket", observed=False)
        table = pd.DataFrame(
            {
                "customers": grouped.size(),
                "actual": grouped["actual"].mean(),
                "expected": grouped["expected"].mean(),
                "actual_total": grouped["actual"].sum(),
                "expected_total": grouped["expected"].sum(),
            }
        )
        table.index = pd.Index(labels, name="calibration_repeat_purchases")
        table.attrs["holdout_length"] = self.holdout_length
        table.attrs["time_unit"] = self.time_unit
        return table

    def cumulative_table(self) -> pd.DataFrame:
        """Cumulative repeat purchases of the fitted customers, expected vs actual, week by week.

        Expected: each customer's unconditional E[X(t)] from their first purchase day (FHL 2005,
        eq. 9), summed; actual: repeat purchase days up to each week's end. Weeks run from the
        first purchase day of the data to the observation end.

        Returns
        -------
        pandas.DataFrame
            ``week`` (1, 2, ...), ``date`` (the week's last day), ``actual``, ``expected`` and
            ``period`` (``"calibration"`` or ``"holdout"``).
        """
        first = self.first_day.to_numpy()
        start = int(first.min())
        end = int(np.datetime64(self.observation_end.date(), "D").astype(np.int64))
        ends = np.arange(start + 6, end + 1, 7)
        first_days, counts = np.unique(first, return_counts=True)
        ages = (ends[:, None] - first_days[None, :]) / self.unit_days
        expected = (bgnbd_unconditional_purchases(self.bgnbd_params, np.maximum(ages, 0)) * counts).sum(
            axis=1
        )
        actual = np.searchsorted(np.sort(self.repeat_days), ends, side="right")
        cal_end = int(np.datetime64(self.calibration_end.date(), "D").astype(np.int64))
        return pd.DataFrame(
            {
                "week": np.arange(1, len(ends) + 1),
                "date": ends.astype("datetime64[D]").astype("datetime64[ns]"),
                "actual": actual.astype(float),
                "expected": expected,
                "period": np.where(ends <= cal_end, "calibration", "holdout"),
            }
        )

    def to_dict(self) -> dict[str, object]:
        """Flat plain-JSON description of the fit: parameters (``bgnbd_r``...), dates, what it saw, fit time."""
        return {
            **{f"bgnbd_{name}": value for name, value in self.bgnbd_params.items()},
            **{f"gamma_gamma_{name}": value for name, value in self.gamma_gamma_params.items()},
            "time_unit": self.time_unit,
            "calibration_end": self.calibration_end.date().isoformat(),
            "observation_end": self.observation_end.date().isoformat(),
            "holdout_length": self.holdout_length,
            "fit_seconds": self.fit_seconds,
            "parameters_at_bound": list(self.at_bound),
            **self.seen,
        }


# --------------------------------------------------------------------------- fitting
def _check_horizon(horizon: object, discount_rate: object) -> tuple[float, float]:
    try:
        h, d = float(horizon), float(discount_rate)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"horizon and discount_rate must be numbers, got {horizon!r} and {discount_rate!r}",
            column="horizon",
        ) from exc
    if not np.isfinite(h) or h <= 0:
        raise ParameterError(
            f"horizon must be a positive number of months, got {horizon!r}", column="horizon"
        )
    if not np.isfinite(d) or not 0 <= d < 1:
        raise ParameterError(
            f"discount_rate must be a monthly rate in [0, 1), e.g. 0.01, got {discount_rate!r}",
            column="discount_rate",
        )
    return h, d


def _day(value: pd.Timestamp) -> int:
    return int(np.datetime64(value.date(), "D").astype(np.int64))


def _calibration_end(calibration_end: object, first: pd.Timestamp, last: pd.Timestamp) -> pd.Timestamp:
    if calibration_end is None or (isinstance(calibration_end, str) and not calibration_end.strip()):
        return last
    try:
        stamp = pd.Timestamp(calibration_end)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"calibration_end {calibration_end!r} is not a date (use e.g. '1997-09-30')",
            column="calibration_end",
        ) from exc
    stamp = stamp.normalize()
    if pd.isna(stamp) or not first <= stamp <= last:
        raise ParameterError(
            f"calibration_end {calibration_end!r} is outside the data ({first.date()} to {last.date()}); "
            "choose a date in that range, leaving a holdout period after it",
            column="calibration_end",
        )
    return stamp


def fit_clv(
    transactions: pd.DataFrame,
    calibration_end: str | pd.Timestamp | None = None,
    time_unit: str = "W",
    exclude_new: bool = False,
) -> ClvModel:
    """Fit the BG/NBD and Gamma-Gamma models on the calibration period of a transaction log.

    Parameters
    ----------
    transactions
        Canonical transactions (``customer_id``, ``order_date``, ``amount``), normally cleaned;
        keep $0 purchases (they are purchases).
    calibration_end
        Last day of the calibration period (inclusive). Customers who first bought after it are
        not in the fit; purchases after it form the holdout. Default: the last transaction day
        (no holdout).
    time_unit
        ``"W"`` (weeks = days / 7, the published convention; ``alpha`` is then in weeks) or ``"D"``.
    exclude_new
        Leave out customers whose first purchase is on the calibration end day (T = 0: nothing
        about them can be fitted). By default they raise an error.

    Returns
    -------
    ClvModel

    Raises
    ------
    ParameterError
        Unknown time unit, a calibration end that is not a date or lies outside the data.
    DataError
        A customer with T = 0 (unless ``exclude_new``), no repeat buyer with a positive spend
        (the Gamma-Gamma model has nothing to fit), or a fit that does not converge or gives
        parameters without a finite mean (q <= 1).
    """
    if time_unit not in TIME_UNITS:
        raise ParameterError(
            f"time_unit must be one of {sorted(TIME_UNITS)} (W = weeks), got {time_unit!r}",
            column="time_unit",
        )
    unit_days = TIME_UNITS[time_unit]
    dates = transactions[ORDER_DATE]
    first, last = dates.min().normalize(), dates.max().normalize()
    cal_end = _calibration_end(calibration_end, first, last)
    summary = rfm(transactions, snapshot_date=cal_end, convention="btyd")  # validates the table
    customers_in_data = int(transactions[CUSTOMER_ID].nunique())
    new = summary.index[summary["T"].to_numpy() == 0]
    if len(new) and not exclude_new:
        raise DataError(
            f"{len(new):,} customers made their first purchase on the calibration end day {cal_end.date()} "
            "(T = 0): the models cannot learn anything about them",
            column="calibration_end",
            n_bad=len(new),
            examples=list(new),
            hint="pass exclude_new=True to leave them out, or choose another calibration_end",
        )
    summary = summary.drop(index=new)
    if summary.empty:
        raise DataError("no customer bought before the calibration end day", column="calibration_end")
    first_day = _day(cal_end) - summary["T"].astype(np.int64)
    repeat_buyers = summary["frequency"].to_numpy() > 0
    spenders = repeat_buyers & (summary["monetary_value"].to_numpy() > 0)
    if not spenders.any():
        raise DataError(
            "no customer made a repeat purchase with a positive amount before the calibration end: the "
            "Gamma-Gamma spend model has nothing to fit",
            column="frequency",
            hint="choose a later calibration_end, or use data with repeat buyers",
        )
    in_units = summary.assign(recency=summary["recency"] / unit_days, T=summary["T"] / unit_days)
    x, tx, age = (in_units[c].to_numpy() for c in ("frequency", "recency", "T"))
    started = time.perf_counter()
    bgnbd = maximise_likelihood(
        lambda p: float(bgnbd_log_likelihood(p, x, tx, age).sum()), BGNBD_PARAMS, len(x)
    )
    xs, zs = x[spenders], in_units["monetary_value"].to_numpy()[spenders]
    spend = maximise_likelihood(
        lambda p: float(gamma_gamma_log_likelihood(p, xs, zs).sum()), GAMMA_GAMMA_PARAMS, len(xs)
    )
    seconds = time.perf_counter() - started
    if spend.params["q"] <= 1:
        raise DataError(
            f"the Gamma-Gamma fit gives q = {spend.params['q']:.3f} <= 1: the expected spend has no finite mean "
            "(a few extreme spenders?)",
            column="monetary_value",
            hint="cap outliers when cleaning (CleaningRules) or use a longer calibration period",
        )
    holdout, repeat_days, purchase_days = _purchase_days(transactions, summary.index, first_day, cal_end)
    seen = {
        "customers": int(len(summary)),
        "customers_in_data": customers_in_data,
        "customers_first_after_calibration": customers_in_data - int(len(summary)) - int(len(new)),
        "customers_excluded_new": int(len(new)),
        "purchase_days": int(purchase_days),
        "repeat_buyers": int(repeat_buyers.sum()),
        "gamma_gamma_customers": int(spenders.sum()),
        "repeat_buyers_without_spend": int((repeat_buyers & ~spenders).sum()),
        "holdout_purchase_days": int(holdout.sum()) if cal_end < last else 0,
    }
    return ClvModel(
        bgnbd_params=bgnbd.params,
        gamma_gamma_params=spend.params,
        summary=in_units,
        time_unit=time_unit,
        calibration_end=cal_end,
        observation_end=last,
        holdout_purchases=holdout if cal_end < last else None,
        first_day=first_day,
        repeat_days=repeat_days,
        fit_seconds=seconds,
        log_likelihoods={"bgnbd": bgnbd.log_likelihood, "gamma_gamma": spend.log_likelihood},
        seen=seen,
        at_bound=bgnbd.at_bound + spend.at_bound,
    )


def _purchase_days(
    transactions: pd.DataFrame, customers: pd.Index, first_day: pd.Series, cal_end: pd.Timestamp
) -> tuple[pd.Series, np.ndarray, int]:
    """Holdout purchase days per customer, the days of all repeat purchases, calibration purchase days."""
    ids = transactions[CUSTOMER_ID].astype("str")
    day = transactions[ORDER_DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
    pairs = pd.DataFrame({CUSTOMER_ID: ids.to_numpy(), "day": day}).drop_duplicates()
    index = customers.astype("str")
    pairs = pairs[pairs[CUSTOMER_ID].isin(index)]
    firsts = pd.Series(first_day.to_numpy(), index=index)
    repeat = pairs[pairs["day"].to_numpy() > firsts.reindex(pairs[CUSTOMER_ID]).to_numpy()]
    cal = _day(cal_end)
    holdout = repeat[repeat["day"] > cal].groupby(CUSTOMER_ID).size().reindex(index, fill_value=0)
    holdout.index = customers
    return holdout.astype(float), repeat["day"].to_numpy(), int((pairs["day"] <= cal).sum())


# --------------------------------------------------------------------------- notebook helpers
def holdout_calibration_end(transactions: pd.DataFrame, holdout_months: float) -> pd.Timestamp:
    """The calibration end that leaves the last ``holdout_months`` months of the data as holdout.

    Raises
    ------
    ParameterError
        ``holdout_months`` is not positive or leaves no calibration period.
    """
    months, _ = _check_horizon(holdout_months, 0.0)
    dates = transactions[ORDER_DATE]
    first, last = dates.min().normalize(), dates.max().normalize()
    end = (last - pd.Timedelta(days=round(months * DAYS_PER_MONTH))).normalize()
    if end <= first:
        raise ParameterError(
            f"a holdout of {holdout_months} months leaves no calibration period in {first.date()} to {last.date()}; "
            "choose fewer holdout months",
            column="holdout_months",
        )
    return end


def with_clv_columns(tags: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """``tags`` (one row per ``customer_id``, e.g. ``segments.csv``) with the CLV columns joined.

    Adds ``expected_purchases``, ``prob_alive`` and ``clv`` (see :meth:`ClvModel.predict`); customers
    the fit did not see (first purchase on its calibration end day) get empty values. Columns of
    those names already in ``tags`` are replaced, so rerunning is idempotent.
    """
    columns = ["expected_purchases", "prob_alive", "clv"]
    values = predictions[columns].set_axis(predictions.index.astype("str"))
    out = tags.drop(columns=[c for c in columns if c in tags.columns])
    joined = values.reindex(out[CUSTOMER_ID].astype("str").to_numpy())
    for column in columns:
        out[column] = joined[column].to_numpy()
    return out
