"""Shift scenarios of the demo shop (``make_demo_shop(shift_kind=..., shift_share=...)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit import datasets
from segkit.schema import ParameterError

N = 2_500


@pytest.fixture(scope="module")
def unshifted():
    return datasets.make_demo_shop(n_customers=N, seed=9, shift=False)


def _before(shop, date):
    return shop.transactions[shop.transactions["order_date"] < date].reset_index(drop=True)


@pytest.mark.parametrize(
    ("kind", "share"), [("conversion", None), ("conversion", 0.25), ("acquisition", None), ("basket", None)]
)
def test_history_before_the_shift_is_the_unshifted_shop(unshifted, kind, share):
    shop = datasets.make_demo_shop(n_customers=N, seed=9, shift_kind=kind, shift_share=share)
    pd.testing.assert_frame_equal(_before(shop, shop.shift_date), _before(unshifted, shop.shift_date))
    after = shop.transactions["order_date"] >= shop.shift_date
    base_after = unshifted.transactions["order_date"] >= shop.shift_date
    # and something does change after it
    assert (
        not shop.transactions[after]
        .reset_index(drop=True)
        .equals(unshifted.transactions[base_after].reset_index(drop=True))
    )
    assert shop.params["shift_kind"] == kind


def _active_at_shift(shop):
    tx = shop.transactions.dropna(subset=["customer_id"])
    window = (tx["order_date"] < shop.shift_date) & (
        tx["order_date"] >= shop.shift_date - pd.Timedelta(days=365)
    )
    return set(tx.loc[window, "customer_id"])


@pytest.mark.parametrize("share", [0.25, 0.34])
def test_conversion_share_of_active_customers(share):
    shop = datasets.make_demo_shop(n_customers=N, seed=2, shift_share=share)
    truth = shop.truth.set_index("customer_id")
    active = _active_at_shift(shop)
    converted = truth.loc[sorted(active), "shifted"].mean()
    assert converted == pytest.approx(share, abs=0.05)
    assert set(truth.loc[truth["shifted"], "type_before_shift"]) <= set(datasets.SHIFT_ELIGIBLE_TYPES)


def test_default_conversion_is_at_least_a_third_of_active_customers():
    shop = datasets.make_demo_shop(n_customers=N, seed=3)
    truth = shop.truth.set_index("customer_id")
    assert truth.loc[sorted(_active_at_shift(shop)), "shifted"].mean() >= 1 / 3


def test_acquisition_shifts_only_customers_acquired_after_the_shift():
    shop = datasets.make_demo_shop(n_customers=N, seed=4, shift_kind="acquisition")
    tx = shop.transactions.dropna(subset=["customer_id"])
    first = tx.groupby("customer_id")["order_date"].min()
    shifted = shop.truth.set_index("customer_id")["shifted"]
    assert shifted.any()
    assert (first.reindex(shifted[shifted].index) >= shop.shift_date - pd.Timedelta(days=1)).all()
    new = first[first >= shop.shift_date].index
    assert shifted.reindex(new).mean() == pytest.approx(datasets.ACQUISITION_SHIFT_SHARE, abs=0.12)


def test_basket_doubles_one_types_quantities_after_the_shift(unshifted):
    shop = datasets.make_demo_shop(n_customers=N, seed=9, shift_kind="basket")
    assert not shop.truth["shifted"].any()
    kind = shop.truth.set_index("customer_id")["type"]
    after = lambda s: s.transactions[  # noqa: E731
        (s.transactions["order_date"] >= shop.shift_date) & (s.transactions["quantity"] > 0)
    ].dropna(subset=["customer_id"])
    changed, base = after(shop), after(unshifted)
    for frame in (changed, base):
        frame["type"] = kind.reindex(frame["customer_id"]).to_numpy()
    ratio = changed.groupby("type")["quantity"].mean() / base.groupby("type")["quantity"].mean()
    assert ratio[datasets.BASKET_SHIFT_TYPE] == pytest.approx(datasets.BASKET_FACTOR, rel=0.05)
    others = ratio.drop(datasets.BASKET_SHIFT_TYPE)
    np.testing.assert_allclose(others, 1.0, rtol=1e-9)


def test_bad_shift_parameters():
    for kwargs in (
        {"shift_kind": "price"},
        {"shift_share": 0},
        {"shift_share": 1.5},
        {"shift_kind": "basket", "shift_share": 0.3},
        {"shift_share": 0.99},  # more than the converting types hold
    ):
        with pytest.raises(ParameterError):
            datasets.make_demo_shop(n_customers=300, seed=1, **kwargs)
