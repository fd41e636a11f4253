"""Notebooks 04-05 on the engine path: a seeded customer sample drawn by DuckDB without cleaning the log.

Sources: the demo shop written by ``write_large_demo_shop`` (a generic folder of partitioned Parquet
tables, the layout of the 20M-line benchmark) and the Online Retail II sample (``online_retail``
layout, CSV). The engine's draw is compared with the pandas path's ``load_inputs(sample_customers=...)``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import segkit
from segkit import narrative
from segkit.engines import ReadOptions, get_engine
from segkit.engines.sampling import (
    SAMPLE_CUSTOMERS,
    CustomerSample,
    draw_customer_lines,
    estimate_population_sums,
    load_sample_inputs,
    population_scale,
)
from segkit.schema import DataError, ParameterError

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples"
SHOP_CUSTOMERS = 1500


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    from segkit.datasets import write_large_demo_shop

    return write_large_demo_shop(
        tmp_path_factory.mktemp("large") / "shop", n_customers=SHOP_CUSTOMERS, chunk_customers=500, seed=2
    )


def _sources(shop: Path) -> list[tuple[str, ReadOptions]]:
    found = [(str(shop), ReadOptions())]
    retail = SAMPLES_DIR / "online_retail_II_sample.csv"
    if retail.is_file():
        found.append((str(retail), ReadOptions(layout="online_retail")))
    return found


@pytest.mark.parametrize("seed", [0, 7])
def test_the_engine_draws_the_customers_and_lines_of_the_pandas_sample(shop, seed):
    for source, read in _sources(shop):
        pandas_inputs = segkit.load_inputs(source, layout=read.layout, sample_customers=200, seed=seed)
        with get_engine("duckdb") as engine:
            drawn = draw_customer_lines(engine, source, 200, seed, read)
        pd.testing.assert_frame_equal(drawn.lines, pandas_inputs.raw.transactions, check_like=True)
        everyone = segkit.read_dataset(source, layout=read.layout).transactions["customer_id"].dropna()
        assert drawn.sample == CustomerSample(200, everyone.nunique(), seed, "duckdb")
        assert drawn.layout == pandas_inputs.raw.layout


def test_the_draw_is_deterministic_and_depends_on_the_seed(shop):
    with get_engine("duckdb", threads=1) as one, get_engine("duckdb") as other:
        first = draw_customer_lines(one, shop, 300, seed=3)
        again = draw_customer_lines(other, shop, 300, seed=3)
        reseeded = draw_customer_lines(other, shop, 300, seed=4)
    pd.testing.assert_frame_equal(first.lines, again.lines)
    ids = set(first.lines["customer_id"])
    assert len(ids) == 300 and ids != set(reseeded.lines["customer_id"])


def test_a_sample_as_large_as_the_log_is_every_customer_and_states_no_scope(shop):
    with get_engine("duckdb") as engine:
        drawn = draw_customer_lines(engine, shop, 10 * SHOP_CUSTOMERS)
    everyone = segkit.read_dataset(shop).transactions
    assert len(drawn.lines) == everyone["customer_id"].notna().sum()
    assert not drawn.sample.is_sample and population_scale(drawn.sample) == 1.0
    assert narrative.sample_scope(drawn.sample) is None
    assert narrative.sample_tags_unchanged(drawn.sample) is None


@pytest.mark.parametrize(
    ("n_customers", "seed", "match"),
    [
        (0, 0, "n_customers must be an integer >= 1"),
        ("5", 0, "n_customers"),
        (5, -1, "seed"),
        (True, 0, "n_customers"),
    ],
)
def test_bad_counts_are_named(shop, n_customers, seed, match):
    with get_engine("duckdb") as engine, pytest.raises(ParameterError, match=match):
        draw_customer_lines(engine, shop, n_customers, seed)


def test_bad_engines_sources_and_purposes_are_named(shop, tmp_path):
    with get_engine("pandas") as engine, pytest.raises(ParameterError, match="SQL engines"):
        draw_customer_lines(engine, shop, 10)
    with get_engine("duckdb") as engine, pytest.raises(DataError, match="no such file"):
        draw_customer_lines(engine, tmp_path / "missing", 10)
    with pytest.raises(ParameterError, match="unknown sample purpose 'churn'"):
        load_sample_inputs(shop, purpose="churn", engine="duckdb")
    with pytest.raises(ParameterError, match="sample_customers"):
        load_sample_inputs(shop, sample_customers=-1, purpose="clv", engine="duckdb")
    no_ids = tmp_path / "no_ids.csv"
    pd.DataFrame(
        {"customer_id": [None, None], "order_date": ["2024-01-01", "2024-02-01"], "amount": [1.0, 2.0]}
    ).to_csv(no_ids, index=False)
    with get_engine("duckdb") as engine, pytest.raises(DataError, match="no line has a customer_id"):
        draw_customer_lines(engine, no_ids, 10)


def test_sample_inputs_clean_the_sample_and_the_pandas_path_is_unchanged(shop):
    sampled = load_sample_inputs(shop, sample_customers=400, seed=1, purpose="maintenance", engine="duckdb")
    pandas_sample = segkit.load_inputs(shop, sample_customers=400, seed=1)
    pd.testing.assert_frame_equal(sampled.clean.transactions, pandas_sample.clean.transactions)
    pd.testing.assert_frame_equal(sampled.report.to_frame(), pandas_sample.report.to_frame())
    assert sampled.sample == CustomerSample(400, SHOP_CUSTOMERS, 1, "duckdb")
    scope = narrative.sample_scope(sampled.sample)
    assert (
        "random sample of 400 of the 1,500 customers with an id (seed 1, drawn by the duckdb engine)" in scope
    )
    assert "estimated" not in scope and "times 3.75" in narrative.sample_scope(
        sampled.sample, estimated_sums=True
    )
    # pandas (and auto on a small input): segkit.load_inputs itself, every line, no sample
    for engine in ("pandas", "auto"):
        unchanged = load_sample_inputs(shop, purpose="clv", engine=engine)
        assert unchanged.sample is None and len(unchanged.raw.transactions) == len(
            segkit.read_dataset(shop).transactions
        )
    assert SAMPLE_CUSTOMERS == {"maintenance": 20_000, "clv": 50_000}


def test_scaled_sums_estimate_the_whole_base_and_shares_stay_the_samples(shop):
    """The expansion estimator on the demo shop: the revenue per country of a 30% sample of customers,
    scaled, lands near the whole base's (within 15%), and leaving it unscaled would be off by 3.3x."""
    everyone = segkit.load_inputs(shop).clean.transactions
    sampled = load_sample_inputs(shop, sample_customers=450, seed=5, purpose="clv", engine="duckdb")

    def per_country(tx: pd.DataFrame) -> pd.DataFrame:
        table = tx.groupby("country")["amount"].agg(amount_sum="sum", amount_median="median")
        return table.assign(amount_share=table["amount_sum"] / table["amount_sum"].sum())

    truth, sample_table = per_country(everyone), per_country(sampled.clean.transactions)
    estimated = estimate_population_sums(sample_table, sampled.sample)
    assert estimated.attrs["population_scale"] == pytest.approx(SHOP_CUSTOMERS / 450)
    total = estimated["amount_sum"].sum()
    assert total == pytest.approx(truth["amount_sum"].sum(), rel=0.15)
    assert sample_table["amount_sum"].sum() < 0.5 * truth["amount_sum"].sum()
    pd.testing.assert_series_equal(estimated["amount_share"], sample_table["amount_share"])
    pd.testing.assert_series_equal(estimated["amount_median"], sample_table["amount_median"])
    pd.testing.assert_frame_equal(estimate_population_sums(sample_table, None), sample_table, check_like=True)


@pytest.mark.slow
def test_segkit_run_on_duckdb_writes_reports_04_and_05_on_a_sample_with_their_scope(shop, tmp_path):
    from test_e2e import fast_parameter_args, segkit_command

    root = Path(__file__).resolve().parents[1]
    command = ["run", "--data", str(shop), "--engine", "duckdb", "--sample-customers", "600", "--name", "big"]
    command += ["--no-progress", "--processed-dir", str(tmp_path / "p"), "--reports-dir", str(tmp_path / "r")]
    done = segkit_command(*command, *fast_parameter_args(), cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    processed, reports = tmp_path / "p" / "big", tmp_path / "r" / "big"
    sample = CustomerSample(600, SHOP_CUSTOMERS, 0, "duckdb")
    scope = "random sample of 600 of the 1,500 customers with an id (seed 0, drawn by the duckdb engine)"
    for stem in ("04_maintenance_simulation", "05_clv"):
        assert scope in (reports / f"{stem}.html").read_text(), stem
        summary = json.loads((processed / f"summary_{stem[:2]}.json").read_text())
        assert summary["customer_sample"] == sample.to_dict()
    assert "estimated for all 1,500 customers as the sample&#39;s sums times 2.50" in (
        reports / "05_clv.html"
    ).read_text().replace("'", "&#39;")
    # the CLV total is the sample's, scaled; segments.csv keeps every customer and no CLV column
    inputs = load_sample_inputs(shop, sample_customers=600, purpose="clv", engine="duckdb")
    model = segkit.fit_clv(inputs.clean.transactions, exclude_new=True)
    expected = model.predict(12, 0.01)["clv"].sum() * sample.scale
    summary_05 = json.loads((processed / "summary_05.json").read_text())
    assert summary_05["clv_total"] == pytest.approx(expected, rel=1e-9)
    tags = pd.read_csv(processed / "segments.csv")
    assert "clv" not in tags.columns and len(tags) == len(pd.read_parquet(processed / "customers.parquet"))
    assert "gains the columns" not in (reports / "05_clv.html").read_text()
    assert np.isfinite(summary_05["clv_total"])
    # 01 and 02 got the same temporary folder for the engine's result; it is gone and not recorded
    folders = set()
    for stem in ("01_eda", "02_customer_files"):
        executed = nbformat.read(reports / "executed" / f"{stem}.ipynb", as_version=4)
        injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
        folders |= set(re.findall(r'engine_result_dir = "([^"]+)"', injected.source))
    assert len(folders) == 1 and not Path(folders.pop()).exists()
    assert "engine_result_dir" not in json.loads((processed / "run.json").read_text())["parameters"]


def test_notebook_02_reads_the_engine_result_notebook_01_stored_and_only_under_the_same_key(
    shop, tmp_path, monkeypatch
):
    from segkit import engines
    from segkit.engines import notebook, stored

    kept = tmp_path / "kept"
    first = engines.load_inputs(
        shop, sample_customers=300, seed=2, engine="duckdb", engine_result_dir=str(kept)
    )
    assert (kept / "engine_result" / "meta.json").is_file()

    def no_engine(*args, **kwargs):
        raise AssertionError("the log was cleaned a second time")

    monkeypatch.setattr(notebook, "get_engine", no_engine)
    again = engines.load_inputs(
        shop, sample_customers=300, seed=2, engine="duckdb", engine_result_dir=str(kept)
    )
    pd.testing.assert_frame_equal(again.customer_file, first.customer_file)
    assert again.customer_file.attrs == first.customer_file.attrs
    pd.testing.assert_frame_equal(again.report.to_frame(), first.report.to_frame())
    pd.testing.assert_frame_equal(again.report.by_customer, first.report.by_customer)
    pd.testing.assert_frame_equal(again.report.removed_customers, first.report.removed_customers)
    assert (again.report.partially_netted, again.report.netted_amount, again.report.rules) == (
        first.report.partially_netted, first.report.netted_amount, first.report.rules,
    )  # fmt: skip
    pd.testing.assert_frame_equal(again.raw.transactions, first.raw.transactions)
    pd.testing.assert_frame_equal(again.raw.customers, first.raw.customers)
    assert again.scope == first.scope and again.overall == first.overall
    # another snapshot, seed or sample size is another result: the engine runs again
    with pytest.raises(AssertionError, match="a second time"):
        engines.load_inputs(shop, sample_customers=300, seed=3, engine="duckdb", engine_result_dir=str(kept))
    with pytest.raises(AssertionError, match="a second time"):
        engines.load_inputs(
            shop,
            sample_customers=300,
            seed=2,
            engine="duckdb",
            engine_result_dir=str(kept),
            snapshot_date="2024-01-01",
        )
    # a changed input file changes the key
    key = stored.result_key(shop, figures=300)
    part = next((shop / "transactions.parquet").rglob("*.parquet"))
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 10**9))
    assert stored.result_key(shop, figures=300) != key


@pytest.mark.slow
def test_spark_draws_the_same_customers_and_lines(shop):
    from segkit.engines.spark_engine import java_available

    if java_available() is None:
        pytest.skip("Spark needs Java: no java on PATH nor in JAVA_HOME")
    conf = {
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.ui.enabled": "false",
    }
    with get_engine("spark", master="local[2]", conf=conf) as spark, get_engine("duckdb") as duckdb:
        via_spark = draw_customer_lines(spark, shop, 250, seed=9)
        via_duckdb = draw_customer_lines(duckdb, shop, 250, seed=9)
    pd.testing.assert_frame_equal(via_spark.lines, via_duckdb.lines, check_like=True)
    assert via_spark.sample == CustomerSample(250, SHOP_CUSTOMERS, 9, "spark")


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, True),
        ("03", False),
        ("3", False),
        ("04", True),
        ("5", True),
        ("03,05_clv", True),
        ("01,02", True),
    ],
)
def test_segkit_run_passes_the_engine_to_every_notebook_that_takes_it(selection, expected):
    from segkit.cli import _runs_engine_notebooks
    from segkit.report import NOTEBOOKS, find_notebooks_dir, notebook_parameters, select_notebooks

    assert _runs_engine_notebooks(selection) is expected
    folder = find_notebooks_dir()
    takes_engine = {stem for stem in NOTEBOOKS if "engine" in notebook_parameters(folder / f"{stem}.ipynb")}
    assert bool(takes_engine & set(select_notebooks(selection))) is expected
