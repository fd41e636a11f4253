"""Benchmark of the maintenance simulation (issue 10): prints measured figures, asserts nothing.

1. ``segkit.maintenance_simulation`` over 52 weekly steps on a 20,000-customer demo shop (defaults:
   365-day window, k-means, k from the model search), refits included. Target: <= 10 s.
2. The feature part alone: the simulation's incremental window features (one compact per-(customer,
   day) table built once, then ``searchsorted`` + ``bincount`` per step) against a naive loop that
   slices the log and calls the public ``segkit.customer_file`` at every step. Target: >= 10x.

3. ``--seeds 0-9``: the acceptance check of issue 10 on ``make_demo_shop(n_customers=10000, seed=s)`` for
   every seed, with defaults: with the shift, ``obsolete_on`` must fall 0-42 days after ``shift_date``
   with no alarm before; with ``shift=False`` no alarm at all. Prints, per seed, the alarm date, its
   delay after the shift, the lowest ARI over 3 consecutive steps and the largest PSI before the shift.

Run: ``.venv/bin/python benchmarks/bench_maintenance.py [--customers 20000] [--steps 52] [--seed 0]``
     ``.venv/bin/python benchmarks/bench_maintenance.py --seeds 0-9``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def _clean_demo_shop(n_customers: int, seed: int) -> pd.DataFrame:
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop

    shop = make_demo_shop(n_customers=n_customers, seed=seed)
    clean, _ = clean_transactions(shop.transactions)
    return clean


def _incremental_features(transactions: pd.DataFrame, step_days: np.ndarray, window_days: int) -> float:
    from segkit.stability import DEFAULT_FEATURES, DailyLog

    started = time.perf_counter()
    log = DailyLog.from_transactions(transactions)
    for day in step_days:
        log.window_features(int(day), window_days, DEFAULT_FEATURES)
    return time.perf_counter() - started


def _naive_features(transactions: pd.DataFrame, dates: list[pd.Timestamp], window_days: int) -> float:
    from segkit.features import customer_file

    started = time.perf_counter()
    day = transactions["order_date"].dt.normalize()
    for date in dates:
        window = transactions[(day <= date) & (day > date - pd.Timedelta(days=window_days))]
        customer_file(window, snapshot_date=date)
    return time.perf_counter() - started


def _parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def acceptance(seeds: list[int], n_customers: int = 10_000) -> None:
    """Issue 10's acceptance on the demo shop for every seed; prints one line per shop and a summary."""
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop
    from segkit.stability import maintenance_simulation, recommend_retrain_period

    passed, delays, lowest_ari = 0, [], []
    for seed in seeds:
        ok = True
        for shift in (True, False):
            shop = make_demo_shop(n_customers=n_customers, seed=seed, shift=shift)
            clean, _ = clean_transactions(shop.transactions)
            started = time.perf_counter()
            sim = maintenance_simulation(clean, progress=False)
            rec = recommend_retrain_period(sim)
            steps = sim.steps
            before = steps[steps["date"] < shop.shift_date] if shift else steps
            run_ari = before["ari"].rolling(3).max().min()
            if shift:
                delay = None if rec.obsolete_on is None else (rec.obsolete_on - shop.shift_date).days
                good = delay is not None and 0 <= delay <= 42
                delays.append(delay)
            else:
                delay, good = None, rec.obsolete_on is None
                lowest_ari.append(run_ari)
            ok &= good
            print(
                f"seed {seed:>2} shift={shift!s:<5} k={sim.k} obsolete_on={rec.obsolete_on} "
                f"(trigger {rec.trigger}, {delay} days after the shift) lowest 3-step ARI before the shift "
                f"{run_ari:.3f}, largest PSI {before['max_psi'].max():.3f} "
                f"[{'ok' if good else 'FAIL'}] ({time.perf_counter() - started:.1f} s)",
                flush=True,
            )
        passed += ok
    observed = [d for d in delays if d is not None]
    print(
        f"acceptance: {passed} of {len(seeds)} seeds pass; worst delay after the shift "
        f"{max(observed) if observed else None} days (missed: {delays.count(None)}); lowest unshifted "
        f"3-step ARI {min(lowest_ari):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=52)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--seeds", default="", help="run the acceptance check on these seeds, e.g. 0-9 or 0,3,11"
    )
    args = parser.parse_args()
    if args.seeds:
        acceptance(_parse_seeds(args.seeds))
        return

    from segkit.stability import maintenance_simulation

    started = time.perf_counter()
    transactions = _clean_demo_shop(args.customers, args.seed)
    print(
        f"demo shop: {args.customers:,} customers, {len(transactions):,} clean lines "
        f"(generated and cleaned in {time.perf_counter() - started:.1f} s)"
    )

    started = time.perf_counter()
    sim = maintenance_simulation(transactions, end=7 * args.steps, period="7D", progress=False)
    total = time.perf_counter() - started
    steps_after = len(sim.steps) - 1
    print(
        f"maintenance_simulation: {steps_after} weekly steps after the start (+ the start), k={sim.k} "
        f"({sim.params['k_reason'][:60]}...), {sim.steps['n_customers'].mean():,.0f} active customers "
        f"per step: {total:.2f} s total, refits and k search included (target <= 10 s)"
    )

    window_days = sim.params["window_days"]
    step_days = np.array([sim.log.to_day(d) for d in sim.steps["date"]])
    incremental = _incremental_features(transactions, step_days, window_days)
    naive = _naive_features(transactions, list(sim.steps["date"]), window_days)
    print(
        f"feature part, {len(step_days)} steps: incremental {incremental:.2f} s (log table built once "
        f"included), naive customer_file loop {naive:.2f} s: {naive / incremental:.1f}x faster (target >= 10x)"
    )


if __name__ == "__main__":
    main()
