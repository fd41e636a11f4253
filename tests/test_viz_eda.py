"""segkit.viz.eda and segkit.viz.customers: the figures draw the tables they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from segkit import eda, features
from segkit.schema import ParameterError, SchemaError
from segkit.viz import customers as vc
from segkit.viz import eda as ve


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 4000
    customer = rng.integers(0, 300, n)
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"u{c:03d}" for c in customer], dtype="str"),
            "order_id": pd.array(
                [f"o{c}-{k}" for c, k in zip(customer, rng.integers(0, 8, n), strict=True)], dtype="str"
            ),
            "order_date": pd.Timestamp("2022-03-10")
            + pd.to_timedelta(rng.integers(0, 800 * 24, n), unit="h"),
            "amount": rng.lognormal(3, 1, n),
            "quantity": rng.integers(1, 5, n).astype(float),
            "country": pd.array(rng.choice([f"country {i}" for i in range(20)], n), dtype="str"),
        }
    )


@pytest.fixture(scope="module")
def customer_table(tx) -> pd.DataFrame:
    cf = features.customer_file(tx)
    return cf.join(features.rfm_scores(cf))


def test_monthly_figures_draw_the_kpis(tx):
    kpis = eda.monthly_kpis(tx)
    fig = ve.monthly_revenue_by_year(kpis)
    assert isinstance(fig, go.Figure)
    assert [trace.name for trace in fig.data] == ["2022", "2023", "2024"]
    drawn = np.concatenate([np.asarray(trace.y) for trace in fig.data])
    np.testing.assert_allclose(drawn, kpis["revenue"].to_numpy())
    assert fig.data[0].x[0] == "Mar" and fig.data[0].marker.symbol[0] == "circle-open"  # partial first month
    both = ve.items_and_customers(kpis)
    np.testing.assert_array_equal(both.data[1].y, kpis["active_customers"].to_numpy())
    per_order = ve.revenue_per_order(kpis)
    np.testing.assert_allclose(per_order.data[0].y, kpis["revenue_per_order"].to_numpy())
    assert "Monthly revenue by year" in fig.layout.title.text
    with pytest.raises(SchemaError) as err:
        ve.monthly_revenue_by_year(kpis.drop(columns="partial"))
    assert err.value.column == "partial"


def test_new_vs_existing_and_cohort_figures(tx):
    split = eda.new_vs_existing(tx)
    fig = ve.new_vs_existing_bars(split)
    assert fig.layout.barmode == "stack" and len(fig.data) == 4
    np.testing.assert_allclose(fig.data[1].y, split["new_revenue"].to_numpy())
    cohorts = eda.cohort_retention(tx)
    heat = ve.cohort_heatmap(cohorts)
    grid = cohorts.pivot(index="cohort", columns="months_since", values="share_active").sort_index()
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=float), grid.to_numpy() * 100, equal_nan=True)
    revenue = ve.cohort_heatmap(cohorts, value="revenue")
    assert np.nanmax(np.asarray(revenue.data[0].z, dtype=float)) == pytest.approx(cohorts["revenue"].max())
    with pytest.raises(ParameterError):
        ve.cohort_heatmap(cohorts, value="churn")


def test_breakdown_bars_lump_the_tail(tx):
    table = eda.breakdown(tx, "country")
    fig = ve.breakdown_bars(table, top=5)
    bars = fig.data[0]
    assert len(bars.y) == 6 and bars.y[-1] == "other (15)"
    assert sum(bars.x) == pytest.approx(100.0)
    assert list(bars.y[:5]) == list(table.index[:5])
    with pytest.raises(ParameterError):
        ve.breakdown_bars(table, top=0)


def test_cleaning_summary():
    frame = pd.DataFrame({"reason": ["duplicate", "kept"], "rows": [3, 97], "amount": [1.0, 2.0]})
    fig = ve.cleaning_summary(frame)
    assert list(fig.data[0].x) == [3, 97] and fig.layout.xaxis.type == "log"


def test_rfm_distributions_use_log_axes_only_when_skewed(customer_table):
    fig = vc.rfm_distributions(customer_table)
    assert len(fig.data) == 3
    for i, column in enumerate(("recency_days", "frequency", "monetary")):
        assert sum(fig.data[i].y) == len(customer_table)
        axis = fig.layout[f"xaxis{'' if i == 0 else i + 1}"]
        assert (axis.type == "log") == vc.is_skewed(customer_table[column])
    assert vc.is_skewed(np.random.default_rng(0).lognormal(0, 1.5, 2000))
    assert not vc.is_skewed(np.random.default_rng(0).normal(50, 5, 2000))
    assert not vc.is_skewed(np.array([0.0, 1.0, 1000.0, 2.0]))  # a zero rules out a log axis


def test_correlation_heatmap(customer_table):
    fig = vc.correlation_heatmap(customer_table[["recency_days", "frequency", "monetary"]])
    z = np.asarray(fig.data[0].z)
    expected = customer_table[["recency_days", "frequency", "monetary"]].corr(method="spearman").to_numpy()
    np.testing.assert_allclose(z, expected)
    with pytest.raises(SchemaError):
        vc.correlation_heatmap(customer_table[["monetary"]])
    with pytest.raises(ParameterError):
        vc.correlation_heatmap(customer_table, method="cosine")


def test_rfm_score_heatmap(customer_table):
    scores = customer_table[["r_score", "f_score", "m_score"]]
    fig = vc.rfm_score_heatmap(scores, customer_table["monetary"])
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (5, 5)
    cell = customer_table.loc[(scores["r_score"] == 5) & (scores["f_score"] == 5), "monetary"]
    if len(cell):
        assert z[4, 4] == pytest.approx(cell.mean())
    with pytest.raises(SchemaError):
        vc.rfm_score_heatmap(scores, customer_table["monetary"].iloc[:10])


def test_segment_sizes(customer_table):
    segments = features.rfm_segments(customer_table)
    fig = vc.segment_sizes(segments, customer_table["monetary"])
    customers_share, revenue_share = fig.data
    assert sum(customers_share.x) == pytest.approx(100.0) and sum(revenue_share.x) == pytest.approx(100.0)
    order = [name for name in features.RFM_SEGMENT_NAMES if name in set(segments)]
    assert list(customers_share.y) == order
    champions = (segments == "Champions").mean() * 100
    if "Champions" in order:
        assert customers_share.x[order.index("Champions")] == pytest.approx(champions)
