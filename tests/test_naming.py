"""segkit.naming: every word of a segment name and every action follows from a rule over the profile."""

from __future__ import annotations

import pandas as pd
import pytest

from segkit import naming


def _row(**values) -> pd.Series:
    base = {
        "customer_share": 0.2,
        "revenue_share": 0.2,
        "median_recency_days": 100.0,
        "median_frequency": 2.0,
        "median_monetary": 100.0,
        "median_tenure_days": 400.0,
        "one_time_share": 0.3,
        "base_median_recency_days": 150.0,
        "base_median_frequency": 1.0,
        "base_median_monetary": 80.0,
    }
    return pd.Series({**base, **values})


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ({}, "Loyal regulars"),
        ({"revenue_share": 0.3}, "VIP loyal customers"),  # lift 1.5
        ({"revenue_share": 0.29}, "Loyal regulars"),  # lift below 1.5: no VIP
        ({"median_recency_days": 150.0}, "Lapsing regulars"),  # at the base median: not recent
        ({"median_recency_days": 200.0, "revenue_share": 0.4}, "At-risk big spenders"),
        ({"median_tenure_days": 90.0}, "New customers"),
        ({"median_tenure_days": 91.0}, "Loyal regulars"),
        ({"median_tenure_days": 60.0, "revenue_share": 0.5}, "New big spenders"),
        ({"median_frequency": 1.0, "one_time_share": 0.7}, "Recent one-time buyers"),
        ({"median_frequency": 1.0, "one_time_share": 0.69}, "Recent occasional buyers"),
        (
            {
                "median_frequency": 1.0,
                "one_time_share": 0.9,
                "median_recency_days": 300.0,
                "median_monetary": 50.0,
            },
            "Lapsed one-time low spenders",
        ),
        (
            {"median_frequency": 1.0, "one_time_share": 0.9, "median_recency_days": 300.0},
            "Lapsed one-time buyers",
        ),
        ({"median_frequency": 1.0, "median_recency_days": 300.0}, "Lapsed occasional buyers"),
    ],
)
def test_rule_table_thresholds(values, name):
    assert naming.base_name(_row(**values)) == name


def test_new_customers_are_welcomed_never_suppressed():
    for rule in naming.NAME_RULES:
        if rule.requires.get("new"):
            assert "suppress" not in rule.action.lower()
            assert "welcome" in rule.action.lower()
    assert len({rule.action for rule in naming.NAME_RULES}) == len(naming.NAME_RULES)
    assert len({rule.name for rule in naming.NAME_RULES}) == len(naming.NAME_RULES)


def test_duplicate_names_get_a_separating_suffix_and_distinct_actions():
    rows = [
        _row(z_share_channel_app=1.5, mean_share_channel_app=0.8, z_monetary=3.0, z_avg_order_value=0.1),
        _row(z_share_channel_app=-1.5, mean_share_channel_app=0.05, z_avg_order_value=0.2),
        _row(z_share_channel_app=0.1, mean_share_channel_app=0.3, z_avg_order_value=0.3),
    ]
    profile = pd.DataFrame(rows, index=pd.RangeIndex(3, name="segment_id"))
    names = naming.name_segments(profile)
    # monetary is in the base name's rule, never a suffix; segment 2 has no separating feature
    assert names == {
        0: "Loyal regulars (app buyers)",
        1: "Loyal regulars (less app)",
        2: "Loyal regulars",
    }
    actions = naming.segment_actions(profile)
    assert len(set(actions.values())) == 3
    assert actions[0].endswith("app buyers.") and actions[2] == naming.name_rule(rows[2]).action


def test_one_time_buyers_are_not_suffixed_by_days_between_orders():
    rows = [
        _row(
            median_frequency=1.0,
            one_time_share=0.9,
            z_mean_days_between_orders=2.0,
            z_share_cat_toys=0.7,
            mean_share_cat_toys=0.3,
        ),
        _row(
            median_frequency=1.0,
            one_time_share=0.9,
            z_mean_days_between_orders=-1.0,
            z_distinct_products=-0.6,
        ),
    ]
    names = naming.name_segments(pd.DataFrame(rows, index=pd.RangeIndex(2, name="segment_id")))
    assert names == {
        0: "Recent one-time buyers (more toys)",
        1: "Recent one-time buyers (low distinct products)",
    }
