"""Benchmark of the maintenance simulation (issue 14): prints measured figures, asserts nothing.

Every simulation monitors the model notebook 03 would ship on the shop: the shop is cleaned and its
customer file built as notebook 02 does, then ``segkit.clustering.recommend_and_fit`` (notebook 03's
search and fit) gives the model, whose specification the simulation replays.

1. ``--speed``: 52 weekly steps for a 20,000-customer shop with the deployed model (target < 15 s),
   and the per-step customer file (``WindowLog.customer_frame``) against rebuilding it with
   ``segkit.customer_file`` on the window's lines at every step (target >= 10x).
2. ``--grid``: the acceptance grid on ``make_demo_shop(n_customers=10000, seed=s)`` for the seeds of
   ``--seeds`` and the scenarios of ``--kinds``, each simulated with ``model=None`` (the start
   window's customer file goes through notebook 03's search and fit, so the model is the one
   notebook 03 would ship at the training date, with no data from after it): ``conversion`` (default shift, >= 1/3 of active
   customers), ``conversion25`` (a quarter), ``acquisition``, ``basket``, ``none`` (no shift) and
   ``none_h0`` (no shift, ``history_years=0``). Prints, per shop, the alarm date, its delay after
   ``shift_date`` (detected = 0-42 days, no alarm before), the threshold and the noise; then a
   summary per scenario. Heavy (one model search per shop): run it in parts.
3. ``--fit-size``: why every fit of the simulation uses a sample of ``stability.FIT_SIZE`` customers:
   on the 20,000-customer demo shop with the notebook-03 model, the noise (refits on bootstrap
   resamples) and the agreement with refits on 5,000 customers (the model search's Ward sample) for
   several sample sizes, and the time of one fit.

Timings are printed with the CPU time of the process and the machine's load average (the machine is
shared: wall time grows with the load, CPU time much less).

Run: ``.venv/bin/python benchmarks/bench_maintenance.py --speed`` (``--model data/processed/demo/model.skops``
     replays the model ``make report`` saved instead of searching one)
     ``.venv/bin/python benchmarks/bench_maintenance.py --grid --seeds 0-9 --kinds conversion,none``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

SCENARIOS: dict[str, dict] = {
    "conversion": {},
    "conversion25": {"shift_kind": "conversion", "shift_share": 0.25},
    "acquisition": {"shift_kind": "acquisition"},
    "basket": {"shift_kind": "basket"},
    "none": {"shift": False},
    "none_h0": {"shift": False, "history_years": 0.0},
}
DETECTION_DAYS = 42


def _shop_and_model(n_customers: int, seed: int, **shop_kwargs):
    """The shop's raw log, the notebook-02 customer file and the model notebook 03 would ship."""
    from segkit import cleaning, features
    from segkit.clustering import recommend_and_fit
    from segkit.datasets import make_demo_shop

    shop = make_demo_shop(n_customers=n_customers, seed=seed, **shop_kwargs)
    clean, report = cleaning.clean_transactions(shop.transactions)
    customers = features.with_rfm_segments(features.customer_file(clean, cancellations=report.by_customer))
    _, model = recommend_and_fit(customers, seed=0)
    return shop, clean, model


def _parse_list(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def speed(n_customers: int, steps: int, model_path: str | None = None) -> None:
    from segkit import cleaning, features
    from segkit.datasets import make_demo_shop
    from segkit.model import load_model
    from segkit.stability import WindowLog, maintenance_simulation

    started = time.perf_counter()
    if model_path:  # the model a run saved (e.g. data/processed/demo/model.skops of `make report`)
        shop = make_demo_shop(n_customers=n_customers, seed=0)
        clean, _ = cleaning.clean_transactions(shop.transactions)
        model = load_model(model_path)
    else:
        shop, clean, model = _shop_and_model(n_customers, 0)
    print(
        f"shop of {n_customers:,} customers + notebook 03 model ({model.algorithm}, k={model.k}, "
        f"{len(model.features)} features): {time.perf_counter() - started:.1f} s"
    )
    log = WindowLog.from_transactions(
        shop.transactions, [f for f in model.features if f.startswith("share_")]
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    sim = maintenance_simulation(shop.transactions, model, end=7 * steps, log=log)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"{len(sim.steps) - 1} weekly steps (+ start, {sim.params['noise_rounds']} noise rounds; {int(sim.steps['refits'].sum())} step refits), "
        f"{int(sim.steps['n_customers'].mean()):,} active customers per window: {elapsed:.1f} s wall, "
        f"{cpu:.1f} s CPU (target < 15 s; {_load()})"
    )
    snapshot_days = [log.last_day + 1 - 7 * i for i in range(steps)]
    started = time.perf_counter()
    for day in snapshot_days:
        log.customer_frame(day, 365, model.features)
    incremental = time.perf_counter() - started
    day_of = clean["order_date"].dt.normalize()
    started = time.perf_counter()
    for day in snapshot_days:
        snapshot = log.to_date(day)
        lines = clean[((day_of < snapshot) & (day_of >= snapshot - pd.Timedelta(days=365))).to_numpy()]
        features.customer_file(lines, snapshot_date=snapshot)
    naive = time.perf_counter() - started
    print(
        f"per-step customer file, {steps} steps: incremental {incremental:.2f} s, customer_file rebuilt "
        f"each step {naive:.2f} s: {naive / incremental:.0f}x faster (target >= 10x; {_load()})"
    )


def fit_sizes(n_customers: int, sizes: list[int]) -> None:
    from threadpoolctl import threadpool_limits

    from segkit.clustering import fit_spec
    from segkit.stability import FIT_SIZE, WindowLog, _ari, measure_noise

    shop, _, model = _shop_and_model(n_customers, 0)
    log = WindowLog.from_transactions(
        shop.transactions, [f for f in model.features if f.startswith("share_")]
    )
    print(
        f"notebook 03 model: {model.algorithm}, k={model.k}, {len(model.features)} features; FIT_SIZE={FIT_SIZE}"
    )
    for day in (365, 365 + 7 * 26):
        customers = log.customer_frame(day, 365, model.features)
        with threadpool_limits(limits=1):
            reference = [fit_spec(model, customers, seed=100 + j, fit_size=5_000)[1] for j in range(4)]
            for size in sizes:
                cpu = time.process_time()
                labels = [fit_spec(model, customers, seed=j, fit_size=size)[1] for j in range(6)]
                per_fit = (time.process_time() - cpu) / len(labels)
                agreement = [_ari(a, b) for a in labels for b in reference]
                noise = measure_noise(model, customers, labels[0], 10, 0, refits=1, fit_size=size)
                print(
                    f"window ending {log.to_date(day).date()} ({len(customers):,} customers), fits on {size:,}: "
                    f"ARI with fits on 5,000 {np.mean(agreement):.3f} (min {np.min(agreement):.3f}); "
                    f"noise {noise.mean():.3f} +- {noise.std(ddof=1):.3f}; {per_fit * 1000:.0f} ms CPU per fit "
                    f"({_load()})",
                    flush=True,
                )


def grid(seeds: list[int], kinds: list[str], n_customers: int) -> None:
    from segkit.datasets import make_demo_shop
    from segkit.stability import maintenance_simulation

    results = []
    for kind in kinds:
        for seed in seeds:
            started = time.perf_counter()
            shop = make_demo_shop(n_customers=n_customers, seed=seed, **SCENARIOS[kind])
            sim = maintenance_simulation(shop.transactions, None, seed=0)
            model = sim.model
            shift = shop.shift_date
            alarm = sim.obsolete_on
            delay = None if alarm is None or shift is None else int((alarm - shift).days)
            if shift is None:
                ok = alarm is None and not sim.unstable
            else:
                ok = delay is not None and 0 <= delay <= DETECTION_DAYS
            before = sim.steps if shift is None else sim.steps[sim.steps["date"] < shift]
            results.append({"kind": kind, "seed": seed, "ok": ok, "delay": delay})
            print(
                f"{kind:<13} seed {seed:>2}: model {model.algorithm} k={model.k}; noise "
                f"{sim.noise.mean():.2f}+-{sim.noise.std():.2f} -> threshold {sim.threshold:.2f}"
                f"{' UNSTABLE' if sim.unstable else ''}; min ARI before shift {before['ari'].iloc[1:].min():.2f}; "
                f"alarm {alarm.date() if alarm is not None else None}, delay after shift {delay} days "
                f"-> {'ok' if ok else 'FAIL'} ({time.perf_counter() - started:.0f} s, {_load()})",
                flush=True,
            )
    table = pd.DataFrame(results)
    for kind, rows in table.groupby("kind", sort=False):
        delays = rows["delay"].dropna()
        what = "no alarm" if kind.startswith("none") else f"detected 0-{DETECTION_DAYS} days after the shift"
        print(
            f"SUMMARY {kind}: {int(rows['ok'].sum())} of {len(rows)} shops {what}; delays "
            f"{', '.join(str(int(d)) for d in delays) if len(delays) else 'none'}"
            + (f" (median {np.median(delays):.0f})" if len(delays) else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--model", default=None, help="--speed: a saved model.skops instead of the search")
    parser.add_argument("--fit-size", action="store_true")
    parser.add_argument("--sizes", default="5000,2000,1000")
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--steps", type=int, default=52)
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--kinds", default=",".join(SCENARIOS))
    args = parser.parse_args()
    if not (args.speed or args.grid or args.fit_size):
        args.speed = True
    if args.speed:
        speed(args.customers or 20_000, args.steps, args.model)
    if args.fit_size:
        fit_sizes(args.customers or 20_000, [int(v) for v in args.sizes.split(",")])
    if args.grid:
        grid(_parse_list(args.seeds), [k for k in args.kinds.split(",") if k], args.customers or 10_000)


if __name__ == "__main__":
    main()
