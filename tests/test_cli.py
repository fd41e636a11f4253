"""Tests of the ``segkit`` command line (argument handling, error exit codes, demo-data and score wiring).

Running notebooks is covered by tests/test_report.py (stand-in notebooks) and tests/test_e2e.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import segkit
from segkit import cli, report

ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--data", "no/such/file.csv"], "data source not found: no/such/file.csv"),
        (["run", "--data", ".", "-p", "k_max"], "-p expects key=value; examples: 'k_max'"),
        (["run", "--data", ".", "--columns", "customer_id"], "--columns expects key=value"),
        (["run", "--data", ".", "--notebooks", "01,09"], "unknown notebook(s) in --notebooks"),
        (["run", "--data", ".", "--name", "../elsewhere"], "run name must be"),
        (["run", "--data", ".", "--sample-customers", "-5"], "--sample-customers must be >= 0"),
        (["run", "--data", ".", "--notebooks-dir", "no/such/folder"], "notebooks folder not found"),
        (["score", "--model", "no/model.skops", "--data", ".", "--out", "x.csv"], "model file not found"),
        (["demo-data", "--out", "x", "--n-customers", "0"], "--n-customers must be > 0"),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_no_traceback(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(capsys, *argv)
    assert code == cli.EXIT_ERROR == 2
    assert err.startswith("segkit: error: ")
    assert message in err
    assert "Traceback" not in err
    assert out == ""
    assert not (tmp_path / "reports").exists()  # nothing written on a refused run


def test_usage_errors_are_argparse_errors(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["run", "--layout", "excel"])
    assert caught.value.code == 2
    assert "invalid choice: 'excel'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([])


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"segkit {segkit.__version__}"


def test_run_passes_every_option_to_the_runner(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sales.csv").write_text("Client,Date,Total\nA,2024-01-01,3\n")
    calls = []

    def fake_run(data, **options):
        calls.append((data, options))
        return report.RunResult(run=options["run"], processed=tmp_path / "p", reports=tmp_path / "r")

    monkeypatch.setattr(report, "run_notebooks", fake_run)
    code, out, _ = run_main(
        capsys,
        "run",
        "--data",
        "sales.csv",
        "--layout",
        "generic",
        "--columns",
        "customer_id=Client",
        "order_date=Date",
        "amount=Total",
        "-p",
        "k_max=6",
        "-p",
        "period=monthly",
        "--notebooks",
        "01,02",
        "--keep-code",
        "--sample-customers",
        "500",
        "--seed",
        "7",
        "--no-progress",
    )
    assert code == 0
    [(data, options)] = calls
    assert data == "sales.csv"
    assert options["layout"] == "generic"
    assert options["columns"] == {"customer_id": "Client", "order_date": "Date", "amount": "Total"}
    assert options["parameters"] == {"k_max": 6, "period": "monthly"}
    assert options["notebooks"] == "01,02"
    assert options["keep_code"] is True and options["progress"] is False
    assert (options["sample_customers"], options["seed"]) == (500, 7)
    assert options["run"] == "sales"  # default run name: the data file's stem
    assert "notebook" in out and "total" in out  # the timing table


def test_run_without_data_generates_the_demo_shop_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    generated = []

    def fake_write(out, *, layout="generic", n_customers=None, seed=0):
        generated.append((Path(out), layout, seed))
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "transactions.parquet").write_bytes(b"")
        return Path(out)

    seen = []
    monkeypatch.setattr(cli, "write_demo_data", fake_write)
    monkeypatch.setattr(
        report,
        "run_notebooks",
        lambda data, **o: seen.append((data, o["run"])) or report.RunResult(o["run"], tmp_path, tmp_path),
    )
    assert run_main(capsys, "run", "--no-progress")[0] == 0
    assert run_main(capsys, "run", "--no-progress", "--seed", "3")[0] == 0
    assert generated == [(Path("data/raw/demo"), "generic", 0)]  # once, and the same shop for any --seed
    assert seen == [("data/raw/demo", "demo"), ("data/raw/demo", "demo")]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "demo"),
        ("../shared/samples/online_retail_II_sample.csv", "online_retail_II_sample"),
        ("/data/olist/", "olist"),
        ("sales 2024 (June).parquet", "sales_2024_June"),
    ],
)
def test_default_run_name(data, expected):
    assert cli.default_run_name(data) == expected
    report.check_run_name(cli.default_run_name(data))


def test_demo_data_passes_its_options(capsys, tmp_path, monkeypatch):
    import segkit.datasets as datasets

    calls = {}
    monkeypatch.setattr(datasets, "make_demo_shop", lambda **kw: calls.setdefault("make", kw) and "shop")
    monkeypatch.setattr(
        datasets,
        "write_demo_shop",
        lambda shop, folder, layout: calls.setdefault("write", (shop, folder, layout)),
        raising=False,
    )
    code, out, _ = run_main(
        capsys,
        "demo-data",
        "--out",
        str(tmp_path / "d"),
        "--layout",
        "olist",
        "--n-customers",
        "300",
        "--seed",
        "4",
    )
    assert code == 0
    assert calls["make"] == {"seed": 4, "n_customers": 300}
    assert calls["write"] == ("shop", tmp_path / "d", "olist")
    assert "demo shop written to" in out


def test_score_writes_the_scored_customers(capsys, tmp_path, monkeypatch):
    import segkit.clustering as clustering
    import segkit.io as io
    import segkit.model as model

    (tmp_path / "model.skops").write_bytes(b"model")
    (tmp_path / "new.csv").write_text("x\n")
    scored = pd.DataFrame({"customer_id": ["A", "B"], "segment_id": [1, 0], "segment_name": ["Low", "High"]})
    monkeypatch.setattr(model, "load_model", lambda path: ("model", Path(path).name))
    monkeypatch.setattr(io, "read_dataset", lambda source, layout, columns, **_: ("dataset", layout, columns))
    received = []
    monkeypatch.setattr(clustering, "score_dataset", lambda m, d: received.append((m, d)) or scored)
    code, out, _ = run_main(
        capsys,
        "score",
        "--model",
        str(tmp_path / "model.skops"),
        "--data",
        str(tmp_path / "new.csv"),
        "--layout",
        "generic",
        "--columns",
        "customer_id=Client",
        "--out",
        str(tmp_path / "out" / "segments.csv"),
    )
    assert code == 0
    assert received == [(("model", "model.skops"), ("dataset", "generic", {"customer_id": "Client"}))]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out" / "segments.csv"), scored, check_dtype=False)
    assert "2 customers scored" in out


def test_score_reports_a_segkit_error_from_the_model_layer(capsys, tmp_path, monkeypatch):
    import segkit.model as model
    from segkit.schema import ModelError

    (tmp_path / "model.skops").write_bytes(b"truncated")

    def refuse(path):
        raise ModelError(f"{path}: not a segkit model file (truncated?)")

    monkeypatch.setattr(model, "load_model", refuse)
    code, _, err = run_main(
        capsys, "score", "--model", str(tmp_path / "model.skops"), "--data", ".", "--out", "x.csv"
    )
    assert code == 2
    assert "not a segkit model file" in err and "Traceback" not in err


def test_the_segkit_command_exits_2_without_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, "-m", "segkit.cli", "run", "--data", "missing.csv"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "segkit: error: data source not found: missing.csv" in completed.stderr
    assert "Traceback" not in completed.stderr
