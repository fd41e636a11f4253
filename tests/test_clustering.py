"""segkit.clustering: feature selection, preprocessing, model search, selection rule, fitting, names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, silhouette_score

from segkit import clustering
from segkit.schema import DataError, ModelError, ParameterError, SchemaError

#: Planted customer types of the synthetic file: (share, recency days, orders, basket, app share, sessions)
TYPES = {
    "loyal": (0.2, 15, 20, 120.0, 0.7, 40),
    "regular": (0.3, 60, 6, 50.0, 0.2, 12),
    "lapsed": (0.3, 400, 1.2, 30.0, 0.1, 2),
    "new": (0.2, 20, 1.1, 40.0, 0.5, 5),
}


def synthetic_customer_file(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A small customer file with four planted types (returned as integer codes 0..3)."""
    rng = np.random.default_rng(seed)
    spec = np.array([v for v in TYPES.values()])
    types = rng.choice(len(TYPES), size=n, p=spec[:, 0])
    recency = np.round(rng.gamma(4.0, spec[types, 1] / 4.0)) + 1
    frequency = 1 + rng.poisson(spec[types, 2] - 1)
    basket = spec[types, 3] * rng.lognormal(0.0, 0.25, n)
    tenure = np.where(types == 3, rng.uniform(0, 60, n), rng.uniform(300, 900, n)).round() + recency
    app = np.clip(spec[types, 4] + rng.normal(0.0, 0.08, n), 0.0, 1.0)
    cf = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": frequency.astype(float),
            "monetary": frequency * basket,
            "avg_order_value": basket,
            "tenure_days": tenure,
            "mean_days_between_orders": np.where(
                frequency > 1, tenure / np.maximum(frequency - 1, 1), tenure
            ),
            "share_channel_app": app,
            "share_channel_web": 1.0 - app,
            "sessions": rng.poisson(spec[types, 5]).astype(float),
            "cancelled_share": np.where(rng.random(n) < 0.01, 0.5, 0.0),
            "review_mean": np.where(rng.random(n) < 0.2, rng.uniform(1, 5, n), np.nan),
            "gender": pd.array(rng.choice(["female", "male"], n), dtype="str"),
            "rfm_segment": pd.array(rng.choice(["Champions", "Lost"], n), dtype="str"),
        },
        index=pd.Index([f"C{i:05d}" for i in range(n)], name="customer_id", dtype="str"),
    )
    return cf, types


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_customer_file()


@pytest.fixture(scope="module")
def search(planted):
    cf, _ = planted
    return clustering.search_models(
        cf, k_range=range(2, 7), seed=0, n_bootstrap=2, stability_size=300, silhouette_size=400
    )


# --------------------------------------------------------------------------- features
def test_default_features_keep_signal_and_drop_the_rest(planted):
    cf, _ = planted
    features = clustering.select_features(cf)
    assert features[:6] == list(clustering.RFM_FEATURES)
    assert "share_channel_app" in features
    assert "sessions" not in features  # engagement: profiled, clustered only on request
    assert "share_channel_web" not in features  # redundant: 1 - share_channel_app
    assert "cancelled_share" not in features  # near-constant (99 % zeros)
    assert "review_mean" not in features  # 80 % missing
    assert "gender" not in features and "rfm_segment" not in features


def test_default_features_follow_the_columns_present(planted):
    cf, _ = planted
    without_channels = cf.drop(columns=["share_channel_app", "share_channel_web"])
    assert clustering.select_features(without_channels) == list(clustering.RFM_FEATURES)
    assert "sessions" in clustering.select_features(cf, [*clustering.RFM_FEATURES, "sessions"])


def test_explicit_features_are_checked(planted):
    cf, _ = planted
    assert clustering.select_features(cf, "monetary, frequency") == ["monetary", "frequency"]
    with pytest.raises(SchemaError, match="monetry") as info:
        clustering.select_features(cf, ["monetry"])
    assert info.value.column == "monetry" and "monetary" in str(info.value)


def test_no_usable_feature_raises(planted):
    cf, _ = planted
    flat = pd.DataFrame({"recency_days": np.ones(50)}, index=cf.index[:50])
    with pytest.raises(DataError):
        clustering.select_features(flat)


def test_preprocessor_logs_skewed_money_and_encodes_categories(planted):
    cf, _ = planted
    features = ["monetary", "share_channel_app", "gender"]
    pipeline = clustering.build_preprocessor(cf, features)
    columns = {name: cols for name, _, cols in pipeline.named_steps["columns"].transformers}
    assert columns["log1p"] == ["monetary"]
    assert columns["scale"] == ["share_channel_app"]
    assert columns["onehot"] == ["gender"]
    X = pipeline.fit_transform(cf[features])
    assert X.shape == (len(cf), 4)  # monetary, share, two genders
    expected = np.log1p(cf["monetary"])
    np.testing.assert_allclose(X[:, 0], (expected - expected.mean()) / expected.std(ddof=0))
    with_pca = clustering.build_preprocessor(cf, features, pca=2).fit_transform(cf[features])
    assert with_pca.shape == (len(cf), 2)


def test_yeo_johnson_for_skewed_features_with_negatives(planted):
    cf, _ = planted
    shifted = cf.assign(balance=cf["monetary"] - 100.0)
    groups = clustering._transform_groups(shifted, ["balance", "share_channel_app"])
    assert groups == {"log1p": [], "yeo_johnson": ["balance"], "scale": ["share_channel_app"]}


# --------------------------------------------------------------------------- metrics
def test_shared_silhouettes_equal_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(250, 3))
    labelings = [rng.integers(0, k, 250) for k in (2, 3, 5)]
    labelings.append(np.r_[np.zeros(249, dtype=int), 1])  # a singleton cluster scores 0
    got = clustering.silhouettes(X, labelings, chunk=60)
    expected = [silhouette_score(X, labels) for labels in labelings]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert np.isnan(clustering.silhouettes(X, [np.zeros(250, dtype=int)])[0])


def test_knee_point():
    assert clustering.knee_point(range(2, 8), [100, 40, 15, 12, 10, 9]) == 4
    assert clustering.knee_point(range(2, 8), [60, 50, 40, 30, 20, 10]) is None
    assert clustering.knee_point([2, 3], [10, 5]) is None


# --------------------------------------------------------------------------- search
def test_search_table_has_one_row_per_algorithm_and_k(search):
    table = search.table
    assert len(table) == 3 * 5
    assert list(table.groupby("algorithm", sort=False).size()) == [5, 5, 5]
    for column in (
        "inertia",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "bic",
        "smallest_share",
        "stability",
        "knee",
        "usable",
    ):
        assert column in table.columns
    assert table.loc[table["algorithm"] == "gmm", "bic"].notna().all()
    assert table.loc[table["algorithm"] != "gmm", "bic"].isna().all()
    assert (table["smallest_share"] <= 1.0 / table["k"] + 1e-12).all()
    assert table["stability"].between(-1.0, 1.0).all()
    kmeans = table[table["algorithm"] == "kmeans"]
    assert kmeans["inertia"].is_monotonic_decreasing


def test_search_recovers_the_planted_types(planted, search):
    cf, types = planted
    assert (search.best.algorithm, search.best.k) in set(
        zip(search.table["algorithm"], search.table["k"], strict=True)
    )
    assert search.best.k == 4
    model = clustering.fit_segmentation(cf, search.best.algorithm, search.best.k)
    assert adjusted_rand_score(types, model.predict(cf)) > 0.9
    assert f"k={search.best.k}" in search.best.reason
    row = search.table[(search.table["algorithm"] == search.best.algorithm) & (search.table["k"] == 4)].iloc[
        0
    ]
    assert f"{row['silhouette']:.2f}" in search.best.reason


def test_search_is_deterministic(planted, search):
    cf, _ = planted
    again = clustering.search_models(
        cf, k_range=range(2, 7), seed=0, n_bootstrap=2, stability_size=300, silhouette_size=400
    )
    pd.testing.assert_frame_equal(search.table, again.table)
    assert again.best == search.best


def test_search_on_a_subsample(planted, monkeypatch):
    cf, _ = planted
    monkeypatch.setattr(clustering, "WARD_MAX_FIT", 150)
    result = clustering.search_models(
        cf, k_range=[3, 4], algorithms="agglomerative", sample_size=400, n_bootstrap=2, stability_size=200
    )
    assert result.sample_size == 400 and result.n_customers == len(cf)
    assert (result.table["n_clusters"] == result.table["k"]).all()


def _search_table(**columns) -> pd.DataFrame:
    n = len(columns["k"])
    defaults = {"algorithm": ["kmeans"] * n, "smallest_share": [0.1] * n, "usable": [True] * n}
    return pd.DataFrame({**defaults, **columns})


def test_tolerant_rank():
    values = pd.Series([0.50, 0.49, 0.45, np.nan])
    assert clustering.tolerant_rank(values, True, 0.02).tolist() == [1, 1, 3, 4]
    assert clustering.tolerant_rank(values, False, 0.0).tolist() == [3, 2, 1, 4]


def test_stability_and_segment_size_are_filters_not_criteria():
    table = _search_table(
        k=[2, 3, 4, 5],
        silhouette=[0.40, 0.50, 0.40, 0.60],
        calinski_harabasz=[900.0, 1000.0, 800.0, 1200.0],
        davies_bouldin=[1.2, 0.9, 1.2, 0.7],
        stability=[0.99, 0.80, 0.99, 0.99],
        usable=[True, True, True, False],  # k=5 is best on every metric but fails a filter
    )
    best, runner_up = clustering.choose_models(table, {"kmeans": 3})
    assert best.k == 3  # less stable than k=2 and k=4, but stability only filters
    assert "silhouette 0.50 (rank 1)" in best.reason and "k=3 is the elbow" in best.reason
    assert "stability (mean ARI) is 0.80" in best.reason
    assert runner_up.k in (2, 4) and "behind on silhouette (0.40 vs 0.50)" in runner_up.reason


def test_consensus_is_the_mean_normalised_rank_over_the_defined_metrics():
    table = _search_table(
        k=[2, 3, 4, 3],
        algorithm=["kmeans", "kmeans", "kmeans", "gmm"],
        silhouette=[0.30, 0.40, 0.35, 0.20],
        calinski_harabasz=[1000.0, 800.0, 700.0, 600.0],
        davies_bouldin=[1.5, 1.0, 1.2, 2.0],
        bic=[np.nan, np.nan, np.nan, 5000.0],
        stability=[0.9] * 4,
    )
    ranks = clustering.consensus_ranks(table, {"kmeans": 3, "gmm": None})
    # silhouette ranks 3, 1, 2, 4 -> (r - 1) / 3; CH 1, 2, 3, 4; DB 3, 1, 2, 4; elbow gap 1, 0, 1 (gmm none)
    expected_kmeans_3 = np.mean([0.0, 1 / 3, 0.0, 0.0])
    assert ranks.loc[1, "consensus"] == pytest.approx(expected_kmeans_3)
    assert np.isnan(ranks.loc[0, "norm_bic"]) and ranks.loc[3, "norm_bic"] == 0.0  # BIC only where defined
    assert ranks.loc[3, "consensus"] == pytest.approx(np.mean([1.0, 1.0, 1.0, 0.0]))
    assert clustering.choose_model(table, {"kmeans": 3, "gmm": None}).k == 3


def test_exact_ties_never_go_to_fewer_segments():
    table = _search_table(
        k=[2, 3, 4],
        silhouette=[0.50, 0.495, 0.50],
        calinski_harabasz=[1000.0, 1000.0, 1000.0],
        davies_bouldin=[1.00, 1.02, 1.00],
        stability=[0.99, 0.98, 0.95],
    )
    ordered = clustering.rank_models(table, {"kmeans": None})
    assert ordered["k"].tolist()[:2] == [4, 2]  # equal consensus: higher silhouette, then larger k
    best, runner_up = clustering.choose_models(table, {"kmeans": None})
    assert best.k == 4 and runner_up.k == 2 and "ties on every metric" in runner_up.reason


def test_choose_model_falls_back_when_nothing_is_usable():
    table = pd.DataFrame(
        {
            "algorithm": ["gmm", "gmm"],
            "k": [2, 3],
            "silhouette": [0.1, 0.2],
            "davies_bouldin": [2.0, 1.9],
            "stability": [0.3, 0.4],
            "smallest_share": [0.01, 0.01],
            "usable": [False, False],
        }
    )
    choice = clustering.choose_model(table, {"gmm": None})
    assert choice.k == 3 and "caution" in choice.reason


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"k_range": [1, 2]}, "k_range"),
        ({"k_range": [2, 10_000]}, "k_range"),
        ({"algorithms": "kmeans,dbscan"}, "algorithm"),
        ({"algorithms": ""}, "algorithms"),
        ({"sample_size": 0}, "sample_size"),
    ],
)
def test_search_rejects_bad_parameters(planted, kwargs, column):
    cf, _ = planted
    with pytest.raises(ParameterError) as info:
        clustering.search_models(cf, **kwargs)
    assert info.value.column == column


# --------------------------------------------------------------------------- fitting
@pytest.fixture(scope="module")
def model(planted):
    cf, _ = planted
    return clustering.fit_segmentation(cf, "kmeans", 4, seed=0)


def test_segment_ids_follow_revenue_share(planted, model):
    cf, _ = planted
    segments = model.predict(cf)
    assert segments.index.equals(cf.index) and segments.dtype == np.int64
    assert sorted(segments.unique()) == [0, 1, 2, 3]
    revenue = cf["monetary"].groupby(segments).sum()
    assert revenue.is_monotonic_decreasing
    np.testing.assert_allclose(model.profile["revenue_share"], revenue / revenue.sum())


def test_profile_sizes_shares_and_standardised_differences(planted, model):
    cf, _ = planted
    segments = model.predict(cf)
    profile = model.profile
    assert profile["size"].sum() == len(cf)
    np.testing.assert_allclose(profile["customer_share"].sum(), 1.0)
    mean = cf["recency_days"].groupby(segments).mean()
    np.testing.assert_allclose(profile["mean_recency_days"], mean)
    np.testing.assert_allclose(profile["median_frequency"], cf["frequency"].groupby(segments).median())
    z = (mean - cf["recency_days"].mean()) / cf["recency_days"].std(ddof=0)
    np.testing.assert_allclose(profile["z_recency_days"], z)
    assert {"rank_recency_days", "rank_frequency", "rank_monetary"} <= set(profile.columns)


def test_names_are_unique_readable_and_match_the_profile(model):
    names = model.segment_names
    assert sorted(names) == [0, 1, 2, 3] and len(set(names.values())) == 4
    for i, name in names.items():
        assert name.split(" (")[0] == clustering.base_name(model.profile.loc[i].drop("segment_name"))
    assert set(model.actions) == set(names) and all(len(a) > 20 for a in model.actions.values())
    assert len(set(model.actions.values())) == 4
    assert list(model.profile["segment_name"]) == [names[i] for i in range(4)]


def test_name_overrides(model):
    profile = model.profile.drop(columns="segment_name")
    original = clustering.name_segments(profile)
    renamed = clustering.name_segments(profile, {0: "Stars", original[1]: "Second"})
    assert renamed[0] == "Stars" and renamed[1] == "Second" and renamed[2] == original[2]
    assert clustering.name_segments(profile, '{"3": "Tail"}')[3] == "Tail"
    with pytest.raises(ParameterError, match="unknown"):
        clustering.name_segments(profile, {9: "Nobody"})
    with pytest.raises(ParameterError, match="equal"):
        clustering.name_segments(profile, {0: original[1]})
    with pytest.raises(ParameterError, match="JSON"):
        clustering.name_segments(profile, "{not json")


@pytest.mark.parametrize("algorithm", ["agglomerative", "gmm"])
def test_other_algorithms_predict_new_customers(planted, algorithm):
    cf, types = planted
    model = clustering.fit_segmentation(cf.iloc[:400], algorithm, 4, seed=0)
    new = model.predict(cf.iloc[400:])
    assert len(new) == 200 and new.between(0, 3).all()
    assert adjusted_rand_score(types[400:], new) > 0.8
    assert model.metadata["prediction"].startswith("nearest" if algorithm == "agglomerative" else "most")


def test_large_n_switches_to_minibatch(planted, monkeypatch):
    cf, _ = planted
    monkeypatch.setattr(clustering, "MINIBATCH_ABOVE", 100)
    model = clustering.fit_segmentation(cf, "kmeans", 4)
    assert type(model.assigner).__name__ == "MiniBatchKMeans"


def test_k_none_runs_the_search(planted):
    cf, _ = planted
    model = clustering.fit_segmentation(cf.iloc[:300], "kmeans", None, features=["recency_days", "frequency"])
    assert 2 <= model.k <= 10


def test_fit_requires_monetary(planted):
    cf, _ = planted
    with pytest.raises(SchemaError, match="monetary"):
        clustering.fit_segmentation(cf.drop(columns="monetary"), "kmeans", 3)


def test_metadata_records_training(planted, model):
    meta = model.metadata
    assert meta["k"] == 4 and meta["algorithm"] == "kmeans" and meta["seed"] == 0
    assert meta["n_customers"] == len(planted[0])
    assert meta["input_tables"] == ["transactions"]
    assert clustering.input_tables(["monetary", "sessions", "review_mean"]) == [
        "reviews",
        "sessions",
        "transactions",
    ]
    assert set(meta["rfm_bin_edges"]) == {"r_score", "f_score", "m_score"}
    quantiles = meta["reference_quantiles"]
    assert quantiles["levels"][0] == 0.0 and quantiles["levels"][-1] == 1.0
    assert quantiles["monetary"][-1] == pytest.approx(planted[0]["monetary"].max())
    assert 0 < meta["metrics"]["silhouette"] <= 1


# --------------------------------------------------------------------------- stability
def test_bootstrap_stability(planted):
    cf, _ = planted
    spec = {"algorithm": "kmeans", "k": 4}
    aris = clustering.bootstrap_stability(cf, spec, n=4, seed=0)
    assert len(aris) == 4 and aris.name == "ari" and aris.between(0.8, 1.0).all()
    pd.testing.assert_series_equal(aris, clustering.bootstrap_stability(cf, spec, n=4, seed=0))
    unstable = clustering.bootstrap_stability(cf, {"algorithm": "kmeans", "k": 9}, n=4, seed=0)
    assert unstable.mean() < aris.mean()
    with pytest.raises(ParameterError):
        clustering.bootstrap_stability(cf, {"k": 3}, n=2)


# --------------------------------------------------------------------------- the demo shop
def _demo_customer_file(n_customers: int, seed: int, shift: bool = True, types: int | None = None):
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop
    from segkit.features import customer_file, rfm_scores, rfm_segments

    shop = make_demo_shop(n_customers=n_customers, seed=seed, shift=shift, types=types)
    clean, report = clean_transactions(shop.transactions)
    customers = customer_file(
        clean, shop.customers, shop.sessions, shop.reviews, cancellations=report.by_customer
    )
    scores = rfm_scores(customers)
    customers = customers.join(scores).assign(rfm_segment=rfm_segments(scores))
    return shop, customers


def _recommended_ari(shop, customers) -> tuple[clustering.ModelSearch, Any, float]:
    truth = shop.truth.set_index("customer_id")["type"].reindex(customers.index)
    search, model = clustering.recommend_and_fit(customers, seed=0)
    return search, model, adjusted_rand_score(truth, model.predict(customers))


def test_score_dataset_rebuilds_the_customer_file():
    from segkit.io import Dataset

    shop, customers = _demo_customer_file(400, seed=1)
    model = clustering.fit_segmentation(customers, "kmeans", 4, seed=0)
    dataset = Dataset(shop.transactions, shop.customers, shop.sessions, shop.reviews)
    scored = clustering.score_dataset(model, dataset)
    assert list(scored.columns) == ["customer_id", "segment_id", "segment_name", "rfm_segment"]
    assert scored["customer_id"].is_monotonic_increasing
    expected = model.predict(customers)
    np.testing.assert_array_equal(
        scored.set_index("customer_id")["segment_id"].reindex(expected.index), expected
    )
    assert (scored["segment_name"] == scored["segment_id"].map(model.segment_names)).all()
    same_rfm = (
        scored.set_index("customer_id")["rfm_segment"].reindex(customers.index) == customers["rfm_segment"]
    )
    assert same_rfm.all()  # the training edges reproduce the training scores exactly (ties kept together)


def test_score_dataset_names_a_missing_table():
    from segkit.io import Dataset

    shop, customers = _demo_customer_file(300, seed=2)
    features = [*clustering.RFM_FEATURES, "sessions"]
    model = clustering.fit_segmentation(customers, "kmeans", 3, features=features, seed=0)
    assert "sessions" in model.metadata["input_tables"]
    with pytest.raises(SchemaError, match="sessions") as info:
        clustering.score_dataset(model, Dataset(shop.transactions, shop.customers, None, shop.reviews))
    assert info.value.column == "sessions"


@pytest.fixture(scope="module")
def demo_shop_5000():
    return _demo_customer_file(5000, seed=3)


@pytest.mark.slow
def test_recommended_model_recovers_the_planted_types(demo_shop_5000):
    search, _, ari = _recommended_ari(*demo_shop_5000)
    assert ari >= 0.8, f"{search.best}: ARI {ari:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize(("types", "seed"), [(4, 0), (6, 1), (8, 2)])
def test_recommended_k_recovers_several_numbers_of_planted_types(types, seed):
    # one seed per number of types; benchmarks/bench_choice_of_k.py runs the full grid (5 seeds each)
    shop, customers = _demo_customer_file(5000, seed=seed, types=types)
    search, _, ari = _recommended_ari(shop, customers)
    assert ari >= 0.8, f"{search.best}: ARI {ari:.3f}"
    assert abs(search.best.k - types) <= 1, search.best
    assert search.runner_up is not None and search.runner_up.k != search.best.k
    assert "Runner-up" in search.runner_up.reason and search.best.reason


@pytest.mark.slow
def test_recommended_model_recovers_the_planted_types_without_shift():
    search, _, ari = _recommended_ari(*_demo_customer_file(5000, seed=3, shift=False))
    assert ari >= 0.8, f"{search.best}: ARI {ari:.3f}"


@pytest.mark.slow
def test_demo_runs_are_reproducible_and_round_trip(demo_shop_5000, tmp_path):
    from segkit.io import write_csv_atomic
    from segkit.model import load_model

    shop, customers = demo_shop_5000
    paths = []
    for run in ("first", "second"):
        _, model, _ = _recommended_ari(shop, customers)
        paths.append(write_csv_atomic(model.segment_frame(customers), tmp_path / f"{run}.csv"))
    assert paths[0].read_bytes() == paths[1].read_bytes()

    loaded = load_model(model.save(tmp_path / "model.skops"))
    pd.testing.assert_series_equal(loaded.predict(customers), model.predict(customers))
    path = tmp_path / "model.skops"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError):
        load_model(path)


def test_runner_up_names_the_filter_it_fails_when_only_one_k_passes():
    table = _search_table(
        k=[2, 3, 4],
        silhouette=[0.30, 0.40, 0.35],
        calinski_harabasz=[100.0, 120.0, 110.0],
        davies_bouldin=[1.3, 1.1, 1.2],
        stability=[0.90, 0.70, 0.95],
        smallest_share=[0.3, 0.2, 0.01],
        usable=[True, False, False],
    )
    best, runner_up = clustering.choose_models(table, {"kmeans": None})
    assert best.k == 2 and "the only model that passes the filters" in best.reason
    assert runner_up.k == 3 and "fails the filters" in runner_up.reason
    assert "stability (mean ARI) is 0.70, below 0.75" in runner_up.reason


def test_search_and_bootstrap_do_not_depend_on_the_number_of_workers():
    """The fits run as seeded single-thread tasks: 1 or 2 worker processes give the same table and ARIs."""
    from segkit.cleaning import clean_transactions
    from segkit.datasets import make_demo_shop
    from segkit.features import customer_file

    shop = make_demo_shop(n_customers=600, seed=2)
    customers = customer_file(clean_transactions(shop.transactions)[0])
    one = clustering.search_models(customers, k_range=range(2, 6), n_bootstrap=2, seed=1, n_jobs=1)
    two = clustering.search_models(customers, k_range=range(2, 6), n_bootstrap=2, seed=1, n_jobs=2)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=False, rtol=1e-9)
    assert (one.best, one.runner_up) == (two.best, two.runner_up)
    spec = {"algorithm": "gmm", "k": 3}
    pd.testing.assert_series_equal(
        clustering.bootstrap_stability(customers, spec, n=3, seed=1, n_jobs=1),
        clustering.bootstrap_stability(customers, spec, n=3, seed=1, n_jobs=2),
    )
