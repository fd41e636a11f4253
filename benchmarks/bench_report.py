"""Benchmark ``segkit run`` on the demo shop: seconds per notebook, HTML sizes, total wall clock.

What ``make report`` does, measured: the four notebooks executed with papermill and exported to HTML,
plus the index page and the run record. The demo shop is read from ``--data`` (default
``data/raw/demo``, generated there first when absent, as ``segkit run`` does; generation is timed
separately). Outputs go to a temporary workspace, so the repository's ``reports/`` is not touched.
Target (issue 7): <= 120 s on the 2-core machine for the full demo shop (the second run: the
environment and the demo data already exist). Then every page of the run is opened in headless
Chromium at 390 and 1366 px and the seconds until every chart is drawn are printed (target < 3 s,
issue 16).

Usage: ``.venv/bin/python benchmarks/bench_report.py [--data PATH] [--sample-customers N] [-p key=value ...]``
or ``--reports reports/demo`` to time the pages of an existing run only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from segkit import browser, cli, report

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "raw" / "demo"))
    parser.add_argument("--sample-customers", type=int, default=0)
    parser.add_argument("-p", dest="parameters", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--reports", default=None, help="only time the pages of this existing run folder")
    args = parser.parse_args()
    if args.reports:
        print_page_times(Path(args.reports))
        return

    data = Path(args.data)
    started = time.perf_counter()
    if data == ROOT / "data" / "raw" / "demo":
        cli.ensure_demo_data(data)
    print(f"demo data ready in {time.perf_counter() - started:.1f} s: {data}")

    with tempfile.TemporaryDirectory(prefix="segkit-bench-") as workspace:
        started = time.perf_counter()
        result = report.run_notebooks(
            data,
            run="bench",
            processed_dir=Path(workspace) / "processed",
            reports_dir=Path(workspace) / "reports",
            sample_customers=args.sample_customers,
            parameters=report.parse_assignments(args.parameters, option="-p"),
            progress=False,
        )
        wall = time.perf_counter() - started
        print(result.timing_table())
        for stem, path in result.html.items():
            print(f"{stem + '.html':<32}{path.stat().st_size / 2**20:>8.2f} MB")
        print(f"index.html + run.json included, wall clock of the whole run: {wall:.1f} s (target < 120 s)")
        print_page_times(result.reports)


def print_page_times(reports: Path) -> None:
    """Seconds until every chart of each page is drawn in headless Chromium, at phone and desktop width."""
    seconds = browser.time_to_interactive(reports)
    print(f"{'page @ width':<40}{'interactive s':>14}")
    for page, value in seconds.items():
        print(f"{page:<40}{value:>14.2f}")
    print(f"slowest page: {max(seconds.values()):.2f} s (target < 3 s)")


if __name__ == "__main__":
    main()
