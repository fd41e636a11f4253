"""Notebook 04's sentences are claims: each number quoted is checked against the simulation it is about.

The maintenance sentences (:mod:`segkit.narrative`, written from :mod:`segkit.stability`'s results)
run on simulations of the steady synthetic shop of ``test_stability`` with and without a planted
shift; the checks recompute the figures from the simulation's steps and noise independently of the
generators (the threshold from its rule, the alarm run from the steps, the retraining period from the
delays, the sha256 from the file). A sentence whose premise fails is not written.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from test_stability import _model_for, steady_shop

from segkit import narrative, stability


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"(?<![\w.])-?\d+\.\d+", text)]


@pytest.fixture(scope="module")
def shifted():
    transactions, shift_date = steady_shop(n_customers=1_500, seed=3)
    model = _model_for(transactions)
    return stability.maintenance_simulation(transactions, model, period="14D", noise_rounds=5), model


@pytest.fixture(scope="module")
def steady():
    transactions, _ = steady_shop(n_customers=1_500, seed=4, shift=False)
    model = _model_for(transactions)
    return stability.maintenance_simulation(transactions, model, period="28D", noise_rounds=4)


def test_noise_sentence_quotes_the_noise_and_the_threshold_of_its_rule(shifted):
    sim, _ = shifted
    text = narrative.maintenance_noise(sim)
    noise = sim.noise.to_numpy()
    mean, sd = noise.mean(), noise.std(ddof=1)
    threshold = min(mean - 3 * max(sd, 0.04), noise.min() - 0.05)  # the documented rule, recomputed
    assert (
        f"Retrained on {len(noise)} resamples" in text
        and f"median agreement is retrained with up to {sim.params['refits']} seeds" in text
    )
    assert f"{mean:.2f} +- {sd:.2f} (lowest {noise.min():.2f})" in text
    assert f"the alarm threshold is {threshold:.2f}" in text
    assert f"after {sim.params['consecutive']} steps in a row" in text


def test_alarm_sentence_quotes_the_run_of_steps_below_the_threshold(shifted):
    sim, _ = shifted
    text = narrative.maintenance_alarm(sim)
    later = sim.steps[sim.steps["step"] > 0].reset_index(drop=True)
    below = (later["ari"] < sim.threshold).to_numpy()
    run = next(i for i in range(len(below)) if below[i : i + 3].all() and len(below[i : i + 3]) == 3)
    rows = later.iloc[run : run + 3]
    quoted = _numbers(text.split(": ", 1)[1])
    assert quoted == [round(v, 2) for v in rows["ari"]]
    assert all(v < sim.threshold for v in rows["ari"])
    assert rows["date"].iloc[0].strftime("%d %b %Y").lstrip("0") in text
    assert rows["date"].iloc[-1].strftime("%d %b %Y").lstrip("0") in text
    assert f"below {sim.threshold:.2f} at 3 consecutive steps" in text
    assert narrative.maintenance_no_alarm(sim) is None  # premise: no alarm


def test_training_and_model_sentences_name_the_monitored_model(shifted, tmp_path):
    sim, model = shifted
    path = model.save(tmp_path / "model.skops")
    identity = stability.model_identity(model, path)
    text = narrative.maintenance_model(identity, from_file=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest()[:12] in text
    assert f"{model.k} segments" in text and all(name in text for name in model.segment_names.values())
    assert "sha256" not in narrative.maintenance_model(identity, from_file=False)
    training = narrative.maintenance_training(sim, identity)
    assert sim.params["start"].strftime("%d %b %Y").lstrip("0") in training
    assert f"the {sim.params['window_days']} days before each date" in training
    assert f"every {sim.params['period_days']} days" in training and "shorter window" not in training


def test_no_alarm_sentence_quotes_the_range_of_agreement(steady):
    text = narrative.maintenance_no_alarm(steady)
    steps = steady.steps
    assert steady.alarm is None
    assert f"No alarm over {int(steps['days_since_start'].iloc[-1])} days" in text
    assert f"between {steps['ari'].min():.2f} and {steps['ari'].max():.2f}" in text
    assert f"below {steady.threshold:.2f}" in text
    assert narrative.maintenance_alarm(steady) is None and narrative.maintenance_unstable(steady) is None
    rec = stability.recommend_retrain_period(steady)
    assert rec.verdict == "no_alarm" and text in rec.explanation and "every" not in rec.short


def test_retraining_period_only_from_distinct_alarms():
    date = pd.Timestamp("2024-03-10")
    two = narrative.retrain_advice([98, 130], 14, date, "high")
    period = max(int(np.median([98, 130])) // 14 * 14, 14)  # median rounded down to whole steps
    assert f"retrain every {period} days" in two and "2 distinct alarms" in two and "98, 130" in two
    one = narrative.retrain_advice([98], 14, date, "moderate")
    assert "every 98" not in one and "10 Mar 2024, 98 days after training" in one
    assert "confidence moderate" in one and "One event does not make a period" in one
    assert narrative.retrain_advice([], 14, date, None) is None
    assert (
        narrative.retrain_headline("retrain_every", period, None)
        == f"Recommendation: retrain every {period} days."
    )
    assert narrative.retrain_short("alarm", None, date) == "now: stale since 2024-03-10"


def test_unstable_sentence_names_the_failing_rule_with_its_figure(shifted):
    import copy

    sim, _ = shifted
    unstable = copy.copy(sim)
    unstable.noise = pd.Series([0.42, 0.55, 0.38, 0.61])
    unstable.threshold = stability.alarm_threshold(unstable.noise)
    unstable.unstable, unstable.alarm = True, None
    unstable.alternative = None
    text = narrative.maintenance_unstable(unstable)
    assert f"only {unstable.noise.mean():.2f} (below 0.60)" in text
    assert f"would be {unstable.threshold:.2f} (below 0.40)" in text  # 0.49 - 3 x 0.10 < 0.40: both fail
    assert "No k of the same algorithm" in text
    unstable.alternative = {"algorithm": "gmm", "algorithm_label": "GMM", "k": 3, "noise_ari_mean": 0.91}
    assert "GMM with 3 segments (agreement with itself 0.91)" in narrative.maintenance_unstable(unstable)


def test_premises_that_fail_write_nothing(shifted):
    sim, _ = shifted
    assert narrative.maintenance_unstable(sim) is None  # a stable model
    assert narrative.maintenance_model({}, from_file=True) is None  # no model (log too short)
    assert narrative.maintenance_model({"k": 3, "segment_names": ["a", "b"]}, from_file=False) is None
    assert narrative.maintenance_drift(None, float("nan")) is None
    assert narrative.too_short_to_tell("too short to tell: x", needed_days=300, available_days=400) is None
    assert narrative.retrain_headline("retrain_every", None, None) is None
    assert narrative.retrain_short("alarm", None, None) is None
    error = stability.HistoryTooShort("too short to tell: 374 days", needed_days=386, available_days=374)
    rec = stability.too_short_recommendation(error)
    assert "has 374 days of history and the simulation needs 386" in rec.explanation
