"""The one call a notebook makes to get clean data from its parameters: :func:`load_inputs`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.cleaning import CleaningReport, clean_transactions
from segkit.io import Dataset, find_table, parse_columns, read_dataset, read_side_table
from segkit.schema import CUSTOMER_ID, ORDER_DATE, SIDE_TABLES, DataError, ParameterError

__all__ = ["Inputs", "load_inputs", "check_run_inputs", "check_enough_customers", "MIN_RUN_CUSTOMERS"]

#: Side tables keyed by customer (restricted to the kept customers in :attr:`Inputs.clean`).
_CUSTOMER_TABLES = ("customers", "sessions", "reviews")


@dataclass
class Inputs:
    """Raw and clean data of a run.

    Attributes
    ----------
    raw
        The dataset as read (or generated), after sampling customers when asked.
    clean
        ``transactions`` cleaned by :func:`segkit.clean_transactions`; ``customers``, ``sessions`` and
        ``reviews`` restricted to the customers that keep at least one line; ``products`` unchanged.
    report
        The cleaning report (every raw line's reason).
    truth
        The demo shop's ground truth (``customer_id``, ``type``...) when the data are the demo shop
        (generated, or a folder holding ``truth.*``), else None. Never used by the pipeline itself.
    """

    raw: Dataset
    clean: Dataset
    report: CleaningReport
    truth: pd.DataFrame | None = None
    #: The customer file of every customer when an engine other than pandas built it (``raw`` and
    #: ``clean`` then hold a seeded sample of customers for the figures), else None.
    customer_file: pd.DataFrame | None = None
    #: A sentence saying the figures come from a sample (empty when they come from every line).
    scope: str = ""
    #: Figures of every clean line (``customers``, ``revenue``, ``period_start``, ``period_end``) when
    #: ``clean`` holds a sample; empty otherwise.
    overall: dict[str, Any] = field(default_factory=dict)
    #: The customer sample ``raw`` and ``clean`` hold when an engine drew it from a log it did not
    #: clean as a whole (:class:`segkit.engines.sampling.CustomerSample`: drawn, population, seed),
    #: else None.
    sample: Any = None


def load_inputs(
    data: str | os.PathLike[str] = "demo",
    layout: str = "auto",
    columns: str | dict[str, str] | None = "",
    sample_customers: int = 0,
    seed: int = 0,
    demo_dir: str | os.PathLike[str] = "data/raw/demo",
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str | int = "",
    min_customers: int = 2,
) -> Inputs:
    """Read (or generate), optionally sample, and clean the data named by a notebook's parameters.

    Parameters
    ----------
    data
        ``"demo"`` for the demo shop, or a file or folder for :func:`segkit.read_dataset`.
    layout
        Layout of ``data`` (see :func:`segkit.read_dataset`); ignored for the demo.
    columns
        Canonical -> source column mapping: a dict, a JSON string, or ``""`` for none.
    sample_customers
        0: every customer. Otherwise, for the demo, a shop generated with that many customers; for
        other data, a seeded random sample of that many customers with all their lines (lines without
        a customer id are left out).
    seed
        Seed of the demo shop and of the customer sample.
    demo_dir
        Folder of a demo shop written by ``segkit demo-data`` (``write_demo_shop(layout="generic")``).
        Used when it holds ``transactions.*``, its ``meta.json`` (if any) records the same ``seed``
        and ``sample_customers == 0``; else the shop is generated in memory with
        ``make_demo_shop(seed=seed)``. A relative path that does not exist is also looked up from the
        repository root (notebooks run with their own folder as working directory).
    date_format
        strftime format of the source's dates (e.g. ``"%Y%m%d"``), or ``""`` to parse them strictly
        (ISO and the UCI layouts); see :func:`segkit.read_dataset`.
    sep, header, sheet
        Reader options of :func:`segkit.read_dataset` (``sep="whitespace"``, ``header=False``,
        an XLSX sheet name); ``""`` means the reader's default.
    min_customers
        Fewest customers the clean data must hold (a segmentation needs at least two).

    Returns
    -------
    Inputs

    Raises
    ------
    DataError
        When fewer than ``min_customers`` customers keep a line after cleaning; the message gives
        the cleaning reasons of the lines.
    """
    sample_customers = _check_count(sample_customers, "sample_customers")
    seed = _check_count(seed, "seed")
    mapping = parse_columns(columns)
    truth: pd.DataFrame | None = None
    if str(data) == "demo":
        folder = _demo_folder(demo_dir, seed)
        if folder is not None and sample_customers == 0:
            raw = read_dataset(folder, layout="generic")
            truth = _read_truth(folder)
        else:
            raw, truth = _generate_demo(sample_customers, seed)
    else:
        raw = read_dataset(
            data,
            layout=layout,
            columns=mapping or None,
            date_format=date_format or None,
            sep=sep or None,
            header=bool(header),
            sheet=None if sheet in ("", None) else sheet,
        )
        if Path(data).is_dir():
            truth = _read_truth(Path(data))
        if sample_customers:
            raw = _sample_customers(raw, sample_customers, seed)
    clean_transactions_table, report = clean_transactions(raw.transactions)
    check_enough_customers(clean_transactions_table, report, raw.source, min_customers)
    return Inputs(raw=raw, clean=_restrict(raw, clean_transactions_table), report=report, truth=truth)


#: Fewest customers a ``segkit run`` accepts (checked before any notebook starts): the RFM quintiles,
#: the k range and the silhouette need more than a handful; below this segkit says so rather than
#: fail inside a notebook (2-3 customers used to end in a KeyError in notebook 02).
MIN_RUN_CUSTOMERS = 10


def check_run_inputs(
    data: str | os.PathLike[str],
    *,
    layout: str = "auto",
    columns: str | dict[str, str] | None = "",
    seed: int = 0,
    sample_customers: int = 0,
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str | int = "",
    min_customers: int = MIN_RUN_CUSTOMERS,
) -> None:
    """Read, map, parse and clean ``data`` as the notebooks will, before any of them starts.

    Raises the :class:`~segkit.schema.SegkitError` a notebook would raise (and a Python user gets
    from :func:`load_inputs`), and :class:`DataError` below ``min_customers`` customers or when
    all lines fall on one day. The demo shop (``data="demo"``) is generated valid and not read.
    """
    if str(data) == "demo":
        return
    load_inputs(
        data,
        layout=layout,
        columns=columns,
        sample_customers=int(sample_customers),
        seed=int(seed),
        date_format=date_format,
        sep=sep,
        header=header,
        sheet=sheet,
        min_customers=min_customers,
    )


def check_enough_customers(
    clean: pd.DataFrame, report: CleaningReport, source: str, min_customers: int = 2
) -> None:
    """Raise :class:`DataError` when the clean table holds fewer than ``min_customers`` customers
    or all its lines fall on one day.

    The message says where the lines went (the cleaning reasons with their counts), so that a file
    in which every line lacks a customer id, or every line is a cancellation, is explained.
    """
    n_customers = int(clean[CUSTOMER_ID].nunique())
    if n_customers >= min_customers:
        days = clean[ORDER_DATE].dt.normalize()
        if days.nunique() >= 2:
            return
        raise DataError(
            f"{source or 'the data'}: every kept line falls on one day ({days.iloc[0]:%Y-%m-%d}); "
            "recency, tenure and the monthly figures need orders on at least two days",
            column=ORDER_DATE,
            n_bad=int(len(clean)),
        )
    frame = report.to_frame()
    reasons = ", ".join(f"{row.reason}: {row.rows:,}" for row in frame.itertuples() if row.rows)
    raise DataError(
        f"{source or 'the data'}: {n_customers} customer(s) keep a line after cleaning; "
        f"a segmentation needs at least {min_customers}",
        column=CUSTOMER_ID,
        hint=f"where the {report.n_input:,} lines went: {reasons}",
    )


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{name} must be a non-negative integer, got {value!r}", column=name)
    return int(value)


def _demo_folder(demo_dir: str | os.PathLike[str], seed: int) -> Path | None:
    """The demo folder when it holds a shop written with ``seed`` (also looked up from the repository root).

    A folder whose ``meta.json`` records another seed is not used: the shop is generated instead.
    """
    candidates = [Path(demo_dir)]
    if not Path(demo_dir).is_absolute():
        candidates.append(Path(__file__).resolve().parents[1] / demo_dir)
    for folder in candidates:
        if folder.is_dir() and find_table(folder, "transactions") is not None:
            return folder if _written_seed(folder) in (None, seed) else None
    return None


def _written_seed(folder: Path) -> int | None:
    """The seed recorded in the folder's ``meta.json`` (None when absent or unreadable)."""
    try:
        return int(json.loads((folder / "meta.json").read_text())["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _generate_demo(sample_customers: int, seed: int) -> tuple[Dataset, pd.DataFrame | None]:
    from segkit.datasets import make_demo_shop

    shop = (
        make_demo_shop(n_customers=sample_customers, seed=seed)
        if sample_customers
        else make_demo_shop(seed=seed)
    )
    tables = {name: getattr(shop, name, None) for name in SIDE_TABLES}
    raw = Dataset(
        transactions=shop.transactions,
        source=f"demo shop (generated, seed={seed}"
        + (f", {sample_customers} customers)" if sample_customers else ")"),
        layout="generic",
        **tables,
    )
    return raw, getattr(shop, "truth", None)


def _read_truth(folder: Path) -> pd.DataFrame | None:
    path = find_table(folder, "truth")
    return None if path is None else read_side_table(path, "truth")


def _sample_customers(raw: Dataset, n_customers: int, seed: int) -> Dataset:
    """Keep a seeded random sample of ``n_customers`` customers (all their lines) in every table."""
    ids = raw.transactions[CUSTOMER_ID].dropna().unique()
    ids = np.sort(np.asarray(ids, dtype=object).astype(str))
    if n_customers >= len(ids):
        return raw
    chosen = np.random.default_rng(seed).choice(ids, size=n_customers, replace=False)
    lines = raw.transactions[raw.transactions[CUSTOMER_ID].isin(chosen)].reset_index(drop=True)
    return _with_customers(raw, lines, chosen)


def _restrict(raw: Dataset, clean: pd.DataFrame) -> Dataset:
    return _with_customers(raw, clean, clean[CUSTOMER_ID].unique())


def _with_customers(raw: Dataset, transactions: pd.DataFrame, customer_ids: Any) -> Dataset:
    keep = pd.Index(customer_ids)
    tables: dict[str, pd.DataFrame | None] = {}
    for name in SIDE_TABLES:
        table = getattr(raw, name)
        if name in _CUSTOMER_TABLES and table is not None and CUSTOMER_ID in table.columns:
            table = table[table[CUSTOMER_ID].isin(keep)].reset_index(drop=True)
        tables[name] = table
    return Dataset(
        transactions=transactions, source=raw.source, layout=raw.layout, details=dict(raw.details), **tables
    )
