"""Engines for the heavy path: reading, cleaning with its full report, the customer file, scoring.

One registry, :data:`ENGINES`, names the engines behind one interface (:class:`Engine`):

``pandas``
    Today's in-memory path (:func:`segkit.read_dataset`, :func:`segkit.clean_transactions`,
    :func:`segkit.customer_file`); every layout and option; bounded by memory.
``duckdb``
    The same cleaning written once in SQL (:mod:`segkit.engines.sql`) and the customer file's SQL
    reductions (:mod:`segkit.features`), run out of core by DuckDB straight from Parquet/CSV files.
``spark``
    The same SQL on Spark (local mode or a cluster: ``master`` and ``conf`` are passed through).

``engine="auto"`` (:func:`choose_engine`) picks pandas below :data:`AUTO_THRESHOLD_BYTES` of input
files and DuckDB above.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from segkit.engines.base import DEFAULT_BATCH_CUSTOMERS, CleaningSummary, Engine, EngineResult
from segkit.engines.sources import ReadOptions, source_bytes
from segkit.schema import ParameterError

__all__ = [
    "ENGINES",
    "AUTO_THRESHOLD_BYTES",
    "DEFAULT_BATCH_CUSTOMERS",
    "CleaningSummary",
    "Engine",
    "EngineResult",
    "ReadOptions",
    "choose_engine",
    "customer_file_of",
    "get_engine",
    "load_inputs",
]

#: Input size (bytes on disk) from which ``engine="auto"`` picks DuckDB: 100 MB of files is about
#: 4 million order lines as Parquet (the demo shop: 10M lines in 256 MB with its side tables), which
#: pandas holds in about 3 GB; beyond it the in-memory path's peak grows with the log.
AUTO_THRESHOLD_BYTES = 100 * 2**20


def _pandas(**options: object) -> Engine:
    from segkit.engines.pandas_engine import PandasEngine

    return PandasEngine(**options)


def _duckdb(**options: object) -> Engine:
    from segkit.engines.duckdb_engine import DuckDBEngine

    return DuckDBEngine(**options)


def _spark(**options: object) -> Engine:
    from segkit.engines.spark_engine import SparkEngine

    return SparkEngine(**options)


#: Engine name -> factory(**options) (imports its backend only when used).
ENGINES: dict[str, Callable[..., Engine]] = {"pandas": _pandas, "duckdb": _duckdb, "spark": _spark}


def choose_engine(source: object, threshold_bytes: int = AUTO_THRESHOLD_BYTES) -> str:
    """``"pandas"`` for in-memory tables and inputs under ``threshold_bytes`` on disk, else ``"duckdb"``."""
    return "duckdb" if source_bytes(source) >= threshold_bytes else "pandas"


def get_engine(name: str = "auto", source: str | os.PathLike[str] | None = None, **options: object) -> Engine:
    """An engine by name (``"auto"``: :func:`choose_engine` of ``source``).

    Parameters
    ----------
    name
        ``"pandas"``, ``"duckdb"``, ``"spark"`` or ``"auto"``.
    source
        The input (only read by ``"auto"``, for its size).
    **options
        Engine options: DuckDB ``memory_limit``, ``temp_directory``, ``threads``; Spark ``master``,
        ``conf``.
    """
    if name == "auto":
        name = choose_engine(source)
        options = {}
    if name not in ENGINES:
        raise ParameterError(
            f"unknown engine {name!r}", column="engine", hint=f"engines: auto, {', '.join(ENGINES)}"
        )
    return ENGINES[name](**options)


from segkit.engines.notebook import customer_file_of, load_inputs  # noqa: E402 (uses get_engine)
