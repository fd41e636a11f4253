"""Run the numbered notebooks with papermill, export them to offline HTML and write the run's index page.

A *run* (DESIGN "A run") executes ``notebooks/01_eda.ipynb`` ... ``05_clv.ipynb`` in
order, headlessly, with the same parameters, and produces::

    data/processed/<run>/   customers.parquet, segments.csv, model.skops (+ .json), summary_0N.json, run.json
    reports/<run>/          01_eda.html ... 05_clv.html, index.html, executed/*.ipynb

It is atomic: everything is written under ``data/processed/.<run>.partial/`` and
``reports/.<run>.partial/`` and moved into place only when every notebook succeeded. A failed run
raises :class:`RunError` (naming the notebook, the cell and the error) and leaves the partial folders,
with the executed notebooks, for debugging; the last good run is untouched.

One job per module, as papermill keeps execute, parameterize and I/O apart:

* :mod:`segkit.report.notebooks`: which notebooks, where, their parameters, the ``-p`` checks;
* :mod:`segkit.report.runner`: :func:`run_notebooks` (preflight, lock, execute, export, record, commit);
* :mod:`segkit.report.staging`: the run's lock, staging folders and the renames into place;
* :mod:`segkit.report.export`: one executed notebook -> stakeholder HTML (nbconvert, imported lazily);
* :mod:`segkit.report.plotly_offline`: plotly figures drawn offline in that HTML;
* :mod:`segkit.report.record`: ``run.json`` and the summary files read back;
* :mod:`segkit.report.index`: the index page (key figures, executive summary, output files).

This package re-exports their public names, so ``from segkit.report import run_notebooks`` keeps
working; importing it loads neither papermill, nbconvert nor jinja2 (``segkit run`` checks its
input first).
"""

from __future__ import annotations

from typing import Any

from segkit.report.export import MAX_REPORT_BYTES, TEMPLATES_DIR, export_html, redactions
from segkit.report.index import (
    MACHINE_PARAMETERS,
    MAX_COPIED_BYTES,
    OUTPUT_FILES,
    OUTPUT_FOLDER,
    build_index,
    copy_outputs,
    key_figures,
    render_index,
)
from segkit.report.index import (
    _format_value as _format_value,
)
from segkit.report.notebooks import (
    COMMON_PARAMETERS,
    NOTEBOOK_INPUTS,
    NOTEBOOK_TITLES,
    NOTEBOOKS,
    READ_PARAMETERS,
    RUN_NAME_PATTERN,
    RUNNER_FLAGS,
    check_extra_parameters,
    check_run_name,
    check_runner_owned,
    find_notebooks_dir,
    notebook_parameters,
    parse_assignments,
    parse_value,
    select_notebooks,
)
from segkit.report.notebooks import (
    _columns_json as _columns_json,
)
from segkit.report.record import (
    RECORDED_PACKAGES,
    count_output_rows,
    describe_inputs,
    package_versions,
    read_summaries,
    sha256_file,
)
from segkit.report.runner import (
    KERNEL_ARGUMENTS,
    RunError,
    RunResult,
    format_timing_table,
    preflight,
    run_notebooks,
)
from segkit.report.runner import (
    _kernel_imports_this_segkit as _kernel_imports_this_segkit,
)
from segkit.report.staging import _swap_into_place as _swap_into_place
from segkit.report.staging import run_lock

__all__ = [
    "COMMON_PARAMETERS",
    "KERNEL_ARGUMENTS",
    "MACHINE_PARAMETERS",
    "MAX_COPIED_BYTES",
    "MAX_REPORT_BYTES",
    "NOTEBOOKS",
    "NOTEBOOK_INPUTS",
    "NOTEBOOK_TITLES",
    "OUTPUT_FILES",
    "OUTPUT_FOLDER",
    "PLOTLY_MIME",
    "PlotlyOfflinePreprocessor",
    "READ_PARAMETERS",
    "RECORDED_PACKAGES",
    "RUNNER_FLAGS",
    "RUN_NAME_PATTERN",
    "RunError",
    "RunResult",
    "TEMPLATES_DIR",
    "build_index",
    "check_extra_parameters",
    "check_run_name",
    "check_runner_owned",
    "copy_outputs",
    "count_output_rows",
    "describe_inputs",
    "export_html",
    "find_notebooks_dir",
    "format_timing_table",
    "key_figures",
    "notebook_parameters",
    "package_versions",
    "parse_assignments",
    "parse_value",
    "preflight",
    "read_summaries",
    "redactions",
    "render_index",
    "run_lock",
    "run_notebooks",
    "select_notebooks",
    "sha256_file",
]

#: Names served from :mod:`segkit.report.plotly_offline` on first use (it imports nbconvert).
_LAZY = ("PlotlyOfflinePreprocessor", "PLOTLY_MIME", "_offline_output", "_is_empty_html_output")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from segkit.report import plotly_offline

        return getattr(plotly_offline, name)
    raise AttributeError(f"module 'segkit.report' has no attribute {name!r}")
