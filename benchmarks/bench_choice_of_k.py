"""Benchmark the choice of k: does the recommended model recover the planted customer types?

For every number of planted types T (default 4, 6, 8) and seed (default 0-4) it generates
``make_demo_shop(n_customers=5000, types=T, seed=seed)``, cleans it, builds the customer file, and runs
``segkit.clustering.recommend_and_fit`` (the call path of notebook 03: the model search, then the fit of
its choice). It prints one line per shop: T, the number of types in the truth at the end of the period
(the shift adds delivery subscribers), seed, the chosen model, the runner-up, the adjusted Rand index of
the recommended model against ``truth["type"]``, whether k is within 1 of T, and the seconds of the
search + fit. Then the count of shops meeting the acceptance of issue 13 (ARI >= 0.8 and |k - T| <= 1;
target: at least 13 of 15), and the same line for the default shop (no ``types``) and, when present,
the two real samples of ``../shared/samples`` (k chosen, runner-up, and the reason in full).

Usage: ``nice .venv/bin/python benchmarks/bench_choice_of_k.py [--types 4,6,8] [--seeds 0,1,2,3,4]
[--customers 5000] [--no-samples]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segkit import clustering
from segkit.cleaning import clean_transactions
from segkit.datasets import make_demo_shop
from segkit.features import customer_file

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


def demo_customer_file(n_customers: int, types: int | None, seed: int):
    """The shop and its customer file (as notebook 02 builds it, with sessions and reviews)."""
    shop = make_demo_shop(n_customers=n_customers, types=types, seed=seed)
    clean, report = clean_transactions(shop.transactions)
    customers = customer_file(
        clean, shop.customers, shop.sessions, shop.reviews, cancellations=report.by_customer
    )
    return shop, customers


def recovery(n_customers: int, types: int | None, seed: int) -> dict[str, object]:
    """One shop: chosen k, runner-up, ARI against the planted types, seconds of search + fit."""
    shop, customers = demo_customer_file(n_customers, types, seed)
    truth = shop.truth.set_index("customer_id")["type"].reindex(customers.index)
    started = time.perf_counter()
    search, model = clustering.recommend_and_fit(customers, seed=0)
    seconds = time.perf_counter() - started
    ari = adjusted_rand_score(truth, model.predict(customers))
    runner = search.runner_up
    return {
        "T": types,
        "true_types": int(truth.nunique()),
        "seed": seed,
        "chosen": f"{search.best.algorithm} k={search.best.k}",
        "k": search.best.k,
        "runner_up": f"{runner.algorithm} k={runner.k}" if runner else "-",
        "ari": round(float(ari), 3),
        "k_within_1": types is None or abs(search.best.k - types) <= 1,
        "seconds": round(seconds, 1),
    }


def sample_choices() -> list[dict[str, object]]:
    """k chosen (and why) on the real samples: Online Retail II and CDNOW."""
    from segkit.io import read_dataset

    out = []
    retail = SAMPLES / "online_retail_II_sample.csv"
    cdnow = SAMPLES / "CDNOW_sample.txt"
    logs = {}
    if retail.is_file():
        logs["online_retail_II_sample"] = clean_transactions(
            read_dataset(retail, layout="online_retail").transactions
        )[0]
    if cdnow.is_file():
        raw = pd.read_csv(
            cdnow, sep=r"\s+", header=None, names=["full", "id", "date", "cds", "amount"], dtype=str
        )
        logs["CDNOW_sample"] = pd.DataFrame(
            {
                "customer_id": pd.array(raw["id"], dtype="str"),
                "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                "amount": raw["amount"].astype(float),
            }
        )
    for name, transactions in logs.items():
        customers = customer_file(transactions)
        started = time.perf_counter()
        search, _ = clustering.recommend_and_fit(customers, seed=0)
        out.append(
            {
                "sample": name,
                "customers": len(customers),
                "chosen": f"{search.best.algorithm} k={search.best.k}",
                "knees": search.knees,
                "seconds": round(time.perf_counter() - started, 1),
                "reason": search.best.reason,
                "runner_up": search.runner_up.reason if search.runner_up else "-",
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", default="4,6,8")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--no-samples", action="store_true")
    args = parser.parse_args()
    rows = []
    for types in (int(t) for t in args.types.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(recovery(args.customers, types, seed))
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    grid = pd.DataFrame(rows)
    passing = (grid["ari"] >= 0.8) & grid["k_within_1"]
    print(grid.to_string(index=False))
    print(f"shops with ARI >= 0.8 and k within 1 of T: {int(passing.sum())} of {len(grid)}")
    default = recovery(args.customers, None, 3)
    print("default shop (no types, seed 3): " + " ".join(f"{k}={v}" for k, v in default.items()))
    if not args.no_samples:
        for sample in sample_choices():
            print(
                f"\n{sample['sample']} ({sample['customers']} customers): {sample['chosen']}, knees {sample['knees']}, "
                f"{sample['seconds']} s"
            )
            print(f"  {sample['reason']}\n  {sample['runner_up']}")


if __name__ == "__main__":
    main()
