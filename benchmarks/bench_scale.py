"""Scale: wall time and peak memory of reading + cleaning + customer file, per engine.

The demo shop is written as partitioned Parquet (``segkit.datasets.write_large_demo_shop``: a
generic folder whose ``transactions.parquet``, ``sessions.parquet``... are folders of parts) at
about 10M and 100M order lines, cached under ``--cache`` between runs (generation time printed
separately). Each measurement runs in a fresh child process: ``engine.read_clean_customer_file`` on
the folder (transactions, cleaning report, customer file with sessions, reviews and demographics).

DuckDB runs with ``--memory-limit`` (default 4GB): a log of more than ``memory_limit / 400 B`` lines
(10M lines at 4GB) is cleaned in buckets of customers (``DuckDBEngine.lines_per_bucket``), so the 100M
run cleans 10 buckets of about 10M lines.

Printed per run: wall seconds, CPU seconds (user + sys of the child and its waited-for children, e.g.
Spark's JVM) and peak memory, the largest sum of the resident set sizes of the child's process tree
(sampled every 0.2 s from /proc; Spark's JVM included). The load average is printed beside them:
the machine is shared, so wall times under load are pessimistic.

Usage::

    python benchmarks/bench_scale.py                      # duckdb, pandas, spark at 10M; duckdb at 100M
    python benchmarks/bench_scale.py --runs duckdb:10M    # one run
    python benchmarks/bench_scale.py --memory-limit 4GB --cache /tmp/segkit_bench
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

#: Customers of the shop of each size: the demo shop has about 17.2 order lines per customer
#: (measured: 9,979,153 lines for 580,000 customers).
SIZES = {"10M": 580_000, "20M": 1_160_000, "100M": 5_800_000}
DEFAULT_RUNS = "duckdb:10M,pandas:10M,spark:10M,duckdb:100M"


def shop_folder(cache: Path, n_customers: int) -> Path:
    """The cached shop of ``n_customers`` (generated in a child process when missing)."""
    folder = cache / f"shop_{n_customers}"
    if (folder / "meta.json").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    code = (
        "from segkit.datasets import write_large_demo_shop; "
        f"write_large_demo_shop({str(folder)!r}, n_customers={n_customers}, chunk_customers=200_000)"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    print(f"generated {folder.name} in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def _tree_rss(root: int) -> int:
    """Sum of VmRSS (bytes) of ``root`` and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            with open(f"/proc/{entry}/statm") as handle:
                rss[int(entry)] = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str]) -> tuple[str, int, dict[str, float]]:
    """Run ``command`` (its stderr passes through); its output, exit status and measures: ``wall_s``,
    ``cpu_s`` (user + sys of the child and its waited-for children) and ``peak_gb`` (largest sum of
    the resident set sizes of its process tree, sampled every 0.2 s)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(child.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return (
        output,
        status,
        {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_gb": peak[0] / 1e9},
    )


def measure(engine: str, folder: Path, memory_limit: str) -> dict[str, object]:
    """Run one child; its printed result plus wall, CPU and peak tree memory."""
    command = [sys.executable, __file__, "--child", engine, str(folder), "--memory-limit", memory_limit]
    output, status, measures = run_measured(command)
    result = (
        json.loads(output.strip().splitlines()[-1]) if status == 0 and output.strip() else {"error": status}
    )
    result.update(measures)
    return result


def child(engine_name: str, folder: str, memory_limit: str) -> None:
    """Read + clean + customer file in this process; print one JSON line."""
    from segkit.engines import get_engine

    options: dict[str, object] = {}
    if engine_name == "duckdb":
        options = {"memory_limit": memory_limit, "threads": os.cpu_count()}
    if engine_name == "spark":
        options = {
            "master": "local[2]",
            "conf": {"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "16"},
        }
    start = time.perf_counter()
    with get_engine(engine_name, **options) as engine:
        ready = time.perf_counter() - start
        result = engine.read_clean_customer_file(folder)
    print(
        json.dumps(
            {
                "engine": engine_name,
                "lines": result.report.n_input,
                "kept": result.report.n_kept,
                "customers": len(result.customer_file),
                "columns": result.customer_file.shape[1],
                "start_s": ready,
                "run_s": time.perf_counter() - start - ready,
            }
        ),
        flush=True,
    )
    if engine_name == "spark":
        engine.spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"engine:size list (default {DEFAULT_RUNS})")
    parser.add_argument("--cache", default="/tmp/segkit_bench", help="folder of the generated shops")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit (default 4GB)")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.memory_limit)
        return
    print(f"{'engine':<7} {'size':>5} {'lines':>12} {'customers':>10} {'cols':>5} {'wall s':>7} "
          f"{'start s':>7} {'CPU s':>7} {'peak GB':>8}  load average", flush=True)  # fmt: skip
    for run in args.runs.split(","):
        engine, size = run.split(":")
        folder = shop_folder(Path(args.cache), SIZES[size])
        result = measure(engine, folder, args.memory_limit)
        load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
        if "error" in result:
            print(f"{engine:<7} {size:>5}  failed (exit status {result['error']})  load {load}", flush=True)
            continue
        print(
            f"{engine:<7} {size:>5} {result['lines']:>12,} {result['customers']:>10,} {result['columns']:>5} "
            f"{result['wall_s']:>7.1f} {result['start_s']:>7.1f} {result['cpu_s']:>7.1f} "
            f"{result['peak_gb']:>8.2f}  {load}",
            flush=True,
        )


if __name__ == "__main__":
    main()
