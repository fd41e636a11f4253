"""segkit.features: RFM (both conventions) against slow references, the customer file, scores, segments."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segkit import features
from segkit.features import (
    CUSTOMER_FILE_COLUMNS,
    RFM_SEGMENT_NAMES,
    RFM_SEGMENT_RULES,
    RFMScorer,
    column_doc,
    customer_file,
    rfm,
    rfm_scores,
    rfm_segments,
)
from segkit.schema import DataError, ParameterError, SchemaError, SegkitError

START = pd.Timestamp("2023-03-01")


def make_transactions(rows: list[tuple[int, int, int, float, int]]) -> pd.DataFrame:
    """rows of (customer, day offset, minute of day, amount, order number) -> canonical table."""
    customers, days, minutes, amounts, orders = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"c{c:02d}" for c in customers], dtype="str"),
            "order_id": pd.array([f"o{c}-{o}" for c, o in zip(customers, orders, strict=True)], dtype="str"),
            "order_date": START
            + pd.to_timedelta(np.asarray(days), unit="D")
            + pd.to_timedelta(np.asarray(minutes), unit="min"),
            "amount": np.asarray(amounts, dtype=float),
        }
    )


line = st.tuples(
    st.integers(0, 6),  # customer
    st.integers(0, 60),  # day offset
    st.integers(0, 24 * 60 - 1),  # minute of day
    st.floats(0.01, 500, allow_nan=False, allow_infinity=False),  # amount
    st.integers(0, 4),  # order number of the customer
)
logs = st.lists(line, min_size=1, max_size=60)


# --------------------------------------------------------------------------- slow references
def btyd_reference(tx: pd.DataFrame, snapshot: pd.Timestamp) -> dict[str, tuple[float, float, float, float]]:
    """lifetimes' summary_data_from_transaction_data at daily freq, written as plain loops."""
    per_day: dict[str, dict[pd.Timestamp, float]] = defaultdict(lambda: defaultdict(float))
    for row in tx.itertuples():
        day = row.order_date.normalize()
        if day <= snapshot:
            per_day[row.customer_id][day] += row.amount
    out = {}
    for customer, days in per_day.items():
        ordered = sorted(days)
        repeat = [days[d] for d in ordered[1:]]
        out[customer] = (
            float(len(ordered) - 1),
            float((ordered[-1] - ordered[0]).days),
            float((snapshot - ordered[0]).days),
            float(np.mean(repeat)) if repeat else 0.0,
        )
    return out


def marketing_reference(tx: pd.DataFrame, snapshot: pd.Timestamp) -> dict[str, tuple[int, int, float, int]]:
    orders: dict[str, set[str]] = defaultdict(set)
    total: dict[str, float] = defaultdict(float)
    last: dict[str, pd.Timestamp] = {}
    first: dict[str, pd.Timestamp] = {}
    for row in tx.itertuples():
        day = row.order_date.normalize()
        if day > snapshot:
            continue
        orders[row.customer_id].add(row.order_id)
        total[row.customer_id] += row.amount
        last[row.customer_id] = max(last.get(row.customer_id, day), day)
        first[row.customer_id] = min(first.get(row.customer_id, day), day)
    return {
        c: ((snapshot - last[c]).days, len(orders[c]), total[c], (snapshot - first[c]).days) for c in orders
    }


# --------------------------------------------------------------------------- RFM
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=logs, snapshot_offset=st.one_of(st.none(), st.integers(0, 70)))
def test_btyd_matches_the_lifetimes_definitions(rows, snapshot_offset):
    tx = make_transactions(rows)
    snapshot = None if snapshot_offset is None else START + pd.Timedelta(days=snapshot_offset)
    expected_snapshot = tx["order_date"].max().normalize() if snapshot is None else snapshot
    expected = btyd_reference(tx, expected_snapshot)
    if not expected:
        with pytest.raises(DataError, match="snapshot"):
            rfm(tx, snapshot_date=snapshot, convention="btyd")
        return
    got = rfm(tx, snapshot_date=snapshot, convention="btyd")
    assert list(got.columns) == ["frequency", "recency", "T", "monetary_value"]
    assert sorted(expected) == list(got.index)
    want = pd.DataFrame.from_dict(expected, orient="index", columns=got.columns).loc[got.index]
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9)
    assert got.attrs["snapshot_date"] == expected_snapshot.date().isoformat()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=logs, snapshot_offset=st.one_of(st.none(), st.integers(0, 70)))
def test_marketing_rfm_matches_a_reference(rows, snapshot_offset):
    tx = make_transactions(rows)
    snapshot = None if snapshot_offset is None else START + pd.Timedelta(days=snapshot_offset)
    expected_snapshot = (
        tx["order_date"].max().normalize() + pd.Timedelta(days=1) if snapshot is None else snapshot
    )
    expected = marketing_reference(tx, expected_snapshot)
    if not expected:
        with pytest.raises(DataError):
            rfm(tx, snapshot_date=snapshot)
        return
    got = rfm(tx, snapshot_date=snapshot)
    want = pd.DataFrame.from_dict(
        expected, orient="index", columns=["recency_days", "frequency", "monetary", "tenure_days"]
    ).loc[got.index]
    np.testing.assert_array_equal(got["recency_days"], want["recency_days"])
    np.testing.assert_array_equal(got["frequency"], want["frequency"])
    np.testing.assert_array_equal(got["tenure_days"], want["tenure_days"])
    np.testing.assert_allclose(got["monetary"], want["monetary"], rtol=1e-9)
    np.testing.assert_allclose(got["avg_order_value"], want["monetary"] / want["frequency"], rtol=1e-9)
    assert got.notna().all().all()


def test_default_snapshots_and_inclusive_end():
    tx = make_transactions(
        [(1, 0, 60, 10.0, 0), (1, 5, 600, 20.0, 1), (2, 5, 1439, 5.0, 0), (3, 9, 0, 7.0, 0)]
    )
    marketing = rfm(tx)
    assert marketing.attrs["snapshot_date"] == (START + pd.Timedelta(days=10)).date().isoformat()
    assert marketing["recency_days"].min() == 1
    assert marketing.loc["c03", "recency_days"] == 1
    btyd = rfm(tx, convention="btyd")
    assert btyd.attrs["snapshot_date"] == (START + pd.Timedelta(days=9)).date().isoformat()
    assert btyd.loc["c03", "T"] == 0
    # a snapshot on day 5 (given with a time of day) still counts everything dated on day 5
    at_day_5 = rfm(tx, snapshot_date=START + pd.Timedelta(days=5, hours=1))
    assert list(at_day_5.index) == ["c01", "c02"]
    assert at_day_5.loc["c02", "recency_days"] == 0
    assert at_day_5.loc["c01", "frequency"] == 2
    assert at_day_5.attrs["snapshot_date"] == (START + pd.Timedelta(days=5)).date().isoformat()


def test_rfm_does_not_depend_on_row_order():
    rng = np.random.default_rng(3)
    rows = [(int(c), int(d), int(m), float(a), int(o)) for c, d, m, a, o in zip(
        rng.integers(0, 30, 400), rng.integers(0, 200, 400), rng.integers(0, 1440, 400),
        rng.gamma(2, 20, 400), rng.integers(0, 5, 400), strict=True)]  # fmt: skip
    tx = make_transactions(rows)
    shuffled = tx.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(customer_file(tx), customer_file(shuffled))
    pd.testing.assert_frame_equal(rfm(tx, convention="btyd"), rfm(shuffled, convention="btyd"))


def test_frequency_without_order_id_counts_distinct_timestamps():
    tx = make_transactions([(1, 0, 60, 10.0, 0), (1, 0, 60, 5.0, 0), (1, 0, 61, 5.0, 1), (2, 0, 60, 1.0, 0)])
    got = rfm(tx.drop(columns="order_id"))
    assert got.loc["c01", "frequency"] == 2
    assert got.loc["c02", "frequency"] == 1


def test_mean_days_between_orders_and_its_fill():
    tx = make_transactions([(1, 0, 0, 1.0, 0), (1, 10, 0, 1.0, 1), (1, 30, 0, 1.0, 2), (2, 20, 0, 1.0, 0)])
    got = rfm(tx)
    assert got.loc["c01", "mean_days_between_orders"] == 15.0
    assert got.loc["c02", "mean_days_between_orders"] == got.loc["c02", "tenure_days"] == 11


def test_amount_from_quantity_and_price():
    tx = (
        make_transactions([(1, 0, 0, 0.0, 0)]).drop(columns="amount").assign(quantity=[3.0], unit_price=[2.5])
    )
    assert rfm(tx).loc["c01", "monetary"] == 7.5


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_segkit_errors_naming_the_column():
    tx = make_transactions([(1, 0, 0, 1.0, 0), (2, 1, 0, 2.0, 0)])
    with pytest.raises(SchemaError) as missing:
        rfm(tx.drop(columns="order_date"))
    assert missing.value.column == "order_date"
    with pytest.raises(SchemaError, match="did you mean"):
        rfm(tx.rename(columns={"customer_id": "CustomerID"}))
    with pytest.raises(SchemaError) as text_dates:
        rfm(tx.assign(order_date=tx["order_date"].astype("str")))
    assert text_dates.value.column == "order_date"
    no_ids = tx.assign(customer_id=pd.array([None, "c02"], dtype="str"))
    with pytest.raises(DataError) as ids:
        rfm(no_ids)
    assert ids.value.column == "customer_id" and ids.value.n_bad == 1
    with pytest.raises(DataError) as amounts:
        rfm(tx.assign(amount=[np.inf, 1.0]))
    assert amounts.value.n_bad == 1
    with pytest.raises(ParameterError):
        rfm(tx, convention="lifetimes")
    with pytest.raises(ParameterError):
        rfm(tx, snapshot_date="not a date")
    with pytest.raises(DataError, match="snapshot"):
        rfm(tx, snapshot_date="2000-01-01")
    with pytest.raises(DataError, match="empty"):
        rfm(tx.iloc[:0])
    with pytest.raises(SchemaError):
        rfm([1, 2, 3])


# --------------------------------------------------------------------------- customer file
@pytest.fixture
def shop() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 3000
    customer = rng.integers(0, 200, n)
    tx = pd.DataFrame(
        {
            "customer_id": pd.array([f"k{c:03d}" for c in customer], dtype="str"),
            "order_id": pd.array(
                [f"o{c}-{o}" for c, o in zip(customer, rng.integers(0, 6, n), strict=True)], dtype="str"
            ),
            "order_date": START + pd.to_timedelta(rng.integers(0, 400 * 24, n), unit="h"),
            "amount": rng.gamma(2.0, 15.0, n),
            "product_id": pd.array([f"p{p}" for p in rng.integers(0, 50, n)], dtype="str"),
            "category": pd.array(rng.choice(["Books", "Home & Garden", "toys", None], n), dtype="str"),
            "channel": pd.array(rng.choice(["web", "app"], n), dtype="str"),
        }
    )
    ids = sorted(set(tx["customer_id"]))
    customers = pd.DataFrame(
        {
            "customer_id": ids[:150],
            "age": rng.integers(18, 80, 150).astype(float),
            "region": rng.choice(["n", "s"], 150),
        }
    )
    sessions = pd.DataFrame(
        {
            "customer_id": rng.choice(ids[:120] + ["stranger"], 900),
            "session_start": START + pd.to_timedelta(rng.integers(0, 500, 900), unit="D"),
            "pages_viewed": rng.integers(1, 20, 900),
            "converted": rng.random(900) < 0.2,
        }
    )
    reviews = pd.DataFrame({"customer_id": rng.choice(ids[:80], 300), "score": rng.integers(1, 6, 300)})
    cancellations = pd.DataFrame(
        {"lines": rng.integers(1, 30, 100), "cancelled_lines": rng.integers(0, 2, 100)},
        index=pd.Index(ids[:100], name="customer_id"),
    )
    return dict(
        transactions=tx, customers=customers, sessions=sessions, reviews=reviews, cancellations=cancellations
    )


def test_customer_file_is_documented_and_complete(shop):
    cf = customer_file(**shop)
    assert cf.index.is_unique and cf.index.name == "customer_id"
    assert len(cf) == shop["transactions"]["customer_id"].nunique()
    assert not cf.isna().any().any()
    demographics = cf.attrs["demographics"]
    assert demographics == ["age", "region"]
    for column in cf.columns:
        doc = column_doc(column, demographics)
        if doc["dtype"] in ("int64", "float64", "datetime64[ns]", "str"):
            assert str(cf[column].dtype) == doc["dtype"], column
    assert set(CUSTOMER_FILE_COLUMNS.columns) == {"column", "dtype", "group", "unit", "fill", "description"}
    assert {"share_cat_<category>", "share_channel_<channel>"} <= set(CUSTOMER_FILE_COLUMNS["column"])
    with pytest.raises(ParameterError):
        column_doc("no_such_feature")


def test_customer_file_behaviour_values(shop):
    cf = customer_file(**shop)
    tx = shop["transactions"]
    shares = cf.filter(like="share_cat_")
    assert set(shares.columns) == {
        "share_cat_books",
        "share_cat_home_garden",
        "share_cat_toys",
        "share_cat_unknown",
    }
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(cf.filter(like="share_channel_").sum(axis=1), 1.0)
    toys = tx.loc[tx["category"] == "toys"].groupby("customer_id")["amount"].sum()
    expected_toys = (
        toys.reindex(cf.index, fill_value=0.0) / tx.groupby("customer_id")["amount"].sum().loc[cf.index]
    )
    np.testing.assert_allclose(cf["share_cat_toys"], expected_toys)
    np.testing.assert_array_equal(
        cf["distinct_products"], tx.groupby("customer_id")["product_id"].nunique().loc[cf.index]
    )
    by = shop["cancellations"]
    expected_cancel = (by["cancelled_lines"] / by["lines"]).reindex(cf.index, fill_value=0.0)
    np.testing.assert_allclose(cf["cancelled_share"], expected_cancel)
    reviews = shop["reviews"].groupby("customer_id")["score"]
    np.testing.assert_array_equal(cf["review_count"], reviews.size().reindex(cf.index, fill_value=0))
    reviewed = reviews.mean()
    np.testing.assert_allclose(cf.loc[reviewed.index, "review_mean"], reviewed)
    assert (cf.loc[cf["review_count"] == 0, "review_mean"] == shop["reviews"]["score"].mean()).all()
    sessions = shop["sessions"]
    kept = sessions.loc[sessions["session_start"].dt.normalize() <= pd.Timestamp(cf.attrs["snapshot_date"])]
    np.testing.assert_array_equal(
        cf["sessions"], kept.groupby("customer_id").size().reindex(cf.index, fill_value=0)
    )
    pages = kept.groupby("customer_id")["pages_viewed"].mean().reindex(cf.index, fill_value=0.0)
    np.testing.assert_allclose(cf["pages_per_session"], pages)
    assert cf["age"].dtype == "float64" and (cf.loc[cf.index[150:], "region"] == "unknown").all()
    assert cf.loc[cf.index[150:], "age"].nunique() == 1  # the median fill
    assert cf.attrs["tables"] == ["transactions", "cancellations", "reviews", "sessions", "customers"]


def test_customer_file_copes_with_transactions_only():
    tx = make_transactions([(1, 0, 0, 1.0, 0), (2, 3, 0, 2.0, 0)])
    cf = customer_file(tx)
    assert list(cf.columns) == list(rfm(tx).columns)
    assert cf.attrs["tables"] == ["transactions"]


def test_many_categories_are_capped():
    rows = [(i % 7, i % 20, 0, float(i + 1), 0) for i in range(60)]
    tx = make_transactions(rows).assign(category=pd.array([f"cat {i % 30}" for i in range(60)], dtype="str"))
    shares = customer_file(tx).filter(like="share_cat_")
    assert shares.shape[1] == features.MAX_SHARE_LEVELS
    assert shares.columns[-1] == "share_cat_other"
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- scores
def rfm_table(recency, frequency, monetary, ids=None) -> pd.DataFrame:
    ids = ids if ids is not None else [f"c{i:04d}" for i in range(len(recency))]
    return pd.DataFrame(
        {"recency_days": recency, "frequency": frequency, "monetary": monetary},
        index=pd.Index(ids, name="customer_id"),
    )


def test_equal_values_get_equal_scores_and_the_lowest_value_scores_one():
    rng = np.random.default_rng(1)
    n = 1003
    table = rfm_table(
        rng.integers(1, 400, n), np.where(rng.random(n) < 0.7, 1, rng.integers(2, 9, n)), rng.gamma(2, 50, n)
    )
    scores = rfm_scores(table)
    for column, source in (("r_score", "recency_days"), ("f_score", "frequency"), ("m_score", "monetary")):
        assert (scores[column].groupby(table[source]).nunique() == 1).all()  # ties kept together
        # the rule of the docstring: 1 + floor(5 x share of customers strictly worse)
        values = -table[source] if source == "recency_days" else table[source]
        worse = np.array([(values < v).sum() for v in values])
        np.testing.assert_array_equal(scores[column], 1 + (worse * 5) // n)
    # the 70% one-time buyers share one F score, the lowest
    assert set(scores.loc[table["frequency"] == 1, "f_score"]) == {1}
    assert (scores.loc[table["frequency"] > 1, "f_score"] > 1).all()
    # no dependence on row order or ids
    shuffled = rfm_scores(table.sample(frac=1.0, random_state=2)).loc[scores.index]
    pd.testing.assert_frame_equal(scores, shuffled)
    renamed = rfm_scores(table.set_axis([f"z{n - i:05d}" for i in range(n)]))
    np.testing.assert_array_equal(renamed.to_numpy(), scores.to_numpy())
    # R reversed: the most recent customers get the highest score
    assert scores.loc[table["recency_days"].idxmin(), "r_score"] == scores["r_score"].max()
    assert scores.loc[table["recency_days"].idxmax(), "r_score"] == 1
    r_means = table["recency_days"].groupby(scores["r_score"]).mean()
    assert r_means.is_monotonic_decreasing
    assert (
        scores["rfm_score"] == scores[["r_score", "f_score", "m_score"]].astype(str).agg("".join, axis=1)
    ).all()


def test_docstring_example_of_the_score_rule():
    table = rfm_table([1] * 10, [1, 1, 1, 1, 1, 1, 2, 2, 3, 5], np.arange(1.0, 11.0))
    assert rfm_scores(table)["f_score"].tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    assert set(rfm_scores(table)["r_score"]) == {1}  # one shared value is one score


def _log_customers(draw_rows) -> pd.DataFrame:
    rows = [
        (c, day, 0, amount, o) for c, (orders, amount) in enumerate(draw_rows) for o, day in enumerate(orders)
    ]
    return customer_file(make_transactions(rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from([0, 30, 60, 200, 399]), min_size=1, max_size=4, unique=True),
            st.sampled_from([10.0, 25.0, 80.0]),
        ),
        min_size=5,
        max_size=60,
    )
)
def test_identical_customers_share_scores_and_segment(customers):
    cf = _log_customers(customers)
    scored = features.with_rfm_segments(cf)
    keys = ["recency_days", "frequency", "monetary"]
    groups = scored.groupby(keys)[["r_score", "f_score", "m_score", "rfm_segment"]].nunique()
    assert (groups == 1).all().all()
    # scored again in another row order, the same customers get the same scores
    again = features.with_rfm_segments(cf.iloc[::-1]).loc[scored.index]
    pd.testing.assert_frame_equal(again[["rfm_score", "rfm_segment"]], scored[["rfm_score", "rfm_segment"]])
    # the training edges give every training customer its own score back
    scorer = RFMScorer().fit(cf)
    pd.testing.assert_frame_equal(
        scorer.transform(cf), scored[["r_score", "f_score", "m_score", "rfm_score"]]
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_time_buyers_are_never_champions_or_loyal(seed):
    rng = np.random.default_rng(seed)
    n = 600
    one_time = rng.random(n) < 0.65
    rows = []
    for c in range(n):
        k = 1 if one_time[c] else int(rng.integers(2, 12))
        days = np.sort(rng.choice(720, size=k, replace=False))
        rows += [
            (c, int(d), 0, float(rng.gamma(2.0, 40.0 if one_time[c] else 20.0)), o)
            for o, d in enumerate(days)
        ]
    scored = features.with_rfm_segments(customer_file(make_transactions(rows)))
    once = scored["frequency"] == 1
    assert once.mean() >= 0.6
    assert (scored.loc[once, "f_score"] == 1).all()
    assert not scored.loc[once, "rfm_segment"].isin(["Champions", "Loyal Customers"]).any()
    assert not scored.loc[once, "rfm_segment"].isin(["At Risk", "Can't Lose Them"]).any()
    assert scored.loc[~once, "rfm_segment"].isin(["Champions", "Loyal Customers"]).any()


def test_the_map_lets_no_f_score_of_one_into_champions_or_loyal():
    grid = all_combinations()
    names = rfm_segments(grid)
    once = grid["f_score"] == 1
    assert not names[once].isin(["Champions", "Loyal Customers", "At Risk", "Can't Lose Them"]).any()


def test_scorer_transform_uses_the_training_edges():
    train = rfm_table(np.arange(1, 101), np.arange(1, 101), np.arange(1, 101) * 10.0)
    scorer = RFMScorer(bins=4).fit(train)
    np.testing.assert_array_equal(scorer.edges_["f_score"], [25, 50, 75, 100])
    new = rfm_table(
        [1, 30, 80, 1000], [0, 26, 50, 999], [5.0, 250.0, 251.0, 1e9], ids=["n1", "n2", "n3", "n4"]
    )
    got = scorer.transform(new)
    assert got["r_score"].tolist() == [4, 3, 1, 1]
    assert got["f_score"].tolist() == [1, 2, 2, 4]
    assert got["m_score"].tolist() == [1, 1, 2, 4]
    # a new customer is scored alone, identically to being scored among others
    pd.testing.assert_frame_equal(scorer.transform(new.iloc[[2]]), got.iloc[[2]])
    assert scorer.transform(train)["f_score"].tolist() == rfm_scores(train, bins=4)["f_score"].tolist()


def test_scorer_validates():
    table = rfm_table([1, 2], [1, 2], [1.0, 2.0])
    for bins in (1, 10, 2.5, True):
        with pytest.raises(ParameterError):
            RFMScorer(bins=bins).fit(table)
    with pytest.raises(DataError) as bad:
        rfm_scores(table.assign(monetary=[np.nan, 1.0]))
    assert bad.value.column == "monetary"
    with pytest.raises(SchemaError):
        rfm_scores(table.drop(columns="frequency"))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RFMScorer().transform(table)


# --------------------------------------------------------------------------- segments
def all_combinations() -> pd.DataFrame:
    grid = np.array(list(itertools.product(range(1, 6), repeat=3)))
    return pd.DataFrame(grid, columns=["r_score", "f_score", "m_score"])


def test_every_score_combination_gets_exactly_one_segment():
    grid = all_combinations()
    assert len(grid) == 125
    names = rfm_segments(grid)
    assert names.notna().all()
    assert set(names) == set(RFM_SEGMENT_NAMES)
    assert len(RFM_SEGMENT_NAMES) == 11
    fm = (grid["f_score"] + grid["m_score"]) / 2
    for row, name in zip(grid.assign(fm=fm).itertuples(), names, strict=True):
        matching = RFM_SEGMENT_RULES[
            (RFM_SEGMENT_RULES.r_min <= row.r_score)
            & (row.r_score <= RFM_SEGMENT_RULES.r_max)
            & (RFM_SEGMENT_RULES.fm_min <= row.fm)
            & (row.fm <= RFM_SEGMENT_RULES.fm_max)
            & (RFM_SEGMENT_RULES.f_min <= row.f_score)
            & (row.f_score <= RFM_SEGMENT_RULES.f_max)
        ]
        assert len(matching) == 1 and matching["segment"].iloc[0] == name


def test_segment_names_follow_the_map():
    scores = pd.DataFrame(
        {"r_score": [5, 5, 1, 1, 4, 3], "f_score": [5, 1, 1, 5, 1, 3], "m_score": [5, 1, 1, 5, 1, 2]}
    )
    assert rfm_segments(scores).tolist() == [
        "Champions",
        "New Customers",
        "Lost",
        "Can't Lose Them",
        "Promising",
        "Need Attention",
    ]


def test_custom_rules_are_checked():
    two = pd.DataFrame(
        [("Good", 1, 5, 3.0, 5.0), ("Other", 1, 5, 1.0, 2.5)],
        columns=["segment", "r_min", "r_max", "fm_min", "fm_max"],
    )
    names = rfm_segments(all_combinations(), rules=two)
    assert set(names) == {"Good", "Other"}
    overlapping = two.assign(fm_max=[5.0, 3.0])
    with pytest.raises(ParameterError, match="exactly one") as err:
        rfm_segments(all_combinations(), rules=overlapping)
    assert err.value.n_bad > 0
    with pytest.raises(ParameterError):
        rfm_segments(all_combinations(), bins=3)
    with pytest.raises(SegkitError):
        rfm_segments(pd.DataFrame({"r_score": [6], "f_score": [1], "m_score": [1]}))


def test_scores_and_segments_on_a_customer_file(shop):
    cf = customer_file(shop["transactions"])
    segments = rfm_segments(rfm_scores(cf))
    assert segments.index.equals(cf.index)
    assert segments.isin(RFM_SEGMENT_NAMES).all()


def test_with_rfm_segments_joins_scores_and_names_and_keeps_attrs(shop):
    cf = customer_file(shop["transactions"])
    scored = features.with_rfm_segments(cf)
    scores = rfm_scores(cf)
    pd.testing.assert_frame_equal(scored[list(scores.columns)], scores)
    pd.testing.assert_series_equal(scored["rfm_segment"], rfm_segments(scores))
    pd.testing.assert_frame_equal(scored[list(cf.columns)], cf)
    assert scored.attrs["snapshot_date"] == cf.attrs["snapshot_date"]


def random_log(rng: np.random.Generator, n_lines: int) -> pd.DataFrame:
    """A log with orders on consecutive rows, missing order/product ids and categories."""
    order = np.sort(rng.integers(0, n_lines // 3, n_lines))
    customer = rng.integers(0, 150, n_lines // 3)[order]
    order_ids = pd.array([f"o{o:05d}" for o in order], dtype="str")
    order_ids[rng.random(n_lines) < 0.05] = None
    product_ids = pd.array([f"p{p}" for p in rng.integers(0, 40, n_lines)], dtype="str")
    product_ids[rng.random(n_lines) < 0.05] = None
    categories = pd.array(rng.choice(["books", "toys", "food"], n_lines), dtype="str")
    categories[rng.random(n_lines) < 0.05] = None
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"c{c:03d}" for c in customer], dtype="str"),
            "order_id": order_ids,
            "order_date": START
            + pd.to_timedelta(rng.integers(0, 400 * 1440, n_lines // 3)[order], unit="min"),
            "product_id": product_ids,
            "amount": np.round(rng.gamma(2.0, 10.0, n_lines), 2),
            "category": categories,
        }
    )


def pandas_customer_file(tx: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """RFM, category shares and distinct products with plain pandas groupbys (the reference)."""
    tx = tx[tx["order_date"].dt.normalize() <= snapshot]
    orders = tx["order_id"].fillna("@" + tx["order_date"].astype("int64").astype("str"))
    by_customer = tx.assign(order_id=orders).groupby("customer_id")
    first, last = by_customer["order_date"].min(), by_customer["order_date"].max()
    out = pd.DataFrame(
        {
            "recency_days": (snapshot - last.dt.normalize()).dt.days,
            "frequency": by_customer["order_id"].nunique(),
            "monetary": by_customer["amount"].sum(),
            "tenure_days": (snapshot - first.dt.normalize()).dt.days,
        }
    )
    spend = tx.pivot_table(
        index="customer_id",
        columns=tx["category"].fillna("unknown"),
        values="amount",
        aggfunc="sum",
        fill_value=0.0,
    )
    for category in spend.columns:
        out[f"share_cat_{category}"] = spend[category] / out["monetary"]
    out["distinct_products"] = by_customer["product_id"].nunique(dropna=False)
    return out


def pandas_btyd(tx: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """lifetimes' daily summary with plain pandas groupbys (the reference)."""
    tx = tx[tx["order_date"].dt.normalize() <= snapshot]
    daily = (
        tx.groupby(["customer_id", tx["order_date"].dt.normalize().rename("day")])["amount"]
        .sum()
        .reset_index()
    )
    by_customer = daily.groupby("customer_id")
    first, last = by_customer["day"].min(), by_customer["day"].max()
    frequency = by_customer.size() - 1
    repeat_amount = by_customer["amount"].sum() - daily.loc[by_customer["day"].idxmin(), "amount"].to_numpy()
    return pd.DataFrame(
        {
            "frequency": frequency.astype("float64"),
            "recency": (last - first).dt.days.astype("float64"),
            "T": (snapshot - first).dt.days.astype("float64"),
            "monetary_value": (repeat_amount / frequency.clip(lower=1)).where(frequency > 0, 0.0),
        }
    )


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_engine_equals_plain_pandas_on_random_logs(seed, shuffled):
    rng = np.random.default_rng(seed)
    tx = random_log(rng, 3000)
    if shuffled:
        tx = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    snapshot = START + pd.Timedelta(days=300)  # leaves out the last 100 days
    got = customer_file(tx, snapshot_date=snapshot)
    want = pandas_customer_file(tx, snapshot)
    assert list(got.index) == sorted(want.index)
    assert got.index.dtype == "str" and got.index.name == "customer_id"
    want = want.loc[got.index]
    for column in ("recency_days", "frequency", "tenure_days", "distinct_products"):
        assert got[column].dtype == np.int64
        np.testing.assert_array_equal(got[column], want[column], err_msg=column)
    for column in want.columns.drop(["recency_days", "frequency", "tenure_days", "distinct_products"]):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12, err_msg=column)
    pd.testing.assert_frame_equal(rfm(tx, snapshot_date=snapshot), got[rfm(tx.head(5)).columns])
    btyd = rfm(tx, snapshot_date=snapshot, convention="btyd")
    pd.testing.assert_frame_equal(
        btyd, pandas_btyd(tx, snapshot).loc[btyd.index].set_axis(btyd.index), check_exact=False, rtol=1e-12
    )
    assert btyd.attrs == {"snapshot_date": "2023-12-26", "convention": "btyd"}


def test_customer_ids_are_sorted_like_python_strings():
    ids = ["b", "B", "a", "é", "Z", "10", "9", "ä", "z", ""]
    tx = pd.DataFrame(
        {
            "customer_id": pd.array(ids, dtype="str"),
            "order_date": START + pd.to_timedelta(np.arange(len(ids)), unit="D"),
            "amount": np.arange(len(ids), dtype=float),
        }
    )
    got = rfm(tx)
    assert list(got.index) == sorted(ids)
    assert got.loc["é", "monetary"] == 3.0
    assert list(rfm(tx.astype({"customer_id": object})).index) == sorted(ids)


def _sample_transactions(samples_dir, name: str) -> pd.DataFrame:
    from segkit.cleaning import clean_transactions
    from segkit.io import read_dataset

    if name == "cdnow":
        path = samples_dir / "CDNOW_sample.txt"
        if not path.is_file():
            pytest.skip(f"CDNOW sample not found at {path}")
        raw = pd.read_csv(
            path, sep=r"\s+", header=None, names=["full", "id", "date", "cds", "amount"], dtype=str
        )
        return pd.DataFrame(
            {
                "customer_id": pd.array(raw["id"], dtype="str"),
                "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                "amount": raw["amount"].astype(float),
            }
        )
    dataset = read_dataset(samples_dir / "online_retail_II_sample.csv", layout="online_retail")
    return clean_transactions(dataset.transactions)[0]


@pytest.mark.parametrize("sample", ["online_retail_ii", "cdnow"])
def test_rfm_scores_are_tie_aware_on_the_real_samples(samples_dir, sample):
    scored = features.with_rfm_segments(customer_file(_sample_transactions(samples_dir, sample)))
    keys = ["recency_days", "frequency", "monetary"]
    groups = scored.groupby(keys)[["r_score", "f_score", "m_score", "rfm_segment"]].nunique()
    assert (groups == 1).all().all()
    assert (scored.groupby("frequency")["f_score"].nunique() == 1).all()
    once = scored["frequency"] == 1
    assert once.any() and (scored.loc[once, "f_score"] == 1).all()
    assert not scored.loc[once, "rfm_segment"].isin(["Champions", "Loyal Customers"]).any()
