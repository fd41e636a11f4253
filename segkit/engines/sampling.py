"""Notebooks 04 and 05 on a large log: the lines of a seeded sample of customers, drawn by an engine.

The maintenance replay and the CLV fit work on lines, one customer at a time: on a log too large for
pandas they run on the lines of a seeded random sample of customers. Drawing it needs no cleaning of
the whole log: the engine reads the canonical table (:meth:`~segkit.engines.sources.SourcePlan.canonical_select`),
lists the distinct customer ids once, draws among them as :func:`segkit.load_inputs` samples
customers (sorted ids, ``numpy.random.default_rng(seed).choice`` without replacement) and returns
the raw lines of the customers drawn, in input order; pandas then cleans those lines
(:func:`segkit.clean_transactions`). Every line of a customer is kept together, so what the cleaning
decides per customer (netting of cancellations, duplicates) is decided as on the whole log; the
outlier rule's thresholds come from the sample's lines.

:func:`load_sample_inputs` is the notebooks' call: on the pandas path it is :func:`segkit.load_inputs`
(unchanged); on DuckDB or Spark it returns :class:`~segkit.inputs.Inputs` of the sample, with
``Inputs.sample`` (a :class:`CustomerSample`) for the scope sentence (:func:`segkit.narrative.sample_scope`)
and for estimates of sums over every customer (:func:`estimate_population_sums`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from segkit import inputs as inputs_module
from segkit.cleaning import clean_transactions
from segkit.engines import get_engine
from segkit.engines.base import SqlEngine
from segkit.engines.notebook import engine_route, parse_engine_options
from segkit.engines.sources import ReadOptions, plan_source
from segkit.inputs import Inputs
from segkit.io import Dataset
from segkit.schema import CUSTOMER_ID, DataError, ParameterError

__all__ = [
    "SAMPLE_CUSTOMERS",
    "CustomerSample",
    "SampleLines",
    "draw_customer_lines",
    "estimate_population_sums",
    "load_sample_inputs",
    "population_scale",
]

#: Customers drawn (seeded) for each notebook that works on a sample on the engine path, by purpose.
#:
#: ``maintenance`` (notebook 04), 20,000: the size of the demo shop (``make_demo_shop``'s default), on
#: which the replay's rules were calibrated (``benchmarks/bench_maintenance.py``: its grid uses 10,000).
#: Every fit of the replay already uses at most :data:`segkit.stability.FIT_SIZE` (2,000) window
#: customers; the agreement (ARI) and the drift are averages over the window's customers (about 11,000
#: of 20,000 in a 365-day window), so more customers only narrow statistics that are already far
#: tighter than the noise band's spread (:data:`segkit.stability.MIN_NOISE_STD`), while the replay's
#: time grows with the customers (the issue measured 480 s for 1M customers, 20M lines).
#:
#: ``clv`` (notebook 05), 50,000: the BG/NBD (4 parameters) and Gamma-Gamma (3) fits. Their standard
#: errors shrink as 1/sqrt(customers): 50,000 is 21 times the 2,357 customers of the published CDNOW
#: fit (errors about 4.6 times smaller), and a segment of notebook 03 (at least 2% of the customers)
#: keeps at least about 1,000 customers for its medians and means. The fits are vectorised over
#: customers; the sample's lines (about 17 per customer in the demo shop) are cleaned by pandas.
SAMPLE_CUSTOMERS: dict[str, int] = {"maintenance": 20_000, "clv": 50_000}


@dataclass(frozen=True)
class CustomerSample:
    """A seeded random sample of customers drawn by an engine.

    Attributes
    ----------
    drawn
        Customers drawn (all of them when the population is not larger).
    population
        Distinct customer ids in the log (lines without an id belong to no customer).
    seed
        Seed of the draw.
    engine
        Name of the engine that drew it.
    """

    drawn: int
    population: int
    seed: int
    engine: str

    @property
    def is_sample(self) -> bool:
        """True when fewer customers were drawn than the log holds."""
        return self.drawn < self.population

    @property
    def scale(self) -> float:
        """``population / drawn``: the factor that turns a sum over the sample into an estimate of the
        sum over every customer (the expansion estimator of a simple random sample)."""
        return self.population / self.drawn

    def to_dict(self) -> dict[str, Any]:
        """``customers`` (drawn), ``population``, ``seed`` and ``engine``, for a summary file."""
        return {
            "customers": self.drawn,
            "population": self.population,
            "seed": self.seed,
            "engine": self.engine,
        }


def population_scale(sample: CustomerSample | None) -> float:
    """:attr:`CustomerSample.scale` of a sample smaller than its population, else 1 (every customer)."""
    return sample.scale if sample is not None and sample.is_sample else 1.0


@dataclass
class SampleLines:
    """What :func:`draw_customer_lines` returns.

    Attributes
    ----------
    lines
        Canonical raw lines of the customers drawn, in input order (no row-number column).
    sample
        The sample's counts.
    layout
        The layout read.
    """

    lines: pd.DataFrame
    sample: CustomerSample
    layout: str


def draw_customer_lines(
    engine: SqlEngine,
    source: str | os.PathLike[str],
    n_customers: int,
    seed: int = 0,
    read: ReadOptions | None = None,
) -> SampleLines:
    """Raw canonical lines of a seeded sample of ``n_customers`` customers of ``source``.

    One scan lists the distinct customer ids of the canonical table and one filter returns the lines
    of the customers drawn; the log is not cleaned. The customers are those
    :func:`segkit.load_inputs` draws with ``sample_customers=n_customers`` and ``seed`` (with the
    pandas reader's lines, in input order).

    Parameters
    ----------
    engine
        An open SQL engine (DuckDB or Spark).
    source
        A file, a Parquet folder (partitioned or not), a glob, or a generic folder.
    n_customers
        Customers to draw (>= 1); every customer when the log holds no more.
    seed
        Seed of the draw (>= 0).
    read
        Reader options (layout, columns mapping, separator, date format, header).

    Returns
    -------
    SampleLines

    Raises
    ------
    ParameterError
        ``engine`` is not a SQL engine, or a count that is not a positive integer.
    DataError
        No line of the source has a customer id; errors of the reader (see
        :func:`~segkit.engines.sources.plan_source`).
    """
    if not isinstance(engine, SqlEngine):
        raise ParameterError(
            f"customer samples are drawn by the SQL engines (duckdb, spark), got {type(engine).__name__}",
            column="engine",
            hint="with engine='pandas' use segkit.load_inputs(..., sample_customers=n)",
        )
    n_customers = _positive(n_customers, "n_customers", minimum=1)
    seed = _positive(seed, "seed", minimum=0)
    plan = plan_source(source, read or ReadOptions())
    types = engine._load_raw(plan)
    engine._create("tx", plan.canonical_select(engine.dialect, engine._scalar, types))
    lines, population = engine.sample_lines(n_customers, seed)
    if population == 0:
        raise DataError(f"{source}: no line has a {CUSTOMER_ID}", column=CUSTOMER_ID)
    sample = CustomerSample(int(lines[CUSTOMER_ID].nunique()), int(population), seed, engine.name)
    return SampleLines(lines, sample, plan.layout)


def load_sample_inputs(
    data: str | os.PathLike[str] = "demo",
    layout: str = "auto",
    columns: str | dict[str, str] | None = "",
    sample_customers: int = 0,
    seed: int = 0,
    *,
    purpose: str,
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str | int = "",
    engine: str = "pandas",
    engine_options: str | dict[str, Any] | None = "",
    demo_dir: str | os.PathLike[str] = "data/raw/demo",
) -> Inputs:
    """Notebooks 04-05's inputs: every line in pandas, or the lines of a customer sample drawn by an engine.

    Parameters
    ----------
    purpose
        A key of :data:`SAMPLE_CUSTOMERS` (``"maintenance"``, ``"clv"``): the sample's default size.
    sample_customers
        pandas: as :func:`segkit.load_inputs`. Other engines: customers drawn (0: the purpose's
        default size).
    engine, engine_options
        As :func:`segkit.engines.load_inputs`.
    Other parameters
        As :func:`segkit.load_inputs`.

    Returns
    -------
    Inputs
        On DuckDB/Spark: ``raw`` holds the sample's lines (no side tables: notebooks 04-05 read
        transactions only), ``clean`` and ``report`` their cleaning, ``sample`` the
        :class:`CustomerSample`; ``truth`` is None.
    """
    if purpose not in SAMPLE_CUSTOMERS:
        raise ParameterError(
            f"unknown sample purpose {purpose!r}",
            column="purpose",
            hint=f"purposes: {', '.join(SAMPLE_CUSTOMERS)}",
        )
    route = engine_route(
        data, layout, columns, sample_customers, seed, date_format=date_format, sep=sep, header=header,
        sheet=sheet, engine=engine, demo_dir=demo_dir,
    )  # fmt: skip
    if isinstance(route, Inputs):
        return route
    drawn = _positive(sample_customers, "sample_customers", minimum=0) or SAMPLE_CUSTOMERS[purpose]
    with get_engine(route.engine, **parse_engine_options(engine_options)) as runner:
        drawn_lines = draw_customer_lines(runner, route.source, drawn, seed, route.read)
    raw = Dataset(transactions=drawn_lines.lines, source=str(route.source), layout=drawn_lines.layout)
    clean, report = clean_transactions(raw.transactions)
    inputs_module.check_enough_customers(clean, report, raw.source)
    return Inputs(
        raw=raw, clean=inputs_module._restrict(raw, clean), report=report, sample=drawn_lines.sample
    )


def estimate_population_sums(table: pd.DataFrame, sample: CustomerSample | None) -> pd.DataFrame:
    """``table`` with its ``*_sum`` columns estimated for every customer (times ``sample.scale``).

    Unchanged when ``sample`` is None or holds every customer. Shares of sums, medians and means are
    not scaled (a sample estimates them as they are). ``attrs["population_scale"]`` records the factor.
    """
    out = table.copy()
    scale = population_scale(sample)
    for column in [c for c in out.columns if str(c).endswith("_sum")]:
        out[column] = out[column] * scale
    out.attrs["population_scale"] = scale
    return out


def _positive(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int, or :class:`ParameterError` when it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}", column=name)
    return int(value)
