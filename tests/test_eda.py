"""segkit.eda: overviews, monthly KPIs, new vs existing, cohorts and breakdowns on hand-checkable data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit import eda
from segkit.schema import DataError, ParameterError, SchemaError


def lines(rows: list[tuple[str, str, str, float, float]], **extra) -> pd.DataFrame:
    """rows of (customer, order, timestamp, amount, quantity)."""
    customer, order, stamp, amount, quantity = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": pd.array(customer, dtype="str"),
            "order_id": pd.array(order, dtype="str"),
            "order_date": pd.to_datetime(list(stamp)),
            "amount": np.asarray(amount, dtype=float),
            "quantity": np.asarray(quantity, dtype=float),
            **extra,
        }
    )


@pytest.fixture
def tx() -> pd.DataFrame:
    return lines(
        [
            ("a", "1", "2023-01-05 10:00", 10.0, 1),
            ("a", "1", "2023-01-05 10:00", 5.0, 2),
            ("b", "2", "2023-01-20 12:00", 20.0, 4),
            ("a", "3", "2023-03-02 09:00", 8.0, 1),
            ("c", "4", "2023-03-15 09:00", 30.0, 3),
            ("b", "5", "2024-01-03 09:00", 40.0, 5),
            ("c", "6", "2024-03-31 18:00", 12.0, 1),
        ],
        country=pd.array(["UK", "UK", "FR", "UK", None, "FR", "FR"], dtype="str"),
    )


def test_table_overview_counts(tx):
    side = pd.DataFrame({"customer_id": ["a", "b", None], "age": [30.0, np.nan, 50.0]})
    overview = eda.table_overview({"transactions": tx, "customers": side, "sessions": None})
    assert set(overview["table"]) == {"transactions", "customers"}
    age = overview.set_index(["table", "column"]).loc[("customers", "age")]
    assert age["missing"] == 1 and age["missing_share"] == pytest.approx(1 / 3)
    assert age["distinct"] == 2 and age["min"] == "30" and age["max"] == "50"
    assert age["rows"] == 3 and age["columns"] == 2
    dates = overview.set_index(["table", "column"]).loc[("transactions", "order_date")]
    assert dates["min"] == "2023-01-05 10:00:00" and dates["max"] == "2024-03-31 18:00:00"
    country = overview.set_index(["table", "column"]).loc[("transactions", "country")]
    assert country["distinct"] == 2 and country["missing"] == 1
    single = eda.table_overview(tx)
    assert len(single) == tx.shape[1] and (single["table"] == "table").all()
    summary = eda.table_summary({"transactions": tx, "customers": side})
    assert summary.loc["transactions", "customers"] == 3
    assert summary.loc["transactions", "date_to"] == pd.Timestamp("2024-03-31 18:00")
    assert pd.isna(summary.loc["customers", "date_from"])
    with pytest.raises(SchemaError):
        eda.table_overview([tx])


def test_monthly_kpis_values(tx):
    kpis = eda.monthly_kpis(tx)
    assert list(kpis.index) == list(pd.date_range("2023-01-01", "2024-03-01", freq="MS"))
    jan = kpis.loc["2023-01-01"]
    assert (
        jan["revenue"] == 35.0
        and jan["orders"] == 2
        and jan["items_sold"] == 7
        and jan["active_customers"] == 2
    )
    assert jan["revenue_per_order"] == 17.5 and jan["revenue_per_customer"] == 17.5
    feb = kpis.loc["2023-02-01"]
    assert feb["revenue"] == 0 and feb["orders"] == 0 and np.isnan(feb["revenue_per_order"])
    assert kpis["revenue"].sum() == tx["amount"].sum()
    # the data start on 5 Jan and end on 31 Mar: January 2023 is partial, March 2024 complete
    assert jan["partial"] and jan["days_observed"] == 27
    assert not kpis.loc["2024-03-01", "partial"]
    # year over year: March 2024 (12) against March 2023 (38); January 2024 against a partial month
    assert kpis.loc["2024-03-01", "revenue_yoy"] == pytest.approx(12 / 38 - 1)
    assert kpis.loc["2024-03-01", "active_customers_yoy"] == pytest.approx(1 / 2 - 1)
    assert np.isnan(kpis.loc["2024-01-01", "revenue_yoy"])
    assert np.isnan(kpis.loc["2023-03-01", "revenue_yoy"])
    assert list(kpis["year"].unique()) == [2023, 2024]


def test_monthly_kpis_without_order_id_or_quantity(tx):
    kpis = eda.monthly_kpis(tx.drop(columns=["order_id", "quantity"]))
    jan = kpis.loc["2023-01-01"]
    assert jan["orders"] == 2  # a's two lines share a timestamp: one order
    assert jan["items_sold"] == 3  # lines


def test_new_vs_existing(tx):
    split = eda.new_vs_existing(tx)
    assert (
        split.loc["2023-01-01", "new_customers"] == 2 and split.loc["2023-01-01", "existing_customers"] == 0
    )
    march = split.loc["2023-03-01"]
    assert march["new_customers"] == 1 and march["existing_customers"] == 1
    assert march["new_revenue"] == 30.0 and march["existing_revenue"] == 8.0
    assert march["new_revenue_share"] == pytest.approx(30 / 38)
    assert (split["new_revenue"] + split["existing_revenue"]).sum() == tx["amount"].sum()
    assert np.isnan(split.loc["2023-02-01", "new_revenue_share"])


def test_cohort_retention(tx):
    cohorts = eda.cohort_retention(tx).set_index(["cohort", "months_since"])
    jan = pd.Timestamp("2023-01-01")
    assert cohorts.loc[(jan, 0), "cohort_size"] == 2 and cohorts.loc[(jan, 0), "share_active"] == 1.0
    assert cohorts.loc[(jan, 2), "active_customers"] == 1 and cohorts.loc[(jan, 2), "share_active"] == 0.5
    assert (
        cohorts.loc[(jan, 12), "revenue"] == 40.0 and cohorts.loc[(jan, 12), "revenue_per_customer"] == 20.0
    )
    march = pd.Timestamp("2023-03-01")
    assert cohorts.loc[(march, 12), "share_active"] == 1.0
    assert cohorts["revenue"].sum() == tx["amount"].sum()
    assert (cohorts["share_active"] <= 1).all()


def test_breakdown(tx):
    table = eda.breakdown(tx, "country")
    assert list(table.index) == ["FR", "unknown", "UK"]  # by revenue: 72, 30, 23
    assert (
        table.loc["FR", "revenue"] == 72.0
        and table.loc["FR", "orders"] == 3
        and table.loc["FR", "customers"] == 2
    )
    assert table["revenue_share"].sum() == pytest.approx(1.0)
    assert table.loc["UK", "lines"] == 3 and table.loc["UK", "avg_order_value"] == pytest.approx(23 / 2)
    assert eda.available_breakdowns(tx) == ["country"]
    assert eda.available_breakdowns(tx.assign(channel=pd.array([None] * len(tx), dtype="str"))) == ["country"]
    with pytest.raises(SchemaError, match="did you mean") as err:
        eda.breakdown(tx, "Country")
    assert err.value.column == "Country"
    with pytest.raises(ParameterError):
        eda.breakdown(tx, by=["country"])


def test_bad_transactions_raise_naming_the_column(tx):
    with pytest.raises(SchemaError) as missing:
        eda.monthly_kpis(tx.drop(columns="order_date"))
    assert missing.value.column == "order_date"
    with pytest.raises(SchemaError) as text_dates:
        eda.cohort_retention(tx.assign(order_date=tx["order_date"].astype("str")))
    assert text_dates.value.column == "order_date"
    with pytest.raises(DataError) as ids:
        eda.new_vs_existing(tx.assign(customer_id=pd.array([None] + ["a"] * (len(tx) - 1), dtype="str")))
    assert ids.value.n_bad == 1
    with pytest.raises(DataError, match="empty"):
        eda.monthly_kpis(tx.iloc[:0])
    with pytest.raises(SchemaError):
        eda.monthly_kpis("transactions.csv")


def test_amount_from_quantity_and_unit_price(tx):
    derived = tx.drop(columns="amount").assign(unit_price=2.0)
    kpis = eda.monthly_kpis(derived)
    assert kpis.loc["2023-01-01", "revenue"] == 2.0 * 7


def test_on_the_real_sample(online_retail_ii_path):
    from segkit import clean_transactions, read_dataset

    dataset = read_dataset(online_retail_ii_path)
    clean, _ = clean_transactions(dataset.transactions)
    kpis = eda.monthly_kpis(clean)
    assert kpis["revenue"].sum() == pytest.approx(clean["amount"].sum())
    assert kpis["partial"].iloc[-1]  # the sample ends on 9 December 2010
    assert eda.available_breakdowns(clean) == ["country"]
    cohorts = eda.cohort_retention(clean)
    assert cohorts.loc[cohorts["months_since"] == 0, "cohort_size"].sum() == clean["customer_id"].nunique()
