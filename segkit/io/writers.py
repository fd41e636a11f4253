"""Outputs written atomically (temporary file beside the target, renamed into place), run folders,
and CSV cells that a spreadsheet would run as formulas made harmless."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import ParameterError

__all__ = [
    "FORMULA_STARTS",
    "atomic_write",
    "neutralise_formulas",
    "run_dir",
    "write_csv_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
]


def run_dir(processed_dir: str | os.PathLike[str], run: str) -> Path:
    """Return (and create) the folder of a run's processed outputs: ``processed_dir/run``.

    Raises
    ------
    ParameterError
        When ``run`` is empty or not a plain folder name (no path separators, not ``.``/``..``).
    """
    name = str(run)
    if not name or name in (".", "..") or "/" in name or "\\" in name or name != name.strip():
        raise ParameterError(
            f"run name {run!r} is not a plain folder name",
            column="run",
            hint="use e.g. run='demo' or '2024-06'",
        )
    path = Path(processed_dir) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place on success, remove it on failure.

    The temporary file keeps the target's suffix (writers that pick a format from it work), and the
    final file gets the usual permissions (0666 minus the umask). Parent folders are created.

    Examples
    --------
    >>> with atomic_write("out/customers.parquet") as tmp:  # doctest: +SKIP
    ...     frame.to_parquet(tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_parquet_atomic(df: pd.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write ``df`` to Parquet atomically (keyword arguments go to ``DataFrame.to_parquet``)."""
    with atomic_write(path) as tmp:
        df.to_parquet(tmp, **kwargs)
    return Path(path)


def write_csv_atomic(
    df: pd.DataFrame, path: str | os.PathLike[str], *, neutralise: bool = True, **kwargs: Any
) -> Path:
    """Write ``df`` to CSV atomically, without the index unless ``index=True`` is passed.

    ``neutralise`` (default): text cells and column names that a spreadsheet would run as a formula
    are prefixed with ``'`` (see :func:`neutralise_formulas`); numbers stay numbers. Writers of raw
    source files (the demo shop's layouts) pass False so that the files hold the data as they are.
    """
    kwargs.setdefault("index", False)
    if neutralise:
        df = neutralise_formulas(df)
    with atomic_write(path) as tmp:
        df.to_csv(tmp, **kwargs)
    return Path(path)


#: First characters with which a spreadsheet (Excel, LibreOffice, Sheets) starts a formula.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with text cells starting with ``= + - @`` (or tab, CR) prefixed by ``'`` (CSV injection).

    Only text is changed: numeric, boolean and date columns (a negative amount) stay as they are,
    so do text cells that start otherwise. Column names and a text index are treated the same way.
    The input is not modified.
    """

    def fix(value: Any) -> Any:
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    out = df
    for column in df.columns:
        values = df[column]
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            hit = values.map(
                lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS), na_action="ignore"
            )
            if hit.fillna(False).astype(bool).any():
                out = out.copy() if out is df else out
                out[column] = values.map(fix, na_action="ignore").astype(values.dtype)
    names = [fix(c) for c in out.columns]
    if names != list(out.columns):
        out = out.set_axis(names, axis=1)
    if out.index.dtype == object or pd.api.types.is_string_dtype(out.index.dtype):
        fixed_index = out.index.map(fix)
        if not fixed_index.equals(out.index):
            out = out.set_axis(fixed_index, axis=0)
    return out


def write_json_atomic(obj: Any, path: str | os.PathLike[str], indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically.

    numpy scalars and arrays, pandas timestamps, paths and sets are converted to plain JSON; NaN and
    infinities become ``null``. Keys keep their insertion order.
    """
    text = json.dumps(_jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)
    return write_text_atomic(text + "\n", path)


def write_text_atomic(text: str, path: str | os.PathLike[str], encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else obj
        return [_jsonable(v) for v in items]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.Series):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is None or obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(obj).isoformat()
    if isinstance(obj, pd.Timedelta):
        return obj.isoformat()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, str):
        return obj
    return str(obj)
