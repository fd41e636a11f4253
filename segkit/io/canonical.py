"""The canonical transaction mapping: which source column holds which canonical column, and the table.

A layout that reads one table says which source column holds each canonical column (``customer_id``,
``order_date``, ``amount``...: see :mod:`segkit.schema`); :func:`canonical_transactions` renames,
converts (:mod:`segkit.io.values`) and checks them:

* ``customer_id`` and ``order_date`` are required, and ``amount`` or both ``quantity`` and
  ``unit_price`` (then ``amount = quantity * unit_price``);
* a date and an amount on every line; no infinite or absurd (> 1e15) amounts;
* a few dates far from all the others (a 1900 or 2200 typing error among 1997 orders: beyond twice
  the span of the central 98% of dates, at least two years, and at most 1% of the lines) are
  refused naming the rows, not dropped: only the data owner knows the right year.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from segkit.io.values import as_str, canonical_ids, parse_dates, parse_numbers
from segkit.schema import (
    AMOUNT,
    CUSTOMER_ID,
    NUMERIC_COLUMNS,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    STRING_COLUMNS,
    TRANSACTION_COLUMNS,
    UNIT_PRICE,
    DataError,
    ParameterError,
    SchemaError,
    missing_column_error,
    suggest_column,
    validate_transactions,
)

__all__ = ["canonical_transactions", "check_required", "complete_mapping", "normalise_name", "parse_columns"]


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


def normalise_name(name: str) -> str:
    return re.sub(r"[\s_\-]+", "_", str(name).strip().lower())


def complete_mapping(mapping: dict[str, str], header: Sequence[str], where: str) -> dict[str, str]:
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
        by_normalised.setdefault(normalise_name(h), h)
    for canonical in TRANSACTION_COLUMNS:
        if canonical in out:
            continue
        if canonical in header:
            out[canonical] = canonical
        elif canonical in by_normalised and by_normalised[canonical] not in out.values():
            out[canonical] = by_normalised[canonical]
    check_required(out, header, where)
    return out


def check_required(mapping: dict[str, str], header: Sequence[str], where: str) -> None:
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


def canonical_transactions(
    frame: pd.DataFrame,
    mapping: dict[str, str],
    date_formats: Sequence[str] | None,
    where: str,
) -> pd.DataFrame:
    """Rename, convert and validate: the canonical transaction table in canonical column order."""
    if len(frame) == 0:
        raise DataError(f"{where}: the table has a header but no rows")
    check_required(mapping, list(map(str, frame.columns)), where)
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
            out[canonical] = canonical_ids(values)
        elif canonical in STRING_COLUMNS:
            out[canonical] = as_str(values)
        elif canonical in NUMERIC_COLUMNS:
            out[canonical] = parse_numbers(values, label, context)
        elif canonical == ORDER_DATE:
            out[canonical] = parse_dates(values, label, date_formats, context)
    if AMOUNT not in out:
        out[AMOUNT] = out[QUANTITY] * out[UNIT_PRICE]
    _check_no_missing(out, ORDER_DATE, context, mapping)
    _check_no_missing(out, AMOUNT, context, mapping)
    _check_isolated_dates(out[ORDER_DATE], context)
    for column in NUMERIC_COLUMNS:
        if column in out:
            _check_finite_amounts(out[column], context, column)
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


def _check_finite_amounts(amounts: pd.Series, context: str, column: str = AMOUNT) -> None:
    """Refuse infinite values and values too large to add up (> 1e15) in amount, quantity, unit_price."""
    values = amounts.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isinf(values) | (np.abs(np.nan_to_num(values)) > _MAX_AMOUNT)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{context}: {column} holds infinite or absurdly large values (above {_MAX_AMOUNT:.0e})",
            column=column,
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
