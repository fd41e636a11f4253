"""Tests of segkit.report: the papermill runner, offline HTML export, index page, atomic runs.

These tests run tiny stand-in notebooks written into ``tmp_path`` (never into ``notebooks/``), so
they test the runner itself, independently of the analysis notebooks (tests/test_notebooks.py,
tests/test_e2e.py and tests/test_browser.py cover those).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from segkit import report
from segkit.cli import main
from segkit.schema import ParameterError, SegkitError

PARAMETERS = """\
data = "demo"
layout = "auto"
columns = ""
run = "demo"
processed_dir = "../data/processed"
reports_dir = "../reports"
seed = 0
sample_customers = 0
"""

#: Code cells of each stand-in notebook (after the parameters cell). They read the CSV with pandas,
#: raise segkit's SchemaError on a missing customer column and write what the real notebooks write.
STANDIN_CELLS: dict[str, list[str]] = {
    "01_eda": [
        "import json\nfrom pathlib import Path\nimport pandas as pd\nimport plotly.express as px\n"
        "from segkit.io import run_dir, write_json_atomic\nfrom segkit.schema import missing_column_error\n"
        "from segkit.viz import setup_notebook\nsetup_notebook()",
        "tx = pd.read_csv(data, parse_dates=['order_date'])\n"
        "if 'customer_id' not in tx.columns:\n    raise missing_column_error('customer_id', tx.columns, source=data)",
        "px.bar(tx.groupby(tx.order_date.dt.month).amount.sum()).show()",
        "from segkit.summary import write_summary\n"
        "write_summary('01', {'customers': int(tx.customer_id.nunique()), 'revenue': float(tx.amount.sum()),"
        " 'orders': len(tx), 'currency': '', 'raw_lines': len(tx), 'kept_lines': len(tx), 'cleaning': {'kept': len(tx)},"
        " 'period_start': str(tx.order_date.min().date()), 'period_end': str(tx.order_date.max().date()),"
        " 'rows_raw': len(tx)}, run_dir(processed_dir, run))",
    ],
    "02_customer_files": [
        "import pandas as pd\nimport plotly.express as px\nimport segkit\n"
        "from segkit.io import run_dir, write_json_atomic, write_parquet_atomic\nfrom segkit.viz import setup_notebook\nsetup_notebook()",
        "tx = pd.read_csv(data)\ncf = tx.groupby('customer_id').agg(frequency=('amount', 'size'), monetary=('amount', 'sum'))\n"
        "write_parquet_atomic(cf, run_dir(processed_dir, run) / 'customers.parquet')",
        "px.scatter(cf, x='frequency', y='monetary').show()\npx.histogram(cf, x='monetary').show()",
        "write_json_atomic({'n_customers': len(cf)}, run_dir(processed_dir, run) / 'summary_02.json')",
    ],
    "03_clustering": [
        "import pandas as pd\nimport plotly.express as px\nimport segkit\n"
        "from segkit.io import run_dir, write_csv_atomic, write_json_atomic\nfrom segkit.viz import setup_notebook\nsetup_notebook()",
        "cf = pd.read_parquet(run_dir(processed_dir, run) / 'customers.parquet')\n"
        "cf['segment_id'] = (cf.monetary > cf.monetary.median()).astype(int)\n"
        "cf['segment_name'] = cf.segment_id.map({0: 'Big spenders', 1: 'Small spenders'})\n"
        "write_csv_atomic(cf.reset_index()[['customer_id', 'segment_id', 'segment_name']], "
        "run_dir(processed_dir, run) / 'segments.csv')\n"
        "write_json_atomic({'k': 2}, run_dir(processed_dir, run) / 'model.json')",
        "px.pie(cf, names='segment_name').show()",
        "shares = cf.segment_name.value_counts(normalize=True)\n"
        "from segkit.summary import write_summary\n"
        "write_summary('03', {'k': 2, 'algorithm': 'threshold', 'customers': len(cf), 'segments': [{'segment_id': i, "
        "'segment_name': n, 'customer_share': float(shares[n]), 'customers': int((cf.segment_name == n).sum()), "
        "'revenue_share': float(cf.loc[cf.segment_name == n, 'monetary'].sum() / cf.monetary.sum()), 'action': ''}"
        " for i, n in enumerate(['Big spenders', 'Small spenders'])]}, run_dir(processed_dir, run))",
    ],
    "04_maintenance_simulation": [
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\nimport plotly.express as px\n"
        "from segkit.io import run_dir, write_json_atomic\nfrom segkit.viz import setup_notebook\nsetup_notebook()",
        "plt.plot([0, 1], [1, 0])\nplt.show()\npx.line(x=[1, 2, 3], y=[0.9, 0.8, 0.7]).show()",
        "from segkit.summary import write_summary\n"
        "write_summary('04', {'verdict': 'retrain_every', 'recommended_retraining_days': 90, 'reason': 'stand-in', 'obsolete_on': None, "
        "'delay_days': None, 'start': '2023-01-01', 'end': '2023-06-30', 'steps': 3, 'period_days': 30}, "
        "run_dir(processed_dir, run))",
    ],
    "05_clv": [
        "import plotly.express as px\nfrom segkit.io import run_dir, write_json_atomic\n"
        "from segkit.viz import setup_notebook\nsetup_notebook()",
        "px.line(x=[1, 2, 3], y=[1, 3, 6]).show()",
        "write_json_atomic({'clv_total': 1234.5, 'horizon_months': 12.0, 'prob_alive_mean': 0.8, 'segments': "
        "[{'segment_id': 0, 'clv_share': 0.75, 'prob_alive_mean': 0.9}]}, run_dir(processed_dir, run) / 'summary_05.json')",
    ],
}


#: Notebook-specific parameters of the stand-ins (after the common ones).
STANDIN_EXTRA_PARAMETERS = {"03_clustering": "k_max = 4\n"}


def write_standin_notebooks(folder: Path) -> Path:
    """Write the stand-in notebooks into ``folder`` (a title cell, a parameters cell, then STANDIN_CELLS)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem, cells in STANDIN_CELLS.items():
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.cells = [
            nbformat.v4.new_markdown_cell(f"# Stand-in {stem}\n\nA tiny notebook for the runner's tests."),
            nbformat.v4.new_code_cell(
                PARAMETERS + STANDIN_EXTRA_PARAMETERS.get(stem, ""), metadata={"tags": ["parameters"]}
            ),
            *(nbformat.v4.new_code_cell(source) for source in cells),
        ]
        nbformat.write(notebook, folder / f"{stem}.ipynb")
    return folder


def write_transactions(path: Path, n_customers: int = 40, customer_column: str = "customer_id") -> Path:
    """A small canonical transaction CSV: three orders per customer over 2023."""
    n_rows = 3 * n_customers
    frame = pd.DataFrame(
        {
            customer_column: [f"C{i % n_customers:03d}" for i in range(n_rows)],
            "order_date": pd.date_range("2023-01-01", periods=n_rows, freq="3D"),
            "amount": [10.0 + (i * 7) % 50 for i in range(n_rows)],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def standin_run(tmp_path_factory):
    """One successful run of the stand-in notebooks; yields (workspace, RunResult)."""
    root = tmp_path_factory.mktemp("runner")
    notebooks = write_standin_notebooks(root / "notebooks")
    data = write_transactions(root / "data" / "raw" / "tx.csv")
    result = report.run_notebooks(
        data,
        run="unit",
        processed_dir=root / "data" / "processed",
        reports_dir=root / "reports",
        notebooks_dir=notebooks,
        parameters={"k_max": 3},
        progress=False,
    )
    return root, result


# --------------------------------------------------------------------------- a good run
@pytest.mark.slow
def test_run_writes_reports_outputs_and_index(standin_run):
    root, result = standin_run
    reports = root / "reports" / "unit"
    processed = root / "data" / "processed" / "unit"
    assert result.reports == reports and result.processed == processed
    for stem in report.NOTEBOOKS:
        assert (reports / f"{stem}.html").is_file()
        assert (reports / "executed" / f"{stem}.ipynb").is_file()
        assert (processed / f"summary_{stem[:2]}.json").is_file()
    assert (reports / "index.html").is_file()
    assert {"customers.parquet", "segments.csv", "run.json"} <= {p.name for p in processed.iterdir()}
    # no staging folder is left behind after success
    assert not (root / "reports" / ".unit.partial").exists()
    assert not (root / "data" / "processed" / ".unit.partial").exists()


@pytest.mark.slow
def test_parameters_reach_the_notebooks(standin_run):
    root, _ = standin_run
    executed = nbformat.read(root / "reports" / "unit" / "executed" / "03_clustering.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'run = "unit"' in injected.source
    assert "k_max = 3" in injected.source
    # data is passed as an absolute path, outputs go to the staging folders
    assert str(root / "data" / "raw" / "tx.csv") in injected.source
    assert ".unit.partial" in injected.source


@pytest.mark.slow
def test_html_reports_are_offline_with_one_plotlyjs(standin_run):
    root, _ = standin_run
    for stem in report.NOTEBOOKS:
        page = (root / "reports" / "unit" / f"{stem}.html").read_text(encoding="utf-8")
        assert page.count("plotly.js v") == 1, stem  # embedded exactly once
        assert not re.findall(r"<script[^>]*\bsrc\s*=", page), stem  # no external script at all
        assert "require.min.js" not in page and "MathJax.js" not in page
        assert "Plotly.newPlot" in page
        assert len(page.encode()) <= report.MAX_REPORT_BYTES
        # code hidden by default
        assert "write_json_atomic" not in page and "setup_notebook" not in page, stem
    page_04 = (root / "reports" / "unit" / "04_maintenance_simulation.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in page_04  # the matplotlib figure is an embedded image


@pytest.mark.slow
def test_run_json_records_inputs_versions_and_seconds(standin_run):
    root, _ = standin_run
    record = json.loads((root / "data" / "processed" / "unit" / "run.json").read_text())
    data = root / "data" / "raw" / "tx.csv"
    assert record["run"] == "unit"
    assert record["parameters"]["k_max"] == 3
    assert record["parameters"]["processed_dir"] == str(root / "data" / "processed")
    [source] = record["inputs"]
    assert source["bytes"] == data.stat().st_size
    assert source["sha256"] == report.sha256_file(data)
    assert len(source["sha256"]) == 64
    assert record["rows"]["customers.parquet"] == 40
    assert record["rows"]["segments.csv"] == 40
    assert record["rows"]["summary_01.rows_raw"] == 120
    assert set(record["seconds"]) == set(report.NOTEBOOKS)
    assert all(entry["execute"] > 0 for entry in record["seconds"].values())
    assert record["packages"]["papermill"] != "not installed"


@pytest.mark.slow
def test_index_page_shows_key_figures_and_links(standin_run):
    root, _ = standin_run
    page = (root / "reports" / "unit" / "index.html").read_text(encoding="utf-8")
    assert '<span id="run-name">unit</span>' in page
    assert "<script" not in page
    assert 'name="viewport"' in page
    assert 'id="kf-customers">40<' in page
    revenue = pd.read_csv(root / "data" / "raw" / "tx.csv").amount.sum()
    assert f'id="kf-revenue">{revenue:,.0f}<' in page
    assert 'id="executive-summary"' in page and "customers placed" in page
    assert "Big spenders" in page and "Small spenders" in page
    assert 'id="kf-retrain">every 90 days<' in page
    assert "2023-01-01" in page  # data period
    for stem in report.NOTEBOOKS:
        assert f'href="{stem}.html"' in page
    # output files are copied into the reports folder, so that it is self-contained
    assert 'href="files/segments.csv"' in page
    assert (root / "reports" / "unit" / "files" / "segments.csv").is_file()
    assert str(root) not in page  # no path of this machine


@pytest.mark.slow
def test_keep_code_shows_the_code(standin_run, tmp_path):
    root, _ = standin_run
    executed = root / "reports" / "unit" / "executed" / "01_eda.ipynb"
    shown = report.export_html(executed, tmp_path / "with_code.html", keep_code=True)
    hidden = report.export_html(executed, tmp_path / "without_code.html", keep_code=False)
    assert "missing_column_error" in shown.read_text(encoding="utf-8")
    assert "missing_column_error" not in hidden.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- failures and reruns
@pytest.mark.slow
def test_failed_run_names_notebook_cell_and_error_and_keeps_last_good_run(standin_run):
    root, _ = standin_run
    bad = write_transactions(root / "data" / "raw" / "bad.csv", customer_column="client")
    index_before = (root / "reports" / "unit" / "index.html").read_bytes()
    segments_before = (root / "data" / "processed" / "unit" / "segments.csv").read_bytes()
    with pytest.raises(report.RunError) as caught:
        report.run_notebooks(
            bad,
            run="unit",
            processed_dir=root / "data" / "processed",
            reports_dir=root / "reports",
            notebooks_dir=root / "notebooks",
            progress=False,
            validated=True,  # skip the input check: this test is about a notebook that fails
        )
    message = str(caught.value)
    assert "01_eda.ipynb" in message
    assert "cell In [4] (tx = pd.read_csv(" in message  # the cell, by prompt and first line
    assert "SchemaError" in message and "'customer_id' is missing" in message
    assert caught.value.notebook == "01_eda"
    # the last good run is untouched, the failed run's executed notebook is kept
    assert (root / "reports" / "unit" / "index.html").read_bytes() == index_before
    assert (root / "data" / "processed" / "unit" / "segments.csv").read_bytes() == segments_before
    assert caught.value.executed_path.is_file()
    assert ".unit.partial" in str(caught.value.executed_path)


@pytest.mark.slow
def test_cli_failed_run_exits_2_with_the_segkit_message(standin_run, capsys):
    root, _ = standin_run
    bad = write_transactions(root / "data" / "raw" / "bad2.csv", customer_column="client")
    shutil.rmtree(root / "reports" / ".unit.partial", ignore_errors=True)  # an earlier test's failed run
    code = main(
        [
            "run",
            "--data",
            str(bad),
            "--name",
            "unit",
            "--notebooks",
            "01",
            "--notebooks-dir",
            str(root / "notebooks"),
            "--processed-dir",
            str(root / "data" / "processed"),
            "--reports-dir",
            str(root / "reports"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    # the input is checked before any notebook (issue 15)
    assert err.startswith("segkit: error: transactions: required column 'customer_id' is missing")
    assert "available columns: client" in err
    assert "Traceback" not in err
    assert not (root / "reports" / ".unit.partial").exists()


@pytest.mark.slow
def test_partial_rerun_keeps_the_other_notebooks_outputs(standin_run):
    root, _ = standin_run
    result = report.run_notebooks(
        root / "data" / "raw" / "tx.csv",
        run="unit",
        processed_dir=root / "data" / "processed",
        reports_dir=root / "reports",
        notebooks_dir=root / "notebooks",
        notebooks="04",
        progress=False,
    )
    assert list(result.html) == ["04_maintenance_simulation"]
    for stem in report.NOTEBOOKS:  # the earlier reports were carried over from the last good run
        assert (root / "reports" / "unit" / f"{stem}.html").is_file()
    record = json.loads((root / "data" / "processed" / "unit" / "run.json").read_text())
    assert record["notebooks"] == ["04_maintenance_simulation"]
    assert set(record["seconds"]) == set(report.NOTEBOOKS)


# --------------------------------------------------------------------------- small pieces
@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (None, list(report.NOTEBOOKS)),
        ("01,03", ["01_eda", "03_clustering"]),
        ("3, 1", ["01_eda", "03_clustering"]),
        (["02_customer_files.ipynb"], ["02_customer_files"]),
    ],
)
def test_select_notebooks(selection, expected):
    assert report.select_notebooks(selection) == expected


def test_select_notebooks_names_unknown_entries():
    with pytest.raises(ParameterError, match="unknown notebook") as caught:
        report.select_notebooks("01,07,eda")
    assert caught.value.examples == ["07", "eda"]


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x.partial", "a b"])
def test_bad_run_names_are_refused(name):
    with pytest.raises(ParameterError, match="run name"):
        report.check_run_name(name)


def test_parse_assignments_types_and_errors():
    assert report.parse_assignments(
        ["k_max=6", "ratio=0.5", "flag=true", "name=spring sale", "x=none"], option="-p"
    ) == {
        "k_max": 6,
        "ratio": 0.5,
        "flag": True,
        "name": "spring sale",
        "x": None,
    }
    assert report.parse_assignments(["customer_id=007"], option="--columns", parse=False) == {
        "customer_id": "007"
    }
    with pytest.raises(ParameterError, match="-p expects key=value") as caught:
        report.parse_assignments(["k_max", "=3", "ok=1"], option="-p")
    assert caught.value.examples == ["k_max", "=3"]


def test_columns_json_round_trip_and_errors():
    assert report._columns_json(None) == ""
    assert json.loads(report._columns_json({"customer_id": "Client"})) == {"customer_id": "Client"}
    assert json.loads(report._columns_json('{"amount": "Total"}')) == {"amount": "Total"}
    with pytest.raises(ParameterError, match="columns"):
        report._columns_json("customer_id=Client")


def test_unknown_extra_parameter_is_refused_with_a_suggestion(tmp_path):
    notebooks = write_standin_notebooks(tmp_path / "nb")
    data = write_transactions(tmp_path / "tx.csv")
    with pytest.raises(ParameterError, match="unknown notebook parameter") as caught:
        report.run_notebooks(data, notebooks_dir=notebooks, parameters={"k_maxx": 3}, progress=False)
    assert caught.value.examples == ["k_maxx"]
    assert "'k_maxx' -> 'k_max'?" in str(caught.value)
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_extra_parameters_go_only_to_the_notebooks_that_define_them(standin_run):
    root, _ = standin_run
    for stem in report.NOTEBOOKS:
        executed = nbformat.read(root / "reports" / "unit" / "executed" / f"{stem}.ipynb", as_version=4)
        injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
        assert ("k_max = 3" in injected.source) == (stem == "03_clustering")


def test_missing_data_source_is_a_parameter_error(tmp_path):
    notebooks = write_standin_notebooks(tmp_path / "nb")
    with pytest.raises(ParameterError, match="data source not found"):
        report.run_notebooks(tmp_path / "nope.csv", notebooks_dir=notebooks, progress=False)
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_find_notebooks_dir_refuses_a_folder_without_notebooks(tmp_path):
    with pytest.raises(ParameterError, match="notebooks folder not found"):
        report.find_notebooks_dir(tmp_path)
    assert issubclass(report.RunError, SegkitError)


def test_offline_preprocessing_of_plotly_outputs():
    import plotly.graph_objects as go
    import plotly.io as pio

    figure = go.Figure(go.Bar(x=[1, 2], y=[3, 4])).to_plotly_json()
    json_output = nbformat.v4.new_output(
        "display_data", data={report.PLOTLY_MIME: figure, "text/plain": "Figure"}
    )
    assert report._offline_output(json_output) == 1
    assert report.PLOTLY_MIME not in json_output["data"]
    assert "Plotly.newPlot" in json_output["data"]["text/html"]

    notebook_html = pio.to_html(figure, include_plotlyjs=False, include_mathjax="cdn", full_html=False)
    assert "cdnjs" in notebook_html  # what plotly's notebook renderer emits for every figure
    html_output = nbformat.v4.new_output("display_data", data={"text/html": notebook_html})
    assert report._offline_output(html_output) == 1
    assert "cdnjs" not in html_output["data"]["text/html"]
    assert "Plotly.newPlot" in html_output["data"]["text/html"]

    import plotly.offline

    bundle = f'<script type="text/javascript">window.PlotlyConfig = {{}};</script><script>{plotly.offline.get_plotlyjs()[:500]}</script>'
    activation = nbformat.v4.new_output("display_data", data={"text/html": bundle})
    assert report._offline_output(activation) == 0
    assert report._is_empty_html_output(activation)


def test_timing_table_has_a_row_per_notebook_and_a_total():
    table = report.format_timing_table(
        {"01_eda": {"execute": 1.5, "export": 0.5}, "02_x": {"execute": 2.0, "export": 1.0}}
    )
    lines = table.splitlines()
    assert lines[0].split() == ["notebook", "execute", "s", "export", "s", "total", "s"]
    assert lines[1].split() == ["01_eda", "1.5", "0.5", "2.0"]
    assert lines[2].split() == ["02_x", "2.0", "1.0", "3.0"]
    assert lines[3].split() == ["total", "3.5", "1.5", "5.0"]


def test_key_figures_reads_the_summaries_by_their_schema():
    from test_summary import SUMMARIES

    figures = report.key_figures(SUMMARIES)
    assert figures["customers"] == 19943 and figures["orders"] == 207596
    assert figures["revenue"] == 8643391.77 and figures["currency"] == "GBP"
    assert figures["n_segments"] == 3
    assert (
        figures["segments"][0]["name"] == "High-value loyal"
        and figures["segments"][0]["revenue_share"] == 0.6
    )
    assert figures["retrain"] == "every 90 days"
    assert report.key_figures({"04": SUMMARIES["04"]})["n_segments"] is None  # the simulation's k is not it
    assert (figures["period_start"], figures["period_end"]) == ("2022-01-01", "2024-06-30")
    assert figures["clv_total"] is None and figures["segments"][0]["clv_share"] is None  # no notebook 05


def test_key_figures_join_the_clv_value_per_segment():
    summaries = {
        "03": {
            "segments": [
                {"segment_id": 0, "segment_name": "Loyal"},
                {"segment_id": 1, "segment_name": "Lost"},
            ]
        },
        "05": {
            "clv_total": 9876.5,
            "horizon_months": 12.0,
            "prob_alive_mean": 0.7,
            "segments": [{"segment_id": 1, "clv_share": 0.2, "prob_alive_mean": 0.4}],
        },
    }
    figures = report.key_figures(summaries)
    assert (figures["clv_total"], figures["clv_horizon_months"], figures["prob_alive_mean"]) == (
        9876.5,
        12.0,
        0.7,
    )
    loyal, lost = figures["segments"]
    assert (lost["clv_share"], lost["prob_alive"]) == (0.2, 0.4)
    assert (loyal["clv_share"], loyal["prob_alive"]) == (None, None)  # a segment 05 did not value
    page = report.render_index(
        {
            "run": "r",
            "parameters": {},
            "data_source": "d",
            "figures": figures,
            "summaries": {},
            "summary_titles": {},
            "reports": [],
            "outputs": [],
            "version": "0",
            "run_date": "now",
        }
    )
    assert 'id="kf-clv">9,876<' in page and "next 12 months" in page
    assert 'id="kf-alive">70.0%<' in page and ">20.0%<" in page  # segkit.formatting.percent


def test_key_figures_name_the_monitored_model_and_the_short_answer():
    summary_04 = {
        "verdict": "too_short",
        "retrain_short": "log too short to tell",
        "recommended_retraining_days": None,
        "model_k": 3,
        "model_segment_names": ["Loyal", "Occasional", "Lapsed"],
        "model_sha256": "ab" * 32,
    }
    figures = report.key_figures({"04": summary_04})
    assert figures["retrain"] == "log too short to tell"
    assert figures["retrain_model"] == (
        f"Advice for the saved model (model.skops, sha256 {'ab' * 6}): 3 segments (Loyal, Occasional, Lapsed)."
    )
    assert report.key_figures({"04": {"recommended_retraining_days": 90}})["retrain_model"] is None


def test_describe_inputs_lists_every_file_of_a_folder_with_size_and_sha256(tmp_path):
    import hashlib

    (tmp_path / "sub").mkdir()
    (tmp_path / "transactions.csv").write_bytes(b"a,b\n1,2\n")
    (tmp_path / "sub" / "customers.csv").write_bytes(b"id\n7\n")
    (tmp_path / ".complete").write_text("hidden marker")
    entries = report.describe_inputs(str(tmp_path))
    assert [Path(e["path"]).name for e in entries] == ["customers.csv", "transactions.csv"]
    assert entries[1]["bytes"] == 8
    assert entries[1]["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert report.describe_inputs("demo") == []


def test_swap_into_place_replaces_the_previous_folder(tmp_path):
    final = tmp_path / "reports" / "run"
    final.mkdir(parents=True)
    (final / "old.html").write_text("old")
    staged = tmp_path / "reports" / ".run.partial" / "run"
    staged.mkdir(parents=True)
    (staged / "new.html").write_text("new")
    report._swap_into_place(staged, final)
    assert [p.name for p in final.iterdir()] == ["new.html"]
    assert not staged.exists()
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [".run.partial", "run"]


HEAVY_MODULES = ("nbconvert", "papermill", "jinja2", "nbformat", "plotly")


@pytest.mark.parametrize("module", ["segkit.report", "segkit.cli"])
def test_importing_the_runner_does_not_import_nbconvert(module):
    """`segkit run` checks its input before any notebook machinery is imported (nbconvert alone is ~3 s)."""
    import subprocess
    import sys

    code = f"import sys, {module}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_MODULES!r})))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", f"{module} imports {loaded.stdout.strip()}"


def test_the_export_imports_nbconvert_only_when_a_report_is_exported():
    import subprocess
    import sys

    code = (
        "import sys; from segkit import report; report.PlotlyOfflinePreprocessor; "
        "print('nbconvert' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "True"  # the check above can see nbconvert when it is imported


def test_each_runner_module_keeps_to_its_job():
    """The runner's package: only the export modules import nbconvert, only the runner executes notebooks."""
    import ast

    package = Path(report.__file__).parent
    for path in package.glob("*.py"):
        source = path.read_text()
        tree = ast.parse(source)
        top_level = {
            alias.name.split(".")[0]
            for node in tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        if path.stem != "plotly_offline":
            assert not top_level & set(HEAVY_MODULES), f"{path.name} imports {top_level & set(HEAVY_MODULES)}"
        if path.stem not in ("runner", "notebooks"):
            assert "import papermill" not in source, f"{path.name} executes notebooks"
        assert len(source.splitlines()) < 600, f"{path.name} grew past one job"


def _timed_execute(log: list[tuple[str, str, float]], fail: str = ""):
    import threading
    import time

    lock = threading.Lock()

    def execute(stem: str) -> dict[str, float]:
        with lock:
            log.append(("start", stem, time.perf_counter()))
        time.sleep(0.15)
        with lock:
            log.append(("end", stem, time.perf_counter()))
        if stem == fail:
            raise RuntimeError(f"{stem} failed")
        return {"execute": 0.15}

    return execute


def test_notebooks_start_once_the_ones_they_read_have_finished():
    from segkit.report.runner import execute_in_order

    log: list[tuple[str, str, float]] = []
    seconds = execute_in_order(list(report.NOTEBOOKS), _timed_execute(log), parallel=2)
    assert list(seconds) == list(report.NOTEBOOKS)
    at = {(event, stem): when for event, stem, when in log}
    for stem, inputs in report.NOTEBOOK_INPUTS.items():
        for read in inputs:
            assert at[("start", stem)] >= at[("end", read)], (stem, read)
    overlap = lambda a, b: at[("start", a)] < at[("end", b)] and at[("start", b)] < at[("end", a)]  # noqa: E731
    assert overlap("01_eda", "02_customer_files")  # neither reads the other
    assert overlap("04_maintenance_simulation", "05_clv")
    running = max(
        sum(1 for e, _, w in log if e == "start" and w <= t)
        - sum(1 for e, _, w in log if e == "end" and w <= t)
        for _, _, t in log
    )
    assert running <= 2


def test_on_a_sql_engine_02_waits_for_01_and_the_rest_keeps_its_order():
    from segkit.report.notebooks import ENGINE_NOTEBOOK_INPUTS, notebook_inputs
    from segkit.report.runner import execute_in_order

    assert notebook_inputs("pandas") is report.NOTEBOOK_INPUTS
    assert notebook_inputs("duckdb") == notebook_inputs("spark") == ENGINE_NOTEBOOK_INPUTS
    log: list[tuple[str, str, float]] = []
    execute_in_order(list(report.NOTEBOOKS), _timed_execute(log), parallel=2, reads=notebook_inputs("duckdb"))
    at = {(event, stem): when for event, stem, when in log}
    assert at[("start", "02_customer_files")] >= at[("end", "01_eda")]
    for stem, inputs in report.NOTEBOOK_INPUTS.items():
        for read in inputs:
            assert at[("start", stem)] >= at[("end", read)], (stem, read)
    assert at[("start", "04_maintenance_simulation")] < at[("end", "05_clv")]  # still side by side


def test_one_notebook_at_a_time_and_no_start_after_a_failure():
    from segkit.report.runner import execute_in_order

    log: list[tuple[str, str, float]] = []
    execute_in_order(list(report.NOTEBOOKS), _timed_execute(log), parallel=1)
    assert [stem for event, stem, _ in log if event == "start"] == list(report.NOTEBOOKS)
    assert all(
        log[i][0] == "start" and log[i + 1][0] == "end" for i in range(0, len(log), 2)
    )  # never two at once

    log.clear()
    with pytest.raises(RuntimeError, match="02_customer_files failed"):
        execute_in_order(list(report.NOTEBOOKS), _timed_execute(log, fail="02_customer_files"), parallel=2)
    started = {stem for event, stem, _ in log if event == "start"}
    assert started == {"01_eda", "02_customer_files"}  # 03 reads 02: it never starts
    # a partial rerun: the notebooks not selected are not waited for
    log.clear()
    execute_in_order(["03_clustering", "05_clv"], _timed_execute(log), parallel=2)
    assert [stem for event, stem, _ in log if event == "start"] == ["03_clustering", "05_clv"]
