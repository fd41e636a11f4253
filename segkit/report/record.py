"""The run record: ``run.json`` (parameters, input files with sha256, package versions, row counts,
seconds) and the run's summary files read back (raw, and as the executive summary shown on every page).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Packages whose versions run.json records.
RECORDED_PACKAGES: tuple[str, ...] = (
    "segkit",
    "pandas",
    "numpy",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "plotly",
    "matplotlib",
    "yellowbrick",
    "skops",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
)


# --------------------------------------------------------------------------- run record
def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks of ``chunk_bytes``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def describe_inputs(data: str) -> list[dict[str, Any]]:
    """List the input files of a run with their sizes (bytes) and sha256.

    ``data`` is a file, a folder (every file below it, sorted) or ``"demo"`` (generated in memory:
    no files).
    """
    path = Path(data)
    if data == "demo" or not path.exists():
        return []
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [
        {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in files
        if not p.name.startswith(".")
    ]


def package_versions(names: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` when absent) and of Python."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def count_output_rows(processed: Path) -> dict[str, int]:
    """Row counts of the run's tabular outputs (customers.parquet, segments.csv) that exist."""
    counts: dict[str, int] = {}
    parquet = processed / "customers.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        counts["customers.parquet"] = int(pq.read_metadata(parquet).num_rows)
    segments = processed / "segments.csv"
    if segments.is_file():
        with open(segments, "rb") as handle:
            counts["segments.csv"] = max(sum(1 for _ in handle) - 1, 0)
    return counts


def read_summaries(processed: Path) -> dict[str, dict[str, Any]]:
    """The ``summary_0N.json`` files of a run folder, by notebook number (``"01"`` ...)."""
    summaries: dict[str, dict[str, Any]] = {}
    for path in sorted(processed.glob("summary_*.json")):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(content, dict):
            summaries[path.stem.removeprefix("summary_")] = content
    return summaries


def _summary_html(processed: Path) -> str:
    """The executive summary of the run's summary files, as an HTML section (``""`` when empty)."""
    from segkit import summary

    return summary.executive_summary_html(summary.executive_summary(summary.read_summaries(processed)))


def _previous_seconds(run_json: Path) -> dict[str, dict[str, float]]:
    """Seconds per notebook recorded by the last good run (kept for the notebooks a partial rerun skips)."""
    try:
        return dict(json.loads(run_json.read_text(encoding="utf-8")).get("seconds", {}))
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}


def _summary_row_counts(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Integer counts the notebooks reported under row-like keys (rows_*, n_*, *_rows, customers...)."""
    counts: dict[str, int] = {}
    pattern = re.compile(r"^(rows|n)_|_(rows|lines)$|^(customers|orders|transactions|lines)$")
    for number, summary in summaries.items():
        for key, value in summary.items():
            if isinstance(value, int) and not isinstance(value, bool) and pattern.search(key):
                counts[f"summary_{number}.{key}"] = value
    return counts
