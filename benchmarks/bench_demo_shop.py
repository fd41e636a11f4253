"""Demo shop figures: seconds to generate 20,000 customers x 30 months, and 1,000,000 customers
written to partitioned Parquet in chunks (seconds and peak memory).

Run: ``.venv/bin/python benchmarks/bench_demo_shop.py [--large-customers N] [--chunk-customers N]``.
Targets (issue 3): <= 10 s for the in-memory shop; <= 4 GB peak RSS for the chunked writer. Each figure
runs in a fresh subprocess so peak RSS (``ru_maxrss``) is that step's own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap

_MAKE = """
import json, resource, time
from segkit.datasets import make_demo_shop
make_demo_shop(n_customers=50, seed=1)  # imports and caches warm
t = time.perf_counter()
shop = make_demo_shop(n_customers={n}, months=30, seed=0)
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "lines": len(shop.transactions),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

_LARGE = """
import resource, time
from segkit.datasets import write_large_demo_shop
t = time.perf_counter()
folder = write_large_demo_shop({folder!r}, n_customers={n}, chunk_customers={chunk}, seed=0)
seconds = time.perf_counter() - t
import json
meta = json.loads((folder / "meta.json").read_text())
print(json.dumps({{"seconds": seconds, "lines": meta["tables"]["transactions"], "parts": meta["parts"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _run(code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--large-customers", type=int, default=1_000_000)
    parser.add_argument("--chunk-customers", type=int, default=100_000)
    args = parser.parse_args()

    small = _run(_MAKE.format(n=args.customers))
    print(
        f"make_demo_shop({args.customers:,} customers, 30 months): {small['seconds']:.2f} s, "
        f"{small['lines']:,} lines, peak RSS {small['peak_mb']:.0f} MB (target <= 10 s)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        large = _run(_LARGE.format(folder=f"{tmp}/large", n=args.large_customers, chunk=args.chunk_customers))
    print(
        f"write_large_demo_shop({args.large_customers:,} customers, chunks of {args.chunk_customers:,}): "
        f"{large['seconds']:.1f} s, {large['lines']:,} lines in {large['parts']} parts, "
        f"peak RSS {large['peak_mb']:.0f} MB (target <= 4096 MB)"
    )
    print(json.dumps({"make_demo_shop": small, "write_large_demo_shop": large}))


if __name__ == "__main__":
    main()
