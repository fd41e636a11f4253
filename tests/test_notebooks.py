"""The five notebooks run headlessly on a small demo shop and pass ``pytest --nbval-lax``.

papermill injects the small parameters (data = a 1,500-customer demo shop written once per session,
outputs in a temporary folder) into copies of the notebooks without executing them
(``prepare_only``); nbval then executes every cell of the copies, in order, in a child pytest, and
fails on any cell that raises. ``nbval-lax`` does not compare outputs (figures and timings differ
between runs); the outputs themselves are checked by tests/test_e2e.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import papermill
import pytest

from segkit import report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parameterized_notebooks(tmp_path_factory) -> tuple[Path, Path]:
    """Copies of the five notebooks with the small parameters injected; returns (folder, processed_dir)."""
    from test_e2e import FAST_PARAMETERS, notebooks_or_skip, small_shop_folder

    source = notebooks_or_skip()
    base = tmp_path_factory.getbasetemp()
    shop = small_shop_folder(base)
    folder = base / "nbval"
    folder.mkdir(exist_ok=True)
    processed = base / "nbval_processed"
    parameters = {
        "data": str(shop),
        "run": "nbval",
        "processed_dir": str(processed),
        "reports_dir": str(base / "nbval_reports"),
        "seed": 0,
        **FAST_PARAMETERS,
    }
    for stem in report.NOTEBOOKS:
        papermill.execute_notebook(
            str(source / f"{stem}.ipynb"),
            str(folder / f"{stem}.ipynb"),
            parameters=parameters,
            prepare_only=True,
            progress_bar=False,
            kernel_name="python3",
        )
    # a neutral pytest configuration for the child run (not the repository's testpaths/addopts)
    (folder / "pytest.ini").write_text("[pytest]\naddopts =\n")
    return folder, processed


def test_notebooks_pass_nbval_lax(parameterized_notebooks):
    from test_e2e import subprocess_env

    folder, processed = parameterized_notebooks
    notebooks = [str(folder / f"{stem}.ipynb") for stem in report.NOTEBOOKS]
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-kernel-name",
            "python3",
            "-p",
            "no:cacheprovider",
            "-q",
            "-c",
            str(folder / "pytest.ini"),
            "--rootdir",
            str(folder),
            *notebooks,
        ],
        cwd=folder,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert completed.returncode == 0, completed.stdout[-6000:]
    passed = re.search(r"(\d+) passed", completed.stdout)
    assert passed is not None, completed.stdout[-2000:]
    # every code cell ran: nbval makes one test item per code cell
    import nbformat

    n_cells = sum(
        1
        for path in notebooks
        for cell in nbformat.read(path, as_version=4).cells
        if cell.cell_type == "code" and cell.source.strip()
    )
    assert int(passed.group(1)) == n_cells
    # the notebooks wrote their outputs where the injected parameters told them
    run = processed / "nbval"
    for name in (
        "summary_01.json",
        "summary_02.json",
        "summary_03.json",
        "summary_04.json",
        "summary_05.json",
    ):
        assert (run / name).is_file(), name
    assert (run / "customers.parquet").is_file() and (run / "segments.csv").is_file()
    # notebook 05 adds the CLV columns to notebook 03's customer tags
    assert {"segment_id", "expected_purchases", "prob_alive", "clv"} <= set(
        pd.read_csv(run / "segments.csv").columns
    )
