"""The whole run at scale: ``segkit run --engine duckdb`` on the demo shop as partitioned Parquet.

Issue 18's acceptance line: on a 20M-line, 1M-customer log the five reports complete within 10 minutes
and 8 GB peak. The shop is ``bench_scale.py``'s (``write_large_demo_shop``, cached under ``--cache``;
``20M`` is 1,160,000 customers, about 19.95M lines). ``segkit run`` runs in a child process into a
fresh temporary folder.

Printed: the total wall time, CPU seconds (user + sys of the run and every process it waited for:
the notebook kernels and their workers), the peak memory of the whole process tree (the largest sum
of the resident set sizes of ``segkit run`` and its descendants, sampled every 0.2 s from /proc with
``bench_scale``'s helper), the load average before and after (the machine is shared: wall times under
load are pessimistic), and per notebook the execution and HTML export seconds from the run's
``run.json``, with the maintenance notebook's (04) share of the total wall time.

Usage::

    python benchmarks/bench_run.py                        # 20M lines, DuckDB, memory limit 4GB
    python benchmarks/bench_run.py --size 10M --memory-limit 3GB --keep /tmp/run20m
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scale import SIZES, run_measured, shop_folder  # noqa: E402 (the sibling benchmark's helpers)

MAINTENANCE = "04_maintenance_simulation"


def run_and_sample(command: list[str]) -> dict[str, float]:
    """Run ``command``; its wall and CPU seconds and the peak memory (GB) of its process tree."""
    output, status, measures = run_measured(command)
    if status != 0:
        print(output[-4000:], file=sys.stderr)
        raise SystemExit(f"segkit run failed (exit status {status})")
    return measures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="20M", choices=sorted(SIZES), help="shop size (default 20M)")
    parser.add_argument("--engine", default="duckdb", help="segkit run --engine (default duckdb)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit (default 4GB)")
    parser.add_argument("--cache", default="/tmp/segkit_bench", help="folder of the generated shops")
    parser.add_argument(
        "--keep", default="", help="write the run here (default: a temporary folder, removed)"
    )
    args = parser.parse_args()
    folder = shop_folder(Path(args.cache), SIZES[args.size])
    meta = json.loads((folder / "meta.json").read_text())
    with tempfile.TemporaryDirectory(prefix="segkit-bench-run-") as scratch:
        out = Path(args.keep or scratch)
        command = [sys.executable, "-m", "segkit.cli", "run", "--data", str(folder), "--engine", args.engine]
        command += ["--memory-limit", args.memory_limit, "--name", "bench", "--no-progress"]
        command += ["--processed-dir", str(out / "processed"), "--reports-dir", str(out / "reports")]
        load_before = os.getloadavg()
        measured = run_and_sample(command)
        load_after = os.getloadavg()
        seconds = json.loads((out / "processed" / "bench" / "run.json").read_text())["seconds"]
        pages = sorted(page.name for page in (out / "reports" / "bench").glob("*.html"))
    print(
        f"segkit run --engine {args.engine} (memory limit {args.memory_limit}) on {folder.name}: "
        f"{meta['tables']['transactions']:,} lines, {meta['n_customers']:,} customers, partitioned Parquet"
    )
    print(
        f"total: {measured['wall_s']:.1f} s wall, {measured['cpu_s']:.1f} CPU-s, "
        f"peak {measured['peak_gb']:.2f} GB (process tree); {os.cpu_count()} cores; "
        "load average {:.2f} {:.2f} {:.2f} before, {:.2f} {:.2f} {:.2f} after".format(
            *load_before, *load_after
        )
    )
    print(f"reports written: {', '.join(pages)}")
    print(f"{'notebook':<28}{'execute s':>10}{'export s':>10}{'share of wall':>15}")
    for stem, entry in seconds.items():
        execute, export = float(entry.get("execute", 0.0)), float(entry.get("export", 0.0))
        share = (execute + export) / measured["wall_s"]
        print(f"{stem:<28}{execute:>10.1f}{export:>10.1f}{share:>15.1%}")
    maintenance = seconds.get(MAINTENANCE, {})
    print(
        f"maintenance notebook: {sum(maintenance.values()):.1f} s of the {measured['wall_s']:.1f} s wall "
        f"({sum(maintenance.values()) / measured['wall_s']:.1%}; it runs beside 05)"
    )


if __name__ == "__main__":
    main()
