"""Drift metrics against scipy and hand-computed values (DESIGN.md, "Drift definitions")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from segkit import drift
from segkit.schema import DataError, SchemaError, SegkitError


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, 2_000), rng.normal(0.5, 1.5, 1_500)


def test_reference_edges_are_deciles_and_bins_right_closed():
    reference = np.arange(1, 101, dtype=float)  # 1..100
    edges = drift.reference_edges(reference)
    np.testing.assert_allclose(edges, np.quantile(reference, np.arange(1, 10) / 10))
    # a value equal to an edge falls in the bin below it; outer bins are open
    shares = drift.binned_proportions([edges[0], -1e9, 1e9], edges)
    assert shares[0] == pytest.approx(2 / 3) and shares[-1] == pytest.approx(1 / 3)
    assert shares.size == 10


def test_psi_hand_computed():
    # reference: 10 values, one per decile bin; current: everything in the lowest bin
    reference = np.arange(10, dtype=float)
    current = np.full(5, -3.0)
    ref_p = np.full(10, 0.1)
    cur_p = np.array([1.0] + [1e-6] * 9)
    expected = np.sum((cur_p - ref_p) * np.log(cur_p / ref_p))
    assert drift.psi(reference, current) == pytest.approx(expected)
    assert drift.psi(reference, reference) == pytest.approx(0.0)


def test_psi_two_bins_by_hand():
    # reference 0..99 -> deciles 9.9, 19.8, ...; current: 30% in the first bin, the rest in the last
    reference = np.arange(100, dtype=float)
    current = np.array([0.0] * 3 + [99.0] * 7)
    ref_p = np.full(10, 0.1)
    cur_p = np.array([0.3] + [1e-6] * 8 + [0.7])
    assert drift.psi(reference, current) == pytest.approx(np.sum((cur_p - ref_p) * np.log(cur_p / ref_p)))


def test_kl_and_js_against_scipy(samples):
    reference, current = samples
    edges = drift.reference_edges(reference)
    p = drift.binned_proportions(reference, edges)
    q = drift.binned_proportions(current, edges)
    assert drift.kl_divergence(reference, current) == pytest.approx(
        float(np.sum(stats.entropy(p, q) * p.sum()))
    )
    assert drift.kl_divergence(reference, current) == pytest.approx(float(np.sum(p * np.log(p / q))))
    # scipy returns the Jensen-Shannon distance: its square is the divergence
    assert drift.js_divergence(reference, current) == pytest.approx(jensenshannon(p, q, base=2) ** 2)
    assert 0 < drift.js_divergence(reference, current) < 1


def test_js_divergence_bounds():
    # disjoint categories: 1 bit (up to the 1e-6 floor)
    assert drift.js_categorical(["a"] * 10, ["b"] * 10) == pytest.approx(1.0, abs=1e-4)
    # the open outer bins keep 10% of the reference with the current: below 1
    assert drift.js_divergence(np.arange(100.0), np.full(10, 1e6)) < 1
    assert drift.js_divergence(np.arange(100.0), np.arange(100.0)) == pytest.approx(0.0, abs=1e-12)


def test_ks_and_wasserstein_against_scipy(samples):
    reference, current = samples
    assert drift.ks_statistic(reference, current) == pytest.approx(
        stats.ks_2samp(reference, current).statistic
    )
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert drift.wasserstein_scaled(reference, current) == pytest.approx(expected)
    # scaling makes it unit-free: multiplying both samples by 1000 changes nothing
    assert drift.wasserstein_scaled(reference * 1000, current * 1000) == pytest.approx(expected)


def test_wasserstein_hand_computed():
    # shift by 2 of a sample with std 1 (values -1, +1): distance 2, scaled 2
    assert drift.wasserstein_scaled([-1.0, 1.0], [1.0, 3.0]) == pytest.approx(2.0)


def test_numeric_drift_matches_single_functions(samples):
    reference, current = samples
    together = drift.numeric_drift(reference, current)
    assert together == pytest.approx(
        {
            "psi": drift.psi(reference, current),
            "ks": drift.ks_statistic(reference, current),
            "js": drift.js_divergence(reference, current),
            "kl": drift.kl_divergence(reference, current),
            "wasserstein": drift.wasserstein_scaled(reference, current),
        }
    )


def test_prepared_reference_with_ties_matches_scipy():
    rng = np.random.default_rng(3)
    reference = rng.poisson(2, 3_000).astype(float)  # discrete, many ties
    current = rng.poisson(3, 2_000).astype(float)
    prepared = drift.Reference.from_sample(reference).compare(current)
    assert prepared["ks"] == pytest.approx(stats.ks_2samp(reference, current).statistic)
    assert prepared["wasserstein"] == pytest.approx(
        stats.wasserstein_distance(reference, current) / reference.std()
    )
    assert prepared["psi"] == pytest.approx(drift.psi(reference, current))


def test_psi_invariant_under_increasing_transform(samples):
    reference, current = samples
    shifted_ref, shifted_cur = np.exp(reference), np.exp(current)
    assert drift.psi(shifted_ref, shifted_cur) == pytest.approx(drift.psi(reference, current))


def test_discrete_reference_merges_duplicate_deciles():
    reference = np.array([1, 1, 1, 1, 1, 1, 2, 2, 3, 5], dtype=float)
    edges = drift.reference_edges(reference)
    assert np.all(np.diff(edges) > 0)
    assert drift.psi(reference, reference) == pytest.approx(0.0)
    assert drift.psi(reference, np.full(10, 9.0)) > 1


def test_constant_reference():
    reference = np.full(50, 3.0)
    assert drift.psi(reference, reference) == pytest.approx(0.0)
    # moving above or below the constant both register
    assert drift.psi(reference, np.full(50, 4.0)) > 10
    assert drift.psi(reference, np.full(50, 2.0)) > 10
    with pytest.raises(DataError, match="standard deviation 0"):
        drift.wasserstein_scaled(reference, np.full(50, 4.0))
    assert np.isnan(drift.numeric_drift(reference, np.full(5, 4.0))["wasserstein"])


@pytest.mark.parametrize(
    "function",
    [drift.psi, drift.kl_divergence, drift.js_divergence, drift.ks_statistic, drift.wasserstein_scaled],
)
def test_empty_and_missing_values_raise(function):
    with pytest.raises(SegkitError, match="empty"):
        function([], [1.0, 2.0])
    with pytest.raises(SegkitError, match="empty"):
        function([1.0, 2.0], [])
    with pytest.raises(DataError) as info:
        function([1.0, np.nan, 3.0], [1.0])
    assert info.value.n_bad == 1


def test_non_numeric_raises():
    with pytest.raises(DataError, match="numeric"):
        drift.psi(["a", "b"], ["a"])


def test_categorical_psi_and_js_by_hand():
    reference = ["a"] * 50 + ["b"] * 50
    current = ["a"] * 80 + ["b"] * 10 + ["c"] * 10
    ref_p = np.array([0.5, 0.5, 1e-6])
    cur_p = np.array([0.8, 0.1, 0.1])
    assert drift.psi_categorical(reference, current) == pytest.approx(
        np.sum((cur_p - ref_p) * np.log(cur_p / ref_p))
    )
    assert drift.js_categorical(reference, current) == pytest.approx(jensenshannon(ref_p, cur_p, base=2) ** 2)
    assert drift.psi_categorical(reference, reference) == pytest.approx(0.0)


def test_drift_table_long_frame():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame(
        {
            "monetary": rng.lognormal(3, 1, 500),
            "channel": pd.Series(rng.choice(["web", "app"], 500), dtype="str"),
            "first_purchase": pd.Timestamp("2024-01-01"),
        }
    )
    cur = ref.assign(monetary=ref["monetary"] * 2, channel="web")
    cur.loc[:9, "monetary"] = np.nan
    table = drift.drift_table(ref, cur)
    assert list(table.columns[:3]) == ["feature", "metric", "value"]
    assert set(table["feature"]) == {"monetary", "channel"}  # datetime columns skipped
    monetary = table[table["feature"] == "monetary"].set_index("metric")
    assert list(monetary.index) == list(drift.NUMERIC_METRICS)
    assert monetary.loc["ks", "value"] == pytest.approx(
        stats.ks_2samp(ref["monetary"], cur["monetary"].dropna()).statistic
    )
    assert monetary["n_current"].iloc[0] == 490
    channel = table[table["feature"] == "channel"].set_index("metric")
    assert list(channel.index) == ["psi", "js"]
    assert channel.loc["psi", "value"] == pytest.approx(drift.psi_categorical(ref["channel"], cur["channel"]))


def test_drift_table_unknown_feature():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(SchemaError) as info:
        drift.drift_table(frame, frame, features=["b"])
    assert info.value.column == "b"
