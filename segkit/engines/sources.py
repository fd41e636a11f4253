"""Where a SQL engine reads a source: the files, their kind, the layout's column mapping and date formats.

The layout logic is :mod:`segkit.io`'s (header detection, the UCI layouts, ``columns`` mappings,
separator sniffing); this module only resolves paths (files, folders of Parquet parts with
``key=value`` partitions, globs, generic folders) and writes the SQL that turns the raw columns into
the canonical ones (see :meth:`SourcePlan.canonical_select`), for DuckDB and Spark alike.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from segkit.engines.sql import Dialect
from segkit.io import LAYOUTS, formats, plan_table
from segkit.io.layouts.online_retail import UCI_DATE_FORMATS
from segkit.io.registry import AUTO, check_layout
from segkit.schema import (
    AMOUNT,
    CUSTOMER_ID,
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
)

__all__ = ["ReadOptions", "SourcePlan", "plan_source", "source_bytes", "id_expression", "WHITESPACE"]

WHITESPACE = r"\s+"
_GLOB_CHARS = set("*?[")
#: Python strftime directives and their Java (Spark) spelling.
_JAVA_DATE = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%y": "yy"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source: the parameters of :func:`segkit.read_dataset`.

    Attributes
    ----------
    layout, columns, sep, date_format, encoding, header
        As in :func:`segkit.read_dataset` (XLSX sheets are read by the pandas engine only).
    """

    layout: str = "auto"
    columns: Mapping[str, str] | str | None = None
    sep: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    header: bool = True


@dataclass
class SourcePlan:
    """A resolved source: what the engine reads and how its columns map to the canonical ones.

    Attributes
    ----------
    kind
        ``"parquet"`` or ``"text"``.
    files
        The files read, sorted (input order is file order, then row order).
    hive
        True when the Parquet parts sit in ``key=value`` folders (partition columns are read too).
    layout
        Resolved layout (``generic`` or ``online_retail``).
    mapping
        Canonical name -> source column.
    date_formats
        strftime formats tried on text dates (None: ISO 8601, then the UCI formats).
    sep
        Text delimiter (one character, or :data:`WHITESPACE` for runs of blanks).
    header
        False when the first text line is data (columns ``"0"``, ``"1"``...).
    header_names
        Source column names, in file order.
    side_tables
        Side tables of a generic folder (name -> path).
    source
        The source as given.
    sql_select
        The layout's own SQL (:attr:`segkit.io.Layout.sql_select`), called as
        ``sql_select(plan=..., dialect=..., scalar=..., source_types=...)`` instead of
        :meth:`canonical_select`'s derivation from the mapping; None for the built-in layouts.
    """

    kind: str
    files: list[str]
    hive: bool
    layout: str
    mapping: dict[str, str]
    date_formats: tuple[str, ...] | None
    sep: str | None
    header: bool
    header_names: list[str]
    encoding: str | None = None
    side_tables: dict[str, Path] = field(default_factory=dict)
    source: str = ""
    sql_select: Callable[..., str] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Canonical columns of the table, in canonical order (``amount`` always)."""
        return tuple(c for c in TRANSACTION_COLUMNS if c in self.mapping or c == AMOUNT)

    def canonical_select(
        self, dialect: Dialect, scalar: Callable[[str], object], source_types: Mapping[str, str]
    ) -> str:
        """SQL from ``raw`` (source columns, ``_row``) to the canonical table ``tx`` (plus ``_row``).

        Parameters
        ----------
        dialect
            The engine's dialect.
        scalar
            Runs a query and returns its single value (used to choose id and date conversions).
        source_types
            Lower-case type name of each source column (``"string"`` for text files).
        """
        if self.sql_select is not None:
            return self.sql_select(plan=self, dialect=dialect, scalar=scalar, source_types=source_types)
        q = dialect.ident
        typed = ["_row"]
        for canonical in self.columns:
            if canonical not in self.mapping:  # the amount, computed below
                continue
            column = q(self.mapping[canonical])
            kind = source_types.get(self.mapping[canonical], "string")
            if canonical in (CUSTOMER_ID, ORDER_ID, PRODUCT_ID):
                expression = id_expression(column, kind, dialect, scalar)
            elif canonical in STRING_COLUMNS:
                expression = f"CAST({column} AS STRING)"
            elif canonical in NUMERIC_COLUMNS:
                text = _is_text(kind)
                expression = f"CAST({f'nullif(trim({column}), {chr(39) * 2})' if text else column} AS DOUBLE)"
            else:  # order_date
                expression = self._date_expression(column, kind, dialect, scalar)
            typed.append(f"{expression} AS {q(canonical)}")
        select = f"SELECT {', '.join(typed)} FROM raw"
        if AMOUNT in self.mapping:
            return select
        names = ", ".join(["_row"] + [q(c) for c in self.columns if c != AMOUNT])
        return f"SELECT {names}, {q(QUANTITY)} * {q(UNIT_PRICE)} AS {q(AMOUNT)} FROM ({select}) AS typed"

    def _date_expression(
        self, column: str, kind: str, dialect: Dialect, scalar: Callable[[str], object]
    ) -> str:
        if kind.startswith("timestamp") and dialect.name == "duckdb":
            return column  # keeps nanoseconds
        if kind == "bigint" and dialect.name == "spark":  # Parquet nanoseconds read as longs
            return f"timestamp_micros({dialect.int_div(column, '1000')})"
        if not _is_text(kind):
            return f"CAST({column} AS TIMESTAMP)"
        text = f"nullif(trim({column}), '')"
        candidates = [self._parse_date(text, fmt, dialect) for fmt in (self.date_formats or ())]
        if self.date_formats is None:
            candidates = [f"try_cast({text} AS TIMESTAMP)"] + [
                self._parse_date(text, fmt, dialect) for fmt in UCI_DATE_FORMATS
            ]
        for candidate in candidates:
            failures = scalar(f"SELECT count(*) FROM raw WHERE {text} IS NOT NULL AND {candidate} IS NULL")
            if int(failures) == 0:
                return candidate
        raise DataError(
            f"transactions ({self.source}): {ORDER_DATE} (source {column}) does not parse with one format "
            f"({', '.join(self.date_formats or ('ISO 8601',) + UCI_DATE_FORMATS)})",
            column=ORDER_DATE,
            hint="pass date_format (e.g. '%d/%m/%Y %H:%M'), or read the file with engine='pandas'",
        )

    @staticmethod
    def _parse_date(text: str, fmt: str, dialect: Dialect) -> str:
        if dialect.name == "duckdb":
            return f"try_strptime({text}, {dialect.literal(fmt)})"
        java = fmt
        for directive, spelled in _JAVA_DATE.items():
            java = java.replace(directive, spelled)
        return f"try_to_timestamp({text}, {dialect.literal(java)})"


def _is_text(kind: str) -> bool:
    return kind in ("string", "varchar", "large_string", "utf8")


def id_expression(
    column: str, kind: str, dialect: Dialect, scalar: Callable[[str], object], table: str = "raw"
) -> str:
    """Ids as text, as :func:`segkit.schema.normalize_id` spells them (``table``: where they are)."""
    if kind in ("double", "float", "float64", "float32", "halffloat"):
        integral = scalar(
            f"SELECT count(*) FROM raw WHERE {column} IS NOT NULL AND {column} <> floor({column})"
        )
        if int(integral) == 0:
            return f"CAST(CAST({column} AS BIGINT) AS STRING)"
        return f"CAST({column} AS STRING)"
    if not _is_text(kind):
        return f"CAST({column} AS STRING)"
    text = f"nullif(trim(CAST({column} AS STRING)), '')"
    # integral ids written with decimals ("12.0") lose them, as in normalize_id; look-ups that stop at
    # their first row: without a "." anywhere (one scan, no regular expression) nothing changes
    with_dot = scalar(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {column} LIKE '%.%' LIMIT 1) AS d")
    if not int(with_dot):
        return text
    not_integral = scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {text} IS NOT NULL AND NOT "
        f"{dialect.regex(text, r'^[+-]?[0-9]+[.]0*$')} LIMIT 1) AS n"
    )
    if int(not_integral) == 0:
        return f"regexp_replace({text}, {dialect.literal('[.]0*$')}, '')"
    return text


def _files_of(path: Path) -> tuple[list[str], bool]:
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
        return files, any("=" in part for f in files for part in Path(f).relative_to(path).parts[:-1])
    return [str(path)], False


def plan_source(source: str | os.PathLike[str], options: ReadOptions) -> SourcePlan:
    """Resolve ``source`` (a file, a Parquet folder, a glob, a generic folder) into a :class:`SourcePlan`.

    The layout, the column mapping and the date formats are :func:`segkit.io.plan_table`'s (the
    layout registry's), so every table layout reads the same on every engine.

    Raises
    ------
    DataError
        No such file, no table in the folder, or an unreadable header.
    ParameterError
        A source only the pandas engine reads (XLSX, folder layouts such as Olist, DataFrames).
    """
    layout = check_layout(options.layout)
    text_source = str(source)
    side: dict[str, Path] = {}
    if _GLOB_CHARS & set(text_source):
        files = sorted(glob.glob(text_source, recursive=True))
        if not files:
            raise DataError(f"{text_source}: the pattern matches no file")
        hive = any("=" in part for f in files for part in Path(f).parts[:-1])
        table = Path(files[0])
    else:
        table = Path(source)
        if not table.exists():
            raise DataError(f"{source}: no such file or folder")
        if table.is_dir() and not formats.is_parquet_dataset(table):
            table, side = _generic_folder(table, layout)
        files, hive = _files_of(table)
        if not files:
            raise DataError(f"{source}: the folder holds no Parquet file")
    if layout != AUTO and not LAYOUTS[layout].reads_tables:
        raise ParameterError(f"{source}: layout {layout!r} is read by the pandas engine", column="engine")
    kind = formats.file_kind(table)
    if kind == "excel":
        raise ParameterError(f"{source}: XLSX workbooks are read by the pandas engine", column="engine")
    sep = formats.normalise_sep(options.sep)
    if kind == "text":
        sep = sep or formats.sniff_sep(table, options.encoding)
        if sep != WHITESPACE and len(sep) != 1:
            raise ParameterError(
                f"{source}: the separator {sep!r} is read by the pandas engine only", column="sep"
            )
    plan = plan_table(
        table,
        layout,
        columns=options.columns,
        sep=sep,
        date_format=options.date_format,
        encoding=options.encoding,
        header=options.header,
    )
    return SourcePlan(
        kind=kind,
        files=files,
        hive=hive,
        layout=plan.layout.name,
        mapping=dict(plan.columns),
        date_formats=plan.date_formats,
        sep=sep,
        header=options.header,
        header_names=list(plan.header),
        encoding=options.encoding,
        side_tables=side,
        source=text_source,
        sql_select=plan.layout.sql_select,
    )


def _generic_folder(folder: Path, layout: str) -> tuple[Path, dict[str, Path]]:
    """The transactions table and the side tables of a folder (folder layouts are the pandas engine's)."""
    for name, registered in LAYOUTS.items():
        folder_only = not registered.reads_tables
        if folder_only and registered.detect_folder is not None and (layout in (AUTO, name)):
            if layout == name or registered.detect_folder(folder):
                raise ParameterError(
                    f"{folder}: {registered.title} folders are read by the pandas engine", column="engine"
                )
    table = formats.find_table(folder, "transactions") or formats.single_table(folder)
    if table is None:
        raise DataError(f"{folder}: the folder holds no transactions.* table and not exactly one table file")
    side = {name: found for name in SIDE_TABLES if (found := formats.find_table(folder, name)) is not None}
    return table, side


def source_bytes(source: object) -> int:
    """Bytes on disk of a source (files, folders, globs); 0 for an in-memory table."""
    if not isinstance(source, (str, os.PathLike)):
        return 0
    text = str(source)
    if _GLOB_CHARS & set(text):
        return sum(os.path.getsize(f) for f in glob.glob(text, recursive=True) if os.path.isfile(f))
    path = Path(text)
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0
