"""load_inputs: demo (generated or from a folder), real files, customer samples, side tables, truth."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

import segkit.datasets
from segkit.cleaning import clean_transactions
from segkit.inputs import Inputs, load_inputs
from segkit.io import read_transactions
from segkit.schema import ParameterError, SegkitError


def _transactions(customers: list[str]) -> pd.DataFrame:
    n_rows = len(customers)
    return pd.DataFrame(
        {
            "customer_id": pd.Series(customers, dtype="str"),
            "order_id": pd.Series([f"{500 + i}" for i in range(n_rows)], dtype="str"),
            "order_date": pd.date_range("2024-01-01", periods=n_rows, freq="D").astype("datetime64[ns]"),
            "product_id": pd.Series(["P1"] * n_rows, dtype="str"),
            "quantity": 1.0,
            "unit_price": 2.0,
            "amount": 2.0,
        }
    )


def _shop_folder(tmp_path):
    """A generic folder as write_demo_shop(layout="generic") writes it; customer c3 only has a cancelled line."""
    folder = tmp_path / "demo"
    folder.mkdir()
    tx = _transactions(["c1", "c2", "c1", "c3"])
    tx.loc[3, ["order_id", "quantity", "amount"]] = ["C9", -1.0, -2.0]
    tx.to_parquet(folder / "transactions.parquet")
    pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "age": [30, 40, 50]}).to_parquet(
        folder / "customers.parquet"
    )
    pd.DataFrame(
        {
            "customer_id": ["c1", "c3"],
            "session_start": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "pages_viewed": [3, 4],
        }
    ).to_parquet(folder / "sessions.parquet")
    pd.DataFrame({"product_id": ["P1"], "category": ["toys"], "list_price": [2.0]}).to_parquet(
        folder / "products.parquet"
    )
    pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "type": ["loyal", "bargain", "bargain"]}).to_parquet(
        folder / "truth.parquet"
    )
    return folder


def test_real_file_is_read_and_cleaned(online_retail_ii_path):
    inputs = load_inputs(str(online_retail_ii_path))
    assert isinstance(inputs, Inputs)
    assert inputs.truth is None
    assert inputs.raw.layout == "online_retail"
    expected_clean, expected_report = clean_transactions(read_transactions(online_retail_ii_path))
    pd.testing.assert_frame_equal(inputs.clean.transactions, expected_clean)
    assert inputs.report.to_frame()["rows"].sum() == 29_462
    pd.testing.assert_frame_equal(inputs.report.to_frame(), expected_report.to_frame())


def test_customer_sample_is_seeded_and_keeps_all_lines(online_retail_ii_path):
    first = load_inputs(str(online_retail_ii_path), sample_customers=25, seed=3)
    again = load_inputs(str(online_retail_ii_path), sample_customers=25, seed=3)
    other = load_inputs(str(online_retail_ii_path), sample_customers=25, seed=4)
    chosen = set(first.raw.transactions["customer_id"])
    assert len(chosen) == 25
    assert chosen == set(again.raw.transactions["customer_id"])
    assert chosen != set(other.raw.transactions["customer_id"])
    full = read_transactions(online_retail_ii_path)
    assert len(first.raw.transactions) == full["customer_id"].isin(chosen).sum()
    assert first.report.to_frame()["rows"].sum() == len(first.raw.transactions)


def test_generic_folder_restricts_side_tables_and_returns_truth(tmp_path):
    folder = _shop_folder(tmp_path)
    inputs = load_inputs(str(folder))
    assert inputs.raw.customers["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert sorted(inputs.clean.transactions["customer_id"].unique()) == ["c1", "c2"]
    assert inputs.clean.customers["customer_id"].tolist() == ["c1", "c2"]  # c3 kept no line
    assert inputs.clean.sessions["customer_id"].tolist() == ["c1"]
    assert inputs.clean.products is inputs.raw.products
    assert inputs.truth["type"].tolist() == ["loyal", "bargain", "bargain"]


def test_demo_reads_a_written_shop_from_demo_dir(tmp_path, monkeypatch):
    folder = _shop_folder(tmp_path)
    (folder / "meta.json").write_text('{"generator": "segkit.datasets.make_demo_shop", "seed": 0}')
    inputs = load_inputs("demo", demo_dir=str(folder))
    assert inputs.raw.source == str(folder)
    assert inputs.truth is not None and len(inputs.truth) == 3
    # a shop written with another seed is not the one asked for: generate it instead
    generated = []
    monkeypatch.setattr(
        segkit.datasets, "make_demo_shop", lambda **kwargs: generated.append(kwargs) or _fake_shop()
    )
    load_inputs("demo", seed=5, demo_dir=str(folder))
    assert generated == [{"seed": 5}]


def _fake_shop() -> SimpleNamespace:
    return SimpleNamespace(
        transactions=_transactions(["a", "b"]),
        customers=pd.DataFrame({"customer_id": ["a", "b", "z"]}),
        sessions=None,
        reviews=None,
        products=None,
        truth=pd.DataFrame({"customer_id": ["a", "b"], "type": ["x", "y"]}),
        shift_date=None,
    )


def test_demo_is_generated_when_no_folder_or_a_sample_is_asked(tmp_path, monkeypatch):
    calls = []

    def fake_make_demo_shop(n_customers=20_000, seed=0, **kwargs):
        calls.append((n_customers, seed))
        return _fake_shop()

    monkeypatch.setattr(segkit.datasets, "make_demo_shop", fake_make_demo_shop)
    inputs = load_inputs("demo", seed=7, demo_dir=str(tmp_path / "absent"))
    assert calls == [(20_000, 7)]
    assert inputs.truth["type"].tolist() == ["x", "y"]
    assert inputs.clean.customers["customer_id"].tolist() == ["a", "b"]
    load_inputs("demo", sample_customers=50, seed=1, demo_dir=str(_shop_folder(tmp_path)))
    assert calls[-1] == (50, 1)


def test_columns_mapping_as_json_string(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"cust": ["a", "b"], "date": ["2024-01-01", "2024-01-02"], "value": [1.0, 2.0]}).to_csv(
        path, index=False
    )
    inputs = load_inputs(
        str(path),
        layout="generic",
        columns='{"customer_id": "cust", "order_date": "date", "amount": "value"}',
    )
    assert inputs.clean.transactions["amount"].tolist() == [1.0, 2.0]


def test_date_format_reaches_the_reader(tmp_path):
    path = tmp_path / "compact.csv"
    pd.DataFrame({"cust": ["a", "b"], "date": ["20240105", "20240211"], "value": [1.0, 2.0]}).to_csv(
        path, index=False
    )
    columns = {"customer_id": "cust", "order_date": "date", "amount": "value"}
    inputs = load_inputs(str(path), layout="generic", columns=columns, date_format="%Y%m%d")
    dates = inputs.clean.transactions["order_date"]
    assert dates.tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-11")]
    with pytest.raises(SegkitError, match="date"):
        load_inputs(str(path), layout="generic", columns=columns, date_format="%d/%m/%Y")


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"sample_customers": -1}, "sample_customers"),
        ({"seed": 1.5}, "seed"),
        ({"columns": "{bad"}, "columns"),
    ],
)
def test_bad_parameters(kwargs, column):
    with pytest.raises(ParameterError) as info:
        load_inputs("demo", **kwargs)
    assert info.value.column == column


def test_small_generated_demo_shop_end_to_end():
    if not hasattr(segkit.datasets, "make_demo_shop"):
        pytest.skip("segkit.datasets.make_demo_shop is not available yet")
    inputs = load_inputs("demo", sample_customers=150, seed=0, demo_dir="/nonexistent")
    assert inputs.truth is not None
    report = inputs.report.to_frame().set_index("reason")
    assert report["rows"].sum() == len(inputs.raw.transactions)
    assert report.loc[["kept", "zero_amount"], "rows"].sum() == len(inputs.clean.transactions)
    kept = set(inputs.clean.transactions["customer_id"])
    assert set(inputs.clean.customers["customer_id"]) <= kept
    # the generator counts the messes it plants under the reason cleaning must give them
    messes = segkit.datasets.make_demo_shop(n_customers=150, seed=0).messes
    for reason, rows in messes.items():
        assert report.loc[reason, "rows"] == rows, reason


@pytest.mark.parametrize("layout", ["generic", "olist", "online_retail_ii"])
def test_demo_shop_written_in_each_layout_reads_back(tmp_path, layout):
    if not hasattr(segkit.datasets, "write_demo_shop"):
        pytest.skip("segkit.datasets.write_demo_shop is not available yet")
    shop = segkit.datasets.make_demo_shop(n_customers=150, seed=0)
    folder = segkit.datasets.write_demo_shop(shop, tmp_path / layout, layout=layout)
    read_back = load_inputs(str(folder))
    expected_clean, _ = clean_transactions(shop.transactions)
    clean = read_back.clean.transactions
    # Olist holds only the clean purchases; the other layouts hold every line with its messes
    assert len(clean) == len(expected_clean)
    assert clean["amount"].sum() == pytest.approx(expected_clean["amount"].sum())
    assert set(clean["customer_id"]) == set(expected_clean["customer_id"])
    if layout != "olist":
        assert len(read_back.raw.transactions) == len(shop.transactions)
    if layout == "generic":
        pd.testing.assert_frame_equal(read_back.raw.transactions, shop.transactions.reset_index(drop=True))
        assert read_back.truth is not None
