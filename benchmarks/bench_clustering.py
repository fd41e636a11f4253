"""Benchmark the model search and a large k-means segmentation.

Builds a synthetic customer file (seeded, vectorised; see :func:`make_customer_file`): six planted
customer types with RFM columns, category and channel spend shares. Then times

- ``search``: ``segkit.search_models`` over k = 2..10 for k-means, agglomerative (Ward) and GMM on
  ``--search-customers`` customers (default 100,000; the search fits its seeded 20,000-customer
  subsample, Ward at most 5,000, with 5 bootstrap resamples for stability). Target (issue 5): <= 60 s.
- ``fit_predict``: ``segkit.fit_segmentation(..., "kmeans", k=6)`` (MiniBatchKMeans above 100,000
  customers; profile, names and metadata included) then ``model.predict`` on ``--fit-customers``
  customers (default 1,000,000). Target: <= 30 s.

Prints wall-clock and CPU seconds of each call (data generation excluded; on a shared machine CPU
time is the fairer figure) and the recommended model.

Usage: ``.venv/bin/python benchmarks/bench_clustering.py [--search-customers N] [--fit-customers N]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

CATEGORIES = ("fashion", "electronics", "toys", "food", "garden", "beauty", "books", "sports", "home")
CHANNELS = ("web", "app", "store", "marketplace")
#: type -> (share, recency days, orders, basket, dominant category, dominant channel)
TYPES = (
    (0.10, 30, 12.0, 250.0, 1, 0),
    (0.15, 40, 10.0, 25.0, 5, 1),
    (0.25, 500, 1.1, 30.0, 0, 3),
    (0.20, 200, 2.0, 90.0, 2, 2),
    (0.20, 300, 1.3, 60.0, 8, 0),
    (0.10, 250, 4.0, 80.0, 7, 2),
)


def make_customer_file(n: int, seed: int = 0) -> pd.DataFrame:
    """A customer file of ``n`` customers from six planted types (no Python loop over customers)."""
    rng = np.random.default_rng(seed)
    spec = np.array(TYPES)
    types = rng.choice(len(TYPES), size=n, p=spec[:, 0])
    recency = np.round(rng.gamma(3.0, spec[types, 1] / 3.0)) + 1
    frequency = 1 + rng.poisson(spec[types, 2] - 1)
    basket = spec[types, 3] * rng.lognormal(0.0, 0.3, n)
    tenure = recency + np.round(rng.uniform(30, 900, n))
    columns = {
        "recency_days": recency,
        "frequency": frequency.astype(float),
        "monetary": frequency * basket,
        "avg_order_value": basket,
        "tenure_days": tenure,
        "mean_days_between_orders": tenure / frequency,
    }
    for family, names, dominant in (("cat", CATEGORIES, 4), ("channel", CHANNELS, 5)):
        weights = rng.gamma(0.3, 1.0, (n, len(names)))
        weights[np.arange(n), spec[types, dominant].astype(int)] += rng.gamma(6.0, 1.0, n)
        shares = weights / weights.sum(axis=1, keepdims=True)
        columns.update({f"share_{family}_{name}": shares[:, i] for i, name in enumerate(names)})
    index = pd.Index(pd.array(np.char.add("C", np.arange(n).astype("U")), dtype="str"), name="customer_id")
    return pd.DataFrame(columns, index=index)


def _timed(label: str, call):
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    return result, wall


def main() -> None:
    from segkit.clustering import fit_segmentation, search_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-customers", type=int, default=100_000)
    parser.add_argument("--fit-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    customers = make_customer_file(args.search_customers, args.seed)
    search, wall = _timed(
        f"search_models, k=2..10 x (kmeans, agglomerative, gmm), {len(customers):,} customers",
        lambda: search_models(customers, seed=args.seed),
    )
    print(f"  target <= 60 s: {'met' if wall <= 60 else 'MISSED'}; recommended: {search.best.reason}")

    customers = make_customer_file(args.fit_customers, args.seed + 1)
    model, fit_wall = _timed(
        f"fit_segmentation kmeans k=6, {len(customers):,} customers",
        lambda: fit_segmentation(customers, "kmeans", 6, seed=args.seed),
    )
    segments, predict_wall = _timed(
        f"predict, {len(customers):,} customers", lambda: model.predict(customers)
    )
    total = fit_wall + predict_wall
    print(f"  fit + predict {total:.1f} s, target <= 30 s: {'met' if total <= 30 else 'MISSED'}")
    print(f"  assigner {type(model.assigner).__name__}; segment sizes {np.bincount(segments).tolist()}")


if __name__ == "__main__":
    main()
