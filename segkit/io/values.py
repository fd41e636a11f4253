"""Value parsing of source columns: ids, numbers and dates as segkit's schema wants them.

* Ids become pandas ``str`` (a float id column such as ``17850.0`` loses its ``.0`` only when every
  value is integral; a column mixing numbers and text keeps every value).
* Numbers become float64; text that is not a number raises :class:`~segkit.schema.DataError`.
* Dates become naive ``datetime64[ns]``: a time-zone offset is dropped and the local wall time kept;
  dates outside 1677-09-22 .. 2262-04-11 are refused naming the rows; ``a/b/yyyy`` dates without a
  format settle day/month order from the values or refuse to guess (see :func:`parse_dates`).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import DataError, bad_rows_error, normalize_id

__all__ = ["as_str", "canonical_ids", "parse_dates", "parse_numbers"]

_FLOAT_INTEGRAL_TEXT = re.compile(r"^[+-]?\d+\.0*$")


def as_str(values: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype("str")
    return values.astype("str").where(values.notna(), None).astype("str")


def canonical_ids(values: pd.Series) -> pd.Series:
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


def parse_numbers(values: pd.Series, column: str, context: str) -> pd.Series:
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


def parse_dates(
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
