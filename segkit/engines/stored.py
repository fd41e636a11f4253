"""An engine's result kept in a folder, so that the next notebook of a run does not clean the log again.

On a DuckDB or Spark run, notebooks 01 and 02 both need the cleaning report and the customer file of
the whole log (and the same seeded sample of lines for their figures). ``segkit run`` gives both a
temporary folder (parameter ``engine_result_dir``), runs 02 after 01, and 02 reads what 01 stored
(:func:`store_result`, :func:`load_result`) instead of cleaning the log a second time. A stored result
is used only when its key (the source, the reader options, the engine, the snapshot, the sample's
size and seed, and the source files' sizes and modification times) equals the caller's.

Everything is written as Parquet and JSON (no pickle), into a fresh folder renamed into place, so a
reader never sees a partial result.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.cleaning import CleaningRules
from segkit.engines.base import CleaningSummary, EngineResult

__all__ = ["load_result", "result_key", "store_result"]

_FOLDER = "engine_result"


def result_key(source: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
    """The key of a result: ``options`` (JSON values) plus the source's path, and each file's size and
    modification time (so that a changed input is never served from a stored result)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:  # a file, or a glob
        files = [path] if path.is_file() else sorted(Path(f) for f in glob.glob(str(source), recursive=True))
    return {
        "source": str(path.resolve()),
        "files": [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()],
        **{name: value for name, value in sorted(options.items())},
    }


def store_result(
    folder: str | os.PathLike[str],
    key: dict[str, Any],
    result: EngineResult,
    sample: pd.DataFrame,
    n_customers: int,
) -> Path:
    """Write ``result`` (report, customer file, side tables), the figures' ``sample`` lines and the
    number of customers they were drawn from into ``folder/engine_result``; return that folder."""
    report = result.report
    if not isinstance(report, CleaningSummary):
        raise TypeError("only a SQL engine's result (CleaningSummary report) is stored")
    target = Path(folder) / _FOLDER
    Path(folder).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".engine_result-", dir=folder))
    try:
        frames = {
            "customer_file": result.customer_file,
            "report_table": report.table,
            "by_customer": report.by_customer,
            "removed_customers": report.removed_customers,
            "sample": sample,
            **{f"table_{name}": table for name, table in result.tables.items()},
        }
        for name, frame in frames.items():
            frame.to_parquet(work / f"{name}.parquet")
        meta = {
            "key": key,
            "layout": result.layout,
            "engine": result.engine,
            "tables": sorted(result.tables),
            "n_customers": int(n_customers),
            "partially_netted": int(report.partially_netted),
            "netted_amount": float(report.netted_amount),
            "possible_duplicates": int(report.possible_duplicates),
            "rules": dataclasses.asdict(report.rules),
        }
        (work / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def load_result(
    folder: str | os.PathLike[str], key: dict[str, Any]
) -> tuple[EngineResult, pd.DataFrame, int] | None:
    """What :func:`store_result` wrote into ``folder`` under ``key``: ``(result, sample, n_customers)``;
    None when nothing is stored there or it was stored under another key."""
    target = Path(folder) / _FOLDER
    try:
        meta = json.loads((target / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("key") != json.loads(json.dumps(key)):
        return None

    def read(name: str) -> pd.DataFrame:
        return pd.read_parquet(target / f"{name}.parquet")

    rules = CleaningRules(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["rules"].items()})
    report = CleaningSummary(
        reasons=None,
        amounts=None,
        by_customer=read("by_customer"),
        partially_netted=meta["partially_netted"],
        netted_amount=meta["netted_amount"],
        rules=rules,
        possible_duplicates=meta["possible_duplicates"],
        removed_customers=read("removed_customers"),
        table=read("report_table"),
    )
    tables = {name: read(f"table_{name}") for name in meta["tables"]}
    result = EngineResult(report, read("customer_file"), meta["layout"], tables, meta["engine"])
    return result, read("sample"), int(meta["n_customers"])
