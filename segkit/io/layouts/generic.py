"""The ``generic`` layout: one table whose columns are canonical or mapped, or a folder of tables.

One table (CSV/TSV/any delimiter including whitespace ``sep=r"\\s+"``, Parquet, XLSX) or a folder
of tables named ``transactions.*``, ``customers.*``, ``sessions.*``, ``reviews.*``, ``products.*``
(what ``segkit.write_demo_shop(layout="generic")`` writes). ``columns`` maps canonical names to the
source's names; canonical names present in the source (also spelled ``Customer ID``,
``order-date``...) are used as they are. It is the fallback of ``layout="auto"``: chosen when the
header holds ``customer_id``, ``order_date`` or ``amount``, or when a mapping is given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from segkit.io.canonical import complete_mapping, normalise_name
from segkit.io.dataset import Dataset
from segkit.io.formats import find_table, read_table, table_candidates
from segkit.io.read import read_file_source
from segkit.io.registry import Layout, ReadOptions
from segkit.io.values import canonical_ids, parse_dates
from segkit.schema import (
    AMOUNT,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    SIDE_TABLES,
    missing_column_error,
)

__all__ = ["LAYOUT", "read_side_table"]

# Key and date columns of the side tables of a generic folder.
_SIDE_KEYS = {
    "customers": CUSTOMER_ID,
    "sessions": CUSTOMER_ID,
    "reviews": CUSTOMER_ID,
    "products": PRODUCT_ID,
}
_SIDE_ID_COLUMNS = (CUSTOMER_ID, ORDER_ID, PRODUCT_ID)
_SIDE_DATE_COLUMNS = {
    "customers": ("signup_date",),
    "sessions": ("session_start",),
    "reviews": ("review_date",),
    "products": (),
    "truth": (),
}


def _detect(header: Sequence[str]) -> bool:
    """A header naming ``customer_id``, ``order_date`` or ``amount`` (any case, blanks or dashes)."""
    normalised = {normalise_name(h) for h in header}
    return any(normalise_name(c) in normalised for c in (CUSTOMER_ID, ORDER_DATE, AMOUNT))


def _map_columns(header: Sequence[str], columns: Mapping[str, str], where: str) -> dict[str, str]:
    return complete_mapping(dict(columns), header, where)


def _detect_folder(folder: Path) -> bool:
    return bool(table_candidates(folder, "transactions"))


def _read_folder(folder: Path, options: ReadOptions) -> Dataset:
    """``transactions.*`` read as a generic table, plus every side table present."""
    transactions_path = find_table(folder, "transactions")
    if transactions_path is None:  # pragma: no cover - read only when _detect_folder claims the folder
        raise FileNotFoundError(folder / "transactions.*")
    bundle = read_file_source(transactions_path, LAYOUT, options)
    side: dict[str, pd.DataFrame | None] = {}
    for name in SIDE_TABLES:
        side_path = find_table(folder, name)
        side[name] = None if side_path is None else read_side_table(side_path, name)
    return Dataset(transactions=bundle.transactions, source=str(folder), layout="generic", **side)


def read_side_table(path: str | os.PathLike[str], name: str) -> pd.DataFrame:
    """Read a side table (customers, sessions, reviews, products or truth) of a generic folder.

    Id columns become pandas strings and known date columns (``signup_date``, ``session_start``,
    ``review_date``) naive datetimes; the key column (``customer_id``, or ``product_id`` for products)
    must be present.
    """
    path = Path(path)
    table = read_table(path, string_columns=_SIDE_ID_COLUMNS)
    key = _SIDE_KEYS.get(name, CUSTOMER_ID)
    if key not in table.columns:
        raise missing_column_error(key, table.columns, table=name, source=str(path))
    out = table.copy()
    for column in _SIDE_ID_COLUMNS:
        if column in out.columns:
            out[column] = canonical_ids(out[column])
    for column in _SIDE_DATE_COLUMNS.get(name, ()):
        if column in out.columns:
            out[column] = parse_dates(out[column], column, None, f"{name} ({path})")
    return out


LAYOUT = Layout(
    name="generic",
    title="generic",
    description="one table with canonical or mapped columns, or a folder with transactions.* and side tables",
    detect=_detect,
    map_columns=_map_columns,
    detect_folder=_detect_folder,
    read_folder=_read_folder,
    fallback=True,
    example_headers=(
        ("customer_id", "order_date", "amount"),
        ("Customer ID", "Order Date", "Quantity", "Unit Price"),
    ),
)
