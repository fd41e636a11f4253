"""Figures of notebook 04 (segkit.viz.maintenance) and the notebook's structure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_architecture import NOTEBOOK_PARAMETERS
from test_stability import steady_shop

from segkit import stability
from segkit.viz import maintenance as vm

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_maintenance_simulation.ipynb"


@pytest.fixture(scope="module")
def results():
    from test_stability import _model_for

    transactions, shift_date = steady_shop(n_customers=800, seed=5)
    sim = stability.maintenance_simulation(
        transactions, _model_for(transactions), period="28D", noise_rounds=3
    )
    return sim, stability.recommend_retrain_period(sim), shift_date


def test_ari_over_time(results):
    sim, rec, shift_date = results
    fig = vm.ari_over_time(sim, rec, events={"planted shift": shift_date})
    ari = next(t for t in fig.data if t.name.startswith("ARI, all"))
    np.testing.assert_allclose(ari.y, sim.steps["ari"])
    shapes = fig.layout.shapes
    # noise band (rect), the calibrated threshold (hline), obsolescence and event (vlines)
    assert any(s.type == "rect" and s.y0 == pytest.approx(sim.noise.quantile(0.05)) for s in shapes)
    assert any(s.type == "line" and s.y0 == pytest.approx(sim.threshold) == s.y1 for s in shapes)
    texts = [a.text for a in fig.layout.annotations]
    if rec.obsolete_on is not None:
        assert any(str(rec.obsolete_on.date()) in t for t in texts)
    assert "planted shift" in texts


def test_noise_figure(results):
    sim, _, _ = results
    fig = vm.noise_figure(sim)
    np.testing.assert_allclose(fig.data[0].y, sim.noise)
    assert any(s.y0 == pytest.approx(sim.threshold) for s in fig.layout.shapes)


def test_drift_heatmap_and_top_features(results):
    sim, rec, _ = results
    heat = vm.drift_heatmap(sim)
    z = np.asarray(heat.data[0].z)
    numeric = sim.drift["feature"].nunique()
    assert z.shape == (numeric, len(sim.steps))
    expected = sim.drift.query("metric == 'psi' and feature == 'frequency'")["value"].to_numpy()
    np.testing.assert_allclose(z[list(heat.data[0].y).index("frequency")], expected)
    bars = vm.top_drifting_features(sim, sim.steps["date"].iloc[-1])
    values = list(bars.data[0].x)
    assert values == sorted(values, reverse=True) and len(values) == min(10, numeric)


def test_segment_shares_and_sankey(results):
    sim, _, _ = results
    shares = vm.segment_shares(sim)
    assert len(shares.data) == sim.k
    np.testing.assert_allclose(np.sum([t.y for t in shares.data], axis=0), 1.0)
    migration = stability.segment_migration(sim)
    sankey = vm.migration_sankey(migration, vm.segment_labels(sim)).data[0]
    assert sum(sankey.link.value) == migration.counts.to_numpy().sum()
    assert len(sankey.node.label) == 2 * (sim.k + 1)
    assert sankey.node.label[0].startswith("S0 (")  # short on the diagram (fits a phone) ...
    assert sankey.node.customdata[0] == f"S0 {sim.model.segment_names[0]}"  # ... the full name in the hover


def test_recommendation_box_escapes_and_gives_the_headline(results):
    sim, rec, _ = results
    html = vm.recommendation_html(rec)
    assert rec.headline.split(":")[0] in html
    unsafe = stability.Recommendation("no_alarm", None, None, None, None, "", "<script>x</script>")
    assert "<script>" not in vm.recommendation_html(unsafe)
    assert vm.recommendation_markdown(rec).startswith(f"> **{rec.headline}")


def test_segment_labels_name_the_deployed_segments(results):
    sim, _, _ = results
    labels = vm.segment_labels(sim)
    assert labels == {i: f"S{i} {sim.model.segment_names[i]}" for i in range(sim.k)}


def test_notebook_parameters_and_summary():
    """Notebook 04's own parameters follow the common ones (the rest of its structure is checked for
    every notebook in test_architecture)."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    parameters = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    names = [line.split("=")[0].strip() for line in "".join(parameters["source"]).splitlines()]
    assert names == [
        *NOTEBOOK_PARAMETERS,
        "engine",
        "engine_options",
        "period",
        "window",
        "horizon_days",
        "start",
    ]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert any('write_summary("04"' in source for source in code)


@pytest.mark.slow
def test_notebook_runs_with_papermill(tmp_path):
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "04.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
        parameters={
            "sample_customers": 1500,
            "processed_dir": str(tmp_path),
            "run": "t",
            "horizon_days": 182,
        },
    )
    summary = json.loads((tmp_path / "t" / "summary_04.json").read_text())
    assert summary["verdict"] in ("retrain_every", "alarm", "no_alarm", "unstable")
    assert {"obsolete_on", "reason", "retrain_short", "model_k", "model_segment_names"} <= set(summary)
    assert summary["model_source"] == "searched on the start window"  # no model.skops in this folder
    assert pd.Timestamp(summary["end"]) <= pd.Timestamp(summary["start"]) + pd.Timedelta(days=182)
