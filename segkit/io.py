"""Read transaction sources into a :class:`Dataset`; write outputs atomically.

Layouts
-------
``generic``
    One table (CSV/TSV/any delimiter including whitespace ``sep=r"\\s+"``, Parquet, XLSX) or a folder
    of tables named ``transactions.*``, ``customers.*``, ``sessions.*``, ``reviews.*``, ``products.*``
    (what ``segkit.write_demo_shop(layout="generic")`` writes). ``columns`` maps canonical names to the
    source's names; canonical names present in the source are used as they are.
``online_retail``
    The UCI "Online Retail" (``InvoiceNo ... UnitPrice, CustomerID``) and "Online Retail II"
    (``Invoice ... Price, Customer ID``) layouts, recognised by their header; CSV, Parquet or XLSX
    (every sheet of a workbook is read and stacked: the published Online Retail II workbook has two).
``olist``
    A folder with the Kaggle Olist CSVs, see :func:`read_olist`.
``auto``
    The UCI layouts by header, a folder with ``olist_*`` files as Olist, a folder with
    ``transactions.*`` as a generic folder, a table whose header holds canonical names (or with a
    ``columns`` mapping) as generic. Anything else needs ``layout="generic"`` and a mapping.

Every reader returns canonical transactions (see :mod:`segkit.schema`): ids as pandas ``str`` (a
float id column such as ``17850.0`` loses its ``.0`` only when every value is integral), ``order_date``
as naive ``datetime64[ns]``, ``amount`` as float64 in the source currency (``quantity * unit_price``
when the source has no amount). Bad input raises a :class:`~segkit.schema.SegkitError` subclass
naming the file, the column, the number of bad rows and up to five examples.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import (
    AMOUNT,
    CATEGORY,
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    NUMERIC_COLUMNS,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    SIDE_TABLES,
    STRING_COLUMNS,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
    DataError,
    ParameterError,
    SchemaError,
    SegkitError,
    bad_rows_error,
    missing_column_error,
    normalize_id,
    suggest_column,
    validate_transactions,
)

__all__ = [
    "LAYOUTS",
    "OLIST_FILES",
    "OLIST_EXCLUDED_STATUSES",
    "Dataset",
    "read_dataset",
    "read_transactions",
    "read_olist",
    "read_table",
    "read_side_table",
    "find_table",
    "parse_columns",
    "run_dir",
    "normalise_sep",
    "atomic_write",
    "write_parquet_atomic",
    "write_csv_atomic",
    "neutralise_formulas",
    "write_json_atomic",
    "write_text_atomic",
]

#: Layout names accepted by :func:`read_dataset`.
LAYOUTS: tuple[str, ...] = ("auto", "generic", "online_retail", "olist")
#: Other spellings accepted for a layout (the demo writer calls its UCI layout ``online_retail_ii``).
_LAYOUT_ALIASES = {"online_retail_ii": "online_retail", "online_retail_i": "online_retail"}

_TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".dat"}
_COMPRESSED_SUFFIXES = {".gz", ".bz2", ".zst", ".xz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
#: Preference when a folder holds the same table in several formats.
_FORMAT_PREFERENCE = (".parquet", ".pq", ".csv", ".tsv", ".tab", ".txt", ".dat", ".xlsx", ".xlsm")

# Formats tried, in order, on UCI dates and on dates of generic files without a date_format.
_UCI_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
)
_FLOAT_INTEGRAL_TEXT = re.compile(r"^[+-]?\d+\.0*$")


@dataclass(frozen=True)
class _UciLayout:
    name: str
    columns: dict[str, str]  # canonical -> source


_UCI_LAYOUTS: tuple[_UciLayout, ...] = (
    _UciLayout(
        "Online Retail II",
        {
            ORDER_ID: "Invoice",
            PRODUCT_ID: "StockCode",
            DESCRIPTION: "Description",
            QUANTITY: "Quantity",
            ORDER_DATE: "InvoiceDate",
            UNIT_PRICE: "Price",
            CUSTOMER_ID: "Customer ID",
            COUNTRY: "Country",
        },
    ),
    _UciLayout(
        "Online Retail",
        {
            ORDER_ID: "InvoiceNo",
            PRODUCT_ID: "StockCode",
            DESCRIPTION: "Description",
            QUANTITY: "Quantity",
            ORDER_DATE: "InvoiceDate",
            UNIT_PRICE: "UnitPrice",
            CUSTOMER_ID: "CustomerID",
            COUNTRY: "Country",
        },
    ),
)

#: Kaggle Olist file stems by table (any supported suffix is accepted, ``.csv`` as published).
OLIST_FILES: dict[str, str] = {
    "orders": "olist_orders_dataset",
    "order_items": "olist_order_items_dataset",
    "order_payments": "olist_order_payments_dataset",
    "order_reviews": "olist_order_reviews_dataset",
    "customers": "olist_customers_dataset",
    "products": "olist_products_dataset",
    "category_translation": "product_category_name_translation",
}
#: Olist tables without which no canonical transaction table can be built.
_OLIST_REQUIRED = ("orders", "order_items", "customers")
#: Order statuses that do not count as purchases by default in :func:`read_olist`.
OLIST_EXCLUDED_STATUSES: tuple[str, ...] = ("canceled", "unavailable")

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


# =========================================================================== the bundle
@dataclass
class Dataset:
    """Canonical transactions plus the optional side tables of a source.

    Attributes
    ----------
    transactions
        Canonical transaction table (one row per order line, see :mod:`segkit.schema`).
    customers
        One row per customer: ``customer_id`` and attributes (age, gender, income_band, region...).
    sessions
        Browsing log: ``customer_id``, ``session_start``, ``pages_viewed``, ``category_viewed``...
    reviews
        ``order_id``, ``customer_id``, ``score`` (1-5), ``review_date``.
    products
        ``product_id``, ``category``, ``list_price``.
    source
        The path as given (or a description of an in-memory source).
    layout
        ``generic``, ``online_retail`` or ``olist``.
    details
        Reader notes, e.g. ``statuses_counted`` for Olist.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    source: str = ""
    layout: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the non-None tables by name, transactions first."""
        tables = {"transactions": self.transactions}
        for name in SIDE_TABLES:
            table = getattr(self, name)
            if table is not None:
                tables[name] = table
        return tables


# =========================================================================== public readers
def read_dataset(
    source: str | os.PathLike[str] | pd.DataFrame,
    layout: str = "auto",
    columns: Mapping[str, str] | str | None = None,
    sep: str | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
) -> Dataset:
    """Read a file, a folder or a DataFrame into a :class:`Dataset` with canonical transactions.

    Parameters
    ----------
    source
        A table file (``.csv``, ``.tsv``, ``.txt``, compressed text, ``.parquet``, ``.xlsx``), a folder
        (generic or Olist), or a DataFrame (read as a generic table or a UCI layout).
    layout
        ``"auto"`` (default), ``"generic"``, ``"online_retail"`` (both UCI layouts) or ``"olist"``.
    columns
        Mapping from canonical names to the source's column names, e.g.
        ``{"customer_id": "cust", "order_date": "date", "amount": "value"}`` (a JSON string is accepted).
        Canonical names present in the source need no mapping. Applies to the transactions table.
    sep
        Field delimiter of text files: any single character, ``"whitespace"`` (or ``r"\\s+"``: runs of
        blanks, leading blanks ignored), ``"tab"``, or a regular expression. Default: tab for
        ``.tsv``/``.tab``, else sniffed from the first line among ``,`` ``;`` tab ``|``, then whitespace.
    date_format
        strftime format of ``order_date``, e.g. ``"%d/%m/%Y"`` or compact ``"%Y%m%d"``. Without it,
        ISO 8601 is tried, then the format guessed from the first value; either way every value must
        parse with one format, and a failure raises :class:`~segkit.schema.DataError` naming the column.
    encoding
        Text encoding. Default: UTF-8, falling back to latin-1 with a warning.
    sheet
        XLSX sheet name or index. Default: every sheet, stacked (they must share their columns).
    header
        False when the first line is data: the source's columns are then named by their 0-based
        position as strings (``"0"``, ``"1"``...), e.g. ``columns={"customer_id": "1",
        "order_date": "2", "amount": "4"}`` for the CDNOW log.

    Returns
    -------
    Dataset
        ``transactions`` canonical and validated; side tables when the source has them.

    Examples
    --------
    >>> read_dataset("CDNOW_sample.txt", layout="generic", sep="whitespace", header=False,
    ...              columns={"customer_id": "1", "order_date": "2", "amount": "4"},
    ...              date_format="%Y%m%d")  # doctest: +SKIP
    """
    layout = _check_layout(layout)
    mapping = parse_columns(columns)
    sep = normalise_sep(sep)
    if isinstance(source, pd.DataFrame):
        if not header:
            source = source.set_axis([str(i) for i in range(source.shape[1])], axis=1)
        return _read_frame_source(source, layout, mapping, date_format)
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder", column=None)
    if path.is_dir() and not _is_parquet_dataset(path):
        return _read_folder(path, layout, mapping, sep, date_format, encoding, sheet, header)
    if layout == "olist":
        raise ParameterError(
            f"{source}: layout 'olist' reads a folder of Olist CSV files, not a single file", column="layout"
        )
    return _read_file_source(path, layout, mapping, sep, date_format, encoding, sheet, header)


def read_transactions(
    source: str | os.PathLike[str] | pd.DataFrame,
    layout: str = "auto",
    columns: Mapping[str, str] | str | None = None,
    sep: str | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
) -> pd.DataFrame:
    """Read a source and return its canonical transaction table: ``read_dataset(...).transactions``.

    Parameters are those of :func:`read_dataset`.
    """
    return read_dataset(
        source,
        layout=layout,
        columns=columns,
        sep=sep,
        date_format=date_format,
        encoding=encoding,
        sheet=sheet,
        header=header,
    ).transactions


def read_olist(folder: str | os.PathLike[str], statuses: Sequence[str] | None = None) -> Dataset:
    """Read a folder of Kaggle Olist CSVs into a :class:`Dataset`.

    Parameters
    ----------
    folder
        Folder holding the published files (``olist_orders_dataset.csv``, ``olist_order_items_dataset.csv``,
        ``olist_customers_dataset.csv`` are required; ``olist_products_dataset.csv``,
        ``product_category_name_translation.csv``, ``olist_order_reviews_dataset.csv`` and
        ``olist_order_payments_dataset.csv`` are used when present). Parquet copies with the same
        stems are accepted.
    statuses
        Order statuses (``order_status``) whose items count as purchases. Default: every status except
        ``canceled`` and ``unavailable`` (:data:`OLIST_EXCLUDED_STATUSES`), i.e. delivered, shipped,
        invoiced, processing, approved and created orders count.

    Returns
    -------
    Dataset
        ``transactions``: one line per order, product and price (Olist's item rows, one per unit,
        summed); ``customer_id`` is Olist's ``customer_unique_id`` (the per-order ``customer_id`` is
        not a person); ``order_date`` = ``order_purchase_timestamp``; ``quantity`` = number of items;
        ``unit_price`` = ``price``; ``amount`` = sum of ``price + freight_value`` (BRL);
        ``category`` = the English category name (the Portuguese one where Olist has no translation);
        ``country`` = ``"Brazil"``.
        ``customers``: one row per person, location of their latest order (``region`` = state,
        ``city``, ``zip_code_prefix``). ``reviews``: ``order_id``, ``customer_id``, ``score``,
        ``review_date`` for the counted orders. ``products``: ``product_id``, ``category``,
        ``list_price`` (median item price).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; the Olist layout reads a folder of CSV files")
    if isinstance(statuses, str):
        statuses = [statuses]
    files = {name: find_table(folder, stem) for name, stem in OLIST_FILES.items()}
    missing = [OLIST_FILES[name] + ".csv" for name in _OLIST_REQUIRED if files[name] is None]
    if missing:
        raise SchemaError(
            f"{folder}: Olist folder is missing {', '.join(missing)}",
            column=missing[0],
            hint="download every CSV of the Kaggle 'Brazilian E-Commerce Public Dataset by Olist'",
        )
    ids = ("order_id", "customer_id", "customer_unique_id", "product_id", "customer_zip_code_prefix")
    tables = {name: read_table(path, string_columns=ids) for name, path in files.items() if path is not None}
    return _olist_bundle(tables, folder, statuses)


def read_table(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    string_columns: Sequence[str] = (),
    usecols: Sequence[str] | None = None,
    header: bool = True,
) -> pd.DataFrame:
    """Read one table file (text, Parquet or XLSX) as it is, with segkit's errors on bad files.

    Parameters
    ----------
    path
        The file (or a folder of Parquet parts).
    sep, encoding, sheet
        As in :func:`read_dataset`.
    string_columns
        Columns to read as text (ids: keeps leading zeros), where present.
    usecols
        Read only these columns (all must exist).
    header
        False when the first line (row) is data: columns are named ``"0"``, ``"1"``... by position.
    """
    path = Path(path)
    kind = _file_kind(path)
    if kind == "parquet":
        frame = _read_parquet(path, None if not header else usecols)
        if not header:
            frame = frame.set_axis([str(i) for i in range(frame.shape[1])], axis=1)
            frame = frame[list(usecols)] if usecols else frame
        return frame
    _check_not_empty(path)
    if kind == "excel":
        return _read_excel(path, sheet, usecols, header=header)
    return _read_text(
        path,
        sep=normalise_sep(sep),
        encoding=encoding,
        string_columns=string_columns,
        usecols=usecols,
        header=header,
    )


#: Names accepted for ``sep`` besides a single character or a regular expression.
SEP_NAMES: dict[str, str] = {
    "whitespace": r"\s+",
    "space": " ",
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "semicolon": ";",
    "pipe": "|",
}


def normalise_sep(sep: str | None) -> str | None:
    """The delimiter meant by ``sep``: ``"whitespace"`` -> ``r"\\s+"``, ``"tab"``/``"\\t"`` -> tab, ...

    ``None`` or ``""`` mean "sniff it" and give None; any other text is used as it is.
    """
    if sep is None or sep == "":
        return None
    return SEP_NAMES.get(str(sep).lower() if len(str(sep)) > 1 else str(sep), str(sep))


def parse_columns(columns: Mapping[str, str] | str | None) -> dict[str, str]:
    """Return a validated canonical -> source column mapping from a dict, a JSON string, ``""`` or None.

    Raises
    ------
    ParameterError
        When the JSON does not parse, is not an object of strings, or a key is not a canonical name.
    """
    if columns is None or (isinstance(columns, str) and not columns.strip()):
        return {}
    if isinstance(columns, str):
        try:
            columns = json.loads(columns)
        except json.JSONDecodeError as exc:
            raise ParameterError(
                f"columns: not valid JSON ({exc.msg} at character {exc.pos})",
                column="columns",
                hint='write it like {"customer_id": "cust", "order_date": "date", "amount": "value"}',
            ) from None
    if not isinstance(columns, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
    ):
        raise ParameterError(
            "columns must map canonical names to source column names (strings)", column="columns"
        )
    for key in columns:
        if key not in TRANSACTION_COLUMNS:
            close = suggest_column(key, TRANSACTION_COLUMNS)
            raise ParameterError(
                f"columns: {key!r} is not a canonical column",
                column=key,
                hint=(f"did you mean {close!r}? " if close else "")
                + f"canonical columns: {', '.join(TRANSACTION_COLUMNS)}",
            )
    return dict(columns)


# =========================================================================== dispatch
def _check_layout(layout: str) -> str:
    name = _LAYOUT_ALIASES.get(str(layout), str(layout))
    if name not in LAYOUTS:
        close = suggest_column(str(layout), LAYOUTS)
        raise ParameterError(
            f"unknown layout {layout!r}",
            column="layout",
            hint=(f"did you mean {close!r}? " if close else "") + f"layouts: {', '.join(LAYOUTS)}",
        )
    return name


def _read_frame_source(
    frame: pd.DataFrame, layout: str, mapping: dict[str, str], date_format: str | None
) -> Dataset:
    if layout == "olist":
        raise ParameterError("layout 'olist' reads a folder, not a DataFrame", column="layout")
    header = [str(c) for c in frame.columns]
    layout, mapping, date_formats = _plan_columns(layout, header, mapping, date_format, "DataFrame")
    transactions = _canonical_transactions(frame, mapping, date_formats, "DataFrame")
    return Dataset(transactions=transactions, source="DataFrame", layout=layout)


def _read_file_source(
    path: Path,
    layout: str,
    mapping: dict[str, str],
    sep: str | None,
    date_format: str | None,
    encoding: str | None,
    sheet: str | int | None,
    has_header: bool = True,
) -> Dataset:
    kind = _file_kind(path)
    if kind == "text":
        _check_not_empty(path)
        sep = sep or _sniff_sep(path, encoding)
        header = _read_text_header(path, sep, encoding, has_header)
        frame = None
    else:
        frame = read_table(path, sheet=sheet, header=has_header)
        header = [str(c) for c in frame.columns]
    layout, mapping, date_formats = _plan_columns(layout, header, mapping, date_format, str(path))
    if frame is None:
        texts = [mapping[c] for c in STRING_COLUMNS if c in mapping]  # ids keep leading zeros
        string_columns = texts + [mapping[ORDER_DATE]]  # parsed by segkit: local time, checked order
        frame = _read_text(
            path,
            sep=sep,
            encoding=encoding,
            string_columns=string_columns,
            usecols=sorted(set(mapping.values())),
            header=has_header,
        )
    transactions = _canonical_transactions(frame, mapping, date_formats, str(path))
    return Dataset(transactions=transactions, source=str(path), layout=layout)


def _plan_columns(
    layout: str, header: list[str], mapping: dict[str, str], date_format: str | None, where: str
) -> tuple[str, dict[str, str], tuple[str, ...] | None]:
    """Resolve the layout from the header; return it, the full canonical -> source mapping and date formats."""
    uci = _detect_uci(header)
    layout = _resolve_file_layout(layout, header, uci, mapping, where)
    explicit = (date_format,) if date_format else None
    if layout == "online_retail":
        mapping, uci_formats = _uci_spec(header, uci, where)
        return layout, mapping, explicit or uci_formats
    return layout, _complete_mapping(mapping, header, where), explicit


def _read_folder(
    folder: Path,
    layout: str,
    mapping: dict[str, str],
    sep: str | None,
    date_format: str | None,
    encoding: str | None,
    sheet: str | int | None,
    header: bool = True,
) -> Dataset:
    has_olist = any(p.name.startswith("olist_") for p in folder.iterdir())
    if layout == "olist" or (layout == "auto" and has_olist):
        return read_olist(folder)
    transactions_path = find_table(folder, "transactions")
    if transactions_path is None or layout == "online_retail":
        single = _single_table(folder)
        if single is not None:  # e.g. a folder holding one Online Retail file
            return _read_file_source(single, layout, mapping, sep, date_format, encoding, sheet, header)
        raise DataError(
            f"{folder}: folder holds no transactions.* table, no Olist files and not exactly one table file",
            hint="a generic folder holds transactions.csv|parquet|xlsx (plus optional customers.*, "
            "sessions.*, reviews.*, products.*); an Olist folder holds the olist_*.csv files; "
            "or pass the table file itself",
        )
    bundle = _read_file_source(
        transactions_path, "generic", mapping, sep, date_format, encoding, sheet, header
    )
    side: dict[str, pd.DataFrame | None] = {}
    for name in SIDE_TABLES:
        side_path = find_table(folder, name)
        side[name] = None if side_path is None else read_side_table(side_path, name)
    return Dataset(transactions=bundle.transactions, source=str(folder), layout="generic", **side)


def _single_table(folder: Path) -> Path | None:
    """The only table file of ``folder`` (hidden files and READMEs aside), or None."""
    tables = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.name.lower().startswith("readme") or not path.is_file():
            continue
        try:
            _file_kind(path)
        except DataError:
            continue
        tables.append(path)
    return tables[0] if len(tables) == 1 else None


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
            out[column] = _canonical_ids(out[column])
    for column in _SIDE_DATE_COLUMNS.get(name, ()):
        if column in out.columns:
            out[column] = _parse_dates(out[column], column, None, f"{name} ({path})")
    return out


def _resolve_file_layout(
    layout: str, header: list[str], uci: _UciLayout | None, mapping: dict[str, str], where: str
) -> str:
    if layout == "online_retail" and uci is None:
        raise _not_uci_error(header, where)
    if layout != "auto":
        return layout
    if uci is not None:
        return "online_retail"
    normalised = {_normalise_name(h) for h in header}
    if mapping or any(_normalise_name(c) in normalised for c in (CUSTOMER_ID, ORDER_DATE, AMOUNT)):
        return "generic"
    raise ParameterError(
        f"{where}: could not recognise the layout (columns: {', '.join(header[:12])})",
        column="layout",
        hint="pass layout='generic' and a mapping, e.g. columns={'customer_id': 'cust', "
        "'order_date': 'date', 'amount': 'value'} (or 'quantity' and 'unit_price' instead of 'amount'); "
        "layout='online_retail' reads the UCI Online Retail files, layout='olist' the Olist folder",
    )


# =========================================================================== UCI Online Retail
def _detect_uci(header: Sequence[str]) -> _UciLayout | None:
    present = {h.strip() for h in header}
    for spec in _UCI_LAYOUTS:
        if set(spec.columns.values()) <= present:
            return spec
    return None


def _not_uci_error(header: list[str], where: str) -> SchemaError:
    present = {h.strip() for h in header}
    best = min(_UCI_LAYOUTS, key=lambda s: len(set(s.columns.values()) - present))
    missing = sorted(set(best.columns.values()) - present)
    close = suggest_column(missing[0], header)
    return SchemaError(
        f"{where}: not an Online Retail file; the {best.name!r} header lacks {', '.join(map(repr, missing))}",
        column=missing[0],
        hint=(f"did you mean {close!r}? " if close else "")
        + "use layout='generic' with a columns mapping for other files",
    )


def _uci_spec(
    header: list[str], uci: _UciLayout | None, where: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    if uci is None:  # pragma: no cover - guarded by _resolve_file_layout
        raise _not_uci_error(header, where)
    stripped = {h.strip(): h for h in header}
    return {canon: stripped[src] for canon, src in uci.columns.items()}, _UCI_DATE_FORMATS


# =========================================================================== Olist
def _olist_bundle(tables: dict[str, pd.DataFrame], folder: Path, statuses: Sequence[str] | None) -> Dataset:
    where = str(folder)
    orders = _require_columns(
        tables["orders"],
        ("order_id", "customer_id", "order_status", "order_purchase_timestamp"),
        "orders",
        where,
    )
    items = _require_columns(
        tables["order_items"], ("order_id", "product_id", "price", "freight_value"), "order_items", where
    )
    customers = _require_columns(
        tables["customers"], ("customer_id", "customer_unique_id"), "customers", where
    )
    orders = orders.assign(
        order_purchase_timestamp=_parse_dates(
            orders["order_purchase_timestamp"], "order_purchase_timestamp", None, f"orders ({where})"
        )
    )
    person = customers.drop_duplicates("customer_id").set_index("customer_id")["customer_unique_id"]
    orders = orders.assign(person_id=orders["customer_id"].map(person))
    status = orders["order_status"].astype("str").str.strip().str.lower()
    if statuses is None:
        counted = ~status.isin(OLIST_EXCLUDED_STATUSES)
    else:
        counted = status.isin([str(s).strip().lower() for s in statuses])
    counted_orders = orders.loc[counted]

    category = _olist_categories(tables.get("products"), tables.get("category_translation"), where)
    frame = _olist_lines(items, counted_orders, where)
    if category is not None:
        frame[CATEGORY] = frame[PRODUCT_ID].map(category)
    transactions = _canonical_transactions(frame, {c: c for c in frame.columns}, None, where)

    return Dataset(
        transactions=transactions,
        customers=_olist_customers(customers, orders),
        reviews=_olist_reviews(tables.get("order_reviews"), counted_orders, where),
        products=_olist_products(tables.get("products"), category, frame),
        source=where,
        layout="olist",
        details={"statuses_counted": sorted(status[counted].dropna().unique().tolist())},
    )


def _olist_lines(items: pd.DataFrame, counted_orders: pd.DataFrame, where: str) -> pd.DataFrame:
    """Order lines from Olist's order items: one line per order, product and price.

    Olist writes one item row per unit (``order_item_id`` 1, 2, ...); identical rows would look like
    exact duplicates to the cleaning, so they are summed: quantity = number of items, amount = their
    prices plus freight.
    """
    context = f"order_items ({where})"
    lines = items[["order_id", "product_id"]].assign(
        price=_parse_numbers(items["price"], "price", context),
        freight=_parse_numbers(items["freight_value"], "freight_value", context).fillna(0.0),
    )
    lines = lines.merge(
        counted_orders[["order_id", "person_id", "order_purchase_timestamp"]], on="order_id", how="inner"
    )
    grouped = lines.groupby(["order_id", "product_id", "price"], sort=False, dropna=False).agg(
        person_id=("person_id", "first"),
        order_date=("order_purchase_timestamp", "first"),
        quantity=("order_id", "size"),
        freight=("freight", "sum"),
    )
    grouped = grouped.reset_index()
    quantity = grouped["quantity"].astype("float64")
    return pd.DataFrame(
        {
            CUSTOMER_ID: grouped["person_id"],
            ORDER_ID: grouped["order_id"],
            ORDER_DATE: grouped["order_date"],
            PRODUCT_ID: grouped["product_id"],
            QUANTITY: quantity,
            UNIT_PRICE: grouped["price"],
            AMOUNT: quantity * grouped["price"] + grouped["freight"],
            COUNTRY: "Brazil",
        }
    )


def _olist_categories(
    products: pd.DataFrame | None, translation: pd.DataFrame | None, where: str
) -> pd.Series | None:
    """English category per product id (Portuguese where no translation exists), or None."""
    if products is None:
        warnings.warn(f"{where}: no olist_products_dataset file; transactions have no category", stacklevel=4)
        return None
    products = _require_columns(products, ("product_id", "product_category_name"), "products", where)
    names = products.drop_duplicates("product_id").set_index("product_id")["product_category_name"]
    if translation is None:
        warnings.warn(
            f"{where}: no product_category_name_translation file; categories stay in Portuguese",
            stacklevel=4,
        )
        return names.astype("str")
    translation = _require_columns(
        translation,
        ("product_category_name", "product_category_name_english"),
        "product_category_name_translation",
        where,
    )
    english = translation.drop_duplicates("product_category_name").set_index("product_category_name")[
        "product_category_name_english"
    ]
    return names.map(english).fillna(names).astype("str")


def _olist_customers(customers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the location given on their latest order."""
    located = customers.merge(
        orders[["customer_id", "order_purchase_timestamp"]], on="customer_id", how="left"
    ).sort_values(["order_purchase_timestamp", "customer_id"], kind="stable", na_position="first")
    latest = located.drop_duplicates("customer_unique_id", keep="last")
    out = pd.DataFrame({CUSTOMER_ID: _canonical_ids(latest["customer_unique_id"])})
    for source, target in (
        ("customer_state", "region"),
        ("customer_city", "city"),
        ("customer_zip_code_prefix", "zip_code_prefix"),
    ):
        if source in latest.columns:
            out[target] = latest[source].astype("str")
    return out.sort_values(CUSTOMER_ID, kind="stable").reset_index(drop=True)


def _olist_reviews(
    reviews: pd.DataFrame | None, counted_orders: pd.DataFrame, where: str
) -> pd.DataFrame | None:
    if reviews is None:
        return None
    reviews = _require_columns(
        reviews, ("order_id", "review_score", "review_creation_date"), "order_reviews", where
    )
    merged = reviews.merge(counted_orders[["order_id", "person_id"]], on="order_id", how="inner")
    return pd.DataFrame(
        {
            ORDER_ID: _canonical_ids(merged["order_id"]),
            CUSTOMER_ID: _canonical_ids(merged["person_id"]),
            "score": _parse_numbers(merged["review_score"], "review_score", f"order_reviews ({where})"),
            "review_date": _parse_dates(
                merged["review_creation_date"], "review_creation_date", None, f"order_reviews ({where})"
            ),
        }
    )


def _olist_products(
    products: pd.DataFrame | None, category: pd.Series | None, lines: pd.DataFrame
) -> pd.DataFrame | None:
    if products is None:
        return None
    product_ids = _canonical_ids(products["product_id"].drop_duplicates())
    list_price = lines.groupby(PRODUCT_ID)[UNIT_PRICE].median()
    out = pd.DataFrame({PRODUCT_ID: product_ids.to_numpy()})
    if category is not None:
        out[CATEGORY] = out[PRODUCT_ID].map(category).astype("str")
    out["list_price"] = out[PRODUCT_ID].map(list_price).astype("float64")
    return out


def _require_columns(table: pd.DataFrame, needed: Sequence[str], name: str, where: str) -> pd.DataFrame:
    for column in needed:
        if column not in table.columns:
            raise missing_column_error(column, table.columns, table=name, source=where)
    return table


# =========================================================================== canonical table
def _normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower())


def _complete_mapping(mapping: dict[str, str], header: Sequence[str], where: str) -> dict[str, str]:
    """Check the mapping against the header and add canonical columns the source names itself."""
    header = [str(h) for h in header]
    for canonical, source in mapping.items():
        if source not in header:
            close = suggest_column(source, header)
            raise SchemaError(
                f"{where}: column {source!r} (mapped to {canonical!r}) is not in the file",
                column=source,
                hint=(f"did you mean {close!r}? " if close else "") + f"columns: {', '.join(header[:20])}",
            )
    out = dict(mapping)
    by_normalised: dict[str, str] = {}
    for h in header:
        by_normalised.setdefault(_normalise_name(h), h)
    for canonical in TRANSACTION_COLUMNS:
        if canonical in out:
            continue
        if canonical in header:
            out[canonical] = canonical
        elif canonical in by_normalised and by_normalised[canonical] not in out.values():
            out[canonical] = by_normalised[canonical]
    _check_required(out, header, where)
    return out


def _check_required(mapping: dict[str, str], header: Sequence[str], where: str) -> None:
    for canonical in (CUSTOMER_ID, ORDER_DATE):
        if canonical not in mapping:
            raise _missing_required(canonical, header, where)
    if AMOUNT not in mapping and not (QUANTITY in mapping and UNIT_PRICE in mapping):
        raise _missing_required(AMOUNT, header, where, alternative=True)


def _missing_required(
    column: str, header: Sequence[str], where: str, alternative: bool = False
) -> SchemaError:
    error = missing_column_error(column, header, source=where)
    extra = []
    if alternative:
        extra.append("give 'amount', or both 'quantity' and 'unit_price'")
    if len(header) == 1 and re.search(r"[,;\t|]", str(header[0])):
        extra.append("the file was read as a single column: pass sep= with its delimiter")
    if extra:
        error = SchemaError(
            error.message, column=column, hint="; ".join([error.hint or "", *extra]).strip("; ")
        )
    return error


def _canonical_transactions(
    frame: pd.DataFrame,
    mapping: dict[str, str],
    date_formats: Sequence[str] | None,
    where: str,
) -> pd.DataFrame:
    """Rename, convert and validate: the canonical transaction table in canonical column order."""
    if len(frame) == 0:
        raise DataError(f"{where}: the table has a header but no rows")
    _check_required(mapping, list(map(str, frame.columns)), where)
    out: dict[str, pd.Series] = {}
    context = f"transactions ({where})"
    for canonical in TRANSACTION_COLUMNS:
        if canonical not in mapping:
            continue
        values = frame[mapping[canonical]]
        label = (
            canonical if mapping[canonical] == canonical else f"{canonical} (source {mapping[canonical]!r})"
        )
        if canonical in (CUSTOMER_ID, ORDER_ID, PRODUCT_ID):
            out[canonical] = _canonical_ids(values)
        elif canonical in STRING_COLUMNS:
            out[canonical] = _as_str(values)
        elif canonical in NUMERIC_COLUMNS:
            out[canonical] = _parse_numbers(values, label, context)
        elif canonical == ORDER_DATE:
            out[canonical] = _parse_dates(values, label, date_formats, context)
    if AMOUNT not in out:
        out[AMOUNT] = out[QUANTITY] * out[UNIT_PRICE]
    _check_no_missing(out, ORDER_DATE, context, mapping)
    _check_no_missing(out, AMOUNT, context, mapping)
    _check_isolated_dates(out[ORDER_DATE], context)
    _check_finite_amounts(out[AMOUNT], context)
    ordered = {c: out[c] for c in TRANSACTION_COLUMNS if c in out}
    table = pd.DataFrame(ordered)
    table.index = pd.RangeIndex(len(table))
    return validate_transactions(table)


#: A date is "isolated" when it lies this many times the span of the central 98% of the dates (at
#: least :data:`_ISOLATED_MIN_GAP`) before the 1st or after the 99th percentile, and such dates are
#: at most 1% of the lines: a typing error (1900, 2200) rather than part of the data.
_ISOLATED_SPANS = 2.0
_ISOLATED_MIN_GAP = pd.Timedelta(days=730)
_ISOLATED_MAX_SHARE = 0.01


def _check_isolated_dates(dates: pd.Series, context: str) -> None:
    """Refuse a few dates far from all the others (typing errors), naming the rows.

    segkit refuses rather than drops them: a wrong year moves a customer's first or last purchase
    by decades, and only the data owner knows the right date. Fix or remove those lines.
    """
    if len(dates) < 20:
        return
    low, high = dates.quantile([0.01, 0.99])
    gap = max((high - low) * _ISOLATED_SPANS, _ISOLATED_MIN_GAP)
    isolated = (dates < low - gap) | (dates > high + gap)
    n_isolated = int(isolated.sum())
    if n_isolated == 0 or n_isolated > _ISOLATED_MAX_SHARE * len(dates):
        return
    rows = np.flatnonzero(isolated.to_numpy())
    raise DataError(
        f"{context}: order_date has {n_isolated} date(s) far from all the others "
        f"(the dates run {low:%Y-%m-%d} to {high:%Y-%m-%d}): typing errors?",
        column=ORDER_DATE,
        n_bad=n_isolated,
        examples=[f"data row {i + 1}: {dates.iloc[i]:%Y-%m-%d}" for i in rows[:5]],
        hint="fix those dates or remove those lines; segkit does not guess the right year",
    )


def _check_finite_amounts(amounts: pd.Series, context: str) -> None:
    """Refuse infinite amounts and amounts too large to add up (> 1e15 in the source currency)."""
    bad = ~np.isfinite(amounts.to_numpy(dtype="float64")) | (amounts.abs() > _MAX_AMOUNT).to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{context}: amount holds infinite or absurdly large values (above {_MAX_AMOUNT:.0e})",
            column=AMOUNT,
            n_bad=int(bad.sum()),
            examples=[f"data row {i + 1}: {amounts.iloc[i]!r}" for i in rows[:5]],
            hint="fix or remove those lines",
        )


#: Largest absolute line amount accepted (sums of a few million such lines stay exact in float64).
_MAX_AMOUNT = 1e15


def _check_no_missing(out: dict[str, pd.Series], column: str, context: str, mapping: dict[str, str]) -> None:
    missing = out[column].isna()
    if not missing.any():
        return
    sources = mapping.get(column) or f"{mapping.get(QUANTITY)} x {mapping.get(UNIT_PRICE)}"
    rows = missing[missing].index
    raise DataError(
        f"{context}: {column} (source {sources!r}) is missing on some rows",
        column=column,
        n_bad=int(len(rows)),
        examples=[f"data row {i + 1}" for i in rows[:5]],
        hint="fill or drop those rows; segkit needs a date and an amount on every line",
    )


def _as_str(values: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("str")
    return values.astype("str").where(values.notna(), None).astype("str")


def _canonical_ids(values: pd.Series) -> pd.Series:
    """Ids as pandas strings, computed once per distinct value (fast on long columns).

    Floats and text such as ``17850.0`` lose the trailing ``.0`` only when every value is integral.
    """
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        return normalize_id(values).set_axis(values.index)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    unique_ids = normalize_id(pd.Series(uniques, dtype="object" if uniques.dtype == object else None))
    present = unique_ids.dropna()
    if len(present) and present.str.fullmatch(_FLOAT_INTEGRAL_TEXT).all():
        unique_ids = unique_ids.str.replace(r"\.0*$", "", regex=True)
    taken = unique_ids.astype("str").array.take(codes, allow_fill=True)
    return pd.Series(taken, index=values.index, dtype="str")


def _parse_numbers(values: pd.Series, column: str, context: str) -> pd.Series:
    """Float64 values; text that is not a number raises :class:`DataError` naming the column."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    text = values.astype("str").str.strip()
    text = text.mask(text == "")
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = text.notna() & numbers.isna()
    if bad.any():
        raise bad_rows_error(
            DataError, f"{context}: column {column} holds values that are not numbers", column, text[bad]
        )
    return numbers


def _parse_dates(
    values: pd.Series, column: str, date_formats: Sequence[str] | None, context: str
) -> pd.Series:
    """Naive ``datetime64[ns]``; every value must parse with one format, else :class:`DataError`.

    ``date_formats``: candidate strftime formats (the first that parses a sample of the values is
    used for all); None means ISO 8601, then the format pandas guesses from the first value.
    Parsing runs once per distinct value.
    """
    try:
        return _parse_date_values(values, column, date_formats, context)
    except _OutOfRangeDates as exc:
        raise bad_rows_error(
            DataError,
            f"{context}: column {column} holds dates outside the range segkit handles "
            "(1677-09-22 to 2262-04-11): typing errors?",
            column,
            exc.values.astype("str"),
        ) from None


def _parse_date_values(
    values: pd.Series, column: str, date_formats: Sequence[str] | None, context: str
) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):  # local wall time, as the schema says
        return _nanoseconds(values.dt.tz_localize(None), values)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _nanoseconds(values, values)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        if not date_formats:
            raise bad_rows_error(
                DataError,
                f"{context}: column {column} holds numbers, not dates; pass date_format= "
                "(e.g. '%Y%m%d' for 20240131)",
                column,
                values.dropna(),
            )
        values = normalize_id(values.astype("float64"))
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="object").map(_date_text)
    date_formats = _day_month_order(text, date_formats, column, context)
    parsed = _parse_unique_dates(text, date_formats)
    bad_unique = parsed.isna() & text.notna()
    if bad_unique.any():
        bad_rows = np.isin(codes, np.flatnonzero(bad_unique.to_numpy()))
        hint = "pass date_format= with the strftime format of the column, e.g. '%d/%m/%Y %H:%M'"
        error = bad_rows_error(
            DataError, f"{context}: column {column} holds values that are not dates", column, values[bad_rows]
        )
        error.hint = hint
        raise DataError(error.message, column=column, n_bad=error.n_bad, examples=error.examples, hint=hint)
    stamps = parsed.to_numpy(dtype="datetime64[ns]")
    result = np.full(len(codes), np.datetime64("NaT"), dtype="datetime64[ns]")
    valid = codes >= 0
    result[valid] = stamps[codes[valid]]
    return pd.Series(result, index=values.index, dtype="datetime64[ns]")


_SLASHED_DATE = re.compile(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def _day_month_order(
    text: pd.Series, date_formats: Sequence[str] | None, column: str, context: str
) -> Sequence[str] | None:
    """Settle DD/MM against MM/DD from the values, or refuse to guess.

    Only when no single format was given and every value is written ``a/b/yyyy`` (or with ``.``,
    ``-``): a first part above 12 means day first, a second part above 12 month first; when every
    part is <= 12 both readings are valid and :class:`DataError` asks for ``date_format`` (a layout's
    own candidates, e.g. the UCI files published month first, keep their order).
    Returns the candidate formats to try (day-first ones dropped or kept accordingly).
    """
    if date_formats is not None and len(date_formats) == 1:
        return date_formats
    present = text.dropna().astype("str")
    if present.empty:
        return date_formats
    parts = present.str.extract(_SLASHED_DATE)
    if parts.isna().any(axis=None):
        return date_formats
    first, second = parts[0].astype(int), parts[1].astype(int)
    if (first > 12).any():
        order = "day"
    elif (second > 12).any():
        order = "month"
    elif date_formats is not None:  # a layout's candidates, in its published order (UCI: month first)
        return date_formats
    else:
        raise DataError(
            f"{context}: column {column} holds dates such as {present.iloc[0]!r} that read both as "
            "day/month and as month/day (no day above 12); segkit does not guess",
            column=column,
            examples=present.head(3).tolist(),
            hint="pass date_format='%d/%m/%Y' (day first) or date_format='%m/%d/%Y' (month first), "
            "with the time part if any, e.g. '%d/%m/%Y %H:%M'",
        )
    if date_formats is None:
        from pandas.tseries.api import guess_datetime_format

        guessed = guess_datetime_format(str(present.iloc[0]), dayfirst=order == "day")
        return (guessed,) if guessed else None
    day_first = [f for f in date_formats if f.startswith("%d")]
    month_first = [f for f in date_formats if f.startswith("%m")]
    others = [f for f in date_formats if f not in day_first and f not in month_first]
    kept = day_first if order == "day" else month_first
    return tuple(kept + others) or date_formats


def _date_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _parse_unique_dates(text: pd.Series, date_formats: Sequence[str] | None) -> pd.Series:
    present = text.dropna()
    if present.empty:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if date_formats and len(date_formats) == 1:
        return _to_datetime(text, date_formats[0])
    if date_formats:
        sample = pd.concat([present.head(500), present.tail(500)])
        for fmt in date_formats:
            if _to_datetime(sample, fmt).notna().all():
                return _to_datetime(text, fmt)
        return _to_datetime(text, date_formats[0])
    best = _to_datetime(text, "ISO8601")
    if best.notna().sum() == len(present):
        return best
    from pandas.tseries.api import guess_datetime_format

    guessed = guess_datetime_format(str(present.iloc[0]))
    if guessed:
        candidate = _to_datetime(text, guessed)
        if candidate.notna().sum() > best.notna().sum():
            best = candidate
    return best


class _OutOfRangeDates(Exception):
    """Dates that parse but lie outside pandas' nanosecond range (1677-09-22 .. 2262-04-11)."""

    def __init__(self, values: pd.Series) -> None:
        super().__init__("dates out of range")
        self.values = values


_UTC_OFFSET = re.compile(r"(\d:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


def _to_datetime(text: pd.Series, fmt: str) -> pd.Series:
    """Parse with one format; time-zone offsets are dropped: the local wall time is kept (schema)."""
    present = text.dropna().astype("str")
    if any(_UTC_OFFSET.search(value) for value in present):  # keep each value's local time
        text = text.where(text.isna(), text.astype("str").str.replace(_UTC_OFFSET, r"\1", regex=True))
        fmt = fmt.replace("%z", "").replace("%Z", "").strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return _nanoseconds(parsed, text)


def _nanoseconds(parsed: pd.Series, shown: pd.Series) -> pd.Series:
    """``parsed`` as ``datetime64[ns]``; raises :class:`_OutOfRangeDates` (with ``shown`` values) when it cannot."""
    out_of_range = parsed.notna() & ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max))
    if out_of_range.any():
        raise _OutOfRangeDates(shown[out_of_range])
    return parsed.astype("datetime64[ns]")


# =========================================================================== files
def _file_kind(path: Path) -> str:
    if path.is_dir():
        if _is_parquet_dataset(path):
            return "parquet"
        raise DataError(f"{path}: is a folder, not a table file")
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in _PARQUET_SUFFIXES:
        return "parquet"
    if last in _EXCEL_SUFFIXES:
        return "excel"
    if last in _TEXT_SUFFIXES or (
        last in _COMPRESSED_SUFFIXES and len(suffixes) > 1 and suffixes[-2] in _TEXT_SUFFIXES
    ):
        return "text"
    if last == ".xls":
        raise DataError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or CSV")
    raise DataError(
        f"{path}: unsupported file type {last or '(no suffix)'!r}",
        hint="segkit reads .csv/.tsv/.txt (optionally .gz), .parquet and .xlsx tables",
    )


def _is_parquet_dataset(path: Path) -> bool:
    """A folder of Parquet parts (``x.parquet/``, or only ``*.parquet`` files / ``key=value`` folders)."""
    if not path.is_dir():
        return False
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        return True
    entries = [p for p in path.iterdir() if not p.name.startswith((".", "_"))]
    known = {"transactions", "truth", *SIDE_TABLES}
    if not entries or any(p.name.split(".")[0] in known or p.name.startswith("olist_") for p in entries):
        return False
    return all(p.suffix.lower() == ".parquet" or (p.is_dir() and "=" in p.name) for p in entries)


def find_table(folder: str | os.PathLike[str], stem: str) -> Path | None:
    """The file (or Parquet folder) named ``stem.<supported suffix>`` in ``folder``, or None.

    When several formats hold the table, Parquet wins over text over XLSX (with a warning).
    """
    folder = Path(folder)
    candidates = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        name = path.name.lower()
        for rank, suffix in enumerate(_FORMAT_PREFERENCE):
            if name in (f"{stem}{suffix}", f"{stem}{suffix}.gz"):
                candidates.append((rank, path))
        if path.is_dir() and name == stem and any(path.rglob("*.parquet")):
            candidates.append((0, path))
    if not candidates:
        return None
    candidates.sort(key=lambda item: (item[0], item[1].name))
    if len(candidates) > 1:
        warnings.warn(
            f"{folder}: several files hold {stem!r} ({', '.join(p.name for _, p in candidates)}); "
            f"reading {candidates[0][1].name}",
            stacklevel=4,
        )
    return candidates[0][1]


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def _read_parquet(path: Path, usecols: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(usecols) if usecols else None)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet table ({_first_line(exc)})") from None
    frame = table.to_pandas(date_as_object=False)
    if frame.columns.empty:
        raise DataError(f"{path}: the Parquet file has no columns")
    return frame


def _read_excel(
    path: Path, sheet: str | int | None, usecols: Sequence[str] | None, header: bool = True
) -> pd.DataFrame:
    import zipfile

    try:
        sheets = pd.read_excel(
            path, sheet_name=sheet, engine="openpyxl", header=0 if header else None, dtype=object
        )
    except (KeyError, IndexError) as exc:
        raise ParameterError(f"{path}: no sheet {sheet!r} ({_first_line(exc)})", column="sheet") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if sheet is not None and ("not found" in str(exc) or "invalid" in str(exc)):
            raise ParameterError(f"{path}: no sheet {sheet!r}", column="sheet") from None
        raise DataError(f"{path}: not a readable XLSX workbook ({_first_line(exc)})") from None
    if isinstance(sheets, pd.DataFrame):
        frame = sheets
    else:
        filled = {name: df for name, df in sheets.items() if len(df.columns)}  # skip blank sheets
        if not filled:
            raise DataError(f"{path}: the workbook has no data")
        frames = list(filled.values())
        first = list(map(str, frames[0].columns))
        for name, df in filled.items():
            if list(map(str, df.columns)) != first:
                raise SchemaError(
                    f"{path}: sheets have different columns (sheet {name!r}); pass sheet= to read one",
                    column=str(name),
                    hint=f"sheets: {', '.join(map(str, filled))}",
                )
        frame = pd.concat(frames, ignore_index=True)
    # cells as stored (dtype=object: a text id "00123" beside numeric ids is not turned into 123),
    # then columns of one kind (all numbers, all dates) get their dtype back
    frame = frame.infer_objects()
    frame.columns = [str(c) for c in frame.columns]
    if usecols:
        frame = frame[list(usecols)]
    return frame


def _decode_head(path: Path, encoding: str | None, size: int = 65536) -> str:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as handle:
        head = handle.read(size)
    if b"\x00" in head:
        raise DataError(f"{path}: not a text table (the file holds binary data)")
    if encoding:
        return head.decode(encoding, errors="replace")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multi-byte character cut by the read size
            return head[: exc.start].decode("utf-8-sig")
        return head.decode("latin-1")


def _sniff_sep(path: Path, encoding: str | None) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if ".tsv" in suffixes or ".tab" in suffixes:
        return "\t"
    lines = _decode_head(path, encoding).splitlines()
    first = lines[0] if lines else ""
    counts = {sep: first.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda s: counts[s])
    if counts[best] > 0:
        return best
    return r"\s+" if len(first.split()) > 1 else ","


def _read_text_header(path: Path, sep: str, encoding: str | None, header: bool = True) -> list[str]:
    """The column names of a text file; without a header, ``"0"``, ``"1"``... for the first line's fields."""
    lines = _decode_head(path, encoding).splitlines()
    if not lines or not lines[0].strip():
        raise DataError(f"{path}: the file is empty or its first line is blank")
    if len(sep) == 1:
        names = [h.strip() for h in next(csv.reader([lines[0]], delimiter=sep))]
    else:
        names = [h.strip().strip('"') for h in re.split(sep, lines[0].strip())]
    return names if header else [str(i) for i in range(len(names))]


def _read_text(
    path: Path,
    *,
    sep: str | None,
    encoding: str | None,
    string_columns: Sequence[str],
    usecols: Sequence[str] | None,
    header: bool = True,
) -> pd.DataFrame:
    """Read a delimited text file: pyarrow for one-character delimiters, pandas otherwise."""
    sep = sep or _sniff_sep(path, encoding)
    names = _read_text_header(path, sep, encoding, header)
    strings = [c for c in string_columns if c in names]
    encodings = [encoding] if encoding else ["utf-8", "latin-1"]
    last_error: Exception | None = None
    for position, enc in enumerate(encodings):
        try:
            frame = _read_text_once(path, sep, enc, strings, usecols, None if header else names)
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except SegkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure means "not a table"
            raise DataError(f"{path}: not a readable table ({_first_line(exc)})") from None
        if position > 0:
            warnings.warn(f"{path}: not valid UTF-8; read as {enc}", UnicodeWarning, stacklevel=3)
        if frame.empty and len(frame.columns) <= 1 and not names:
            raise DataError(f"{path}: the file is empty")
        return frame
    raise DataError(f"{path}: could not decode the file ({_first_line(last_error)})")


def _read_text_once(
    path: Path,
    sep: str,
    encoding: str,
    strings: Sequence[str],
    usecols: Sequence[str] | None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One read with one encoding; ``names`` given means the file has no header line."""
    if len(sep) == 1:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        try:
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(
                    encoding=encoding if encoding != "utf-8" else "utf8",
                    column_names=list(names) if names is not None else None,
                ),
                parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(usecols) if usecols else None,
                    column_types={c: pa.string() for c in strings},
                    strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                raise UnicodeDecodeError(encoding, b"", 0, 1, "invalid UTF-8") from None
            # pyarrow is strict (e.g. newlines inside quoted values): let pandas try
            return _read_text_pandas(path, sep, encoding, strings, usecols, names)
        if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
            raise UnicodeDecodeError(encoding, b"", 0, 1, "invalid UTF-8")  # pyarrow infers binary
        return table.to_pandas(date_as_object=False)
    return _read_text_pandas(path, sep, encoding, strings, usecols, names)


def _read_text_pandas(
    path: Path,
    sep: str,
    encoding: str,
    strings: Sequence[str],
    usecols: Sequence[str] | None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    engine = "c" if len(sep) == 1 or sep == r"\s+" else "python"
    return pd.read_csv(
        path,
        sep=sep,
        encoding="utf-8-sig" if encoding == "utf-8" else encoding,
        dtype={c: "str" for c in strings} or None,
        usecols=list(usecols) if usecols else None,
        engine=engine,
        header=None if names is not None else "infer",
        names=list(names) if names is not None else None,
    )


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


# =========================================================================== atomic writes
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
