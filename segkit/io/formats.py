"""File formats: which kind of table a file is, and reading it as it is.

Text (CSV/TSV/any delimiter including whitespace, optionally ``.gz``/``.bz2``/``.xz``/``.zst``):
the delimiter is sniffed from the first line, the header read and checked (no name twice), UTF-8
tried then latin-1 with a warning; pyarrow reads one-character delimiters, pandas the rest.
Parquet: a file or a folder of parts (``x.parquet/``, or only ``*.parquet`` files and ``key=value``
folders). XLSX: every sheet (stacked, they must share their columns) or one.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from segkit.schema import SIDE_TABLES, DataError, ParameterError, SchemaError, SegkitError

__all__ = [
    "SEP_NAMES",
    "check_not_empty",
    "check_unique_names",
    "file_kind",
    "find_table",
    "first_line",
    "is_parquet_dataset",
    "normalise_sep",
    "read_header",
    "read_table",
    "read_text",
    "read_text_header",
    "single_table",
    "sniff_sep",
    "table_candidates",
]

_TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".dat"}
_COMPRESSED_SUFFIXES = {".gz", ".bz2", ".zst", ".xz"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
#: Preference when a folder holds the same table in several formats.
_FORMAT_PREFERENCE = (".parquet", ".pq", ".csv", ".tsv", ".tab", ".txt", ".dat", ".xlsx", ".xlsm")


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
    kind = file_kind(path)
    if kind == "parquet":
        frame = _read_parquet(path, None if not header else usecols)
        if not header:
            frame = frame.set_axis([str(i) for i in range(frame.shape[1])], axis=1)
            frame = frame[list(usecols)] if usecols else frame
        return frame
    check_not_empty(path)
    if kind == "excel":
        return _read_excel(path, sheet, usecols, header=header)
    return read_text(
        path,
        sep=normalise_sep(sep),
        encoding=encoding,
        string_columns=string_columns,
        usecols=usecols,
        header=header,
    )


def read_header(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header: bool = True,
) -> list[str]:
    """The column names of a table file without reading its rows (Parquet: the schema; XLSX: read whole).

    Names are those :func:`read_table` gives the frame: without a header ``"0"``, ``"1"``... by
    position; a partitioned Parquet folder adds its ``key=value`` keys after the file columns.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "parquet":
        names = _parquet_names(path)
        return names if header else [str(i) for i in range(len(names))]
    check_not_empty(path)
    if kind == "excel":
        return [str(c) for c in _read_excel(path, sheet, None, header=header).columns]
    sep = normalise_sep(sep) or sniff_sep(path, encoding)
    return read_text_header(path, sep, encoding, header)


def _parquet_names(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path, format="parquet", partitioning="hive").schema
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet table ({first_line(exc)})") from None
    if not schema.names:
        raise DataError(f"{path}: the Parquet file has no columns")
    return [str(name) for name in schema.names]


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


def single_table(folder: Path) -> Path | None:
    """The only table file of ``folder`` (hidden files and READMEs aside), or None."""
    tables = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.name.lower().startswith("readme") or not path.is_file():
            continue
        try:
            file_kind(path)
        except DataError:
            continue
        tables.append(path)
    return tables[0] if len(tables) == 1 else None


def file_kind(path: Path) -> str:
    if path.is_dir():
        if is_parquet_dataset(path):
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


def is_parquet_dataset(path: Path) -> bool:
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


def table_candidates(folder: str | os.PathLike[str], stem: str) -> list[Path]:
    """The files (or Parquet folders) named ``stem.<supported suffix>`` in ``folder``, preferred first.

    Parquet comes before text before XLSX; the list is empty when no file holds the table.
    """
    candidates = []
    for path in Path(folder).iterdir():
        if path.name.startswith("."):
            continue
        name = path.name.lower()
        for rank, suffix in enumerate(_FORMAT_PREFERENCE):
            if name in (f"{stem}{suffix}", f"{stem}{suffix}.gz"):
                candidates.append((rank, path))
        if path.is_dir() and name == stem and any(path.rglob("*.parquet")):
            candidates.append((0, path))
    candidates.sort(key=lambda item: (item[0], item[1].name))
    return [path for _, path in candidates]


def find_table(folder: str | os.PathLike[str], stem: str) -> Path | None:
    """The file (or Parquet folder) named ``stem.<supported suffix>`` in ``folder``, or None.

    When several formats hold the table, Parquet wins over text over XLSX (with a warning).
    """
    folder = Path(folder)
    candidates = table_candidates(folder, stem)
    if not candidates:
        return None
    if len(candidates) > 1:
        warnings.warn(
            f"{folder}: several files hold {stem!r} ({', '.join(p.name for p in candidates)}); "
            f"reading {candidates[0].name}",
            stacklevel=4,
        )
    return candidates[0]


def check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def _read_parquet(path: Path, usecols: Sequence[str] | None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(usecols) if usecols else None)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet table ({first_line(exc)})") from None
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
        raise ParameterError(f"{path}: no sheet {sheet!r} ({first_line(exc)})", column="sheet") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if sheet is not None and ("not found" in str(exc) or "invalid" in str(exc)):
            raise ParameterError(f"{path}: no sheet {sheet!r}", column="sheet") from None
        raise DataError(f"{path}: not a readable XLSX workbook ({first_line(exc)})") from None
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
    if header:
        check_unique_names(frame.columns, str(path))
    if usecols:
        frame = frame[list(usecols)]
    return frame


def _open_binary(path: Path) -> Any:
    """Open a (possibly compressed: .gz, .bz2, .xz, .zst) file for reading bytes."""
    import bz2
    import gzip
    import lzma

    suffix = path.suffix.lower()
    if suffix == ".zst":
        import pyarrow as pa

        return pa.input_stream(str(path), compression="zstd")
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
    return opener(path, "rb")


def _decode_head(path: Path, encoding: str | None, size: int = 65536) -> str:
    try:
        with _open_binary(path) as handle:
            head = handle.read(size)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a readable compressed file ({first_line(exc)})") from None
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


def sniff_sep(path: Path, encoding: str | None) -> str:
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


def read_text_header(path: Path, sep: str, encoding: str | None, header: bool = True) -> list[str]:
    """The column names of a text file; without a header, ``"0"``, ``"1"``... for the first line's fields."""
    lines = _decode_head(path, encoding).splitlines()
    if not lines or not lines[0].strip():
        raise DataError(f"{path}: the file is empty or its first line is blank")
    if len(sep) == 1:
        names = [h.strip() for h in next(csv.reader([lines[0]], delimiter=sep))]
    else:
        names = [h.strip().strip('"') for h in re.split(sep, lines[0].strip())]
    if header:
        check_unique_names(names, str(path))
    return names if header else [str(i) for i in range(len(names))]


def check_unique_names(names: Sequence[Any], where: str) -> None:
    """Refuse a header that names a column twice (which copy would segkit read?)."""
    seen: set[str] = set()
    repeated = []
    for name in map(str, names):
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise SchemaError(
            f"{where}: the header names {len(repeated)} column(s) more than once",
            column=repeated[0],
            examples=repeated,
            hint="rename or remove the extra copies so that each column has one name",
        )


def read_text(
    path: Path,
    *,
    sep: str | None,
    encoding: str | None,
    string_columns: Sequence[str],
    usecols: Sequence[str] | None,
    header: bool = True,
) -> pd.DataFrame:
    """Read a delimited text file: pyarrow for one-character delimiters, pandas otherwise."""
    sep = sep or sniff_sep(path, encoding)
    names = read_text_header(path, sep, encoding, header)
    strings = [c for c in string_columns if c in names]
    encodings = [encoding] if encoding else ["utf-8", "latin-1"]
    reading = _TextRead(path, sep, strings, usecols, None if header else names)
    last_error: Exception | None = None
    for position, enc in enumerate(encodings):
        try:
            frame = reading.read(enc)
        except UnicodeDecodeError as exc:
            last_error = exc
            continue
        except SegkitError:
            raise
        except Exception as exc:  # noqa: BLE001 - any parser failure means "not a table"
            raise DataError(f"{path}: not a readable table ({first_line(exc)})") from None
        if position > 0:
            warnings.warn(f"{path}: not valid UTF-8; read as {enc}", UnicodeWarning, stacklevel=3)
        if frame.empty and len(frame.columns) <= 1 and not names:
            raise DataError(f"{path}: the file is empty")
        return frame
    raise DataError(f"{path}: could not decode the file ({first_line(last_error)})")


@dataclass(frozen=True)
class _TextRead:
    """One delimited text file to read: delimiter, text columns, columns kept, names when headerless."""

    path: Path
    sep: str
    strings: Sequence[str]
    usecols: Sequence[str] | None
    names: Sequence[str] | None = None  # given: the file has no header line

    def read(self, encoding: str) -> pd.DataFrame:
        """One read with one encoding: pyarrow for one-character delimiters, pandas otherwise."""
        if len(self.sep) == 1 and self.path.suffix.lower() != ".xz":  # pyarrow has no xz codec
            return self._with_pyarrow(encoding)
        return self._with_pandas(encoding)

    def _with_pyarrow(self, encoding: str) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        try:
            table = pacsv.read_csv(
                self.path,
                read_options=pacsv.ReadOptions(
                    encoding=encoding if encoding != "utf-8" else "utf8",
                    column_names=list(self.names) if self.names is not None else None,
                ),
                parse_options=pacsv.ParseOptions(delimiter=self.sep, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(self.usecols) if self.usecols else None,
                    column_types={c: pa.string() for c in self.strings},
                    strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                raise UnicodeDecodeError(encoding, b"", 0, 1, "invalid UTF-8") from None
            # pyarrow is strict (e.g. newlines inside quoted values): let pandas try
            return self._with_pandas(encoding)
        if any(pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type) for f in table.schema):
            raise UnicodeDecodeError(encoding, b"", 0, 1, "invalid UTF-8")  # pyarrow infers binary
        return table.to_pandas(date_as_object=False)

    def _with_pandas(self, encoding: str) -> pd.DataFrame:
        engine = "c" if len(self.sep) == 1 or self.sep == r"\s+" else "python"
        return pd.read_csv(
            self.path,
            sep=self.sep,
            encoding="utf-8-sig" if encoding == "utf-8" else encoding,
            dtype={c: "str" for c in self.strings} or None,
            usecols=list(self.usecols) if self.usecols else None,
            engine=engine,
            header=None if self.names is not None else "infer",
            names=list(self.names) if self.names is not None else None,
        )


def first_line(exc: BaseException | None) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
