"""Canonical column names, dtypes, the transaction schema and the error types.

Everything else in segkit speaks in these names. This module never reads files.

Canonical transaction table (one row per order line)
----------------------------------------------------
===============  ===================  ==========================================================
column           dtype                meaning
===============  ===================  ==========================================================
customer_id      str (pandas ``str``) the source's customer id, as spelled (leading zeros kept)
order_date       datetime64[ns]       timestamp of the order (naive, source local time)
amount           float64              line revenue in the source currency (quantity x unit_price)
order_id         str, optional        invoice / order number; when absent one order = one
                                      customer at one timestamp
product_id       str, optional        stock code / SKU
quantity         float64, optional    units on the line (negative on cancellations)
unit_price       float64, optional    price per unit, source currency
category         str, optional        product category
channel          str, optional        purchase channel (web, app, store...)
country          str, optional        country of the customer / shipping address
description      str, optional        product description
===============  ===================  ==========================================================
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from typing import Any

import numpy as np
import pandas as pd

# pandera imports pyspark.pandas when pyspark (the Spark engine's dependency) is installed, and pyspark
# warns that it does not support pandas 3; nothing segkit takes from pandera involves Spark.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)

# --------------------------------------------------------------------------- column names
CUSTOMER_ID = "customer_id"
ORDER_DATE = "order_date"
AMOUNT = "amount"
ORDER_ID = "order_id"
PRODUCT_ID = "product_id"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
CATEGORY = "category"
CHANNEL = "channel"
COUNTRY = "country"
DESCRIPTION = "description"

#: Columns that must be present (``amount`` may instead be derived from quantity x unit_price).
REQUIRED_COLUMNS: tuple[str, ...] = (CUSTOMER_ID, ORDER_DATE, AMOUNT)
#: Optional columns of the canonical transaction table, in canonical order.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
    CATEGORY,
    CHANNEL,
    COUNTRY,
    DESCRIPTION,
)
#: Every canonical transaction column, in the order segkit writes them.
TRANSACTION_COLUMNS: tuple[str, ...] = (
    CUSTOMER_ID,
    ORDER_ID,
    ORDER_DATE,
    PRODUCT_ID,
    DESCRIPTION,
    QUANTITY,
    UNIT_PRICE,
    AMOUNT,
    CATEGORY,
    CHANNEL,
    COUNTRY,
)
STRING_COLUMNS: tuple[str, ...] = (
    CUSTOMER_ID,
    ORDER_ID,
    PRODUCT_ID,
    CATEGORY,
    CHANNEL,
    COUNTRY,
    DESCRIPTION,
)
NUMERIC_COLUMNS: tuple[str, ...] = (QUANTITY, UNIT_PRICE, AMOUNT)
DATETIME_COLUMNS: tuple[str, ...] = (ORDER_DATE,)

#: Names of the optional side tables of a :class:`segkit.io.Dataset`.
SIDE_TABLES: tuple[str, ...] = ("customers", "sessions", "reviews", "products")


# --------------------------------------------------------------------------- errors
def _examples(values: Iterable[Any], limit: int = 5) -> list[str]:
    out: list[str] = []
    for value in values:
        out.append(repr(value))
        if len(out) >= limit:
            break
    return out


class SegkitError(Exception):
    """Base class of every error segkit raises on bad input, data or models.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    column
        The offending column (or table, parameter, feature) when there is one.
    n_bad
        Number of offending rows, when the error is about rows.
    examples
        Up to five offending values (or row labels).
    hint
        How to fix it, e.g. a close match for a misnamed column.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        n_bad: int | None = None,
        examples: Sequence[Any] | None = None,
        hint: str | None = None,
    ) -> None:
        self.column = column
        self.n_bad = n_bad
        self.examples = list(examples)[:5] if examples is not None else []
        self.hint = hint
        self.message = message
        super().__init__(self._format())

    #: Longest message, hint and example text kept (a file's 64 KB header is not worth quoting).
    MAX_TEXT = 1000
    MAX_EXAMPLE = 80

    def _format(self) -> str:
        self.message = _shorten(self.message, self.MAX_TEXT)
        self.hint = _shorten(self.hint, self.MAX_TEXT) if self.hint else self.hint
        self.examples = [_shorten(v, self.MAX_EXAMPLE) if isinstance(v, str) else v for v in self.examples]
        parts = [self.message]
        if self.n_bad is not None:
            parts.append(f"{self.n_bad:,} bad row(s)")
        if self.examples:
            parts.append("examples: " + ", ".join(_examples(self.examples)))
        if self.hint:
            parts.append(self.hint)
        return "; ".join(parts)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    text = str(text)
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f"... [{len(text):,} characters, cut]"


class SchemaError(SegkitError):
    """A table lacks a required column, has a misnamed one, or a column has the wrong type."""


class DataError(SegkitError):
    """Values are unusable: unparsable dates, non-numeric amounts, an empty table, too few customers."""


class ModelError(SegkitError):
    """A model file is corrupt, truncated, tampered with, untrusted or from an incompatible version."""


class ParameterError(SegkitError):
    """A parameter is out of range or does not parse (k, period, layout, feature name...)."""


# --------------------------------------------------------------------------- helpers
def suggest_column(name: str, available: Iterable[str]) -> str | None:
    """Return the closest column name to ``name`` among ``available`` (case-insensitive), or None."""
    available = [str(a) for a in available]
    lowered = {a.lower().replace(" ", "_"): a for a in available}
    key = name.lower().replace(" ", "_")
    if key in lowered:
        return lowered[key]
    match = get_close_matches(key, list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def missing_column_error(
    column: str, available: Iterable[str], *, table: str = "transactions", source: str | None = None
) -> SchemaError:
    """Build the :class:`SchemaError` for a required column that is absent, suggesting a close match."""
    available = list(available)
    close = suggest_column(column, available)
    where = f" in {source}" if source else ""
    hint = (
        f"did you mean {close!r}? map it with columns={{{column!r}: {close!r}}}"
        if close
        else f"available columns: {', '.join(map(str, available[:20]))}"
    )
    return SchemaError(f"{table}: required column {column!r} is missing{where}", column=column, hint=hint)


def bad_rows_error(
    cls: type[SegkitError], message: str, column: str, bad_values: pd.Series | np.ndarray | Sequence[Any]
) -> SegkitError:
    """Build an error naming ``column``, the number of bad rows and up to five example values."""
    values = pd.Series(bad_values)
    return cls(message, column=column, n_bad=int(len(values)), examples=values.head(5).tolist())


def normalize_id(values: pd.Series) -> pd.Series:
    """Return ids as pandas strings, as the source spells them.

    Float ids (``17850.0``, from a CSV column with missing values or an Excel sheet) lose the
    trailing ``.0`` only when every non-missing value is integral; other values keep their text.
    A column that mixes numbers and text (an Excel sheet, a DataFrame) keeps every value: ``123``
    becomes ``"123"``, ``17850.0`` becomes ``"17850"``, ``"00123"`` stays ``"00123"``.
    Missing ids stay missing (``NaN``), empty strings become missing.
    """
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) == 0 or np.all(np.mod(finite.to_numpy(), 1) == 0):
            as_int = values.astype("Int64")
            return as_int.astype("str").where(values.notna(), None).astype("str")
        return values.astype("str").where(values.notna(), None).astype("str")
    if pd.api.types.is_integer_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("str")
    if values.dtype == object:
        values = pd.Series([_id_text(v) for v in values], index=values.index, dtype="object")
    out = values.astype("str") if not pd.api.types.is_string_dtype(values.dtype) else values
    out = out.astype("str").str.strip()
    return out.mask(out == "")


def _id_text(value: Any) -> str | None:
    """The text of one id cell of a mixed (object) column; None when missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def transaction_schema(columns: Iterable[str] | None = None):
    """The pandera schema of the canonical transaction table.

    Parameters
    ----------
    columns
        The optional columns present in the table (required ones are always checked).
    """
    import pandera.pandas as pa

    present = set(columns) if columns is not None else set(TRANSACTION_COLUMNS)
    spec: dict[str, Any] = {
        CUSTOMER_ID: pa.Column(str, nullable=True),
        ORDER_DATE: pa.Column("datetime64[ns]", nullable=False),
        AMOUNT: pa.Column(float, nullable=False),
    }
    for name in STRING_COLUMNS:
        if name != CUSTOMER_ID and name in present:
            spec[name] = pa.Column(str, nullable=True, required=False)
    for name in (QUANTITY, UNIT_PRICE):
        if name in present:
            spec[name] = pa.Column(float, nullable=True, required=False)
    return pa.DataFrameSchema(spec, strict=False, coerce=False)


def validate_transactions(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the canonical transaction schema; raise :class:`SchemaError` naming the column.

    Returns ``df`` unchanged when valid.
    """
    import pandera.errors as pe

    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"transactions must be a pandas DataFrame, got {type(df).__name__}")
    for name in REQUIRED_COLUMNS:
        if name not in df.columns:
            raise missing_column_error(name, df.columns)
    try:
        transaction_schema(df.columns).validate(df, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        first = cases.iloc[0]
        column = str(first.get("column"))
        bad = cases.loc[cases["column"] == first.get("column"), "failure_case"]
        raise SchemaError(
            f"transactions: column {column!r} fails the canonical schema ({first.get('check')})",
            column=column,
            n_bad=int(len(bad)),
            examples=bad.head(5).tolist(),
        ) from None
    return df
