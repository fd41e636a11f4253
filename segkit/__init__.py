"""segkit: reproducible, notebook-driven customer segmentation.

The public API is re-exported here lazily (a module is imported on first use), so
``import segkit`` stays fast and a notebook pulls in scikit-learn or plotly only when it needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from segkit.schema import DataError, ModelError, ParameterError, SchemaError, SegkitError

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # io
    "Dataset": "segkit.io",
    "read_dataset": "segkit.io",
    "read_transactions": "segkit.io",
    "read_olist": "segkit.io",
    # datasets
    "DemoShop": "segkit.datasets",
    "make_demo_shop": "segkit.datasets",
    "write_demo_shop": "segkit.datasets",
    "write_large_demo_shop": "segkit.datasets",
    # inputs
    "load_inputs": "segkit.inputs",
    # cleaning
    "CleaningRules": "segkit.cleaning",
    "CleaningReport": "segkit.cleaning",
    "clean_transactions": "segkit.cleaning",
    # eda
    "table_overview": "segkit.eda",
    "monthly_kpis": "segkit.eda",
    "new_vs_existing": "segkit.eda",
    "cohort_retention": "segkit.eda",
    "breakdown": "segkit.eda",
    # features
    "rfm": "segkit.features",
    "customer_file": "segkit.features",
    "rfm_scores": "segkit.features",
    "rfm_segments": "segkit.features",
    "with_rfm_segments": "segkit.features",
    "RFMScorer": "segkit.features",
    "CUSTOMER_FILE_COLUMNS": "segkit.features",
    # drift
    "psi": "segkit.drift",
    "kl_divergence": "segkit.drift",
    "js_divergence": "segkit.drift",
    "ks_statistic": "segkit.drift",
    "wasserstein_scaled": "segkit.drift",
    "psi_categorical": "segkit.drift",
    "js_categorical": "segkit.drift",
    "drift_table": "segkit.drift",
    # model / clustering
    "SegmentationModel": "segkit.model",
    "load_model": "segkit.model",
    "search_models": "segkit.clustering",
    "ModelSearch": "segkit.clustering",
    "fit_segmentation": "segkit.clustering",
    "recommend_and_fit": "segkit.clustering",
    "bootstrap_stability": "segkit.clustering",
    "score_dataset": "segkit.clustering",
    "segment_profile": "segkit.clustering",
    "name_segments": "segkit.clustering",
    "select_features": "segkit.clustering",
    # stability
    "maintenance_simulation": "segkit.stability",
    "Simulation": "segkit.stability",
    "recommend_retrain_period": "segkit.stability",
    "rolling_origins": "segkit.stability",
    "segment_migration": "segkit.stability",
    # clv
    "fit_clv": "segkit.clv",
    "ClvModel": "segkit.clv",
    # report
    "run_notebooks": "segkit.report",
    "RunError": "segkit.report",
    "noise_band": "segkit.stability",
    "Recommendation": "segkit.stability",
    "RollingOrigins": "segkit.stability",
    "Migration": "segkit.stability",
}

__all__ = [
    "__version__",
    "SegkitError",
    "SchemaError",
    "DataError",
    "ModelError",
    "ParameterError",
    *_EXPORTS,
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'segkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
