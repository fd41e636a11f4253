"""Readers: generic files and folders, both UCI layouts, Olist; bad input; atomic writes; round trips."""

from __future__ import annotations

import json
import os
import string
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit.io import (
    Dataset,
    atomic_write,
    parse_columns,
    read_dataset,
    read_olist,
    read_transactions,
    run_dir,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)
from segkit.schema import DataError, ParameterError, SchemaError, SegkitError, validate_transactions

GENERIC = pd.DataFrame(
    {
        "cust": ["007", "007", "12", None],
        "date": ["2024-01-05", "2024-02-10", "2024-03-01", "2024-03-02"],
        "value": [10.5, 20.0, 3.25, 1.0],
        "sku": ["0012", "A1", "0012", "B"],
    }
)
MAPPING = {"customer_id": "cust", "order_date": "date", "amount": "value", "product_id": "sku"}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _assert_generic(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["customer_id", "order_date", "product_id", "amount"]
    assert df["customer_id"].tolist()[:3] == ["007", "007", "12"]  # leading zeros kept
    assert pd.isna(df["customer_id"].iloc[3])
    assert df["product_id"].tolist() == ["0012", "A1", "0012", "B"]
    assert str(df["order_date"].dtype) == "datetime64[ns]"
    assert df["order_date"].iloc[1] == pd.Timestamp("2024-02-10")
    assert df["amount"].dtype == "float64" and df["amount"].sum() == pytest.approx(34.75)
    validate_transactions(df)


# --------------------------------------------------------------------------- generic layouts
@pytest.mark.parametrize(
    ("name", "sep", "write_sep"),
    [
        ("t.csv", None, ","),
        ("t.tsv", None, "\t"),
        ("t.txt", ";", ";"),
        ("t.csv", None, ";"),
        ("t.dat", "|", "|"),
        ("t.csv.gz", None, ","),
    ],
)
def test_generic_delimited_files(tmp_path, name, sep, write_sep):
    path = tmp_path / name
    GENERIC.to_csv(path, sep=write_sep, index=False)
    _assert_generic(read_transactions(path, layout="generic", columns=MAPPING, sep=sep))


def test_quoted_values_with_delimiters_and_newlines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('customer_id,order_date,amount,description\na,2024-01-01,1,"two\nlines, one comma"\n')
    assert read_transactions(path)["description"].tolist() == ["two\nlines, one comma"]


def test_generic_whitespace_delimited(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("cust   date        value sku\n007 2024-01-05 10.5 0012\n007  2024-02-10 20 A1\n")
    df = read_transactions(path, layout="generic", columns=MAPPING, sep=r"\s+")
    assert df["customer_id"].tolist() == ["007", "007"]
    assert df["amount"].tolist() == [10.5, 20.0]


def test_generic_parquet_and_json_string_mapping(tmp_path):
    path = tmp_path / "t.parquet"
    GENERIC.to_parquet(path)
    _assert_generic(read_transactions(path, layout="generic", columns=json.dumps(MAPPING)))


def test_generic_xlsx_one_sheet_or_all_stacked(tmp_path):
    path = tmp_path / "t.xlsx"
    with pd.ExcelWriter(path) as writer:
        GENERIC.iloc[:2].to_excel(writer, sheet_name="first", index=False)
        GENERIC.iloc[2:].to_excel(writer, sheet_name="second", index=False)
    stacked = read_transactions(path, layout="generic", columns=MAPPING)
    assert len(stacked) == 4
    assert stacked["amount"].sum() == pytest.approx(34.75)
    one = read_transactions(path, layout="generic", columns=MAPPING, sheet="second")
    assert one["amount"].tolist() == [3.25, 1.0]
    for missing_sheet in ("third", 7):
        with pytest.raises(ParameterError, match="no sheet"):
            read_transactions(path, layout="generic", columns=MAPPING, sheet=missing_sheet)


def test_auto_reads_canonical_headers_and_derives_amount(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame(
        {
            "Customer ID": ["a", "b"],
            "Order Date": ["2024-01-01 10:00", "2024-01-02 11:30"],
            "quantity": [2, 3],
            "unit_price": [1.5, 2.0],
        }
    ).to_csv(path, index=False)
    df = read_transactions(path)
    assert df["amount"].tolist() == [3.0, 6.0]
    assert df["order_date"].iloc[1] == pd.Timestamp("2024-01-02 11:30")


@pytest.mark.parametrize(
    ("dates", "fmt", "expected"),
    [
        ([20240131, 20240201], "%Y%m%d", ["2024-01-31", "2024-02-01"]),
        (["31/01/2024", "01/02/2024"], "%d/%m/%Y", ["2024-01-31", "2024-02-01"]),
        (["2024-01-31T10:00:00Z", "2024-02-01T00:00:00Z"], None, ["2024-01-31 10:00", "2024-02-01"]),
    ],
)
def test_date_formats(tmp_path, dates, fmt, expected):
    path = tmp_path / "t.csv"
    pd.DataFrame({"customer_id": ["a", "b"], "order_date": dates, "amount": [1.0, 2.0]}).to_csv(
        path, index=False
    )
    df = read_transactions(path, layout="generic", date_format=fmt)
    assert df["order_date"].tolist() == [pd.Timestamp(x) for x in expected]
    assert str(df["order_date"].dtype) == "datetime64[ns]"


def test_float_ids_lose_trailing_zero_only_when_all_integral(tmp_path):
    path = tmp_path / "t.parquet"
    base = {"order_date": pd.to_datetime(["2024-01-01"] * 3), "amount": [1.0, 2.0, 3.0]}
    pd.DataFrame({"customer_id": [17850.0, np.nan, 12.0], **base}).to_parquet(path)
    assert read_transactions(path).customer_id.tolist()[::2] == ["17850", "12"]
    pd.DataFrame({"customer_id": [17850.0, 1.5, 12.0], **base}).to_parquet(path)
    assert read_transactions(path).customer_id.tolist() == ["17850.0", "1.5", "12.0"]
    text = tmp_path / "t.csv"
    text.write_text("customer_id,order_date,amount\n17850.0,2024-01-01,1\n,2024-01-01,2\n")
    assert read_transactions(text).customer_id.tolist()[0] == "17850"


def test_latin1_fallback_warns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(
        "customer_id,order_date,amount,description\nx,2024-01-01,1,CAFÉ CRÈME\n".encode("latin-1")
    )
    with pytest.warns(UnicodeWarning, match="latin-1"):
        df = read_transactions(path)
    assert df["description"].tolist() == ["CAFÉ CRÈME"]


def test_dataframe_source_and_dataset_tables():
    frame = GENERIC.rename(columns={"cust": "customer_id", "date": "order_date", "value": "amount"})
    dataset = read_dataset(frame)
    assert isinstance(dataset, Dataset) and dataset.layout == "generic"
    assert list(dataset.tables()) == ["transactions"]


def test_generic_folder_with_side_tables(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    GENERIC.rename(
        columns={"cust": "customer_id", "date": "order_date", "value": "amount", "sku": "product_id"}
    ).to_parquet(folder / "transactions.parquet")
    pd.DataFrame(
        {"customer_id": ["007", "12"], "age": [31, 45], "signup_date": ["2023-01-01", "2023-06-01"]}
    ).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"product_id": ["0012", "A1"], "category": ["toys", "books"]}).to_csv(
        folder / "products.csv", index=False
    )
    dataset = read_dataset(folder)
    assert dataset.layout == "generic"
    _assert_generic(dataset.transactions)
    assert list(dataset.tables()) == ["transactions", "customers", "products"]
    assert dataset.customers["customer_id"].tolist() == ["007", "12"]
    assert str(dataset.customers["signup_date"].dtype) == "datetime64[ns]"
    assert dataset.products["product_id"].tolist() == ["0012", "A1"]
    assert dataset.sessions is None and dataset.reviews is None


def test_generic_folder_with_partitioned_parquet_transactions(tmp_path):
    folder = tmp_path / "big"
    parts = folder / "transactions"
    parts.mkdir(parents=True)
    frame = GENERIC.rename(columns={"cust": "customer_id", "date": "order_date", "value": "amount"})
    frame.iloc[:2].to_parquet(parts / "part-0.parquet")
    frame.iloc[2:].to_parquet(parts / "part-1.parquet")
    dataset = read_dataset(folder)
    assert dataset.transactions["amount"].tolist() == [10.5, 20.0, 3.25, 1.0]
    assert read_transactions(parts)["customer_id"].tolist()[:3] == ["007", "007", "12"]


# --------------------------------------------------------------------------- UCI Online Retail
def test_both_uci_layouts_load_to_the_same_canonical_table(online_retail_ii_path, online_retail_i_path):
    layout_ii = read_dataset(online_retail_ii_path)
    layout_i = read_dataset(online_retail_i_path)
    assert layout_ii.layout == layout_i.layout == "online_retail"
    two, one = layout_ii.transactions, layout_i.transactions
    pd.testing.assert_frame_equal(one, two)
    assert len(two) == 29_462
    assert two["customer_id"].nunique() == 326
    assert two["amount"].sum() == pytest.approx((two["quantity"] * two["unit_price"]).sum())
    raw = pd.read_csv(
        online_retail_ii_path, dtype={"Customer ID": "str", "Invoice": "str", "StockCode": "str"}
    )
    assert two["amount"].sum() == pytest.approx((raw["Quantity"] * raw["Price"]).sum())
    raw_dates = pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    assert (two["order_date"] == raw_dates).all()
    assert two["order_date"].min().date() == pd.Timestamp("2009-12-01").date()  # the README's period
    assert two["order_date"].max().date() == pd.Timestamp("2010-12-09").date()
    assert list(two.columns) == [
        "customer_id",
        "order_id",
        "order_date",
        "product_id",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "country",
    ]


def test_uci_parquet_and_two_sheet_xlsx(tmp_path, online_retail_ii_path):
    raw = pd.read_csv(online_retail_ii_path, dtype={"Invoice": "str", "StockCode": "str"}, nrows=300)
    raw["InvoiceDate"] = pd.to_datetime(raw["InvoiceDate"])
    expected = read_transactions(online_retail_ii_path).iloc[:300]
    raw.to_parquet(tmp_path / "or.parquet")
    pd.testing.assert_frame_equal(read_transactions(tmp_path / "or.parquet"), expected)
    with pd.ExcelWriter(tmp_path / "online_retail_II.xlsx") as writer:
        raw.iloc[:120].to_excel(writer, sheet_name="Year 2009-2010", index=False)
        raw.iloc[120:].to_excel(writer, sheet_name="Year 2010-2011", index=False)
    from_xlsx = read_transactions(tmp_path / "online_retail_II.xlsx", layout="online_retail")
    pd.testing.assert_frame_equal(from_xlsx, expected, check_exact=False)


def test_folder_holding_one_uci_file(tmp_path, online_retail_i_path):
    folder = tmp_path / "uci"
    folder.mkdir()
    (folder / "README.md").write_text("where the file comes from")
    head = online_retail_i_path.read_bytes()[:20_000]
    (folder / "online_retail.csv").write_bytes(head[: head.rindex(b"\n") + 1])  # whole lines only
    dataset = read_dataset(folder)
    assert dataset.layout == "online_retail" and len(dataset.transactions) > 100
    (folder / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no transactions"):
        read_dataset(folder)


def test_uci_layout_i_dates_like_12_1_2010(tmp_path):
    path = tmp_path / "or1.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
        "C536379,D,Discount,-1,12/13/2010 9:41,27.5,14527.0,United Kingdom\n"
    )
    df = read_transactions(path)
    assert df["order_date"].tolist() == [pd.Timestamp("2010-12-01 08:26"), pd.Timestamp("2010-12-13 09:41")]
    assert df["customer_id"].tolist() == ["17850", "14527"]
    assert df["order_id"].tolist() == ["536365", "C536379"]
    assert df["amount"].tolist() == [6 * 2.55, -27.5]


# --------------------------------------------------------------------------- Olist
def _write_olist(folder: Path, skip: str | None = None) -> None:
    folder.mkdir(exist_ok=True)
    tables = {
        "olist_orders_dataset.csv": pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4"],
                "customer_id": ["k1", "k2", "k3", "k4"],
                "order_status": ["delivered", "shipped", "canceled", "delivered"],
                "order_purchase_timestamp": [
                    "2017-10-02 10:56:33",
                    "2018-07-24 20:41:37",
                    "2018-08-08 08:38:49",
                    "2018-08-09 09:00:00",
                ],
            }
        ),
        "olist_order_items_dataset.csv": pd.DataFrame(
            {
                "order_id": ["o1", "o1", "o2", "o3", "o4", "o4"],
                "order_item_id": [1, 2, 1, 1, 1, 2],  # o4: two units of p3, one row each
                "product_id": ["p1", "p2", "p1", "p2", "p3", "p3"],
                "seller_id": ["s"] * 6,
                "price": [29.99, 10.0, 29.99, 10.0, 5.0, 5.0],
                "freight_value": [8.72, 2.0, 8.0, 1.0, 0.5, 0.5],
            }
        ),
        "olist_customers_dataset.csv": pd.DataFrame(
            {
                "customer_id": ["k1", "k2", "k3", "k4"],
                "customer_unique_id": ["u1", "u1", "u2", "u3"],  # u1 placed two orders
                "customer_zip_code_prefix": ["01037", "01037", "22000", "30000"],
                "customer_city": ["sao paulo", "campinas", "rio", "belo horizonte"],
                "customer_state": ["SP", "SP", "RJ", "MG"],
            }
        ),
        "olist_products_dataset.csv": pd.DataFrame(
            {"product_id": ["p1", "p2", "p3"], "product_category_name": ["brinquedos", "pc_gamer", None]}
        ),
        "product_category_name_translation.csv": pd.DataFrame(
            {"product_category_name": ["brinquedos"], "product_category_name_english": ["toys"]}
        ),
        "olist_order_reviews_dataset.csv": pd.DataFrame(
            {
                "review_id": ["r1", "r2"],
                "order_id": ["o1", "o3"],
                "review_score": [5, 1],
                "review_creation_date": ["2017-10-10 00:00:00", "2018-08-20 00:00:00"],
            }
        ),
        "olist_order_payments_dataset.csv": pd.DataFrame(
            {
                "order_id": ["o1"],
                "payment_sequential": [1],
                "payment_type": ["credit_card"],
                "payment_value": [50.71],
            }
        ),
    }
    for name, table in tables.items():
        if name != skip:
            table.to_csv(folder / name, index=False)


def test_read_olist_tiny_folder(tmp_path):
    folder = tmp_path / "olist"
    _write_olist(folder)
    for dataset in (read_olist(folder), read_dataset(folder)):
        assert dataset.layout == "olist"
        tx = dataset.transactions
        # o3 is canceled: its item does not count by default
        assert tx["order_id"].tolist() == ["o1", "o1", "o2", "o4"]
        assert tx["customer_id"].tolist() == ["u1", "u1", "u1", "u3"]
        assert tx["amount"].tolist() == pytest.approx([38.71, 12.0, 37.99, 11.0])  # price + freight
        assert tx["quantity"].tolist() == [1.0, 1.0, 1.0, 2.0]
        assert tx["unit_price"].tolist() == [29.99, 10.0, 29.99, 5.0]
        assert tx["category"].tolist()[:3] == ["toys", "pc_gamer", "toys"]  # untranslated stays Portuguese
        assert pd.isna(tx["category"].iloc[3])
        assert tx["order_date"].iloc[0] == pd.Timestamp("2017-10-02 10:56:33")
        customers = dataset.customers.set_index("customer_id")
        assert customers.loc["u1", "city"] == "campinas"  # location of the latest order
        assert customers.loc["u1", "zip_code_prefix"] == "01037"
        assert dataset.reviews["customer_id"].tolist() == ["u1"]
        assert dataset.reviews["score"].tolist() == [5.0]
    with_canceled = read_olist(folder, statuses=["delivered", "canceled"])
    assert with_canceled.transactions["order_id"].tolist() == ["o1", "o1", "o3", "o4"]


def test_olist_folder_missing_a_table(tmp_path):
    folder = tmp_path / "olist"
    _write_olist(folder, skip="olist_order_items_dataset.csv")
    with pytest.raises(SchemaError, match="olist_order_items_dataset.csv"):
        read_dataset(folder)


# --------------------------------------------------------------------------- bad input
def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_required_column(tmp_path):
    path = _csv(tmp_path, "customer_id,order_date,price\na,2024-01-01,1\n")
    with pytest.raises(SchemaError, match="'amount' is missing") as info:
        read_transactions(path, layout="generic")
    assert info.value.column == "amount"
    assert "quantity" in str(info.value)


def test_misnamed_column_gets_a_close_match(tmp_path):
    path = _csv(tmp_path, "customer_id,order_dt,amount\na,2024-01-01,1\n")
    with pytest.raises(SchemaError, match="did you mean 'order_dt'"):
        read_transactions(path, layout="generic")
    with pytest.raises(SchemaError, match="did you mean 'order_dt'"):
        read_transactions(path, columns={"order_date": "order_dte"})
    with pytest.raises(ParameterError, match="did you mean 'customer_id'"):
        read_transactions(path, columns={"customerid": "customer_id"})


def test_unparsable_dates_name_the_column(tmp_path):
    path = _csv(tmp_path, "cust,date,value\na,2024-01-01,1\nb,not a date,2\nc,2024-13-45,3\n")
    with pytest.raises(DataError, match="order_date") as info:
        read_transactions(path, columns={"customer_id": "cust", "order_date": "date", "amount": "value"})
    assert info.value.n_bad == 2
    assert "'not a date'" in str(info.value) and "'date'" in str(info.value)
    with pytest.raises(DataError, match="date_format"):
        read_transactions(
            path,
            layout="generic",
            columns={"customer_id": "cust", "order_date": "date", "amount": "value"},
            date_format="%Y%m%d",
        )


@pytest.mark.parametrize("column", ["quantity", "unit_price"])
def test_non_numeric_quantity_or_price(tmp_path, column):
    values = {"quantity": ["2", "x"], "unit_price": ["1.5", "2"]}
    values[column] = ["abc", "3"] if column == "quantity" else ["1.5", "free"]
    frame = pd.DataFrame({"customer_id": ["a", "b"], "order_date": ["2024-01-01", "2024-01-02"], **values})
    if column == "unit_price":
        frame["quantity"] = ["2", "3"]
    frame.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=column) as info:
        read_transactions(tmp_path / "t.csv")
    assert info.value.n_bad == 1


def test_empty_and_header_only_files(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_transactions(_csv(tmp_path, ""), layout="generic")
    with pytest.raises(DataError, match="no rows"):
        read_transactions(_csv(tmp_path, "customer_id,order_date,amount\n", "h.csv"))


def test_files_that_are_not_tables(tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(DataError, match="not a text table"):
        read_transactions(binary)
    with pytest.raises(DataError, match="not a readable Parquet"):
        read_transactions(_csv(tmp_path, "just text", "fake.parquet"))
    with pytest.raises(DataError, match="not a readable XLSX"):
        read_transactions(_csv(tmp_path, "just text", "fake.xlsx"))
    with pytest.raises(DataError, match="unsupported file type '.json'"):
        read_transactions(_csv(tmp_path, "{}", "t.json"))
    prose = _csv(tmp_path, "Dear customer,\nthank you for your order.\n", "letter.txt")
    with pytest.raises(ParameterError, match="layout='generic'"):
        read_transactions(prose)


def test_unknown_layout_and_unrecognised_file(tmp_path):
    path = _csv(tmp_path, "cust,date,value\na,2024-01-01,1\n")
    with pytest.raises(ParameterError, match="unknown layout 'onlineretail'.*did you mean 'online_retail'"):
        read_transactions(path, layout="onlineretail")
    with pytest.raises(ParameterError, match="could not recognise the layout.*layout='generic'.*columns="):
        read_transactions(path)
    with pytest.raises(SchemaError, match="not an Online Retail file"):
        read_transactions(path, layout="online_retail")
    with pytest.raises(DataError, match="no such file"):
        read_transactions(tmp_path / "nope.csv")
    with pytest.raises(ParameterError, match="not valid JSON"):
        parse_columns("{customer_id: cust}")


def test_missing_dates_or_amounts_are_data_errors(tmp_path):
    path = _csv(tmp_path, "customer_id,order_date,amount\na,2024-01-01,1\nb,,2\nc,2024-01-03,\n")
    with pytest.raises(DataError, match="order_date.*missing") as info:
        read_transactions(path)
    assert info.value.n_bad == 1


def test_reading_bad_input_writes_nothing(tmp_path):
    path = _csv(tmp_path, "cust,date,value\na,2024-01-01,1\n")
    before = _files(tmp_path)
    with pytest.raises(SegkitError):
        read_transactions(path)
    assert _files(tmp_path) == before


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_on_success_and_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "out.json"
    write_json_atomic(
        {"a": np.int64(3), "b": np.float64("nan"), "when": pd.Timestamp("2024-01-01"), "p": Path("x")}, target
    )
    assert json.loads(target.read_text()) == {"a": 3, "b": None, "when": "2024-01-01T00:00:00", "p": "x"}
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert json.loads(target.read_text())["a"] == 3
    assert _files(target.parent) == ["out.json"]
    write_text_atomic("hello", tmp_path / "t.txt")
    assert (tmp_path / "t.txt").read_text() == "hello"


def test_run_dir_validates_names(tmp_path):
    path = run_dir(tmp_path, "demo")
    assert path == tmp_path / "demo" and path.is_dir()
    for bad in ("", "..", "a/b", " x"):
        with pytest.raises(ParameterError, match="run"):
            run_dir(tmp_path, bad)


# --------------------------------------------------------------------------- round trips (hypothesis)
_NULLS = {"na", "nan", "null", "none", "n/a", "", "-nan", "#na", "1.#ind", "1.#qnan", "-1.#ind", "-1.#qnan"}
_text = st.text(alphabet="eE" + string.digits + " -&'.xyz", min_size=1, max_size=8).filter(
    lambda s: s == s.strip() and s.lower() not in _NULLS and not s.lower().startswith("#n/a")
)
_ids = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=6).filter(
    lambda s: s.lower() not in _NULLS
)


@st.composite
def canonical_tables(draw):
    n_rows = draw(st.integers(1, 12))
    seconds = draw(st.lists(st.integers(0, 3 * 365 * 86_400), min_size=n_rows, max_size=n_rows))
    money = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    table = {
        "customer_id": pd.Series(
            draw(st.lists(st.none() | _ids, min_size=n_rows, max_size=n_rows)), dtype="str"
        ),
        "order_id": pd.Series(draw(st.lists(_ids, min_size=n_rows, max_size=n_rows)), dtype="str"),
        "order_date": pd.Series(
            pd.Timestamp("2020-01-01") + pd.to_timedelta(seconds, unit="s"), dtype="datetime64[ns]"
        ),
        "product_id": pd.Series(draw(st.lists(_ids, min_size=n_rows, max_size=n_rows)), dtype="str"),
        "description": pd.Series(
            draw(st.lists(st.none() | _text, min_size=n_rows, max_size=n_rows)), dtype="str"
        ),
        "quantity": pd.Series(draw(st.lists(money, min_size=n_rows, max_size=n_rows)), dtype="float64"),
        "unit_price": pd.Series(draw(st.lists(money, min_size=n_rows, max_size=n_rows)), dtype="float64"),
    }
    table["amount"] = table["quantity"] * table["unit_price"]
    table["country"] = pd.Series(draw(st.lists(_text, min_size=n_rows, max_size=n_rows)), dtype="str")
    optional = ["order_id", "product_id", "description", "quantity", "unit_price", "country"]
    for column in draw(st.sets(st.sampled_from(optional))):
        del table[column]
    return validate_transactions(pd.DataFrame(table))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(canonical_tables())
def test_any_valid_table_round_trips_through_csv_and_parquet(tmp_path, table):
    csv_path = write_csv_atomic(table, tmp_path / "rt.csv", neutralise=False)  # a raw round trip
    parquet_path = write_parquet_atomic(table, tmp_path / "rt.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_csv = read_transactions(csv_path)
        from_parquet = read_transactions(parquet_path)
    pd.testing.assert_frame_equal(from_parquet, table)
    pd.testing.assert_frame_equal(from_csv, table)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]
