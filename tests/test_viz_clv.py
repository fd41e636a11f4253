"""Figures of notebook 05 (segkit.viz.clv) and the notebook's structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_architecture import NOTEBOOK_PARAMETERS

import segkit
from segkit import clv, narrative
from segkit.viz import clv as vc
from segkit.viz._common import segment_colour

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_clv.ipynb"


@pytest.fixture(scope="module")
def model() -> clv.ClvModel:
    shop = segkit.make_demo_shop(n_customers=1500, seed=3, shift=False)
    tx = segkit.clean_transactions(shop.transactions)[0]
    return segkit.fit_clv(tx, calibration_end=clv.holdout_calibration_end(tx, 6), exclude_new=True)


def test_cumulative_purchases_draws_both_lines(model):
    weekly = model.cumulative_table()
    fig = vc.cumulative_purchases(weekly, model.calibration_end)
    actual, expected = fig.data
    np.testing.assert_allclose(actual.y, weekly["actual"])
    np.testing.assert_allclose(expected.y, weekly["expected"])
    assert any(a.text == "calibration end" for a in fig.layout.annotations)


def test_holdout_by_frequency_has_a_bar_per_bucket(model):
    table = model.holdout_table()
    fig = vc.holdout_by_frequency(table)
    assert [list(t.x) for t in fig.data] == [list(table.index)] * 2
    np.testing.assert_allclose(fig.data[1].y, table["expected"])


def test_clv_by_segment_names_the_segments(model):
    predictions = model.predict(horizon=6)
    segments = pd.Series(np.where(predictions["frequency"] > 2, 0, 1), index=predictions.index)
    table = model.segment_value(segments, horizon=6)
    fig = vc.clv_by_segment(table, {0: "Regulars", 1: "Others"})
    assert list(fig.data[0].y) == ["0 Regulars", "1 Others"]  # horizontal bars: names fit a phone
    np.testing.assert_allclose(fig.data[0].x, table["clv_sum"])
    assert list(fig.data[0].marker.color) == [segment_colour(0), segment_colour(1)]  # one colour per segment


def test_sentences_follow_the_numbers(model):
    table = model.holdout_table()
    sentence = narrative.clv_holdout(table)
    gap = table["expected_total"].sum() / table["actual_total"].sum() - 1
    assert f"{abs(gap):.0%}" in sentence and ("over-predicts" if gap > 0 else "under-predicts") in sentence
    assert narrative.clv_holdout(table.assign(actual_total=0.0)) is None  # no holdout purchase: no claim
    assert f"{model.seen['customers']:,} customers" in narrative.clv_fit(model)
    one = model.segment_value(pd.Series(0, index=model.summary.index), horizon=6)
    assert narrative.clv_segment_value(one) is None  # one segment: nothing to compare


def test_with_clv_columns_joins_by_customer_and_is_idempotent(model):
    predictions = model.predict(horizon=6)
    ids = list(predictions.index[:3].astype("str")) + ["not-fitted"]
    tags = pd.DataFrame({"customer_id": ids, "segment_id": [0, 1, 0, 1]})
    once = clv.with_clv_columns(tags, predictions)
    twice = clv.with_clv_columns(once, predictions)
    pd.testing.assert_frame_equal(once, twice)
    assert list(once.columns) == ["customer_id", "segment_id", "expected_purchases", "prob_alive", "clv"]
    np.testing.assert_allclose(once["clv"].iloc[:3], predictions["clv"].iloc[:3])
    assert once.iloc[3][["expected_purchases", "prob_alive", "clv"]].isna().all()


def test_notebook_parameters_and_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    parameters = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    names = [line.split("=")[0].strip() for line in "".join(parameters["source"]).splitlines() if "=" in line]
    assert names[: len(NOTEBOOK_PARAMETERS)] == NOTEBOOK_PARAMETERS
    assert names[len(NOTEBOOK_PARAMETERS) :] == [
        "engine",
        "engine_options",
        "calibration_end",
        "holdout_months",
        "horizon_months",
        "discount_rate",
        "time_unit",
    ]
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for call in (
        "viz.cumulative_purchases",
        "holdout_table()",
        "summary_05.json",
        "with_clv_columns",
        "load_model",
    ):
        assert call in code, call
