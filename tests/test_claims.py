"""Names, actions and sentences are claims: each is checked against the numbers it is about.

Every name, action and sentence generator (:mod:`segkit.naming`, :mod:`segkit.narrative`) runs on demo
shops with several numbers of planted types and on both real samples (Online Retail II, CDNOW); the
checks recompute the figures from the customer file / tables independently of the generators. Zero
false claims: every check must hold in every scenario.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import SAMPLES_DIR

from segkit import clustering, eda, naming, narrative
from segkit.cleaning import clean_transactions
from segkit.datasets import make_demo_shop
from segkit.features import customer_file, with_rfm_segments

pytestmark = pytest.mark.slow

SEARCH = {
    "k_range": range(2, 9),
    "algorithms": "kmeans,agglomerative",
    "n_bootstrap": 2,
    "stability_size": 1000,
}


def _demo(types: int | None, seed: int) -> pd.DataFrame:
    shop = make_demo_shop(n_customers=1500, types=types, seed=seed)
    clean, report = clean_transactions(shop.transactions)
    return clean


def _cdnow() -> pd.DataFrame:
    path = SAMPLES_DIR / "CDNOW_sample.txt"
    if not path.is_file():
        pytest.skip(f"CDNOW sample not found at {path}")
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["full", "id", "date", "cds", "amount"], dtype=str)
    return pd.DataFrame(
        {
            "customer_id": pd.array(raw["id"], dtype="str"),
            "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
        }
    )


def _retail() -> pd.DataFrame:
    from segkit.io import read_dataset

    path = SAMPLES_DIR / "online_retail_II_sample.csv"
    if not path.is_file():
        pytest.skip(f"Online Retail II sample not found at {path}")
    return clean_transactions(read_dataset(path, layout="online_retail").transactions)[0]


SCENARIOS = {
    "demo_types_4": lambda: _demo(4, 0),
    "demo_types_8": lambda: _demo(8, 1),
    "demo_default": lambda: _demo(None, 2),
    "online_retail_ii_sample": _retail,
    "cdnow_sample": _cdnow,
}


@pytest.fixture(scope="module", params=list(SCENARIOS))
def scenario(request):
    transactions = SCENARIOS[request.param]()
    customers = with_rfm_segments(customer_file(transactions))
    search, model = clustering.recommend_and_fit(customers, seed=0, **SEARCH)
    return request.param, transactions, customers, search, model


# --------------------------------------------------------------------------- names and actions
def _segment_numbers(customers: pd.DataFrame, segments: pd.Series, i: int) -> dict[str, float]:
    members = customers[segments == i]
    return {
        "tenure": members["tenure_days"].median(),
        "recency": members["recency_days"].median(),
        "frequency": members["frequency"].median(),
        "monetary": members["monetary"].median(),
        "one_time": (members["frequency"] == 1).mean(),
        "lift": (members["monetary"].sum() / customers["monetary"].sum()) / (len(members) / len(customers)),
    }


def test_every_word_of_every_name_and_action_holds(scenario):
    name, _, customers, _, model = scenario
    segments = model.predict(customers)
    base = {c: customers[c].median() for c in ("recency_days", "frequency", "monetary")}
    names, actions = model.segment_names, model.actions
    assert len(set(names.values())) == len(names), names
    assert len(set(actions.values())) == len(actions), actions
    for i, segment_name in names.items():
        n = _segment_numbers(customers, segments, i)
        words = segment_name.split(" (")[0].lower()
        claims = {
            "new": n["tenure"] <= 90,
            "one-time": n["one_time"] >= 0.7,
            "loyal": n["frequency"] > base["frequency"] and n["recency"] < base["recency_days"],
            "vip": n["frequency"] > base["frequency"] and n["lift"] >= 1.5 * (1 - 1e-9),
            "regulars": n["frequency"] > base["frequency"],
            "big spenders": n["lift"] >= 1.5 * (1 - 1e-9),
            "low spenders": n["monetary"] < base["monetary"],
            "recent": n["recency"] < base["recency_days"],
            "lapsed": n["recency"] >= base["recency_days"],
            "lapsing": n["recency"] >= base["recency_days"],
            "at-risk": n["recency"] >= base["recency_days"],
            "occasional": n["frequency"] <= base["frequency"],
        }
        for word, holds in claims.items():
            if re.search(rf"\b{re.escape(word)}\b", words):
                assert holds, f"{name}: segment {i} '{segment_name}' claims '{word}' but {n} vs {base}"
        if "new" in words.split():
            assert "suppress" not in actions[i].lower() and "welcome" in actions[i].lower()
        suffix = re.search(r"\((.+)\)$", segment_name)
        if suffix:
            _check_suffix(suffix.group(1), customers, segments, i, name)


def _check_suffix(tag: str, customers: pd.DataFrame, segments: pd.Series, i: int, name: str) -> None:
    members = segments == i
    candidates = [c for c in customers.columns if pd.api.types.is_numeric_dtype(customers[c])]
    for column in candidates:
        values = customers[column].astype(float)
        z = (values[members].mean() - values.mean()) / values.std(ddof=0)
        level = column.removeprefix("share_cat_").removeprefix("share_channel_").replace("_", " ")
        texts = {
            f"{level} lovers": column.startswith("share_cat_") and z >= 0.5 and values[members].mean() >= 0.5,
            f"{level} buyers": column.startswith("share_channel_")
            and z >= 0.5
            and values[members].mean() >= 0.5,
            f"more {level}": column.startswith("share_") and z >= 0.5,
            f"less {level}": column.startswith("share_") and z <= -0.5,
            f"high {level}": not column.startswith("share_") and z >= 0.5,
            f"low {level}": not column.startswith("share_") and z <= -0.5,
        }
        if tag in texts:
            assert texts[tag], f"{name}: suffix '{tag}' of segment {i} does not hold (z = {z:.2f})"
            assert column not in naming.SUFFIX_EXCLUDED
            return
    pytest.fail(f"{name}: suffix '{tag}' names no feature of the data")


# --------------------------------------------------------------------------- notebook 03 sentences
def test_model_choice_and_runner_up_quote_the_table(scenario):
    name, _, customers, search, model = scenario
    table = search.table
    chosen = table[(table["algorithm"] == search.best.algorithm) & (table["k"] == search.best.k)].iloc[0]
    assert chosen["consensus_rank"] == 1
    text = narrative.model_choice(search)
    ranked = clustering.rank_models(table, search.knees)
    top = ranked.iloc[0]
    for column in ("silhouette", "davies_bouldin"):
        label = clustering.CRITERION_LABELS[column]
        quoted = re.search(rf"{label} ([0-9.]+) \(rank (\d+)\)", text)
        assert quoted, text
        assert float(quoted.group(1)) == pytest.approx(top[column], abs=0.005)
        assert int(quoted.group(2)) == int(top[f"rank_{column}"])
    assert f"{top['smallest_share']:.1%}" in text
    second = narrative.runner_up(search)
    if second is None:
        assert (ranked["k"] == search.best.k).all()
    elif "fails the filters" in second:
        assert (ranked["k"] == search.best.k).all()
        row = table[
            (table["algorithm"] == search.runner_up.algorithm) & (table["k"] == search.runner_up.k)
        ].iloc[0]
        assert not row["usable"] and row["k"] != search.best.k
        if "stability" in second:
            assert f"{row['stability']:.2f}, below" in second and row["stability"] < 0.75
        if "smallest segment" in second:
            assert f"{row['smallest_share']:.1%}, below" in second and row["smallest_share"] < 0.02
    else:
        assert search.runner_up.k != search.best.k
        row = ranked[
            (ranked["algorithm"] == search.runner_up.algorithm) & (ranked["k"] == search.runner_up.k)
        ].iloc[0]
        assert row["consensus"] >= top["consensus"]
        assert f"{row['consensus']:.2f} against {top['consensus']:.2f}" in second
        assert (ranked.loc[ranked["k"] != search.best.k, "consensus_rank"] >= row["consensus_rank"]).all()


def test_segment_sentences(scenario):
    name, _, customers, _, model = scenario
    profile = model.profile
    text = narrative.revenue_by_segment(profile, model.segment_names)
    segments = model.predict(customers)
    revenue = customers["monetary"].groupby(segments).sum() / customers["monetary"].sum()
    top = revenue.idxmax()
    assert f"*{model.segment_names[top]}*" in text and f"{revenue[top]:.1%} of revenue" in text
    assert ("two most profitable" in text) == (model.k > 2)
    two = clustering.fit_segmentation(customers, "kmeans", 2, seed=0)
    assert "two most profitable" not in narrative.revenue_by_segment(two.profile, two.segment_names)

    crosstab = pd.crosstab(segments, customers["rfm_segment"])
    sentence = narrative.rfm_versus_clusters(crosstab, model.features)
    purity = crosstab.max(axis=1).sum() / len(customers)
    assert f"{purity:.1%}" in sentence
    behaviour = [f for f in model.features if f.startswith(("share_cat_", "share_channel_"))]
    assert ("categories" in sentence) == any(f.startswith("share_cat_") for f in model.features)
    assert ("channels" in sentence) == any(f.startswith("share_channel_") for f in model.features)
    assert "browsing" not in sentence or any(f in model.features for f in ("sessions", "pages_per_session"))
    if not behaviour:
        assert "also use" not in narrative.rfm_versus_clusters(crosstab, ["recency_days", "frequency"])


# --------------------------------------------------------------------------- notebooks 01 and 02
def test_eda_sentences(scenario):
    name, transactions, *_ = scenario
    kpis = eda.monthly_kpis(transactions)
    full = kpis.loc[~kpis["partial"]]
    peak = narrative.revenue_peak(kpis)
    assert f"{full['revenue'].idxmax():%B %Y}" in peak and f"{full['revenue'].max():,.0f}" in peak
    active = narrative.active_customers(kpis)
    assert f"{full['active_customers'].max():,}" in active
    split = eda.new_vs_existing(transactions)
    sentence = narrative.new_vs_existing(split)
    later = split.iloc[1:]["new_customers"]
    steady = later.iloc[-3:].mean() >= 0.5 * later.iloc[:-3].mean()
    assert ("on average" in sentence) == bool(steady), (name, sentence)
    if name == "cdnow_sample":  # CDNOW acquired customers in the first 12 weeks only
        assert "on average" not in sentence and "not steady" in sentence
    cohorts = eda.cohort_retention(transactions)
    month_1 = cohorts.loc[cohorts["months_since"] == 1, "share_active"]
    assert f"{month_1.mean():.1%}" in narrative.cohort_retention(cohorts)


def test_customer_file_sentences(scenario):
    name, _, customers, *_ = scenario
    text = narrative.rfm_distributions(customers)
    assert f"{(customers['frequency'] == 1).mean():.1%} of customers ordered once" in text
    cells = narrative.rfm_score_cells(customers)
    quoted = [int(f) for f in re.findall(r"F=(\d)", cells)]
    assert all(f in set(customers["f_score"]) for f in quoted), (name, cells)
    by_f = customers.groupby("f_score")["monetary"].mean()
    if len(by_f) >= 2:
        assert f"{by_f.iloc[-1] / by_f.iloc[0]:,.1f}x" in cells
    segments = narrative.rfm_segments(customers)
    shares = customers["rfm_segment"].value_counts(normalize=True)
    assert f"*{shares.index[0]}* ({shares.iloc[0]:.1%}" in segments
    corr = narrative.rfm_correlations(customers)
    rho = customers["frequency"].corr(customers["monetary"], method="spearman")
    assert f"{rho:.2f}" in corr


def test_premises_that_fail_write_nothing():
    months = pd.date_range("2024-01-01", periods=8, freq="MS")
    split = pd.DataFrame(
        {
            "new_customers": [500, 300, 280, 290, 310, 0, 0, 0],
            "existing_customers": [0, 100, 150, 160, 170, 150, 120, 100],
            "new_revenue": [5e4, 3e4, 2.8e4, 2.9e4, 3.1e4, 0.0, 0.0, 0.0],
            "existing_revenue": [0.0, 1e4, 1.5e4, 1.6e4, 1.7e4, 1.5e4, 1.2e4, 1e4],
        },
        index=pd.Index(months, name="month"),
    )
    assert "on average" not in narrative.new_vs_existing(split)
    assert narrative.runner_up(clustering.ModelSearch(pd.DataFrame(), None, [])) is None
    assert (
        narrative.revenue_by_segment(
            pd.DataFrame({"revenue_share": [1.0], "customer_share": [1.0]}), {0: "a"}
        )
        is None
    )
    assert narrative.segment_stability(3, 0.4, pd.Series([], dtype=float)) is None
    only_rfm = narrative.rfm_versus_clusters(pd.DataFrame([[5, 1], [1, 5]]), ["recency_days", "monetary"])
    assert "categories" not in only_rfm and "browsing" not in only_rfm and "also use" not in only_rfm
    ones = pd.DataFrame({"r_score": [1, 2], "f_score": [1, 1], "monetary": [5.0, 7.0]})
    assert "F=5" not in narrative.rfm_score_cells(ones) and "as much" not in narrative.rfm_score_cells(ones)
