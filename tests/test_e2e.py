"""End-to-end: ``segkit run`` on a small demo shop, every output file checked; a broken run; the real sample.

The demo run is executed once per test session (``demo_run_workspace``, shared with
tests/test_browser.py through the session's temporary folder) with small notebook parameters.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from segkit import report

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = ROOT / "notebooks"
#: Customers of the small demo shop the notebook and end-to-end tests run on.
SMALL_SHOP_CUSTOMERS = 1500
#: Notebook parameters that keep the test runs short (papermill ignores the ones a notebook lacks).
FAST_PARAMETERS: dict[str, object] = {"k_max": 4, "n_bootstrap": 2, "period": "30D"}
RUN = "demo"


def notebooks_or_skip() -> Path:
    """The repository's notebooks folder; skip while any of the run's notebooks is not written yet."""
    missing = [stem for stem in report.NOTEBOOKS if not (NOTEBOOKS_DIR / f"{stem}.ipynb").is_file()]
    if missing:
        pytest.skip(f"notebooks not written yet: {', '.join(missing)}")
    return NOTEBOOKS_DIR


def subprocess_env() -> dict[str, str]:
    """The environment for child processes: this checkout's segkit first on the path."""
    paths = [str(ROOT), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def segkit_command(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``segkit ARGS`` (``python -m segkit.cli``) in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "segkit.cli", *args],
        cwd=cwd,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fast_parameter_args() -> list[str]:
    return [arg for key, value in FAST_PARAMETERS.items() for arg in ("-p", f"{key}={value}")]


def small_shop_folder(base: Path) -> Path:
    """Write the small demo shop (generic layout) into ``base/small_shop`` once; return the folder."""
    from segkit.cli import write_demo_data

    folder = base / "small_shop"
    if not (folder / ".complete").is_file():
        write_demo_data(folder, layout="generic", n_customers=SMALL_SHOP_CUSTOMERS, seed=0)
        (folder / ".complete").write_text("ok\n")
    return folder


def demo_run_workspace(base: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run ``segkit run`` on the small shop into ``base/e2e`` once per session; return the workspace.

    The second value is the finished process (its stdout and stderr are also kept in the workspace, so
    every module of the session sees the same run).
    """
    notebooks_or_skip()
    workspace = base / "e2e"
    stdout_file, stderr_file = workspace / "run.stdout", workspace / "run.stderr"
    if (workspace / "reports" / RUN / "index.html").is_file() and stdout_file.is_file():
        return workspace, subprocess.CompletedProcess(
            ["segkit", "run"], 0, stdout_file.read_text(), stderr_file.read_text()
        )
    workspace.mkdir(exist_ok=True)
    shop = small_shop_folder(base)
    completed = segkit_command(
        "run",
        "--data",
        str(shop),
        "--name",
        RUN,
        "--no-progress",
        *fast_parameter_args(),
        cwd=workspace,
    )
    if completed.returncode != 0:
        pytest.fail(f"segkit run failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    stdout_file.write_text(completed.stdout)
    stderr_file.write_text(completed.stderr)
    return workspace, completed


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """(workspace, completed process or None) of the session's demo run."""
    return demo_run_workspace(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def processed(demo_run) -> Path:
    return demo_run[0] / "data" / "processed" / RUN


@pytest.fixture(scope="session")
def reports(demo_run) -> Path:
    return demo_run[0] / "reports" / RUN


def test_run_prints_the_seconds_per_notebook(demo_run):
    _, completed = demo_run
    lines = completed.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["notebook"])
    rows = [line.split()[0] for line in lines[header + 1 :]]
    assert rows == [*report.NOTEBOOKS, "total"]
    assert "index.html" in completed.stdout


def test_reports_and_executed_notebooks(reports):
    assert (reports / "index.html").is_file()
    for stem in report.NOTEBOOKS:
        page = reports / f"{stem}.html"
        assert page.is_file(), stem
        assert 0 < page.stat().st_size <= report.MAX_REPORT_BYTES, stem
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", text), stem
        assert text.count("plotly.js v") == 1, stem  # figures present, plotly.js embedded once
        assert (reports / "executed" / f"{stem}.ipynb").is_file()
    assert not (reports.parent / f".{RUN}.partial").exists()


def test_segments_csv_matches_the_model_and_the_customer_file(processed):
    from segkit import load_model

    segments = pd.read_csv(processed / "segments.csv", dtype={"customer_id": "str"})
    assert list(segments.columns) == [
        "customer_id",
        "segment_id",
        "segment_name",
        "rfm_segment",
        "expected_purchases",  # notebook 05's CLV columns
        "prob_alive",
        "clv",
    ]
    valued = segments.dropna(subset=["clv"])  # customers first seen on the last day are not valued
    assert len(valued) >= 0.95 * len(segments)
    assert (valued["clv"] >= 0).all() and valued["prob_alive"].between(0, 1).all()
    customers = pd.read_parquet(processed / "customers.parquet")
    assert len(segments) == len(customers) > 0
    assert segments["customer_id"].is_unique
    assert set(segments["customer_id"]) == set(customers.index.astype("str"))
    k = segments["segment_id"].nunique()
    assert sorted(segments["segment_id"].unique()) == list(range(k))  # ids 0..k-1
    assert segments.groupby("segment_id")["segment_name"].nunique().eq(1).all()  # one name per id
    assert segments["segment_name"].nunique() == k

    model = load_model(processed / "model.skops")
    predicted = model.predict(customers)
    expected = segments.set_index("customer_id")["segment_id"]
    assert (predicted.reindex(expected.index).to_numpy() == expected.to_numpy()).all()
    metadata = json.loads((processed / "model.json").read_text())
    assert metadata["seed"] == 0


def test_summaries_and_run_record(processed, demo_run):
    workspace, _ = demo_run
    summaries = report.read_summaries(processed)
    assert sorted(summaries) == ["01", "02", "03", "04", "05"]
    customers = pd.read_parquet(processed / "customers.parquet")
    assert summaries["02"]["customers"] == len(customers)

    record = json.loads((processed / "run.json").read_text())
    assert record["run"] == RUN
    assert Path(record["parameters"]["data"]) == (workspace.parent / "small_shop").resolve()
    for key, value in FAST_PARAMETERS.items():
        assert record["parameters"][key] == value
    inputs = {Path(entry["path"]).name: entry for entry in record["inputs"]}
    assert any(name.startswith("transactions") for name in inputs)
    for entry in record["inputs"]:
        assert entry["sha256"] == report.sha256_file(entry["path"])
        assert entry["bytes"] == Path(entry["path"]).stat().st_size
    assert record["rows"]["customers.parquet"] == len(customers)
    assert set(record["seconds"]) == set(report.NOTEBOOKS)
    assert {"pandas", "scikit-learn", "plotly", "papermill", "segkit"} <= set(record["packages"])


def test_index_page_shows_the_run(reports, processed):
    page = (reports / "index.html").read_text(encoding="utf-8")
    summaries = report.read_summaries(processed)
    assert f'<span id="run-name">{RUN}</span>' in page
    assert f'id="kf-customers">{summaries["01"]["customers"]:,}<' in page
    assert summaries["01"]["period_start"] in page and summaries["01"]["period_end"] in page
    for name in pd.read_csv(processed / "segments.csv")["segment_name"].unique():
        assert str(name) in page.replace("&#39;", "'").replace("&amp;", "&")
    assert 'id="kf-retrain">n/a<' not in page  # notebook 04's recommendation is shown
    assert f'id="kf-clv">{report._format_value(summaries["05"]["clv_total"])}<' in page  # notebook 05's value
    for stem in report.NOTEBOOKS:
        assert f'href="{stem}.html"' in page
    for name in ("segments.csv", "customers.parquet", "model.skops", "run.json"):  # copies: self-contained
        assert f'href="files/{name}"' in page and (reports / "files" / name).is_file()


def test_maintenance_advice_is_for_the_model_notebook_03_saved(processed, reports):
    """Notebook 04 monitored model.skops: the same sha256, k and segment names in its summary, in
    notebook 03's summary and on the index page beside the advice."""
    from segkit.model import load_model

    summaries = report.read_summaries(processed)
    s03, s04 = summaries["03"], summaries["04"]
    model = load_model(processed / "model.skops")
    assert s04["model_source"] == "model.skops"
    assert s04["model_sha256"] == report.sha256_file(processed / "model.skops")
    assert s04["model_k"] == model.k == s03["k"]
    names = [model.segment_names[i] for i in range(model.k)]
    assert s04["model_segment_names"] == names == [row["segment_name"] for row in s03["segments"]]
    page = (reports / "index.html").read_text(encoding="utf-8").replace("&#39;", "'").replace("&amp;", "&")
    shown = re.search(r'<p class="sub" id="retrain-model"[^>]*>(.*?)</p>', page, flags=re.S)
    assert shown is not None
    assert s04["model_sha256"][:12] in shown.group(1) and f"{model.k} segments" in shown.group(1)
    for name in names:
        assert name in shown.group(1)
    days = s04["recommended_retraining_days"]
    assert f'id="kf-retrain">{f"every {days:,} days" if days else s04["retrain_short"]}<' in page


def test_score_command_reproduces_the_run_segments(demo_run, processed, tmp_path):
    workspace, _ = demo_run
    out = tmp_path / "scored.csv"
    completed = segkit_command(
        "score",
        "--model",
        str(processed / "model.skops"),
        "--data",
        str(workspace.parent / "small_shop"),
        "--out",
        str(out),
        cwd=workspace,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    scored = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id").sort_index()
    segments = pd.read_csv(processed / "segments.csv", dtype={"customer_id": "str"})
    segments = segments.set_index("customer_id").sort_index()
    pd.testing.assert_series_equal(scored["segment_id"], segments["segment_id"])


def test_broken_run_exits_non_zero_and_keeps_the_last_good_run(demo_run, reports, processed):
    workspace, _ = demo_run
    broken = workspace / "broken.csv"
    pd.DataFrame(
        {"order_date": ["2024-01-02", "2024-01-03"], "amount": [10.0, 12.5], "invoice": ["1", "2"]}
    ).to_csv(broken, index=False)
    before = {path: path.read_bytes() for path in (reports / "index.html", processed / "segments.csv")}
    completed = segkit_command("run", "--data", str(broken), "--name", RUN, "--no-progress", cwd=workspace)
    assert completed.returncode == 2
    # the input is checked before any notebook starts (issue 15): the error a Python user gets
    assert "segkit: error: transactions: required column 'customer_id' is missing" in completed.stderr
    assert "Traceback" not in completed.stderr
    for path, content in before.items():
        assert path.read_bytes() == content
    assert not (workspace / "reports" / f".{RUN}.partial").exists()  # nothing was started


def test_real_online_retail_sample_runs_without_mapping(online_retail_ii_path, tmp_path):
    notebooks_or_skip()
    completed = segkit_command(
        "run",
        "--data",
        str(online_retail_ii_path),
        "--name",
        "sample",
        "--no-progress",
        *fast_parameter_args(),
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    reports = tmp_path / "reports" / "sample"
    assert all((reports / f"{stem}.html").is_file() for stem in report.NOTEBOOKS)
    summaries = report.read_summaries(tmp_path / "data" / "processed" / "sample")
    assert summaries["01"]["raw_lines"] == 29_462
    assert summaries["02"]["customers"] == len(
        pd.read_csv(tmp_path / "data" / "processed" / "sample" / "segments.csv")
    )


def test_item8_cdnow_sample_runs_end_to_end_from_the_command_line(tmp_path):
    notebooks_or_skip()
    cdnow = ROOT.parent / "shared" / "samples" / "CDNOW_sample.txt"
    if not cdnow.is_file():
        pytest.skip(f"CDNOW sample not found at {cdnow}")
    completed = segkit_command(
        "run",
        "--data",
        str(cdnow),
        "--name",
        "cdnow",
        "--sep",
        "whitespace",
        "--no-header",
        "--columns",
        "customer_id=1",
        "order_date=2",
        "amount=4",
        "--date-format",
        "%Y%m%d",
        "--no-progress",
        *fast_parameter_args(),
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    processed = tmp_path / "data" / "processed" / "cdnow"
    summaries = report.read_summaries(processed)
    assert summaries["01"]["raw_lines"] == 6_919
    segments = pd.read_csv(processed / "segments.csv", dtype={"customer_id": str})
    assert segments["customer_id"].nunique() == 2_357  # no customer lost: $0 purchases count
