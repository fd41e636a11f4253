"""Benchmark: seconds from ``segkit run`` to the input's verdict, before any notebook (target < 2 s).

For each real sample (Online Retail II, the UCI I layout, CDNOW) runs ``segkit run --data ...`` in
a child process with the notebooks replaced by a stub that stops the run where the first notebook
would start (the import of segkit and of the runner, reading, mapping, date parsing, cleaning);
for a broken file, ``segkit run`` as it is, to its error. Prints wall-clock and CPU seconds (on a
shared machine the CPU time is the steadier figure).

Usage::

    .venv/bin/python benchmarks/bench_preflight.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"

# valid input: the runner is imported (as a real run needs it) and stopped where the first notebook starts
CHILD_VALID = """
import time
started = time.perf_counter()
import sys
from segkit import cli, inputs

check = inputs.check_run_inputs

def stop(*args, **kwargs):
    raise SystemExit(0)

def timed_check(*args, **kwargs):
    check(*args, **kwargs)
    print(f"input checked after {time.perf_counter() - started:.2f} s", file=sys.stderr)
    from segkit.report import runner
    runner._run_one = stop

inputs.check_run_inputs = timed_check
sys.exit(cli.main(sys.argv[1:]))
"""
# broken input: exactly what `segkit run` does (the input is checked before the runner is imported)
CHILD_BROKEN = """
import sys
from segkit import cli
sys.exit(cli.main(sys.argv[1:]))
"""

CASES = {
    "online_retail_II_sample.csv": [],
    "online_retail_I_layout_sample.csv": [],
    "CDNOW_sample.txt": [
        "--sep",
        "whitespace",
        "--no-header",
        "--columns",
        "customer_id=1",
        "order_date=2",
        "amount=4",
        "--date-format",
        "%Y%m%d",
    ],
}


def measure(data: Path, options: list[str], workdir: Path, child: str) -> tuple[float, float, int, str]:
    """Wall-clock and CPU seconds (user + system) of one child, its exit code and the end of stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", child, "run", "--data", str(data), "--no-progress", *options],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.returncode, completed.stderr.strip()[-200:]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broken = workdir / "broken.csv"
        broken.write_text("Client,Date,Total\n" + "a,2024-01-01,3\n" * 20_000)
        cases = {
            name: (SAMPLES / name, options) for name, options in CASES.items() if (SAMPLES / name).is_file()
        }
        cases["broken.csv (unmapped columns)"] = (broken, [])
        print(f"{'input':<36} {'wall s':>7} {'cpu s':>6}  exit  verdict")
        for name, (path, options) in cases.items():
            child = CHILD_BROKEN if name.startswith("broken") else CHILD_VALID
            wall, cpu, code, err = measure(path, options, workdir, child)
            checked = [line for line in err.splitlines() if line.startswith("input checked after")]
            verdict = (
                f"valid ({checked[0] if checked else 'checked'}), first notebook would start"
                if code == 0
                else err.splitlines()[-1][:70]
            )
            print(f"{name:<36} {wall:7.2f} {cpu:6.2f}  {code:>4}  {verdict}")
        print(
            f"load average (1 min) during the measurement: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
