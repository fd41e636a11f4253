"""The demo shop: schema, determinism, steady state, targets, messes, planted types, shift, layouts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

import segkit
from segkit import datasets
from segkit.datasets import DemoShop, make_demo_shop, write_demo_shop, write_large_demo_shop
from segkit.io import OLIST_FILES
from segkit.schema import TRANSACTION_COLUMNS, ParameterError, validate_transactions


# --------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return make_demo_shop(n_customers=3_000, seed=5)


@pytest.fixture(scope="module")
def unshifted() -> DemoShop:
    return make_demo_shop(n_customers=3_000, seed=5, shift=False)


@pytest.fixture(scope="module")
def steady() -> DemoShop:
    """A bigger unshifted shop for the marginal targets."""
    return make_demo_shop(n_customers=6_000, seed=2, shift=False)


def _purchases(tx: pd.DataFrame) -> pd.DataFrame:
    """Product purchase lines with a customer, positive price, no cancellation (own minimal cleaning)."""
    keep = (
        tx["customer_id"].notna()
        & ~tx["order_id"].str.startswith("C")
        & (tx["unit_price"] > 0)
        & tx["category"].notna()
    )
    return tx.loc[keep].drop_duplicates()


def _orders(tx: pd.DataFrame) -> pd.DataFrame:
    lines = _purchases(tx)
    return (
        lines.groupby("order_id")
        .agg(
            customer_id=("customer_id", "first"),
            order_date=("order_date", "first"),
            value=("amount", "sum"),
            lines=("amount", "size"),
            channel=("channel", "first"),
        )
        .reset_index()
    )


def _customer_features(shop: DemoShop) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(RFM, behaviour) per customer, built with pandas here so the test does not need segkit.features."""
    lines = _purchases(shop.transactions)
    orders = _orders(shop.transactions)
    snapshot = orders["order_date"].max() + pd.Timedelta(days=1)
    by_customer = orders.groupby("customer_id")
    rfm = pd.DataFrame(
        {
            "recency_days": (snapshot - by_customer["order_date"].max()).dt.days,
            "frequency": by_customer.size(),
            "monetary": by_customer["value"].sum(),
        }
    )
    categories = pd.crosstab(
        lines["customer_id"], lines["category"], values=lines["amount"], aggfunc="sum", normalize="index"
    )
    channels = pd.crosstab(orders["customer_id"], orders["channel"], normalize="index")
    browsing = shop.sessions.groupby("customer_id")["pages_viewed"].agg(["size", "mean"])
    behaviour = pd.concat(
        [
            np.log1p(by_customer["value"].mean().rename("avg_order_value")),
            np.log1p(by_customer["lines"].mean().rename("lines_per_order")),
            np.log1p(browsing.rename(columns={"size": "sessions", "mean": "pages"})),
            categories.add_prefix("share_cat_"),
            channels.add_prefix("share_channel_"),
        ],
        axis=1,
    )
    return rfm, behaviour.reindex(rfm.index).fillna(0.0)


def _kmeans_ari(features: pd.DataFrame, truth: pd.Series) -> float:
    standardised = (features - features.mean()) / features.std().replace(0, 1)
    k = truth.nunique()
    labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(standardised.to_numpy())
    return adjusted_rand_score(truth.reindex(features.index).to_numpy(), labels)


# --------------------------------------------------------------------------- schema and basics
def test_tables_have_the_documented_columns_and_dtypes(shop):
    tx = shop.transactions
    assert list(tx.columns) == list(TRANSACTION_COLUMNS)
    validate_transactions(tx)
    for column in ("customer_id", "order_id", "product_id", "description", "category", "channel", "country"):
        assert tx[column].dtype == "str", column
    assert tx["order_date"].dtype == "datetime64[ns]"
    for column in ("quantity", "unit_price", "amount"):
        assert tx[column].dtype == "float64"
    np.testing.assert_allclose(tx["amount"], (tx["quantity"] * tx["unit_price"]).round(2))
    assert list(shop.customers.columns[:7]) == [
        "customer_id",
        "signup_date",
        "age",
        "gender",
        "income_band",
        "region",
        "country",
    ]
    assert set(shop.customers.columns) >= {"acquisition_channel"}
    assert list(shop.products.columns[:3]) == ["product_id", "category", "list_price"]
    assert list(shop.sessions.columns) == [
        "customer_id",
        "session_start",
        "pages_viewed",
        "category_viewed",
        "device",
        "converted",
    ]
    assert list(shop.reviews.columns) == ["order_id", "customer_id", "score", "review_date"]
    assert list(shop.truth.columns) == ["customer_id", "type", "type_before_shift", "shifted"]
    assert shop.reviews["score"].between(1, 5).all()
    assert shop.customers["age"].between(18, 90).all()
    assert shop.products["product_id"].is_unique


def test_n_customers_counts_the_customers_active_in_the_period(shop):
    tx = shop.transactions
    start, end = pd.Timestamp(shop.params["start"]), pd.Timestamp(shop.params["end"])
    assert tx["order_date"].min() >= start and tx["order_date"].max() < end
    buyers = set(_purchases(tx)["customer_id"])
    assert len(shop.truth) == 3_000 == shop.truth["customer_id"].nunique()
    assert set(shop.truth["customer_id"]) == set(shop.customers["customer_id"])
    # every customer bought in the period (a purchase may only be missing when it was cancelled or free)
    assert len(set(shop.truth["customer_id"]) - buyers) <= 0.01 * len(shop.truth)
    assert set(tx["customer_id"].dropna()) <= set(shop.truth["customer_id"])
    # acquired over ten years: most customers signed up before the period (steady state)
    assert (shop.customers["signup_date"] < start).mean() > 0.3
    assert shop.customers["signup_date"].min() < start - pd.DateOffset(years=5)


def test_same_arguments_give_identical_frames():
    first = make_demo_shop(n_customers=700, seed=9)
    second = make_demo_shop(n_customers=700, seed=9)
    for name in ("transactions", "customers", "products", "sessions", "reviews", "truth"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    assert first.messes == second.messes
    other = make_demo_shop(n_customers=700, seed=10)
    assert not other.transactions["amount"].equals(first.transactions["amount"])


def test_a_smaller_shop_is_a_prefix_of_a_bigger_one(shop):
    small = make_demo_shop(n_customers=500, seed=5)
    first = shop.truth.iloc[:500].reset_index(drop=True)
    pd.testing.assert_frame_equal(small.truth, first)


def test_bad_parameters_raise_parameter_errors():
    with pytest.raises(ParameterError, match="n_customers"):
        make_demo_shop(n_customers=0)
    with pytest.raises(ParameterError, match="start"):
        make_demo_shop(n_customers=10, start="not a date")
    with pytest.raises(ParameterError, match="shift date"):
        make_demo_shop(n_customers=10, months=12)
    with pytest.raises(ParameterError, match="months"):
        make_demo_shop(n_customers=10, months=0)
    shop = make_demo_shop(n_customers=10, months=12, shift=False)
    assert shop.shift_date is None
    with pytest.raises(ParameterError, match="layout"):
        write_demo_shop(shop, "unused", layout="excel")


# --------------------------------------------------------------------------- realistic marginals
def test_marginals_fall_in_the_documented_target_ranges(steady):
    orders = _orders(steady.transactions)
    per_customer = orders.groupby("customer_id").size()
    one_time = (per_customer == 1).mean()
    at_most_two = (per_customer <= 2).mean()
    assert 0.45 <= one_time <= 0.70, one_time
    assert at_most_two >= 0.60, at_most_two
    spread = orders["value"].quantile(0.9) / orders["value"].quantile(0.1)
    assert 4 <= spread <= 25, spread
    revenue = orders.groupby("customer_id")["value"].sum().sort_values(ascending=False)
    top20 = revenue.iloc[: len(revenue) // 5].sum() / revenue.sum()
    assert 0.55 <= top20 <= 0.85, top20
    year = orders.loc[orders["order_date"].dt.year == 2022]
    q4 = year.loc[year["order_date"].dt.quarter == 4, "value"].sum() / year["value"].sum()
    assert 0.27 <= q4 <= 0.36, q4
    # heavy tail: mean order value well above the median
    assert orders["value"].mean() > 1.3 * orders["value"].median()


def test_acquisition_waves_peak_in_january_and_november(steady):
    signup_month = steady.customers["signup_date"].dt.month.value_counts(normalize=True)
    assert signup_month[1] > 1.2 * signup_month[[3, 4, 5, 6, 8]].mean()
    assert signup_month[11] > 1.2 * signup_month[[3, 4, 5, 6, 8]].mean()


def test_mess_rates_are_realistic(shop):
    tx = shop.transactions
    n = len(tx)
    rates = {
        "cancellation": tx["order_id"].str.startswith("C").sum() / n,
        "missing_customer_id": tx["customer_id"].isna().sum() / n,
        "duplicate": tx.duplicated().sum() / n,
        "zero_price": (tx["unit_price"] == 0).sum() / n,
        "non_product": tx["category"].isna().sum() / n,
    }
    assert 0.01 <= rates["cancellation"] <= 0.03, rates
    assert 0.015 <= rates["missing_customer_id"] <= 0.05, rates
    assert 0.004 <= rates["duplicate"] <= 0.015, rates
    assert 0.001 <= rates["zero_price"] <= 0.006, rates
    assert 0.005 <= rates["non_product"] <= 0.04, rates
    assert sum(shop.messes.values()) == n
    assert shop.messes["duplicate"] == tx.duplicated().sum()
    codes = set(tx.loc[tx["category"].isna(), "product_id"])
    assert {"POST", "M", "AMAZONFEE"} <= codes
    assert any(code.startswith("gift_") for code in codes)


def test_cancellations_match_an_earlier_line(shop):
    tx = shop.transactions
    cancel = tx.loc[tx["order_id"].str.startswith("C")]
    assert (cancel["quantity"] < 0).all() and cancel["customer_id"].notna().all()
    purchases = tx.loc[~tx["order_id"].str.startswith("C")]
    matched = cancel.merge(
        purchases, on=["customer_id", "product_id", "unit_price"], suffixes=("_c", "_p"), how="left"
    )
    matched = matched.loc[matched["order_date_p"] < matched["order_date_c"]]
    assert matched.drop_duplicates("order_id_c")["order_id_c"].nunique() == cancel["order_id"].nunique()


def test_the_cleaning_report_counts_the_planted_messes(shop):
    cleaning = pytest.importorskip("segkit.cleaning")
    if not hasattr(cleaning, "clean_transactions"):
        pytest.skip("segkit.cleaning.clean_transactions is not available yet")
    clean, report = cleaning.clean_transactions(shop.transactions)
    counts = report.to_frame().set_index("reason")["rows"]
    for reason, planted in shop.messes.items():
        assert counts.get(reason, 0) == planted, reason
    assert len(clean) == shop.messes["kept"] + shop.messes["zero_amount"]  # $0 purchases are kept


# --------------------------------------------------------------------------- planted types
def test_five_to_seven_types_with_distinct_behaviour(shop):
    types = shop.truth["type"].value_counts(normalize=True)
    assert 5 <= len(types) <= 7
    assert types.min() > 0.03
    lines = _purchases(shop.transactions).merge(shop.truth, on="customer_id")
    dominant = lines.groupby("type")["category"].agg(lambda s: s.value_counts(normalize=True).index[0])
    assert dominant.is_unique  # each type has its own main category
    orders = _orders(shop.transactions).merge(shop.truth, on="customer_id")
    stats = orders.groupby("type").agg(aov=("value", "mean"), n=("order_id", "size"))
    stats["orders_per_customer"] = stats["n"] / shop.truth["type"].value_counts()
    assert stats["aov"].max() > 4 * stats["aov"].min()
    assert stats["orders_per_customer"].max() > 8 * stats["orders_per_customer"].min()
    demographics = shop.customers.merge(shop.truth, on="customer_id").groupby("type")["age"].mean()
    assert demographics.max() - demographics.min() > 15


def test_types_are_recoverable_from_behaviour_but_not_from_rfm_alone(shop):
    rfm, behaviour = _customer_features(shop)
    truth = shop.truth.set_index("customer_id")["type"]
    log_rfm = np.log1p(rfm)
    ari_rfm = _kmeans_ari(log_rfm, truth)
    ari_all = _kmeans_ari(pd.concat([log_rfm, behaviour], axis=1), truth)
    assert ari_all >= 0.6, (ari_all, ari_rfm)
    assert ari_rfm < ari_all - 0.2, (ari_all, ari_rfm)


# --------------------------------------------------------------------------- the shift
def test_history_before_the_shift_is_identical_with_and_without_it(shop, unshifted):
    shift_date = shop.shift_date
    assert unshifted.shift_date is None and shift_date is not None
    start = pd.Timestamp(shop.params["start"])
    assert shift_date >= start + pd.DateOffset(months=12)

    def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame.loc[frame[column] < shift_date].reset_index(drop=True)

    pd.testing.assert_frame_equal(
        before(shop.transactions, "order_date"), before(unshifted.transactions, "order_date")
    )
    pd.testing.assert_frame_equal(
        before(shop.sessions, "session_start"), before(unshifted.sessions, "session_start")
    )
    pd.testing.assert_frame_equal(
        before(shop.reviews, "review_date"), before(unshifted.reviews, "review_date")
    )
    pd.testing.assert_frame_equal(shop.customers, unshifted.customers)
    pd.testing.assert_series_equal(
        shop.truth["type_before_shift"], unshifted.truth["type"], check_names=False
    )
    assert not unshifted.truth["shifted"].any()
    # after the shift the two differ
    assert len(shop.transactions) > len(unshifted.transactions)


def test_the_shift_is_large_and_sudden(shop):
    tx = _orders(shop.transactions)
    shift_date = shop.shift_date
    window = tx.loc[
        (tx["order_date"] < shift_date) & (tx["order_date"] >= shift_date - pd.Timedelta(days=365))
    ]
    active_then = set(window["customer_id"])
    shifted = set(shop.truth.loc[shop.truth["shifted"], "customer_id"])
    assert len(shifted & active_then) >= len(active_then) / 3
    assert set(shop.truth.loc[shop.truth["shifted"], "type"]) == {"delivery_subscriber"}
    assert set(shop.truth.loc[shop.truth["shifted"], "type_before_shift"]) <= set(
        datasets.SHIFT_ELIGIBLE_TYPES
    )
    # shifted customers: rare before, about twice a month with small baskets right after the launch
    orders = tx.loc[tx["customer_id"].isin(shifted & active_then)]
    before = orders.loc[orders["order_date"] < shift_date]
    after = orders.loc[
        (orders["order_date"] >= shift_date) & (orders["order_date"] < shift_date + pd.Timedelta(days=90))
    ]
    rate_before = (
        len(before)
        / len(shifted & active_then)
        / ((shift_date - pd.Timestamp(shop.params["start"])).days / 30.44)
    )
    rate_after = len(after) / len(shifted & active_then) / (90 / 30.44)
    assert rate_before < 0.3 and 1.5 <= rate_after <= 2.6, (rate_before, rate_after)
    assert after["value"].median() < 0.6 * before["value"].median()
    first_after = after.groupby("customer_id")["order_date"].min()
    assert (first_after < shift_date + pd.Timedelta(days=21)).mean() > 0.8


def test_windowed_behaviour_is_stationary_without_the_shift(unshifted):
    """Trailing 365-day window features (recency, orders, mean order value) keep their distribution."""
    _assert_stationary(unshifted)


@pytest.mark.parametrize("types", [4, 8])
def test_planted_types_scenarios(types):
    shop = make_demo_shop(n_customers=3_000, seed=1, shift=False, types=types)
    counts = shop.truth["type"].value_counts(normalize=True)
    assert list(counts.index.sort_values()) == sorted(datasets.TYPE_ORDER[:types])
    assert counts.min() > 0.03 and shop.params["types"] == types
    lines = _purchases(shop.transactions).merge(shop.truth, on="customer_id")
    dominant = lines.groupby("type")["category"].agg(lambda s: s.value_counts(normalize=True).index[0])
    assert dominant.is_unique  # each type has its own main category
    _assert_stationary(shop)  # the steady state holds for every scenario
    again = make_demo_shop(n_customers=3_000, seed=1, shift=False, types=types)
    pd.testing.assert_frame_equal(shop.transactions, again.transactions)


def test_six_types_is_the_default_shop():
    default, six = make_demo_shop(n_customers=800, seed=4), make_demo_shop(n_customers=800, seed=4, types=6)
    for table in ("transactions", "customers", "sessions", "reviews", "truth"):
        pd.testing.assert_frame_equal(getattr(default, table), getattr(six, table))
    for bad in (1, 9, 2.5, True, "4"):
        with pytest.raises(ParameterError) as info:
            make_demo_shop(n_customers=100, types=bad)
        assert info.value.column == "types"


def _assert_stationary(shop: DemoShop) -> None:
    orders = _orders(shop.transactions)

    def window(at: pd.Timestamp) -> pd.DataFrame:
        rows = orders.loc[(orders["order_date"] < at) & (orders["order_date"] >= at - pd.Timedelta(days=365))]
        by = rows.groupby("customer_id")
        return pd.DataFrame(
            {
                "recency": (at - by["order_date"].max()).dt.days,
                "orders": by.size(),
                "value": by["value"].mean(),
            }
        )

    first, last = window(pd.Timestamp("2023-01-01")), window(pd.Timestamp("2024-06-01"))
    assert abs(len(last) / len(first) - 1) < 0.1
    for column in first.columns:
        edges = np.unique(np.quantile(first[column], np.linspace(0, 1, 11)))
        ref = np.histogram(first[column], np.r_[-np.inf, edges[1:-1], np.inf])[0] / len(first)
        cur = np.histogram(last[column], np.r_[-np.inf, edges[1:-1], np.inf])[0] / len(last)
        ref, cur = np.maximum(ref, 1e-6), np.maximum(cur, 1e-6)
        psi = float(np.sum((cur - ref) * np.log(cur / ref)))
        assert psi < 0.1, (column, psi)


# --------------------------------------------------------------------------- writing and reading back
def _net_orders(tx: pd.DataFrame) -> pd.DataFrame:
    return (
        tx.groupby("order_id")
        .agg(customer_id=("customer_id", "first"), amount=("amount", "sum"))
        .sort_index()
    )


def test_generic_layout_round_trip(shop, tmp_path):
    folder = write_demo_shop(shop, tmp_path / "demo")
    assert {p.name for p in folder.iterdir()} == {
        "transactions.parquet",
        "customers.parquet",
        "products.parquet",
        "sessions.parquet",
        "reviews.parquet",
        "truth.parquet",
        "meta.json",
    }
    meta = json.loads((folder / "meta.json").read_text())
    assert (
        meta["seed"] == 5
        and meta["n_customers"] == 3_000
        and meta["shift_date"] == str(shop.shift_date.date())
    )
    data = segkit.read_dataset(folder)
    pd.testing.assert_frame_equal(
        data.transactions[list(TRANSACTION_COLUMNS)].reset_index(drop=True),
        shop.transactions,
        check_dtype=False,
    )
    assert len(data.sessions) == len(shop.sessions) and len(data.customers) == len(shop.customers)


def test_online_retail_ii_layout_round_trip(shop, tmp_path):
    folder = write_demo_shop(shop, tmp_path / "uci", layout="online_retail_ii")
    header = (folder / datasets.ONLINE_RETAIL_II_FILE).read_text().splitlines()[0]
    assert header == "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
    back = segkit.read_transactions(folder / datasets.ONLINE_RETAIL_II_FILE, layout="online_retail")
    assert len(back) == len(shop.transactions)
    pd.testing.assert_frame_equal(_net_orders(back), _net_orders(shop.transactions), check_dtype=False)
    assert back["order_date"].min() == shop.transactions["order_date"].min()


def test_olist_layout_round_trip(shop, tmp_path):
    from segkit.cleaning import clean_transactions

    folder = write_demo_shop(shop, tmp_path / "olist", layout="olist")
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{stem}.csv" for stem in OLIST_FILES.values()}
    orders = pd.read_csv(folder / "olist_orders_dataset.csv", dtype=str)
    customers = pd.read_csv(folder / "olist_customers_dataset.csv", dtype=str)
    assert orders["customer_id"].is_unique and customers["customer_unique_id"].nunique() < len(customers)
    data = segkit.read_dataset(folder, layout="olist")
    clean, _ = clean_transactions(shop.transactions)
    expected = _net_orders(clean)
    got = _net_orders(data.transactions)
    pd.testing.assert_index_equal(got.index, expected.index)
    pd.testing.assert_series_equal(got["customer_id"], expected["customer_id"], check_dtype=False)
    np.testing.assert_allclose(got["amount"], expected["amount"], rtol=1e-9, atol=1e-6)
    assert set(data.transactions["category"]) <= set(datasets.CATEGORIES)


def test_writing_replaces_the_folder_and_leaves_nothing_partial(shop, tmp_path, monkeypatch):
    folder = tmp_path / "demo"
    write_demo_shop(make_demo_shop(n_customers=50, seed=1), folder, layout="online_retail_ii")

    def broken(shop, tmp):
        (tmp / "transactions.parquet").write_text("half")
        raise OSError("disk full")

    monkeypatch.setitem(datasets._WRITERS, "generic", broken)
    with pytest.raises(OSError):
        write_demo_shop(shop, folder)
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    assert [p.name for p in folder.iterdir()] == [datasets.ONLINE_RETAIL_II_FILE]


def test_large_writer_streams_the_same_shop_in_parquet_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "BLOCK_SIZE", 1_024)  # small blocks: several chunks from a small shop
    folder = write_large_demo_shop(tmp_path / "big", n_customers=1_500, chunk_customers=500, seed=4)
    parts = sorted(p.name for p in (folder / "transactions.parquet").iterdir())
    assert len(parts) >= 2
    data = segkit.read_dataset(folder)
    shop = make_demo_shop(n_customers=1_500, seed=4)
    assert len(data.transactions) == len(shop.transactions)
    assert data.transactions["amount"].sum() == pytest.approx(shop.transactions["amount"].sum())
    pd.testing.assert_frame_equal(
        pd.read_parquet(folder / "truth.parquet").reset_index(drop=True), shop.truth, check_dtype=False
    )
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["messes"] == shop.messes and meta["parts"] == len(parts)


def test_the_shift_shows_in_trailing_windows_within_three_weeks(shop, unshifted):
    """Share of window-active customers who ordered in the last 21 days: jumps with the shift only."""

    def recent_share(which: DemoShop, at: pd.Timestamp) -> float:
        orders = _orders(which.transactions)
        window = orders.loc[
            (orders["order_date"] < at) & (orders["order_date"] >= at - pd.Timedelta(days=365))
        ]
        last = window.groupby("customer_id")["order_date"].max()
        return float((last >= at - pd.Timedelta(days=21)).mean())

    before, after = shop.shift_date, shop.shift_date + pd.Timedelta(days=21)
    assert recent_share(shop, after) > 2 * recent_share(shop, before)
    assert 0.8 < recent_share(unshifted, after) / recent_share(unshifted, before) < 1.25


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3])
def test_the_maintenance_simulation_alarms_after_the_shift_only(seed):
    stability = pytest.importorskip("segkit.stability")
    from segkit.cleaning import clean_transactions

    for shift in (True, False):
        shop = make_demo_shop(n_customers=10_000, seed=seed, shift=shift)
        clean, _ = clean_transactions(shop.transactions)
        simulation = stability.maintenance_simulation(clean, progress=False)
        alarm = stability.recommend_retrain_period(simulation).obsolete_on
        if shift:
            assert alarm is not None and pd.Timedelta(0) <= alarm - shop.shift_date <= pd.Timedelta(days=42)
        else:
            assert alarm is None
