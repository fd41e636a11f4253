"""Every engine gives the pandas path's cleaning report, customer file and segments.

Sources: the demo shop as a generic folder whose transactions are hive-partitioned Parquet (with
customers, sessions and reviews), the demo shop's transactions as one CSV, and both real samples
(Online Retail II with the ``online_retail`` layout; CDNOW headerless, whitespace separated).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from segkit import clustering
from segkit.cleaning import CleaningRules
from segkit.datasets import make_demo_shop
from segkit.engines import AUTO_THRESHOLD_BYTES, ENGINES, ReadOptions, choose_engine, get_engine
from segkit.engines.spark_engine import java_available
from segkit.engines.sql import re2_pattern
from segkit.schema import ParameterError

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples"
CDNOW_READ = ReadOptions(
    layout="generic",
    sep="whitespace",
    header=False,
    columns={"customer_id": "1", "order_date": "2", "amount": "4"},
    date_format="%Y%m%d",
)


@pytest.fixture(scope="module")
def shop():
    return make_demo_shop(n_customers=2000, seed=3)


@pytest.fixture(scope="module")
def sources(shop, tmp_path_factory) -> dict[str, tuple[str, ReadOptions]]:
    """Name -> (path, reader options) of every source the engines are compared on."""
    root = tmp_path_factory.mktemp("engines")
    folder = root / "shop"
    folder.mkdir()
    tx = shop.transactions.assign(year=shop.transactions["order_date"].dt.year)
    ds.write_dataset(
        pa.Table.from_pandas(tx, preserve_index=False),
        folder / "transactions.parquet",
        format="parquet",
        partitioning=["year"],
        partitioning_flavor="hive",
        max_rows_per_file=9000,
        max_rows_per_group=9000,
    )
    for name in ("customers", "sessions", "reviews"):
        getattr(shop, name).to_parquet(folder / f"{name}.parquet", index=False)
    csv = root / "demo_lines.csv"
    shop.transactions.to_csv(csv, index=False)
    found = {
        "demo_parquet_partitioned": (str(folder), ReadOptions()),
        "demo_csv": (str(csv), ReadOptions(layout="generic")),
    }
    for name, file, read in (
        ("online_retail_ii", "online_retail_II_sample.csv", ReadOptions(layout="online_retail")),
        ("cdnow", "CDNOW_sample.txt", CDNOW_READ),
    ):
        if (SAMPLES_DIR / file).is_file():
            found[name] = (str(SAMPLES_DIR / file), read)
    return found


SOURCES = ["demo_parquet_partitioned", "demo_csv", "online_retail_ii", "cdnow"]


@pytest.fixture(scope="module")
def spark_engine():
    if java_available() is None:
        pytest.skip("Spark needs Java: no java on PATH nor in JAVA_HOME")
    engine = get_engine(
        "spark",
        master="local[2]",
        conf={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
        },
    )
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def results(sources):
    """(engine name, source name) -> EngineResult, computed once."""
    return {}


def _result(results, sources, engine_name, source, spark_engine=None):
    if source not in sources:
        pytest.skip(f"the sample of {source!r} is not in {SAMPLES_DIR} (../shared/samples is not shipped)")
    key = (engine_name, source)
    if key not in results:
        path, read = sources[source]
        if engine_name == "spark":
            results[key] = spark_engine.read_clean_customer_file(path, read)
        else:
            name, options = ENGINE_VARIANTS.get(engine_name, (engine_name, {}))
            with get_engine(name, **options) as engine:
                results[key] = engine.read_clean_customer_file(path, read)
    return results[key]


#: Engines with options: DuckDB cleaning in buckets of customers of about 3,000 lines (the demo shop
#: has about 34,000 lines: a dozen buckets, as a log of 100M lines has with the default limit).
ENGINE_VARIANTS = {"duckdb_buckets": ("duckdb", {"lines_per_bucket": 3000})}


def _engine_params():
    return [
        "duckdb",
        "duckdb_buckets",
        pytest.param("spark", marks=pytest.mark.slow),
    ]


@pytest.fixture(params=_engine_params())
def engine_name(request):
    if request.param == "spark":
        request.getfixturevalue("spark_engine")
    return request.param


def _both(request, results, sources, engine_name, source):
    spark = request.getfixturevalue("spark_engine") if engine_name == "spark" else None
    expected = _result(results, sources, "pandas", source)
    actual = _result(results, sources, engine_name, source, spark)
    return expected, actual


@pytest.mark.parametrize("source", SOURCES)
def test_same_cleaning_report(request, results, sources, engine_name, source):
    expected, actual = _both(request, results, sources, engine_name, source)
    pd.testing.assert_frame_equal(actual.report.to_frame(), expected.report.to_frame(), rtol=1e-9)
    assert actual.report.n_input == expected.report.n_input
    assert actual.report.n_kept == expected.report.n_kept
    assert actual.report.partially_netted == expected.report.partially_netted
    assert actual.report.possible_duplicates == expected.report.possible_duplicates
    assert actual.report.netted_amount == pytest.approx(expected.report.netted_amount, rel=1e-9, abs=1e-9)
    pd.testing.assert_frame_equal(actual.report.by_customer, expected.report.by_customer, rtol=1e-9)
    pd.testing.assert_frame_equal(actual.report.removed_customers, expected.report.removed_customers)
    assert actual.layout == expected.layout


@pytest.mark.parametrize("source", SOURCES)
def test_same_customer_file(request, results, sources, engine_name, source):
    expected, actual = _both(request, results, sources, engine_name, source)
    assert len(expected.customer_file) > 100
    assert list(actual.customer_file.columns) == list(expected.customer_file.columns)
    pd.testing.assert_frame_equal(actual.customer_file, expected.customer_file, rtol=1e-9)
    assert actual.customer_file.attrs == expected.customer_file.attrs


@pytest.mark.parametrize("source", SOURCES)
def test_same_segments(request, results, sources, engine_name, source):
    expected, actual = _both(request, results, sources, engine_name, source)
    model = clustering.fit_segmentation(expected.customer_file, "kmeans", 4, seed=0)
    spark = request.getfixturevalue("spark_engine") if engine_name == "spark" else None
    with get_engine("pandas") as pandas_engine:
        want = pandas_engine.score(model, expected.customer_file, batch_customers=700)
    name, options = ENGINE_VARIANTS.get(engine_name, (engine_name, {}))
    engine = spark if spark is not None else get_engine(name, **options)
    got = engine.score(model, actual.customer_file, batch_customers=700)
    assert want["segment_id"].nunique() == 4
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(want, model.segment_frame(expected.customer_file))


def test_the_demo_shop_exercises_every_cleaning_step(results, sources):
    """The comparison is only worth something if the fixture has every kind of mess."""
    table = _result(results, sources, "pandas", "demo_parquet_partitioned").report.to_frame()
    rows = table.set_index("reason")["rows"]
    for reason in ("missing_customer_id", "non_product", "duplicate", "cancellation", "cancelled_purchase"):
        assert rows[reason] > 0, reason
    assert _result(results, sources, "pandas", "demo_parquet_partitioned").report.partially_netted > 0


@pytest.mark.parametrize("lines_per_bucket", [None, 3000], ids=["one-pass", "buckets"])
@pytest.mark.parametrize(
    "rules", [CleaningRules(outliers=True, outlier_quantile=0.99), CleaningRules(zero_amount="drop")]
)
def test_other_rules_agree(sources, rules, lines_per_bucket):
    """Also the outlier threshold, the one step of the cleaning across customers (across buckets)."""
    path, read = sources["demo_csv"]
    with get_engine("pandas") as engine:
        expected = engine.read_clean_customer_file(path, read, rules)
    assert expected.report.to_frame().set_index("reason").loc["outlier", "rows"] > 0 or not rules.outliers
    with get_engine("duckdb", memory_limit="256MB", lines_per_bucket=lines_per_bucket) as engine:
        actual = engine.read_clean_customer_file(path, read, rules)
    pd.testing.assert_frame_equal(actual.report.to_frame(), expected.report.to_frame(), rtol=1e-9)
    pd.testing.assert_frame_equal(actual.customer_file, expected.customer_file, rtol=1e-9)


def test_auto_picks_pandas_for_small_and_duckdb_for_large(sources, tmp_path):
    path, _ = sources["demo_csv"]
    assert choose_engine(path) == "pandas"
    assert choose_engine(path, threshold_bytes=1) == "duckdb"
    assert choose_engine(pd.DataFrame()) == "pandas"
    assert AUTO_THRESHOLD_BYTES > Path(path).stat().st_size
    assert get_engine("auto", path).name == "pandas"


def test_unknown_engine_is_named():
    with pytest.raises(ParameterError, match="unknown engine 'duck'"):
        get_engine("duck")
    assert set(ENGINES) == {"pandas", "duckdb", "spark"}


@pytest.mark.parametrize(
    "pattern, matches, misses",
    [
        (r"^C(?![A-Za-z])", ["C489449", "C", "C-1"], ["CA-2016-1", "489449", "c12"]),
        (r"^X\d+", ["X12"], ["AX12"]),
    ],
)
def test_re2_pattern_matches_as_python(pattern, matches, misses):
    import re

    import duckdb

    translated = re2_pattern(pattern)
    for text in matches + misses:
        assert (
            bool(re.search(pattern, text))
            == duckdb.sql("SELECT regexp_matches(?, ?)", params=[text, translated]).fetchall()[0][0]
        ), text


def test_sql_engines_refuse_what_only_pandas_reads(shop):
    with get_engine("duckdb") as engine, pytest.raises(ParameterError, match="pandas"):
        engine.read_clean_customer_file(shop.transactions)


def test_notebook_inputs_through_duckdb_cover_everyone_and_sample_the_figures(sources):
    from segkit import engines, inputs

    path, _ = sources["demo_parquet_partitioned"]
    via_pandas = inputs.load_inputs(path, sample_customers=300, seed=4)
    via_duckdb = engines.load_inputs(path, sample_customers=300, seed=4, engine="duckdb")
    # the figures' sample: the same customers and lines as the pandas path's sample
    pd.testing.assert_frame_equal(via_duckdb.raw.transactions, via_pandas.raw.transactions)
    pd.testing.assert_frame_equal(via_duckdb.clean.transactions, via_pandas.clean.transactions)
    # the report and the customer file: every line and every customer
    with get_engine("pandas") as engine:
        full = engine.read_clean_customer_file(path)
    pd.testing.assert_frame_equal(via_duckdb.report.to_frame(), full.report.to_frame(), rtol=1e-9)
    pd.testing.assert_frame_equal(via_duckdb.customer_file, full.customer_file, rtol=1e-9)
    assert "random sample of 300 of the 2,0" in via_duckdb.scope
    assert via_duckdb.overall["customers"] == len(full.customer_file)
    assert via_duckdb.overall["revenue"] == pytest.approx(full.customer_file["monetary"].sum(), rel=1e-9)
    # pandas (and auto on a small input) is the unchanged path: no scope sentence, no overall figures
    unchanged = engines.load_inputs(path, sample_customers=300, seed=4, engine="auto")
    assert unchanged.scope == "" and unchanged.overall == {} and unchanged.customer_file is None
    pd.testing.assert_frame_equal(engines.customer_file_of(unchanged), engines.customer_file_of(via_pandas))


@pytest.mark.slow
def test_segkit_run_with_the_duckdb_engine_writes_the_pandas_customer_file(sources, tmp_path):
    import subprocess
    import sys

    from segkit.features import with_rfm_segments

    path, _ = sources["demo_parquet_partitioned"]
    command = [sys.executable, "-m", "segkit.cli", "run", "--data", path, "--engine", "duckdb"]
    command += ["--notebooks", "01,02", "--sample-customers", "400", "--name", "big", "--no-progress"]
    command += ["--processed-dir", str(tmp_path / "p"), "--reports-dir", str(tmp_path / "r")]
    subprocess.run(command, check=True, capture_output=True, text=True)
    written = pd.read_parquet(tmp_path / "p" / "big" / "customers.parquet")
    with get_engine("pandas") as engine:
        expected = with_rfm_segments(engine.read_clean_customer_file(path).customer_file)
    pd.testing.assert_frame_equal(written, expected, rtol=1e-9, check_dtype=False)
    page = (tmp_path / "r" / "big" / "01_eda.html").read_text(encoding="utf-8")
    assert "random sample of 400 of the" in page


def test_segkit_run_passes_the_engine_to_notebooks_01_02(sources, monkeypatch, tmp_path, capsys):
    import json

    from segkit import cli, report

    calls = []

    def fake_run(data, **options):
        calls.append(options)
        return report.RunResult(run=options["run"], processed=tmp_path / "p", reports=tmp_path / "r")

    monkeypatch.setattr(report, "run_notebooks", fake_run)
    path, _ = sources["demo_parquet_partitioned"]
    spark = [
        "--engine",
        "spark",
        "--spark-master",
        "spark://head:7077",
        "--spark-conf",
        "spark.executor.memory=8g",
    ]
    assert cli.main(["run", "--data", path, "--no-progress", *spark]) == 0
    assert calls[-1]["parameters"]["engine"] == "spark"
    assert json.loads(calls[-1]["parameters"]["engine_options"]) == {
        "master": "spark://head:7077",
        "conf": {"spark.executor.memory": "8g"},
    }
    assert calls[-1]["validated"] is True  # checked from the header, the log not read in pandas
    assert (
        cli.main(["run", "--data", path, "--no-progress", "--engine", "duckdb", "--memory-limit", "1GB"]) == 0
    )
    assert json.loads(calls[-1]["parameters"]["engine_options"]) == {"memory_limit": "1GB"}
    assert cli.main(["run", "--data", path, "--no-progress", "--engine", "duckdb", "--notebooks", "03"]) == 0
    assert "engine" not in calls[-1]["parameters"]  # only 01 and 02 define it
    assert cli.main(["run", "--data", path, "--no-progress"]) == 0  # auto on a small input: pandas
    assert "engine" not in calls[-1]["parameters"]
    assert cli.main(["run", "--data", path, "--engine", "spark", "--spark-conf", "nonsense"]) != 0
    assert "--spark-conf takes KEY=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("row_hash", ["hash({x})", "0"], ids=["hash", "every-row-collides"])
def test_exact_copies_are_found_whatever_the_hash_collisions(row_hash):
    """The later lines of each set of exact copies, in input order, as pandas ``duplicated`` finds them.

    With a constant hash every line is a candidate: the column-by-column comparison alone must give
    the same answer, so a hash collision can never make two different lines copies.
    """
    import dataclasses

    import duckdb

    from segkit.engines.sql import DUCKDB, CleaningSql

    rng = np.random.default_rng(3)
    n = 400
    tx = pd.DataFrame(
        {
            "customer_id": pd.array(rng.choice(["a", "b", None], size=n), dtype="str"),
            "order_id": pd.array(rng.choice(["1", "2", "3"], size=n), dtype="str"),
            "amount": rng.choice([1.5, 2.0, np.nan], size=n),
            "description": pd.array(rng.choice(["x", "y", None], size=n), dtype="str"),
        }
    )
    tx.insert(0, "_row", np.arange(n, dtype="int64") * 7)
    dialect = dataclasses.replace(DUCKDB, row_hash_template=row_hash)
    sql = CleaningSql(dialect, tuple(c for c in tx.columns if c != "_row"), CleaningRules())
    with duckdb.connect() as con:
        con.register("tx", pa.Table.from_pandas(tx, preserve_index=False))
        found = sorted(row for (row,) in con.sql(sql.copies()).fetchall())
    expected = tx.loc[tx.drop(columns="_row").duplicated(keep="first"), "_row"].tolist()
    assert expected and found == expected


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def test_segkit_score_with_an_engine_writes_the_pandas_segments(request, sources, tmp_path, engine):
    """``segkit score --engine``: the engine's customer file, scored in batches, gives pandas' tags."""
    from segkit.cli import main

    if engine == "spark":
        request.getfixturevalue("spark_engine")  # one session for the module (skips without Java)
    path, _ = sources["demo_parquet_partitioned"]
    with get_engine("pandas") as pandas_engine:
        customers = pandas_engine.read_clean_customer_file(path).customer_file
    model = clustering.fit_segmentation(customers, "kmeans", 4, seed=0)
    model_path = model.save(tmp_path / "model.skops")
    tags = {}
    for name in ("pandas", engine):
        out = tmp_path / f"{name}.csv"
        assert (
            main(["score", "--model", str(model_path), "--data", path, "--out", str(out), "--engine", name])
            == 0
        )
        tags[name] = pd.read_csv(out, dtype={"customer_id": "str"})
    assert tags["pandas"]["segment_id"].nunique() == 4
    assert len(tags["pandas"]) == len(customers)
    pd.testing.assert_frame_equal(tags[engine], tags["pandas"])
