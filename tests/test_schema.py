"""schema: canonical names, id normalisation, the pandera check and the error messages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import segkit
from segkit.schema import (
    REQUIRED_COLUMNS,
    TRANSACTION_COLUMNS,
    DataError,
    ModelError,
    ParameterError,
    SchemaError,
    SegkitError,
    bad_rows_error,
    missing_column_error,
    normalize_id,
    suggest_column,
    validate_transactions,
)


def _valid() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["007", None], dtype="str"),
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-02"]).astype("datetime64[ns]"),
            "amount": [1.5, 2.0],
            "order_id": pd.Series(["1", "C2"], dtype="str"),
        }
    )


def test_error_hierarchy_is_exported_at_the_top_level():
    for cls in (SchemaError, DataError, ModelError, ParameterError):
        assert issubclass(cls, SegkitError)
    assert segkit.SegkitError is SegkitError


def test_canonical_columns():
    assert REQUIRED_COLUMNS == ("customer_id", "order_date", "amount")
    assert set(REQUIRED_COLUMNS) <= set(TRANSACTION_COLUMNS)
    assert len(set(TRANSACTION_COLUMNS)) == len(TRANSACTION_COLUMNS)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([17850.0, np.nan, 12.0]), ["17850", None, "12"]),
        (pd.Series([17850.0, 1.5]), ["17850.0", "1.5"]),
        (pd.Series([7, 12]), ["7", "12"]),
        (pd.Series(["007", " 12 ", ""], dtype="str"), ["007", "12", None]),
    ],
)
def test_normalize_id(values, expected):
    out = normalize_id(values)
    assert str(out.dtype) == "str"
    assert [None if pd.isna(v) else v for v in out] == expected


def test_validate_transactions_accepts_the_canonical_table_and_names_bad_columns():
    df = _valid()
    assert validate_transactions(df) is df
    with pytest.raises(SchemaError, match="'order_date' is missing") as info:
        validate_transactions(df.drop(columns="order_date"))
    assert info.value.column == "order_date"
    bad = df.assign(amount=["1.5", "x"])
    with pytest.raises(SchemaError, match="amount") as info:
        validate_transactions(bad)
    assert info.value.column == "amount"
    with pytest.raises(SchemaError, match="DataFrame"):
        validate_transactions([1, 2])


def test_messages_name_column_count_and_examples():
    error = bad_rows_error(DataError, "dates do not parse", "order_date", [f"x{i}" for i in range(8)])
    text = str(error)
    assert "8 bad row(s)" in text
    assert "'x4'" in text and "'x5'" not in text  # at most five examples
    assert error.column == "order_date" and error.n_bad == 8


def test_missing_column_suggests_a_close_match():
    error = missing_column_error("customer_id", ["CustomerID", "InvoiceDate"])
    assert "did you mean 'CustomerID'" in str(error)
    assert suggest_column("order_date", ["Order Date", "x"]) == "Order Date"
    assert suggest_column("amount", ["zzz"]) is None
    assert "available columns: zzz" in str(missing_column_error("amount", ["zzz"]))
