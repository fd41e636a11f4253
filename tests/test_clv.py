"""Customer lifetime value: the published CDNOW fit, the demo shop's holdout, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

import segkit
from segkit import clv, narrative
from segkit.schema import SegkitError

#: ``shared/`` sits next to the repository, as for the other real samples (tests/conftest.py)
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples"
CDNOW = "CDNOW_sample.txt"
#: Fader, Hardie & Lee (2005) and Fader & Hardie (2013), to their published decimals
PUBLISHED_BGNBD = {"r": (0.243, 3), "alpha": (4.414, 3), "a": (0.793, 3), "b": (2.426, 3)}
PUBLISHED_GAMMA_GAMMA = {"p": (6.25, 2), "q": (3.74, 2), "gamma": (15.44, 2)}


def read_cdnow(path: Path) -> pd.DataFrame:
    """CDNOW through segkit's own reader: headerless, whitespace separated, dates YYYYMMDD."""
    return segkit.read_dataset(
        path,
        layout="generic",
        sep="whitespace",
        header=False,
        columns={"customer_id": "1", "order_date": "2", "amount": "4"},
        date_format="%Y%m%d",
    ).transactions


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    path = SAMPLES_DIR / CDNOW
    if not path.is_file():
        pytest.skip(f"the CDNOW sample is not at {path} (../shared/samples is not shipped with a clone)")
    return read_cdnow(path)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow) -> clv.ClvModel:
    return segkit.fit_clv(cdnow, calibration_end="1997-09-30")


def test_cdnow_reads_every_line_with_zero_purchases_kept(cdnow):
    assert len(cdnow) == 6919
    assert cdnow["customer_id"].nunique() == 2357
    assert int((cdnow["amount"] == 0).sum()) == 8


def test_cdnow_fit_sees_the_published_customers(cdnow_fit):
    assert cdnow_fit.seen["customers"] == 2357
    assert cdnow_fit.seen["repeat_buyers"] == 946
    assert cdnow_fit.seen["gamma_gamma_customers"] == 946
    assert cdnow_fit.holdout_length == pytest.approx(39.0)


@pytest.mark.parametrize("name", list(PUBLISHED_BGNBD))
def test_cdnow_bgnbd_matches_the_published_fit(cdnow_fit, name):
    value, decimals = PUBLISHED_BGNBD[name]
    assert round(cdnow_fit.bgnbd_params[name], decimals) == value


@pytest.mark.parametrize("name", list(PUBLISHED_GAMMA_GAMMA))
def test_cdnow_gamma_gamma_matches_the_published_fit(cdnow_fit, name):
    value, decimals = PUBLISHED_GAMMA_GAMMA[name]
    assert round(cdnow_fit.gamma_gamma_params[name], decimals) == value


def test_cdnow_fit_is_a_maximum(cdnow_fit):
    """Moving any parameter by 1% either way lowers the likelihood (the optimiser stopped at a maximum)."""
    s = cdnow_fit.summary
    args = (s["frequency"].to_numpy(), s["recency"].to_numpy(), s["T"].to_numpy())
    best = clv.bgnbd_log_likelihood(cdnow_fit.bgnbd_params, *args).sum()
    assert best == pytest.approx(cdnow_fit.log_likelihoods["bgnbd"])
    for name in clv.BGNBD_PARAMS:
        for factor in (0.99, 1.01):
            moved = cdnow_fit.bgnbd_params | {name: cdnow_fit.bgnbd_params[name] * factor}
            assert clv.bgnbd_log_likelihood(moved, *args).sum() < best


def test_cdnow_holdout_table_tracks_the_actual_purchases(cdnow_fit):
    table = cdnow_fit.holdout_table()
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == 2357
    assert table["actual_total"].sum() == cdnow_fit.seen["holdout_purchase_days"]
    # more calibration purchases -> more expected and actual holdout purchases (FHL 2005, fig. 4)
    assert table["expected"].is_monotonic_increasing
    assert table["actual"].iloc[0] < table["actual"].iloc[-1]
    # FHL 2005 (fig. 5): the fit tracks every bucket and under-predicts the holdout total by about 12%
    np.testing.assert_allclose(table["expected"], table["actual"], rtol=0.3)
    assert table["expected_total"].sum() == pytest.approx(table["actual_total"].sum(), rel=0.15)


def test_cdnow_cumulative_table_covers_78_weeks(cdnow_fit):
    weekly = cdnow_fit.cumulative_table()
    assert len(weekly) == 78
    assert (weekly["period"] == "calibration").sum() == 39
    assert weekly["actual"].is_monotonic_increasing and weekly["expected"].is_monotonic_increasing
    total_repeat = cdnow_fit.summary["frequency"].sum() + cdnow_fit.seen["holdout_purchase_days"]
    assert weekly["actual"].iloc[-1] == total_repeat
    calibration = weekly[weekly["period"] == "calibration"].iloc[-1]
    assert calibration["expected"] == pytest.approx(calibration["actual"], rel=0.05)


def test_cleaning_keeps_what_the_clv_fit_needs(cdnow, cdnow_fit):
    """$0 purchases and same-day repeat lines survive cleaning: the fit on clean data is the same fit."""
    clean, report = segkit.clean_transactions(cdnow)
    assert clean["customer_id"].nunique() == cdnow["customer_id"].nunique()
    refit = segkit.fit_clv(clean, calibration_end="1997-09-30")
    assert refit.seen == cdnow_fit.seen
    assert refit.bgnbd_params == pytest.approx(cdnow_fit.bgnbd_params, rel=1e-9)
    assert refit.gamma_gamma_params == pytest.approx(cdnow_fit.gamma_gamma_params, rel=1e-9)


def test_predictions_are_consistent(cdnow_fit):
    short = cdnow_fit.predict(horizon=6, discount_rate=0.01)
    long = cdnow_fit.predict(horizon=12, discount_rate=0.01)
    undiscounted = cdnow_fit.predict(horizon=12, discount_rate=0.0)
    assert list(long.columns) == list(clv.PREDICTION_COLUMNS)
    assert (long["clv"] >= short["clv"]).all() and (long["clv"] > short["clv"]).any()
    assert (undiscounted["clv"] >= long["clv"]).all()
    np.testing.assert_allclose(
        undiscounted["clv"],
        undiscounted["expected_purchases"] * undiscounted["expected_order_value"],
        rtol=1e-9,
    )
    assert long["prob_alive"].between(0, 1).all()
    # customers without repeat purchases are certainly alive under the BG/NBD and get the population spend
    no_repeat = long[long["frequency"] == 0]
    assert (no_repeat["prob_alive"] == 1).all()
    p, q, gamma = (cdnow_fit.gamma_gamma_params[k] for k in ("p", "q", "gamma"))
    np.testing.assert_allclose(no_repeat["expected_order_value"], p * gamma / (q - 1))


def test_segment_value_sums_the_customers(cdnow_fit):
    predictions = cdnow_fit.predict(horizon=12)
    segments = pd.Series(np.where(predictions["frequency"] > 0, "repeat", "one-off"), index=predictions.index)
    table = cdnow_fit.segment_value(segments, horizon=12)
    assert table["customers"].sum() == len(predictions)
    assert table["clv_sum"].sum() == pytest.approx(predictions["clv"].sum())
    assert table.loc["repeat", "clv_median"] > table.loc["one-off", "clv_median"]
    assert table["clv_share"].sum() == pytest.approx(1.0)


def test_fit_is_deterministic(cdnow):
    first = segkit.fit_clv(cdnow, calibration_end="1997-09-30")
    second = segkit.fit_clv(cdnow.sample(frac=1.0, random_state=1), calibration_end="1997-09-30")
    assert first.bgnbd_params == pytest.approx(second.bgnbd_params, rel=1e-6)
    assert first.gamma_gamma_params == pytest.approx(second.gamma_gamma_params, rel=1e-6)


# --------------------------------------------------------------------------- the demo shop
@pytest.mark.slow
def test_demo_shop_expected_spend_ranks_the_next_six_months():
    shop = segkit.make_demo_shop(n_customers=10000, seed=0, shift=False)
    tx = segkit.clean_transactions(shop.transactions)[0]
    start = tx["order_date"].min().normalize()
    cal_end = start + pd.DateOffset(months=24) - pd.Timedelta(days=1)
    end = cal_end + pd.DateOffset(months=6)
    model = segkit.fit_clv(tx, calibration_end=cal_end, exclude_new=True)
    predictions = model.predict(horizon=6, discount_rate=0.0)
    assert np.isfinite(predictions["clv"]).all() and (predictions["clv"] >= 0).all()
    later = tx[(tx["order_date"] > cal_end) & (tx["order_date"] < end + pd.Timedelta(days=1))]
    actual = later.groupby("customer_id")["amount"].sum().reindex(predictions.index, fill_value=0.0)
    rho = spearmanr(predictions["clv"], actual).statistic
    assert rho >= 0.45


# --------------------------------------------------------------------------- bad input
def _log(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "order_date": pd.to_datetime([r[1] for r in rows]),
            "amount": [r[2] for r in rows],
        }
    )


SMALL = _log(
    [
        ("a", "2020-01-01", 10.0),
        ("a", "2020-02-01", 12.0),
        ("a", "2020-05-01", 0.0),
        ("b", "2020-01-15", 20.0),
        ("b", "2020-03-15", 25.0),
        ("c", "2020-02-10", 5.0),
        ("d", "2020-03-01", 7.0),
        ("d", "2020-06-01", 9.0),
        ("e", "2020-06-30", 4.0),
    ]
)


def test_customer_with_t_zero_is_named():
    with pytest.raises(SegkitError, match=r"T = 0.*exclude_new=True") as info:
        segkit.fit_clv(SMALL, calibration_end="2020-06-30")
    assert info.value.examples == ["e"]


@pytest.mark.parametrize("end", ["2019-12-31", "2020-07-01", "not a date"])
def test_calibration_end_outside_the_data(end):
    with pytest.raises(SegkitError, match="calibration_end"):
        segkit.fit_clv(SMALL, calibration_end=end)


def test_no_repeat_buyer_for_gamma_gamma():
    one_off = _log([("a", "2020-01-01", 1.0), ("b", "2020-02-01", 2.0), ("c", "2020-03-01", 3.0)])
    with pytest.raises(SegkitError, match="Gamma-Gamma"):
        segkit.fit_clv(one_off, exclude_new=True)


@pytest.mark.parametrize(
    ("horizon", "rate"), [(0, 0.01), (-3, 0.01), (float("nan"), 0.01), (12, 1.5), ("x", 0.0)]
)
def test_bad_horizon_or_rate(cdnow_fit, horizon, rate):
    with pytest.raises(SegkitError, match="horizon|discount_rate"):
        cdnow_fit.predict(horizon=horizon, discount_rate=rate)


def test_unknown_time_unit():
    with pytest.raises(SegkitError, match="time_unit"):
        segkit.fit_clv(SMALL, time_unit="fortnight")


def test_no_holdout_table_without_a_holdout(cdnow):
    model = segkit.fit_clv(cdnow)
    with pytest.raises(SegkitError, match="calibration_end"):
        model.holdout_table()


def _numbers(sentence: str) -> list[float]:
    """The figures quoted in a sentence, in order (thousands separators removed, % as a number)."""
    import re

    return [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", sentence)]


def test_clv_sentences_quote_figures_recomputed_from_the_log(cdnow, cdnow_fit):
    """Every figure of the fit and holdout sentences, recomputed from the raw CDNOW log."""
    cal_end = pd.Timestamp("1997-09-30")
    days = cdnow.assign(day=cdnow["order_date"].dt.normalize())[["customer_id", "day"]].drop_duplicates()
    calibration = days[days["day"] <= cal_end]
    per_customer = calibration.groupby("customer_id").size()
    fit = narrative.clv_fit(cdnow_fit)
    customers, _day, _year, purchase_days, repeat_buyers, spenders = _numbers(fit)
    assert customers == len(per_customer)
    assert purchase_days == len(calibration)
    assert repeat_buyers == int((per_customer > 1).sum())
    assert spenders <= repeat_buyers
    assert "30 Sep 1997" in fit

    table = cdnow_fit.holdout_table()
    first_day = calibration.groupby("customer_id")["day"].min()
    later = days[(days["day"] > cal_end) & days["customer_id"].isin(first_day.index)]
    weeks, expected, actual, gap = _numbers(narrative.clv_holdout(table))
    assert actual == len(later)
    assert weeks == round(cdnow_fit.holdout_length)
    assert expected == round(table["expected_total"].sum())
    direction = "under" if expected < actual else "over"
    assert f"{direction}-predicts by {abs(expected / actual - 1):.0%}" in narrative.clv_holdout(table)
    assert gap == round(abs(table["expected_total"].sum() / actual - 1) * 100)
