"""segkit.summary: the summary files' schema and the executive summary; segkit.eda.kpi_changes."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from segkit import eda, summary
from segkit.schema import SchemaError

SUMMARIES = {
    "01": {
        "customers": 19943,
        "orders": 207596,
        "revenue": 8643391.77,
        "currency": "GBP",
        "period_start": "2022-01-01",
        "period_end": "2024-06-30",
        "raw_lines": 347249,
        "kept_lines": 316948,
        "kept_share": 316948 / 347249,
        "cleaning": {"missing_customer_id": 5985, "duplicate": 2865, "kept": 316948},
        "changes": [
            {"metric": "active_customers", "month": "2023-09-01", "before": 2067.0, "after": 7528.0,
             "ratio": 3.642, "material": True},
            {"metric": "revenue_per_order", "month": "2023-09-01", "before": 86.37, "after": 25.93,
             "ratio": 0.3002, "material": True},
            {"metric": "orders", "month": "2023-02-01", "before": 2600.0, "after": 2700.0,
             "ratio": 1.04, "material": False},
        ],
    },
    "02": {
        "customers": 19943,
        "snapshot_date": "2024-07-01",
        "rfm_segment_shares": {"Champions": 0.2345, "Lost": 0.1321},
        "rfm_segment_revenue_shares": {"Champions": 0.4093, "Lost": 0.0161},
    },
    "03": {
        "k": 3,
        "algorithm": "kmeans",
        "customers": 19943,
        "segments": [
            {"segment_id": 0, "segment_name": "High-value loyal", "customers": 5000, "customer_share": 0.25,
             "revenue_share": 0.6, "action": "Reward them."},
            {"segment_id": 1, "segment_name": "Regulars", "customers": 5000, "customer_share": 0.25,
             "revenue_share": 0.3, "action": "Cross-sell."},
            {"segment_id": 2, "segment_name": "One-time low spenders", "customers": 9943,
             "customer_share": 0.5, "revenue_share": 0.1, "action": "Win them back with a first-repeat offer."},
        ],
    },
    "04": {
        "verdict": "retrain_every",
        "recommended_retraining_days": 90,
        "obsolete_on": "2023-09-09",
        "delay_days": 252,
        "start": "2022-12-31",
        "end": "2024-06-29",
        "steps": 79,
        "period_days": 7,
    },
}  # fmt: skip


def test_write_summary_checks_the_schema(tmp_path):
    path = summary.write_summary("04", {**SUMMARIES["04"], "extra": np.float64(0.5)}, tmp_path)
    assert json.loads(path.read_text())["extra"] == 0.5  # numpy numbers become plain JSON
    with pytest.raises(SchemaError, match="'verdict' is missing"):
        summary.write_summary("04", {k: v for k, v in SUMMARIES["04"].items() if k != "verdict"}, tmp_path)
    with pytest.raises(SchemaError, match="'k' must be int"):
        summary.write_summary("03", {**SUMMARIES["03"], "k": "three"}, tmp_path)
    bad_segments = {**SUMMARIES["03"], "segments": [{"segment_id": 0}]}
    with pytest.raises(SchemaError, match="segment record"):
        summary.write_summary("03", bad_segments, tmp_path)
    assert not (tmp_path / "summary_03.json").exists()  # nothing written on a bad summary


def test_read_summaries_skips_files_off_the_schema(tmp_path):
    for number, content in SUMMARIES.items():
        summary.write_summary(number, content, tmp_path)
    (tmp_path / "summary_02.json").write_text(json.dumps({"n_customers": 3}))
    assert sorted(summary.read_summaries(tmp_path)) == ["01", "03", "04"]
    assert summary.summary_currency(tmp_path) == "GBP"
    assert summary.summary_currency(tmp_path, "brl") == "BRL"


def test_executive_summary_of_a_full_run():
    sentences = summary.executive_summary(SUMMARIES)
    assert 5 <= len(sentences) <= 8
    assert all(s.source.startswith("segkit.summary.") for s in sentences)
    text = " ".join(s.text for s in sentences)
    assert "19,943 customers placed 207,596 orders worth £8,643,392" in text
    assert "September 2023: active customers per month rose 3.6x and revenue per order fell 70%" in text
    assert "High-value loyal, is 25.0% of customers and brings 60.0% of revenue: reward them" in text
    assert "One-time low spenders is 50.0% of customers but brings only 10.0%" in text
    assert "every 90 days" in text and "2023-09-09, 252 days later" in text
    assert "orders per month" not in text  # the immaterial change is not named


def test_sentences_are_left_out_when_their_premise_fails():
    assert summary.executive_summary({}) == []
    only_eda = summary.executive_summary({"01": {**SUMMARIES["01"], "changes": []}})
    assert [s.topic for s in only_eda] == ["customers", "data"]
    no_alarm = {**SUMMARIES["04"], "verdict": "no_alarm", "recommended_retraining_days": None,
                "obsolete_on": None, "delay_days": None}  # fmt: skip
    assert "kept matching a freshly trained one" in summary.when_to_retrain({"04": no_alarm})
    one_alarm = {**SUMMARIES["04"], "verdict": "alarm", "recommended_retraining_days": None}
    assert "one alarm is not yet a retraining period" in summary.when_to_retrain({"04": one_alarm})
    assert "every" not in summary.when_to_retrain({"04": one_alarm})
    too_short = {
        "verdict": "too_short",
        "recommended_retraining_days": None,
        "obsolete_on": None,
        "delay_days": None,
    }
    assert "too short to tell" in summary.when_to_retrain({"04": too_short})
    one_segment = {**SUMMARIES["03"], "segments": SUMMARIES["03"]["segments"][:1]}
    assert summary.segment_that_matters_most({"03": one_segment}) is None
    balanced = {**SUMMARIES["03"], "segments": [dict(s, revenue_share=s["customer_share"]) for s in SUMMARIES["03"]["segments"]]}  # fmt: skip
    assert summary.segment_to_watch({"03": balanced}) is None


def test_netting_sentence_explains_the_difference():
    sentence = summary.netting_sentence(8654463.43, 8643391.77, 595, "GBP")
    assert sentence == (
        "The kept lines amount to £8,654,463 as read; 595 of them were partly cancelled later, which takes "
        "£11,072 off, so revenue is £8,643,392."
    )
    assert summary.netting_sentence(100.0, 100.0, 0) is None


def _kpis(values: list[float], metric: str = "active_customers") -> pd.DataFrame:
    months = pd.date_range("2022-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({metric: values, "partial": False}, index=pd.Index(months, name="month"))


@pytest.mark.parametrize(
    ("values", "month", "ratio"),
    [
        ([100, 104, 98, 101, 99, 400, 410, 395, 405], "2022-06-01", 4.0),  # jump up
        ([80, 82, 79, 81, 80, 78, 24, 25, 23, 24], "2022-07-01", 0.3),  # drop
        ([50, 52, 49, 51, 120, 125, 118, 122, 119, 121, 124], "2022-05-01", 2.4),  # early jump
    ],
)
def test_kpi_changes_finds_when_and_how_big(values, month, ratio):
    changes = eda.kpi_changes(_kpis(values), metrics=("active_customers",))
    row = changes.iloc[0]
    assert row["month"] == pd.Timestamp(month)
    assert row["ratio"] == pytest.approx(ratio, rel=0.05)
    assert bool(row["material"])


def test_kpi_changes_calls_noise_and_a_single_spike_immaterial():
    rng = np.random.default_rng(0)
    flat = list(1000 * (1 + 0.03 * rng.standard_normal(24)))
    assert not eda.kpi_changes(_kpis(flat), metrics=("active_customers",))["material"].any()
    spike = [100.0] * 12
    spike[6] = 180.0  # one sale month
    assert not eda.kpi_changes(_kpis(spike), metrics=("active_customers",))["material"].any()
    assert eda.kpi_changes(_kpis([1.0, 2.0, 3.0]), metrics=("active_customers",)).empty  # too short


def test_change_sentence_states_the_month_and_the_size():
    sentence = summary.change_sentence(SUMMARIES["01"]["changes"][1], "GBP")
    assert sentence == (
        "Revenue per order fell 70% in September 2023 (typical month before: £86.37; after: £25.93)."
    )
    assert summary.change_sentence(SUMMARIES["01"]["changes"][2]) is None
    assert re.search(r"rose 3\.6x", summary.change_sentence(SUMMARIES["01"]["changes"][0]))
