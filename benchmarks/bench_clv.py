"""Benchmark and check of segkit.fit_clv (BG/NBD + Gamma-Gamma) on CDNOW and on the demo shop.

1. CDNOW (``../shared/samples/CDNOW_sample.txt``, read with segkit's own reader, calibration end
   1997-09-30): the fitted parameters beside the published ones (Fader, Hardie & Lee 2005;
   Fader & Hardie 2013), the fit time, the holdout table (mean holdout purchases per number of
   calibration repeat purchases, expected vs actual) and the cumulative repeat purchases at the
   calibration end and at the end of the data.
2. The demo shop ``make_demo_shop(n_customers=10000, seed=0, shift=False)``, cleaned, fitted on its
   first 24 months: the Spearman correlation between each fitted customer's expected spend over the
   next 6 months (undiscounted CLV) and their actual spend in those 6 months; the count of negative
   or NaN CLVs.

Why a maximum-likelihood fit with scipy and not pymc-marketing (measured 2026-12-02 in a throwaway
venv on this 2-core machine, pymc-marketing 0.19.2 / pymc 5.28.5 / pytensor 2.38.3): installing it
adds 790 MB of site-packages (numba, pymc, pytensor, arviz...) and took 2 min 17 s; ``import
pymc_marketing.clv`` takes 23 s; a first ``BetaGeoModel.fit(method="map")`` on the CDNOW summary
takes 111 s (pytensor compiles C) and, with its default priors, gives r = 0.285, alpha = 6.63,
a = 0.656, b = 2.07 (not the published MLE); with flat priors it reproduces 0.243 / 4.414 / 0.793 /
2.426 in 11-38 s. The Gamma-Gamma MAP with default priors gives p = 6.56, q = 3.37 (v = 13.5).
segkit's fit (Nelder-Mead on the bounded log-parameters, restarted until it stops improving)
reproduces both published fits with scipy, already a dependency, in 0.6-1.7 s for the two
maximisations (1.8-5 s with the BTYD summaries; measured under a load average of about 8).

Usage: ``.venv/bin/python benchmarks/bench_clv.py [--skip-demo]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

import segkit

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "gamma": 15.44}


def cdnow() -> None:
    path = SAMPLES / "CDNOW_sample.txt"
    if not path.is_file():
        print(f"CDNOW sample not found at {path}: skipped")
        return
    tx = segkit.read_dataset(
        path,
        layout="generic",
        sep="whitespace",
        header=False,
        columns={"customer_id": "1", "order_date": "2", "amount": "4"},
        date_format="%Y%m%d",
    ).transactions
    started = time.perf_counter()
    model = segkit.fit_clv(tx, calibration_end="1997-09-30")
    total = time.perf_counter() - started
    print(f"CDNOW: {len(tx):,} lines, {model.seen['customers']:,} customers, calibration end 1997-09-30")
    print(f"fit_clv: {total:.2f} s in total ({model.fit_seconds:.2f} s for the two likelihood maximisations)")
    fitted = model.bgnbd_params | model.gamma_gamma_params
    print("parameter  fitted     published")
    for name, value in PUBLISHED.items():
        print(f"{name:<9}  {fitted[name]:<9.4f}  {value}")
    print(f"\nholdout table ({model.holdout_length:.0f} weeks after the calibration end):")
    print(model.holdout_table().round(3).to_string())
    weekly = model.cumulative_table()
    calibration = weekly[weekly["period"] == "calibration"].iloc[-1]
    last = weekly.iloc[-1]
    print(
        f"\ncumulative repeat purchases: week {calibration['week']}: actual {calibration['actual']:,.0f}, "
        f"expected {calibration['expected']:,.0f}; week {last['week']}: actual {last['actual']:,.0f}, "
        f"expected {last['expected']:,.0f}"
    )


def demo() -> None:
    shop = segkit.make_demo_shop(n_customers=10000, seed=0, shift=False)
    tx = segkit.clean_transactions(shop.transactions)[0]
    start = tx["order_date"].min().normalize()
    cal_end = start + pd.DateOffset(months=24) - pd.Timedelta(days=1)
    end = cal_end + pd.DateOffset(months=6)
    started = time.perf_counter()
    model = segkit.fit_clv(tx, calibration_end=cal_end, exclude_new=True)
    seconds = time.perf_counter() - started
    predictions = model.predict(horizon=6, discount_rate=0.0)
    later = tx[(tx["order_date"] > cal_end) & (tx["order_date"] < end + pd.Timedelta(days=1))]
    actual = later.groupby("customer_id")["amount"].sum().reindex(predictions.index, fill_value=0.0)
    rho = spearmanr(predictions["clv"], actual).statistic
    bad = int((predictions["clv"].isna() | (predictions["clv"] < 0)).sum())
    print(
        f"\ndemo shop (10,000 customers, seed 0, no shift), calibration to {cal_end.date()}: "
        f"{model.seen['customers']:,} customers fitted in {seconds:.2f} s"
    )
    print(f"Spearman(expected spend, actual spend in the next 6 months) = {rho:.3f} (target >= 0.45)")
    print(f"negative or NaN CLVs: {bad}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true", help="only the CDNOW part")
    args = parser.parse_args()
    cdnow()
    if not args.skip_demo:
        demo()


if __name__ == "__main__":
    main()
