"""Benchmark segkit.rfm and segkit.customer_file on a large synthetic log.

Generates ``--lines`` order lines (default 10,000,000) for ``--customers`` customers (default
1,000,000) with numpy (seeded; see :func:`make_log`): string customer, order and product ids,
timestamps over two years, amounts, a category and a channel; ``--shuffle`` puts the rows in
random order. Then times, each in a fresh child process so that its peak RSS
is its own:

- ``rfm``: ``segkit.rfm(transactions)`` (marketing convention);
- ``rfm_btyd``: ``segkit.rfm(transactions, convention="btyd")``;
- ``customer_file``: ``segkit.customer_file(transactions)`` (RFM + shares + distinct products);
- ``pandas_groupby``: the plain pandas code a ``lifetimes``-style summary is usually written with
  (``groupby("customer_id").agg(...)`` with ``nunique`` orders, min/max dates, summed amount);
- ``polars_query`` and ``duckdb_query`` (when installed): the same summary as a raw polars
  ``group_by`` (conversion from pandas included) and a raw DuckDB SQL query on the pandas frame,
  both with their default (all cores) threading.

Prints wall-clock and CPU seconds of the call alone (data generation excluded; on a shared machine
the CPU time, summed over threads, is the fairer figure; segkit runs DuckDB on one thread) and the
machine load average before each run, and the peak RSS of the
child process (generation included, as the data must be in memory). Targets (issue 4): rfm +
customer_file <= 15 s and <= 6 GB peak on 10M lines.

Usage: ``.venv/bin/python benchmarks/bench_features.py [--lines N] [--customers N] [--seed S]
[--tasks rfm,pandas_groupby] [--shuffle]``
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import resource
import time

import numpy as np
import pandas as pd


def _labels(prefix: str, n: int) -> pd.api.extensions.ExtensionArray:
    """``n`` distinct string ids (``prefix`` + zero-padded number) as a pandas ``str`` array."""
    width = len(str(max(n - 1, 1)))
    return pd.array(np.char.add(prefix, np.char.zfill(np.arange(n).astype("U"), width)), dtype="str")


def make_log(n_lines: int, n_customers: int, seed: int, shuffle: bool = False) -> pd.DataFrame:
    """A synthetic canonical transaction table, seeded and vectorised.

    Like a real log, orders (1 + Poisson(3) lines each, one customer, one timestamp, one channel)
    are numbered in time order and their lines are consecutive rows; customer activity is skewed
    (gamma weights) and every customer has at least one order. ``shuffle`` puts the rows in random
    order (no runs of equal ids for an engine to exploit).
    """
    rng = np.random.default_rng(seed)
    lines_per_order = 1 + rng.poisson(3.0, size=n_lines // 4 + n_customers + 16)
    n_orders = int(np.searchsorted(np.cumsum(lines_per_order), n_lines)) + 1
    lines_per_order = lines_per_order[:n_orders]
    lines_per_order[-1] -= int(lines_per_order.sum()) - n_lines
    weights = rng.gamma(0.7, 1.0, n_customers)
    order_customer = rng.choice(n_customers, size=n_orders, p=weights / weights.sum())
    first = rng.permutation(n_orders)[:n_customers]
    order_customer[first] = rng.permutation(n_customers)[: len(first)]  # everyone buys at least once
    order_seconds = np.sort(rng.integers(0, 730 * 86_400, n_orders))
    order_of_line = np.repeat(np.arange(n_orders), lines_per_order)
    if shuffle:
        order_of_line = rng.permutation(order_of_line)
    customer_ids, order_ids = _labels("C", n_customers), _labels("I", n_orders)
    categories = pd.array(["books", "toys", "food", "home", "garden", "sport"], dtype="str")
    channels = pd.array(["web", "app", "store"], dtype="str")
    return pd.DataFrame(
        {
            "customer_id": customer_ids.take(order_customer[order_of_line]),
            "order_id": order_ids.take(order_of_line),
            "order_date": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(order_seconds[order_of_line], unit="s"),
            "product_id": _labels("P", 20_000).take(rng.integers(0, 20_000, n_lines)),
            "amount": np.round(rng.gamma(2.0, 8.0, n_lines), 2),
            "category": categories.take(rng.integers(0, len(categories), n_lines)),
            "channel": channels.take(rng.integers(0, len(channels), n_orders)[order_of_line]),
        }
    )


def pandas_groupby(tx: pd.DataFrame) -> pd.DataFrame:
    """The usual pandas summary (as lifetimes-style code writes it): one groupby with nunique."""
    snapshot = tx["order_date"].max().normalize() + pd.Timedelta(days=1)
    summary = tx.groupby("customer_id").agg(
        first=("order_date", "min"),
        last=("order_date", "max"),
        frequency=("order_id", "nunique"),
        monetary=("amount", "sum"),
    )
    summary["recency_days"] = (snapshot - summary["last"].dt.normalize()).dt.days
    summary["tenure_days"] = (snapshot - summary["first"].dt.normalize()).dt.days
    return summary


def polars_query(tx: pd.DataFrame) -> object:
    """The same summary as a raw polars group_by (conversion from pandas included)."""
    import polars as pl

    return (
        pl.from_pandas(tx[["customer_id", "order_id", "order_date", "amount"]])
        .group_by("customer_id")
        .agg(
            pl.col("order_date").min().alias("first"),
            pl.col("order_date").max().alias("last"),
            pl.col("order_id").n_unique().alias("frequency"),
            pl.col("amount").sum().alias("monetary"),
        )
        .sort("customer_id")
    )


def duckdb_query(tx: pd.DataFrame) -> object:
    """The same summary as a raw DuckDB SQL query on the pandas frame."""
    import duckdb

    with duckdb.connect() as con:
        con.register("tx", tx)
        return con.sql(
            "SELECT customer_id, min(order_date) AS first, max(order_date) AS last, "
            "count(DISTINCT order_id) AS frequency, sum(amount) AS monetary "
            "FROM tx GROUP BY customer_id ORDER BY customer_id"
        ).to_arrow_table()


def _run(task: str, n_lines: int, n_customers: int, seed: int, shuffle: bool, queue: mp.Queue) -> None:
    from segkit.features import customer_file, rfm

    tx = make_log(n_lines, n_customers, seed, shuffle)
    calls = {
        "rfm": lambda: rfm(tx),
        "rfm_btyd": lambda: rfm(tx, convention="btyd"),
        "customer_file": lambda: customer_file(tx),
        "pandas_groupby": lambda: pandas_groupby(tx),
        "polars_query": lambda: polars_query(tx),
        "duckdb_query": lambda: duckdb_query(tx),
    }
    rfm(tx.head(1000))  # warm-up outside the timing
    start, cpu_start = time.perf_counter(), time.process_time()
    result = calls[task]()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is in KiB on Linux
    queue.put((task, seconds, cpu_seconds, peak_gb, result.shape[0], result.shape[1]))


def _default_tasks() -> list[str]:
    tasks = ["rfm", "rfm_btyd", "customer_file", "pandas_groupby"]
    return tasks + [f"{name}_query" for name in ("polars", "duckdb") if importlib.util.find_spec(name)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", default=",".join(_default_tasks()))
    parser.add_argument("--shuffle", action="store_true", help="rows in random order (worst case)")
    args = parser.parse_args()
    order = "rows shuffled" if args.shuffle else "orders on consecutive rows, in time order"
    print(f"{args.lines:,} order lines, {args.customers:,} customers, seed {args.seed}, {order}")
    print(f"{'task':<16}{'wall s':>9}{'CPU s':>9}{'peak RSS GB':>13}{'rows':>11}{'cols':>6}{'load':>7}")
    context = mp.get_context("spawn")
    results = {}
    for task in args.tasks.split(","):
        queue = context.Queue()
        process = context.Process(
            target=_run, args=(task, args.lines, args.customers, args.seed, args.shuffle, queue)
        )
        load = os.getloadavg()[0]
        process.start()
        process.join()
        if queue.empty():
            print(f"{task:<16} failed (exit code {process.exitcode})")
            continue
        name, seconds, cpu_seconds, peak_gb, rows, cols = queue.get()
        results[name] = (seconds, cpu_seconds)
        print(f"{name:<16}{seconds:>9.2f}{cpu_seconds:>9.2f}{peak_gb:>13.2f}{rows:>11,}{cols:>6}{load:>7.1f}")
    if "rfm" in results and "customer_file" in results:
        wall, cpu = (results["rfm"][i] + results["customer_file"][i] for i in (0, 1))
        print(f"rfm + customer_file: {wall:.2f} s wall, {cpu:.2f} s CPU (target <= 15 s)")
    for baseline in ("pandas_groupby", "polars_query", "duckdb_query"):
        if "rfm" in results and baseline in results:
            ratio = results[baseline][1] / results["rfm"][1]
            print(f"{baseline} CPU time / segkit.rfm CPU time: {ratio:.1f}x")


if __name__ == "__main__":
    main()
