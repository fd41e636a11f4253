"""One clustering engine: the algorithm registry serves the search, the model, the simulation and figures."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segkit import clustering, features, stability
from segkit.clustering import ALGORITHM_REGISTRY

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def customers():
    from test_stability import steady_shop

    transactions, _ = steady_shop(n_customers=1_200, seed=11)
    return features.customer_file(transactions)


def test_registry_names_every_algorithm_with_how_it_fits_and_assigns():
    assert clustering.ALGORITHMS == tuple(ALGORITHM_REGISTRY) == ("kmeans", "agglomerative", "gmm")
    for name, algorithm in ALGORITHM_REGISTRY.items():
        assert algorithm.name == name and algorithm.needs_k
        assert clustering.ALGORITHM_LABELS[name] == algorithm.label
        assert algorithm.assign  # recorded in the model file
    assert ALGORITHM_REGISTRY["agglomerative"].tree is not None
    assert ALGORITHM_REGISTRY["kmeans"].estimator(3, 100, 0).n_clusters == 3


@pytest.mark.parametrize("name", clustering.ALGORITHMS)
def test_registry_fit_is_what_the_search_and_the_model_use(customers, name):
    chosen = clustering.select_features(customers)
    model = clustering.fit_segmentation(customers, name, 3, features=chosen, seed=4)
    assert model.metadata["prediction"] == ALGORITHM_REGISTRY[name].assign
    X = model.transform(customers)
    rows = np.arange(len(X))  # below every sample size: all customers are fitted
    direct = ALGORITHM_REGISTRY[name].fit(X[rows], 3, 4).predict(X)
    np.testing.assert_array_equal(model.label_map[direct], model.predict(customers).to_numpy())


@pytest.mark.parametrize("name", clustering.ALGORITHMS)
def test_fit_spec_refits_the_same_specification(customers, name):
    chosen = clustering.select_features(customers)
    model = clustering.fit_segmentation(customers, name, 3, features=chosen, seed=2)
    fitted, labels = clustering.fit_spec(model, customers)
    # on the training customers the refit is the model itself (same preprocessing, algorithm, k, seed)
    np.testing.assert_array_equal(labels, model.predict(customers).to_numpy())
    np.testing.assert_array_equal(fitted.predict(customers), labels)
    # each feature keeps the model's transform
    groups = {n: cols for n, _, cols in model.preprocessor.named_steps["columns"].transformers}
    refit_groups = {n: cols for n, _, cols in fitted.preprocessor.named_steps["columns"].transformers}
    assert {n: [chosen[i] for i in cols] for n, cols in refit_groups.items()} == groups


def test_fit_spec_on_other_data_orders_ids_by_revenue(customers):
    model = clustering.fit_segmentation(customers, "kmeans", 4, seed=0)
    other = customers.sample(frac=0.6, random_state=1)
    _, labels = clustering.fit_spec(model, other, fit_size=500)
    revenue = pd.Series(other["monetary"].to_numpy()).groupby(labels).sum().sort_index()
    assert list(revenue.index) == [0, 1, 2, 3] and revenue.is_monotonic_decreasing


def test_stability_has_no_clustering_code_of_its_own():
    source = (ROOT / "segkit" / "stability.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    forbidden = {"sklearn.cluster", "sklearn.mixture", "scipy.cluster", "scipy.cluster.hierarchy"}
    assert not imported & forbidden
    assert "KMeans" not in source and "GaussianMixture" not in source and "linkage(" not in source
    assert stability.fit_spec is clustering.fit_spec


def test_recommend_and_fit_is_notebook_03s_path(customers):
    search, model = clustering.recommend_and_fit(
        customers, k_range=range(2, 5), algorithms="kmeans", n_bootstrap=2
    )
    assert (model.algorithm, model.k) == (search.best.algorithm, search.best.k)
    assert model.features == search.features == clustering.select_features(customers)
