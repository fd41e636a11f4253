"""The notebooks' call for data through an engine: every customer in the customer file, a sample for figures.

With ``engine="pandas"`` (or ``"auto"`` on a small input) :func:`load_inputs` is
:func:`segkit.load_inputs`. With DuckDB or Spark the whole log is cleaned and turned into the customer
file by the engine, the cleaning report counts every line, and ``Inputs.raw``/``Inputs.clean`` hold the
lines of a seeded sample of customers (``sample_customers``, default
:data:`DEFAULT_FIGURE_CUSTOMERS`) for the figures of notebook 01; ``Inputs.scope`` says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segkit import inputs as inputs_module
from segkit.cleaning import clean_transactions
from segkit.engines import choose_engine, get_engine, stored
from segkit.engines.sources import ReadOptions
from segkit.features import customer_file
from segkit.inputs import Inputs
from segkit.io import Dataset, parse_columns
from segkit.schema import ParameterError

__all__ = [
    "DEFAULT_FIGURE_CUSTOMERS",
    "load_inputs",
    "customer_file_of",
    "EngineRoute",
    "engine_route",
    "parse_engine_options",
]

#: Customers whose lines the figures of the engine path are drawn from (seeded sample).
DEFAULT_FIGURE_CUSTOMERS = 20_000


def parse_engine_options(options: str | dict[str, Any] | None) -> dict[str, Any]:
    """Engine options from a notebook parameter: a dict, a JSON object string, or ``""`` for none."""
    if options in (None, ""):
        return {}
    if isinstance(options, dict):
        return dict(options)
    try:
        parsed = json.loads(options)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"engine_options is not JSON ({exc.msg})", column="engine_options") from None
    if not isinstance(parsed, dict):
        raise ParameterError("engine_options must be a JSON object", column="engine_options")
    return parsed


def load_inputs(
    data: str | os.PathLike[str] = "demo",
    layout: str = "auto",
    columns: str | dict[str, str] | None = "",
    sample_customers: int = 0,
    seed: int = 0,
    *,
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str | int = "",
    engine: str = "pandas",
    engine_options: str | dict[str, Any] | None = "",
    snapshot_date: str | None = None,
    demo_dir: str | os.PathLike[str] = "data/raw/demo",
    engine_result_dir: str | os.PathLike[str] | None = "",
) -> Inputs:
    """:func:`segkit.load_inputs` through an engine (see the module docstring).

    Parameters
    ----------
    engine
        ``"pandas"``, ``"duckdb"``, ``"spark"`` or ``"auto"`` (see :func:`segkit.engines.choose_engine`).
    engine_options
        Engine options (JSON object or dict): DuckDB ``memory_limit``, ``temp_directory``,
        ``threads``; Spark ``master``, ``conf``.
    snapshot_date
        Snapshot of the engine's customer file (notebook 02's parameter).
    sample_customers
        pandas: as :func:`segkit.load_inputs`. Other engines: customers drawn (seeded) for the figures
        (0: :data:`DEFAULT_FIGURE_CUSTOMERS`); the customer file and the report cover everyone.
    engine_result_dir
        Other engines: a folder shared by the notebooks of a run (``segkit run`` sets it). The engine's
        result is read from it when an earlier notebook stored it there with the same source and
        options (:mod:`segkit.engines.stored`), else computed and stored there; ``""``: not kept.
    Other parameters
        As :func:`segkit.load_inputs`.
    """
    options = parse_engine_options(engine_options)
    route = engine_route(
        data, layout, columns, sample_customers, seed, date_format=date_format, sep=sep, header=header,
        sheet=sheet, engine=engine, demo_dir=demo_dir,
    )  # fmt: skip
    if isinstance(route, Inputs):
        return route
    name, source, read = route.engine, route.source, route.read
    figures = int(sample_customers) or DEFAULT_FIGURE_CUSTOMERS
    key = stored.result_key(
        source, read=repr(read), engine=name, options=options, snapshot_date=snapshot_date or "",
        figures=figures, seed=int(seed),
    )  # fmt: skip
    found = stored.load_result(engine_result_dir, key) if engine_result_dir else None
    if found is None:
        with get_engine(name, **options) as runner:
            result = runner.read_clean_customer_file(source, read, snapshot_date=snapshot_date or None)
            sample, n_customers = runner.sample_lines(figures, seed)
        if engine_result_dir:
            stored.store_result(engine_result_dir, key, result, sample, n_customers)
    else:
        result, sample, n_customers = found
    raw = Dataset(
        transactions=sample, source=str(source), layout=result.layout, **_customer_tables(result.tables)
    )
    raw = inputs_module._with_customers(raw, sample, sample["customer_id"].dropna().unique())
    clean, sample_report = clean_transactions(sample)
    inputs_module.check_enough_customers(clean, sample_report, raw.source, inputs_module.MIN_RUN_CUSTOMERS)
    customers = result.customer_file
    drawn = sample["customer_id"].nunique()
    scope = (
        f"**Scope:** the cleaning table counts all {result.report.n_input:,} lines and the customer file "
        f"holds all {len(customers):,} customers ({result.engine} engine); the other figures and tables of "
        f"this report are computed on the lines of a random sample of {drawn:,} of the {n_customers:,} "
        f"customers with an id (seed {seed})."
        if drawn < n_customers
        else ""
    )
    overall = {
        "customers": int(len(customers)),
        "revenue": float(customers["monetary"].sum()),
        "period_start": f"{customers['first_purchase'].min():%Y-%m-%d}",
        "period_end": f"{customers['last_purchase'].max():%Y-%m-%d}",
    }
    truth = inputs_module._read_truth(Path(source)) if Path(source).is_dir() else None
    return Inputs(
        raw=raw,
        clean=inputs_module._restrict(raw, clean),
        report=result.report,
        truth=truth,
        customer_file=customers,
        scope=scope,
        overall=overall,
    )


@dataclass(frozen=True)
class EngineRoute:
    """Where a notebook's data go on a SQL engine: the engine's name, the source it reads, the reader options."""

    engine: str
    source: Any
    read: ReadOptions


def engine_route(
    data: str | os.PathLike[str],
    layout: str = "auto",
    columns: str | dict[str, str] | None = "",
    sample_customers: int = 0,
    seed: int = 0,
    *,
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str | int = "",
    engine: str = "pandas",
    demo_dir: str | os.PathLike[str] = "data/raw/demo",
) -> EngineRoute | Inputs:
    """The SQL engine route of notebook parameters, or on the pandas path :func:`segkit.load_inputs` itself.

    ``"demo"`` is the demo folder written with ``seed`` (a shop generated in memory, and any demo
    with ``sample_customers``, is the pandas path's); ``"auto"`` resolves by the input's size. Reader
    options given as ``""`` take the reader's default.

    Returns
    -------
    EngineRoute or Inputs
        The route (DuckDB, Spark), or the pandas path's :class:`~segkit.inputs.Inputs`.
    """
    source: Any = data
    if str(data) == "demo":
        folder = inputs_module._demo_folder(demo_dir, seed)
        source = folder if folder is not None and not sample_customers else None
    name = engine
    if engine == "auto":
        name = choose_engine(source) if source is not None else "pandas"
    if name == "pandas" or source is None:
        return inputs_module.load_inputs(
            data, layout, columns, sample_customers, seed, demo_dir=demo_dir, date_format=date_format,
            sep=sep, header=header, sheet=sheet,
        )  # fmt: skip
    read = ReadOptions(
        layout=layout,
        columns=parse_columns(columns) or None,
        sep=sep or None,
        date_format=date_format or None,
        header=bool(header),
    )
    return EngineRoute(name, source, read)


def _customer_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame | None]:
    return {name: tables.get(name) for name in ("customers", "sessions", "reviews", "products")}


def customer_file_of(inputs: Inputs, snapshot_date: str | None = None) -> pd.DataFrame:
    """The run's customer file: the engine's (every customer), or :func:`segkit.customer_file` of ``inputs.clean``."""
    if inputs.customer_file is not None:
        return inputs.customer_file
    clean = inputs.clean
    return customer_file(
        clean.transactions,
        clean.customers,
        clean.sessions,
        clean.reviews,
        snapshot_date=snapshot_date or None,
        cancellations=inputs.report.by_customer,
    )
