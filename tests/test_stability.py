"""Maintenance simulation, retraining recommendation, rolling origins and segment migration.

Most tests run on a small synthetic steady-state shop built here (customers with constant Poisson
purchase rates over the whole period, so trailing-window features are stationary, and optionally a
large planted shift: occasional and rare buyers start buying twice a month with small baskets). The
acceptance tests on ``segkit.make_demo_shop`` are marked slow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segkit import stability
from segkit.schema import DataError, ParameterError, SchemaError, SegkitError

#: Synthetic customer types: share, orders per year, mean basket (currency).
TYPES = {
    "loyal": (0.10, 20.0, 60.0),
    "regular": (0.25, 6.0, 80.0),
    "occasional": (0.30, 2.0, 50.0),
    "rare": (0.25, 0.7, 120.0),
    "big_spender": (0.10, 4.0, 400.0),
}
SHIFTED_TYPES = ("occasional", "rare")
ORIGIN = pd.Timestamp("2021-01-01")


def _orders(rng, rate_per_day, day_from, day_to, basket):
    counts = rng.poisson(rate_per_day * np.maximum(day_to - day_from, 0))
    customer = np.repeat(np.arange(len(counts)), counts)
    day = day_from[customer] + rng.uniform(0, 1, len(customer)) * (day_to - day_from)[customer]
    amount = basket[customer] * rng.lognormal(-0.125, 0.5, len(customer))
    return customer, day, amount


def steady_shop(n_customers=2_000, seed=0, shift=True, days=2 * 365 + 120, shift_day=2 * 365 - 30):
    """A steady-state synthetic log (cleaned canonical frame) and its shift date.

    Separate random streams: the orders before ``shift_day`` are identical with and without shift.
    """
    types_rng, before_rng, after_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    table = pd.DataFrame(TYPES, index=["share", "rate", "basket"]).T
    types = types_rng.choice(len(table), size=n_customers, p=table["share"].to_numpy())
    shifted = np.isin(table.index[types], SHIFTED_TYPES) if shift else np.zeros(n_customers, dtype=bool)
    zeros = np.zeros(n_customers)
    rates, baskets = table["rate"].to_numpy()[types] / 365, table["basket"].to_numpy()[types]
    customer, day, amount = _orders(before_rng, rates, zeros, zeros + days, baskets)
    kept = ~(shifted[customer] & (day >= shift_day))  # shifted customers change behaviour at the shift
    parts = [
        (customer[kept], day[kept], amount[kept]),
        _orders(after_rng, np.where(shifted, 24 / 365, 0.0), zeros + shift_day, zeros + days, zeros + 20.0),
    ]
    customer, day, amount = (np.concatenate(v) for v in zip(*parts, strict=True))
    order = np.argsort(day, kind="stable")
    customer, day, amount = customer[order], day[order], amount[order]
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{c:05d}" for c in customer], dtype="str"),
            "order_id": pd.Series([f"O{i:07d}" for i in range(len(customer))], dtype="str"),
            "order_date": ORIGIN + pd.to_timedelta(np.round(day * 86400), unit="s"),
            "amount": amount.round(2),
        }
    )
    return frame, ORIGIN + pd.Timedelta(days=shift_day)


@pytest.fixture(scope="module")
def shop():
    return steady_shop(seed=3)


@pytest.fixture(scope="module")
def sim(shop):
    transactions, _ = shop
    return stability.maintenance_simulation(transactions, period="14D", k=3, progress=False)


# --------------------------------------------------------------------------- window features
def _naive_window(transactions, end, window_days):
    """Features of the window ending at ``end`` (inclusive), straight from the log with pandas."""
    day = transactions["order_date"].dt.normalize()
    lines = transactions[(day <= end) & (day > end - pd.Timedelta(days=window_days))]
    orders = lines.groupby(["customer_id", "order_id"]).agg(
        day=("order_date", "min"), amount=("amount", "sum")
    )
    orders["day"] = orders["day"].dt.normalize()
    per = orders.groupby(level="customer_id").agg(
        last=("day", "max"),
        first=("day", "min"),
        order_count=("amount", "size"),
        monetary=("amount", "sum"),
        active_days=("day", "nunique"),
    )
    return pd.DataFrame(
        {
            "recency_days": (end - per["last"]).dt.days.astype(float),
            "order_count": per["order_count"].astype(float),
            "mean_order_value": per["monetary"] / per["order_count"],
            "monetary": per["monetary"],
            "active_days": per["active_days"].astype(float),
            "tenure_days": (end - per["first"]).dt.days.astype(float),
        }
    )


def test_window_features_match_a_pandas_groupby():
    transactions, _ = steady_shop(n_customers=300, seed=1)
    # two lines for some orders, so an order is counted once and its lines summed
    extra = transactions.iloc[::7].assign(amount=5.0)
    transactions = pd.concat([transactions, extra], ignore_index=True)
    log = stability.DailyLog.from_transactions(transactions)
    end = pd.Timestamp("2022-03-15")
    features = list(stability.WINDOW_FEATURES)
    codes, values, revenue = log.window_features(log.to_day(end), 200, features)
    got = pd.DataFrame(values, columns=features, index=log.customer_ids[codes])
    expected = _naive_window(transactions, end, 200).loc[got.index]
    assert len(got) == len(_naive_window(transactions, end, 200))
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_index_type=False)
    np.testing.assert_allclose(revenue, expected["monetary"].to_numpy())


def test_window_features_match_customer_file():
    features_module = pytest.importorskip("segkit.features")
    transactions, _ = steady_shop(n_customers=300, seed=2)
    end = pd.Timestamp("2022-06-30")
    log = stability.DailyLog.from_transactions(transactions)
    codes, values, _ = log.window_features(log.to_day(end), 365, ["recency_days", "order_count"])
    day = transactions["order_date"].dt.normalize()
    window = transactions[(day <= end) & (day > end - pd.Timedelta(days=365))]
    cf = features_module.customer_file(window, snapshot_date=end)
    cf = cf.loc[log.customer_ids[codes]]
    np.testing.assert_allclose(values[:, 1], cf["frequency"].to_numpy(float))
    np.testing.assert_allclose(values[:, 0], cf["recency_days"].to_numpy(float))


def test_orders_without_order_id_are_one_customer_at_one_timestamp():
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "a", "b"], dtype="str"),
            "order_date": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 12:00", "2024-01-03 09:00"]
            ),
            "amount": [1.0, 2.0, 4.0, 8.0],
        }
    )
    log = stability.DailyLog.from_transactions(frame)
    codes, values, _ = log.window_features(2, 365, ["order_count", "mean_order_value", "recency_days"])
    np.testing.assert_allclose(values, [[2, 3.5, 2], [1, 8, 0]])


# --------------------------------------------------------------------------- the simulation
def test_simulation_shape_and_invariants(sim, shop):
    steps = sim.steps
    assert steps["step"].tolist() == list(range(len(steps)))
    assert (steps["date"].diff().dropna() == pd.Timedelta(days=14)).all()
    # default start: 12 months of history
    assert sim.params["start"] == sim.log.origin + pd.Timedelta(days=364)
    assert steps.loc[0, "ari"] == pytest.approx(1.0)
    assert steps.loc[0, "max_psi"] == pytest.approx(0.0)
    shares = steps[[f"share_{i}" for i in range(sim.k)]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    frozen = steps[[f"frozen_share_{i}" for i in range(sim.k)]].sum(axis=1)
    np.testing.assert_allclose(frozen, 1.0)
    assert len(sim.drift) == len(steps) * 3 * 5
    assert set(sim.drift["metric"]) == set(stability.DRIFT_METRICS)
    assert (steps["n_initial_customers"] <= steps["n_customers"]).all()
    # segment 0 has the largest revenue in the start window
    codes, labels, _ = sim.assignments[0]
    _, _, revenue = sim.log.window_features(
        sim.log.to_day(sim.params["start"]), 365, sim.start_model.features
    )
    by_segment = np.bincount(labels, weights=revenue, minlength=sim.k)
    assert np.all(np.diff(by_segment) <= 0)


def test_simulation_is_deterministic(shop, sim):
    transactions, _ = shop
    again = stability.maintenance_simulation(transactions, period="14D", k=3, progress=False)
    pd.testing.assert_frame_equal(sim.steps, again.steps)
    pd.testing.assert_frame_equal(sim.drift, again.drift)


def test_planted_shift_is_detected_and_steady_state_is_not(shop, sim):
    _, shift_date = shop
    recommendation = stability.recommend_retrain_period(sim)
    assert recommendation.obsolete_on is not None
    assert pd.Timedelta(0) <= recommendation.obsolete_on - shift_date <= pd.Timedelta(days=42)
    before = sim.steps[sim.steps["date"] < shift_date]
    assert stability.find_alarm(before) is None
    unshifted, _ = steady_shop(seed=3, shift=False)
    quiet = stability.maintenance_simulation(unshifted, period="14D", k=3, progress=False)
    assert stability.recommend_retrain_period(quiet).obsolete_on is None
    # the history before the shift is the same with and without it
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True), quiet.steps.iloc[: len(before)].reset_index(drop=True)
    )


def test_ari_matches_sklearn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    for size, k in ((50, 2), (1_000, 5), (3, 3)):
        a, b = rng.integers(0, k, size), rng.integers(0, k, size)
        b[: size // 2] = a[: size // 2]
        assert stability._ari(a, b) == pytest.approx(adjusted_rand_score(a, b))
    assert stability._ari(np.zeros(5, int), np.zeros(5, int)) == adjusted_rand_score(np.zeros(5), np.zeros(5))


def test_hungarian_alignment_recovers_a_permutation(sim):
    frozen = sim.start_model
    permutation = np.array([2, 0, 1])
    shuffled = stability.WindowModel(**{**frozen.__dict__, "centroids": frozen.centroids[permutation]})
    np.testing.assert_array_equal(stability.align_segments(shuffled, frozen), permutation)


def test_refit_segments_are_aligned_to_frozen_ones(sim):
    # with no change in behaviour, aligned refitted shares stay close to the frozen shares
    early = sim.steps.iloc[1:6]
    for i in range(sim.k):
        np.testing.assert_allclose(early[f"share_{i}"], early[f"frozen_share_{i}"], atol=0.1)


def test_dataset_input_window_none_and_other_algorithms(shop):
    transactions, _ = shop
    dataset = type("Bundle", (), {"transactions": transactions})()
    cumulative = stability.maintenance_simulation(
        dataset, period="30D", window=None, k=3, features=["order_count", "monetary"], progress=False
    )
    assert cumulative.params["window_days"] is None
    # cumulative features age: the order count keeps growing
    psi = cumulative.drift.query("feature == 'order_count' and metric == 'psi'")["value"]
    assert psi.iloc[-1] > psi.iloc[1]
    for algorithm in ("gmm", "agglomerative"):
        other = stability.maintenance_simulation(
            transactions, end="2022-04-01", period="30D", k=3, algorithm=algorithm, progress=False
        )
        assert other.steps.loc[0, "ari"] == pytest.approx(1.0)
        assert other.steps["ari"].between(-1, 1).all()


def test_k_is_chosen_when_not_given(shop):
    transactions, _ = shop
    chosen = stability.maintenance_simulation(transactions, end="2022-04-15", period="30D", progress=False)
    assert 2 <= chosen.k <= 8
    assert chosen.params["k_reason"]


def test_choose_k_prefers_the_reproducible_partition():
    # three equal, well-separated groups (in log space): k=3 is reproducible, k=2 merges an arbitrary pair
    rng = np.random.default_rng(0)
    centres = np.array([[1.0, 1.0, 3.0], [4.0, 1.0, 3.0], [2.5, 3.5, 3.0]])
    logged = np.repeat(centres, 400, axis=0) + rng.normal(0, 0.15, (1_200, 3))
    values = np.expm1(logged)
    k, reason = stability.choose_k(
        values, values[:, 2], features=stability.DEFAULT_FEATURES, algorithm="kmeans", seed=0
    )
    assert k == 3
    assert "bootstrap ARI" in reason


def test_short_log_starts_half_way_and_window_starts_at_first_transaction():
    transactions, _ = steady_shop(n_customers=400, seed=4, days=300, shift=False)
    short = stability.maintenance_simulation(transactions, period="30D", k=2, progress=False)
    span = (transactions["order_date"].max().normalize() - transactions["order_date"].min().normalize()).days
    assert short.params["start"] == short.log.origin + pd.Timedelta(days=span // 2)
    assert short.params["start_window_days"] == span // 2 + 1


# --------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_segkit_errors(shop):
    transactions, _ = shop
    with pytest.raises(ParameterError, match="unknown feature") as info:
        stability.maintenance_simulation(transactions, features=["recency_days", "loyalty"], progress=False)
    assert info.value.column == "features" and info.value.examples == ["loyalty"]
    for bad in ("weekly", "0D", "-3D"):
        with pytest.raises(ParameterError, match="period"):
            stability.maintenance_simulation(transactions, period=bad, progress=False)
    with pytest.raises(ParameterError, match="window"):
        stability.maintenance_simulation(transactions, window="a year", progress=False)
    with pytest.raises(ParameterError, match="algorithm"):
        stability.maintenance_simulation(transactions, algorithm="dbscan", progress=False)
    with pytest.raises(DataError, match="too short"):
        stability.maintenance_simulation(transactions, start="2023-04-15", progress=False)
    with pytest.raises(DataError, match="too short"):
        stability.maintenance_simulation(transactions.iloc[:50], period="30D", progress=False)
    with pytest.raises(SchemaError, match="amount"):
        stability.maintenance_simulation(transactions.drop(columns="amount"), progress=False)
    with pytest.raises(DataError, match="not negative") as info:
        stability.maintenance_simulation(transactions.assign(amount=-transactions["amount"]), progress=False)
    assert info.value.n_bad == int((transactions["amount"] > 0).sum())  # $0 purchases are kept
    missing = transactions.copy()
    missing.loc[[3, 8], "customer_id"] = None
    with pytest.raises(DataError, match="customer ids") as info:
        stability.maintenance_simulation(missing, progress=False)
    assert info.value.n_bad == 2
    with pytest.raises(ParameterError, match="outside"):
        stability.maintenance_simulation(transactions, start="1990-01-01", progress=False)


# --------------------------------------------------------------------------- recommendation
def _fake_sim(sim, ari, max_psi):
    steps = sim.steps.iloc[: len(ari)].copy()
    steps["ari"] = ari
    steps["max_psi"] = max_psi
    return stability.Simulation(
        steps=steps, drift=sim.drift, start_model=sim.start_model, params=sim.params, log=sim.log
    )


def test_alarm_needs_consecutive_steps(sim):
    quiet = [1.0, 0.7, 0.9, 0.6, 0.7, 0.9, 0.95, 0.9]
    rec = stability.recommend_retrain_period(_fake_sim(sim, quiet, [0.0] * 8))
    assert rec.obsolete_on is None and rec.trigger is None
    assert rec.days == sim.steps["days_since_start"].iloc[7]
    stale = [1.0, 0.9, 0.7, 0.9, 0.7, 0.6, 0.5, 0.4]
    rec = stability.recommend_retrain_period(_fake_sim(sim, stale, [0.0] * 8))
    assert rec.trigger == "ari"
    assert rec.obsolete_on == sim.steps["date"].iloc[4]
    assert rec.days == rec.delay_days == 4 * 14
    assert "0.70, 0.60, 0.50" in rec.reason
    # consecutive=2 fires on the first pair
    rec = stability.recommend_retrain_period(_fake_sim(sim, stale, [0.0] * 8), consecutive=2)
    assert rec.obsolete_on == sim.steps["date"].iloc[4]
    rec = stability.recommend_retrain_period(
        _fake_sim(sim, stale, [0.0] * 8), ari_threshold=0.95, consecutive=2
    )
    assert rec.obsolete_on == sim.steps["date"].iloc[1]


def test_psi_alarm_needs_two_steps(sim):
    ari = [1.0] * 8
    rec = stability.recommend_retrain_period(_fake_sim(sim, ari, [0, 0.3, 0.1, 0.25, 0.3, 0.1, 0, 0]))
    assert rec.trigger == "psi" and rec.obsolete_on == sim.steps["date"].iloc[3]
    assert "0.250, 0.300" in rec.reason
    assert (
        stability.recommend_retrain_period(_fake_sim(sim, ari, [0, 0.3, 0.1, 0.3, 0, 0.3, 0, 0])).obsolete_on
        is None
    )


def test_psi_rule_on_chosen_features(sim):
    drift = sim.drift.copy()
    recency = (drift["feature"] == "recency_days") & (drift["metric"] == "psi")
    drift.loc[recency & (drift["step"] >= 2), "value"] = 0.5  # a seasonal-like swing of one feature
    steps = sim.steps.assign(
        ari=1.0, max_psi=drift[drift["metric"] == "psi"].groupby("step")["value"].max().values
    )
    fake = stability.Simulation(
        steps=steps, drift=drift, start_model=sim.start_model, params=sim.params, log=sim.log
    )
    assert stability.recommend_retrain_period(fake).trigger == "psi"
    others = ["order_count", "mean_order_value"]
    calm = stability.recommend_retrain_period(fake, psi_features=others)
    expected_alarm = stability.find_alarm(
        steps.assign(
            max_psi=drift[recency.eq(False) & (drift["metric"] == "psi")]
            .groupby("step")["value"]
            .max()
            .values
        )
    )
    assert (calm.obsolete_on is None) == (expected_alarm is None)
    with pytest.raises(ParameterError, match="psi_features"):
        stability.recommend_retrain_period(fake, psi_features=["loyalty"])


def test_explanation_numbers_come_from_the_simulation(sim):
    rec = stability.recommend_retrain_period(sim)
    assert f"{int(sim.steps['n_customers'].iloc[0]):,} customers" in rec.explanation
    assert f"every {rec.days} days" in rec.explanation
    assert rec.to_dict()["recommended_retraining_days"] == rec.days
    with pytest.raises(ParameterError):
        stability.recommend_retrain_period(sim, ari_threshold=1.5)
    with pytest.raises(ParameterError):
        stability.recommend_retrain_period(sim, consecutive=0)


def test_noise_band(sim):
    noise = stability.noise_band(sim, n=4, seed=1)
    assert len(noise) == 4 and noise.between(-1, 1).all()
    assert noise.mean() > 0.5
    assert sim.noise is noise
    assert "noise floor" in stability.recommend_retrain_period(sim).explanation
    sim.noise = None


def test_rolling_origins(shop):
    transactions, shift_date = shop
    origins = stability.rolling_origins(transactions, starts=3, period="14D", k=3)
    table = origins.table
    assert len(table) == 3 and table["start"].is_monotonic_increasing
    observed = table[table["observed"]]
    assert len(observed)  # the shift makes every model that sees it go stale
    np.testing.assert_allclose(
        observed["delay_days"], (observed["obsolete_on"] - observed["start"]).dt.days.astype(float)
    )
    sim = origins.simulations[0]
    rec = stability.recommend_retrain_period(sim, origins=origins)
    assert rec.days == max(int(observed["delay_days"].median() // 14 * 14), 14)
    assert origins.summary()["origins"] == 3
    with pytest.raises(ParameterError):
        stability.rolling_origins(transactions, starts=2, start="2022-01-01")


# --------------------------------------------------------------------------- migration
def test_segment_migration_by_hand():
    before = pd.Series([0, 0, 1, 1, 2], index=["a", "b", "c", "d", "e"])
    after = pd.Series([0, 1, 1, 1, 0], index=["a", "b", "c", "d", "f"])
    migration = stability.segment_migration({"2024-01-01": before, "2024-06-01": after})
    counts = migration.counts
    assert counts.loc[0, 0] == 1 and counts.loc[0, 1] == 1 and counts.loc[1, 1] == 2
    assert counts.loc[2, stability.NOT_ACTIVE] == 1 and counts.loc[stability.NOT_ACTIVE, 0] == 1
    assert counts.to_numpy().sum() == 6
    np.testing.assert_allclose(migration.rates.loc[0].to_numpy().sum(), 1.0)
    assert migration.table["customers"].sum() == 6


def test_segment_migration_from_simulation(sim):
    last = sim.steps["date"].iloc[-1]
    migration = stability.segment_migration(sim, sim.params["start"], last)
    counts = migration.counts
    active_start = sim.steps["n_customers"].iloc[0]
    assert counts.drop(index=stability.NOT_ACTIVE).to_numpy().sum() == active_start
    assert counts.drop(columns=stability.NOT_ACTIVE).to_numpy().sum() == sim.steps["n_customers"].iloc[-1]
    same = stability.segment_migration(sim, sim.params["start"], sim.params["start"])
    assert np.trace(same.counts.to_numpy()) == active_start
    with pytest.raises(ParameterError):
        stability.segment_migration(sim, labels="both")
    with pytest.raises(SegkitError):
        stability.segment_migration([1, 2])


# --------------------------------------------------------------------------- real data and demo shop
def test_real_sample_monthly_steps(online_retail_ii_path):
    from segkit.cleaning import clean_transactions
    from segkit.io import read_transactions

    clean, _ = clean_transactions(read_transactions(online_retail_ii_path))
    sim = stability.maintenance_simulation(clean, period="30D", progress=False)
    assert len(sim.steps) >= 4
    # a short log: the start window begins at the first transaction
    assert sim.params["start_window_days"] < 365
    rec = stability.recommend_retrain_period(sim)
    assert rec.days >= 30
    assert "Recommendation: retrain at least every" in rec.explanation


def _demo_alarm(seed, shift):
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop

    shop = make_demo_shop(n_customers=10_000, seed=seed, shift=shift)
    clean, _ = clean_transactions(shop.transactions)
    sim = stability.maintenance_simulation(clean, progress=False)
    return shop, sim, stability.recommend_retrain_period(sim)


@pytest.mark.slow
def test_demo_shop_shift_is_detected_within_six_weeks():
    shop, sim, rec = _demo_alarm(11, shift=True)
    assert rec.obsolete_on is not None, rec.explanation
    assert pd.Timedelta(0) <= rec.obsolete_on - shop.shift_date <= pd.Timedelta(days=42), rec.explanation


@pytest.mark.slow
def test_demo_shop_without_shift_never_alarms():
    _, sim, rec = _demo_alarm(11, shift=False)
    assert rec.obsolete_on is None, rec.explanation
