"""Read a source through the layout registry: dispatch, and tables read through a layout's mapping.

:func:`read_dataset` resolves ``layout`` in :data:`~segkit.io.registry.LAYOUTS` (``"auto"``: the
layouts' ``detect``/``detect_folder``, fallback last), then reads a DataFrame or a table file
through the layout's ``map_columns`` (:func:`read_frame_source`, :func:`read_file_source`: a text
file's header is read first, then only the mapped columns, ids as text) or hands a folder to the
layout's ``read_folder`` (:func:`read_folder_source`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.io.canonical import canonical_transactions
from segkit.io.dataset import Dataset
from segkit.io.formats import (
    check_not_empty,
    check_unique_names,
    file_kind,
    is_parquet_dataset,
    read_header,
    read_table,
    read_text,
    read_text_header,
    single_table,
    sniff_sep,
)
from segkit.io.registry import AUTO, LAYOUTS, Layout, ReadOptions, check_layout
from segkit.schema import ORDER_DATE, STRING_COLUMNS, DataError, ParameterError

__all__ = [
    "TablePlan",
    "detect_layout",
    "plan_columns",
    "plan_table",
    "read_dataset",
    "read_file_source",
    "read_folder_source",
    "read_frame_source",
    "read_transactions",
    "text_columns",
]


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
        ``"auto"`` (default), ``"generic"``, ``"online_retail"`` (both UCI layouts), ``"olist"`` or
        any other layout of :data:`~segkit.io.registry.LAYOUTS` (an alias such as
        ``"online_retail_ii"`` is accepted). ``"auto"`` tries each registered layout's ``detect``
        on the header (``detect_folder`` on a folder), the fallback (``generic``) last.
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
    chosen = _layout_or_auto(layout)
    options = ReadOptions.parse(
        columns=columns, sep=sep, date_format=date_format, encoding=encoding, sheet=sheet, header=header
    )
    if isinstance(source, pd.DataFrame):
        if not header:
            source = source.set_axis([str(i) for i in range(source.shape[1])], axis=1)
        return read_frame_source(source, chosen, options)
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder", column=None)
    if path.is_dir() and not is_parquet_dataset(path):
        return read_folder_source(path, chosen, options)
    _check_reads_tables(chosen, source)
    return read_file_source(path, chosen, options)


def _layout_or_auto(layout: str) -> Layout | None:
    """The registered layout named ``layout`` (or an alias), None for ``"auto"``."""
    name = check_layout(layout)
    return None if name == AUTO else LAYOUTS[name]


def _check_reads_tables(layout: Layout | None, source: object) -> None:
    if layout is not None and not layout.reads_tables:
        raise ParameterError(
            f"{source}: layout {layout.name!r} reads {layout.description}, not a single file", column="layout"
        )


def read_transactions(
    source: str | os.PathLike[str] | pd.DataFrame, layout: str = "auto", **reader_options: Any
) -> pd.DataFrame:
    """Read a source and return its canonical transaction table: ``read_dataset(...).transactions``.

    Parameters are those of :func:`read_dataset` (``columns``, ``sep``, ``date_format``,
    ``encoding``, ``sheet``, ``header``: by keyword).
    """
    return read_dataset(source, layout=layout, **reader_options).transactions


read_transactions.__signature__ = inspect.signature(read_dataset).replace(  # type: ignore[attr-defined]
    return_annotation="pd.DataFrame"
)


def read_frame_source(frame: pd.DataFrame, layout: Layout | None, options: ReadOptions) -> Dataset:
    """Read a DataFrame through ``layout`` (None: recognised from its column names)."""
    if layout is not None and not layout.reads_tables:
        raise ParameterError(f"layout {layout.name!r} reads a folder, not a DataFrame", column="layout")
    header = [str(c) for c in frame.columns]
    check_unique_names(header, "DataFrame")
    layout, mapping, date_formats = plan_columns(layout, header, options, "DataFrame")
    transactions = canonical_transactions(frame, mapping, date_formats, "DataFrame")
    return Dataset(transactions=transactions, source="DataFrame", layout=layout.name)


def read_file_source(path: Path, layout: Layout | None, options: ReadOptions) -> Dataset:
    """Read one table file (or Parquet folder) through ``layout`` (None: recognised from its header).

    A text file's header is read first; then only the mapped columns are read, ids and dates as text.
    """
    kind = file_kind(path)
    sep, encoding, header = options.sep, options.encoding, options.header
    if kind == "text":
        check_not_empty(path)
        sep = sep or sniff_sep(path, encoding)
        names = read_text_header(path, sep, encoding, header)
        frame = None
    else:
        frame = read_table(path, sheet=options.sheet, header=header)
        names = [str(c) for c in frame.columns]
    layout, mapping, date_formats = plan_columns(layout, names, options, str(path))
    if frame is None:
        frame = read_text(
            path,
            sep=sep,
            encoding=encoding,
            string_columns=text_columns(mapping),
            usecols=sorted(set(mapping.values())),
            header=header,
        )
    transactions = canonical_transactions(frame, mapping, date_formats, str(path))
    return Dataset(transactions=transactions, source=str(path), layout=layout.name)


def text_columns(mapping: Mapping[str, str]) -> list[str]:
    """Source columns to read as text: ids and text columns (leading zeros kept), then ``order_date``
    (parsed by segkit: local time, day/month order checked)."""
    return [mapping[c] for c in STRING_COLUMNS if c in mapping] + [mapping[ORDER_DATE]]


@dataclass(frozen=True)
class TablePlan:
    """How one table file becomes canonical transactions, known from its header alone.

    Attributes
    ----------
    layout
        The table layout that reads it (given, or recognised from the header).
    header
        The source's column names (``"0"``, ``"1"``... without a header line).
    columns
        Canonical -> source column mapping (only the mapped source columns are read).
    date_formats
        strftime formats tried on ``order_date`` in order (None: ISO 8601, then the first value's).
    text_columns
        Source columns read as text (ids, text columns, ``order_date``).
    """

    layout: Layout
    header: list[str]
    columns: dict[str, str]
    date_formats: tuple[str, ...] | None
    text_columns: list[str]


def plan_table(path: str | os.PathLike[str], layout: str = "auto", **reader_options: Any) -> TablePlan:
    """The :class:`TablePlan` of one table file (or partitioned Parquet folder), reading no rows.

    For engines that read the rows themselves (DuckDB, Spark): the same layout, mapping and date
    formats as :func:`read_dataset` would use. ``reader_options`` as in :func:`read_dataset`.

    Raises
    ------
    ParameterError
        When ``layout`` reads only folders, or no layout recognises the header.
    """
    options = ReadOptions.parse(**reader_options)
    chosen = _layout_or_auto(layout)
    _check_reads_tables(chosen, path)
    path = Path(path)
    names = read_header(
        path, sep=options.sep, encoding=options.encoding, sheet=options.sheet, header=options.header
    )
    chosen, mapping, date_formats = plan_columns(chosen, names, options, str(path))
    return TablePlan(chosen, names, mapping, date_formats, text_columns(mapping))


def plan_columns(
    layout: Layout | None, header: list[str], options: ReadOptions, where: str
) -> tuple[Layout, dict[str, str], tuple[str, ...] | None]:
    """Resolve the layout from the header; return it, the full canonical -> source mapping and date formats.

    ``layout`` None means auto detection (:func:`detect_layout`). An explicit ``date_format`` wins
    over the layout's own candidates.
    """
    if layout is None:
        layout = detect_layout(header, options.columns, where)
    if layout.map_columns is None:  # pragma: no cover - folder layouts are refused before
        raise ParameterError(f"{where}: layout {layout.name!r} does not read single tables", column="layout")
    explicit = (options.date_format,) if options.date_format else None
    return layout, layout.map_columns(header, options.columns, where), explicit or layout.date_formats


def detect_layout(header: Sequence[str], mapping: Mapping[str, str], where: str) -> Layout:
    """The table layout of a table with ``header``: the first registered layout whose ``detect``
    claims it, else the fallback when it claims it or a ``columns`` mapping was given.

    Raises
    ------
    ParameterError
        When no layout recognises the header (the hint says how to map the columns).
    """
    for layout in LAYOUTS.detection_order():
        if not layout.reads_tables:
            continue
        if (layout.detect is not None and layout.detect(header)) or (layout.fallback and mapping):
            return layout
    others = [lay for lay in LAYOUTS.detection_order() if not lay.fallback]
    fallback = next((lay.name for lay in LAYOUTS.detection_order() if lay.fallback), "generic")
    raise ParameterError(
        f"{where}: could not recognise the layout (columns: {', '.join(header[:12])})",
        column="layout",
        hint=f"pass layout={fallback!r} and a mapping, e.g. columns={{'customer_id': 'cust', "
        "'order_date': 'date', 'amount': 'value'} (or 'quantity' and 'unit_price' instead of 'amount'); "
        + ", ".join(f"layout={lay.name!r} reads {lay.description}" for lay in others),
    )


def read_folder_source(folder: Path, layout: Layout | None, options: ReadOptions) -> Dataset:
    """Read a folder: by the layout that claims it (``detect_folder``), else its only table file.

    An explicit layout that reads only folders always reads it; one that reads both (``generic``)
    reads it when its ``detect_folder`` claims it; a table layout reads the folder's only table.
    """
    if layout is not None:
        claimed = layout.read_folder is not None and (
            not layout.reads_tables or (layout.detect_folder is not None and layout.detect_folder(folder))
        )
        if claimed:
            return layout.read_folder(folder, options)
    else:
        for candidate in LAYOUTS.detection_order():
            if (
                candidate.read_folder is not None
                and candidate.detect_folder
                and candidate.detect_folder(folder)
            ):
                return candidate.read_folder(folder, options)
    single = single_table(folder)
    if single is not None:  # e.g. a folder holding one Online Retail file
        return read_file_source(single, layout, options)
    raise DataError(
        f"{folder}: folder holds no transactions.* table, no Olist files and not exactly one table file",
        hint="a generic folder holds transactions.csv|parquet|xlsx (plus optional customers.*, "
        "sessions.*, reviews.*, products.*); an Olist folder holds the olist_*.csv files; "
        "or pass the table file itself",
    )
