"""Run the numbered notebooks with papermill into ``reports/<run>`` and ``data/processed/<run>``.

The runner checks the input (:func:`preflight`) and the parameters before any kernel starts, executes
the notebooks in staging folders, exports them to HTML once all have run (so that every report opens
with the run's executive summary), writes the run record and the index page, and moves the run into
place. papermill and nbconvert are imported only when a notebook is executed or exported.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from segkit.report.export import MAX_REPORT_BYTES, export_html, redactions
from segkit.report.index import build_index
from segkit.report.notebooks import (
    NOTEBOOKS,
    _check_read_parameters,
    _columns_json,
    _resolve_data,
    check_extra_parameters,
    check_run_name,
    check_runner_owned,
    find_notebooks_dir,
    notebook_inputs,
    notebook_parameters,
    select_notebooks,
)
from segkit.report.record import (
    _previous_seconds,
    _summary_html,
    _summary_row_counts,
    count_output_rows,
    describe_inputs,
    package_versions,
    read_summaries,
)
from segkit.report.schedule import execute_in_order, parallel_notebooks
from segkit.report.staging import _check_distinct_roots, _Staging, run_lock
from segkit.schema import ParameterError, SegkitError

#: Arguments of the kernel: its own start-up warnings (e.g. about local TCP transport) are not the user's concern.
KERNEL_ARGUMENTS: list[str] = ["--IPKernelApp.log_level=ERROR"]


class RunError(SegkitError):
    """A notebook of a run failed; the message names the notebook, the cell and the error.

    Attributes
    ----------
    notebook
        Stem of the notebook that failed, e.g. ``"02_customer_files"``.
    ename, evalue
        The exception's class name and message, as the kernel reported them.
    executed_path
        The executed (partial) notebook kept for debugging.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        ename: str = "",
        evalue: str = "",
        executed_path: Path | None = None,
    ) -> None:
        self.notebook = notebook
        self.ename = ename
        self.evalue = evalue
        self.executed_path = executed_path
        super().__init__(message)


@dataclass
class RunResult:
    """What a run produced.

    Attributes
    ----------
    run
        The run name.
    processed
        ``data/processed/<run>``.
    reports
        ``reports/<run>``.
    seconds
        Per notebook: ``{"execute": s, "export": s}`` in seconds.
    html
        The HTML report of each notebook run, by notebook stem.
    """

    run: str
    processed: Path
    reports: Path
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)
    html: dict[str, Path] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        """The run's ``index.html``."""
        return self.reports / "index.html"

    def timing_table(self) -> str:
        """A plain-text table of seconds per notebook (execution, HTML export, total)."""
        return format_timing_table(self.seconds)


def format_timing_table(seconds: Mapping[str, Mapping[str, float]]) -> str:
    """Format ``{notebook: {"execute": s, "export": s}}`` as an aligned text table with a total row."""
    width = max([len("notebook"), *map(len, seconds)]) + 2
    lines = [f"{'notebook':<{width}}{'execute s':>10}{'export s':>10}{'total s':>10}"]
    totals = [0.0, 0.0]
    for stem, entry in seconds.items():
        execute, export = float(entry.get("execute", 0.0)), float(entry.get("export", 0.0))
        totals[0] += execute
        totals[1] += export
        lines.append(f"{stem:<{width}}{execute:>10.1f}{export:>10.1f}{execute + export:>10.1f}")
    lines.append(f"{'total':<{width}}{totals[0]:>10.1f}{totals[1]:>10.1f}{sum(totals):>10.1f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running
def _cell_label(error: Any) -> str:
    """``cell In [5] (first line of its source)`` for a PapermillExecutionError.

    The prompt number is the one shown in the executed notebook kept for debugging.
    """
    first_line = next((line for line in str(error.source).splitlines() if line.strip()), "").strip()
    if len(first_line) > 80:
        first_line = first_line[:77] + "..."
    prompt = f"In [{error.exec_count}]" if error.exec_count is not None else f"#{error.cell_index + 1}"
    return f"cell {prompt} ({first_line})"


def _execute(
    source: Path,
    executed: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path,
    kernel_name: str,
    progress: bool,
) -> None:
    """Execute one notebook with papermill; translate a failure into :class:`RunError`."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    bar: bool | dict[str, Any] = {"desc": source.stem, "position": 1, "leave": False} if progress else False
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            cwd=str(cwd),
            progress_bar=bar,
            log_output=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except PapermillExecutionError as error:
        evalue = str(error.evalue).strip()
        raise RunError(
            f"notebook {source.name} failed at {_cell_label(error)}: {error.ename}: {evalue}"
            f" (executed notebook kept at {executed})",
            notebook=source.stem,
            ename=error.ename,
            evalue=evalue,
            executed_path=executed,
        ) from None


def run_notebooks(
    data: str | os.PathLike[str] = "demo",
    *,
    layout: str = "auto",
    columns: str | Mapping[str, str] | None = None,
    run: str = "demo",
    processed_dir: str | os.PathLike[str] = "data/processed",
    reports_dir: str | os.PathLike[str] = "reports",
    seed: int = 0,
    sample_customers: int = 0,
    date_format: str = "",
    sep: str = "",
    header: bool = True,
    sheet: str = "",
    parameters: Mapping[str, Any] | None = None,
    notebooks: str | Iterable[str] | None = None,
    notebooks_dir: str | os.PathLike[str] | None = None,
    keep_code: bool = False,
    validated: bool = False,
    kernel_name: str = "python3",
    progress: bool = True,
    log: TextIO | None = None,
    parallel: int | None = None,
) -> RunResult:
    """Run the notebooks headlessly into ``reports/<run>`` and ``data/processed/<run>``, atomically.

    Parameters
    ----------
    data
        Data source: a file, a folder, or ``"demo"``; relative paths resolve against the current
        directory (notebooks receive absolute paths).
    layout
        ``auto``, ``generic``, ``online_retail`` or ``olist``.
    columns
        Column mapping canonical -> source name, as a dict or a JSON string.
    run
        Run name (folder name of the outputs).
    processed_dir, reports_dir
        Parents of the run's output folders.
    seed
        Seed of every random choice in the notebooks.
    sample_customers
        Use a seeded sample of this many customers (0 = all).
    date_format, sep, header, sheet
        Reader options (see :func:`segkit.read_dataset`): dates' strftime format, text delimiter
        (``"whitespace"``...), False for a file without a header line, XLSX sheet; ``""`` = default.
    parameters
        Extra notebook parameters (``-p key=value``). Each notebook receives the ones its
        ``parameters`` cell defines; a name that no selected notebook defines raises
        :class:`~segkit.schema.ParameterError` (a typo is never silently ignored).
    notebooks
        Which notebooks to run (``"01,03"``); default all. A partial rerun starts from a copy of the
        last good run, so later notebooks find what earlier ones wrote.
    notebooks_dir
        Folder holding the notebooks (default: see :func:`find_notebooks_dir`).
    keep_code
        Show code in the HTML reports.
    kernel_name
        Jupyter kernel to execute with.
    progress
        Show a progress bar per notebook and per cell (tqdm).
    log
        Where to print progress messages (default ``sys.stderr``).
    parallel
        Notebooks executed at the same time when they do not read each other's outputs (default
        :data:`~segkit.report.schedule.RUN_PARALLEL`, or ``SEGKIT_RUN_PARALLEL``; 1 runs them one after the other). The
        outputs do not depend on it.
    validated
        True when the caller already ran :func:`preflight` with these options (``segkit run`` does,
        before importing the runner's heavy dependencies); the input is then not read twice.

    Returns
    -------
    RunResult

    Before any notebook starts, the input is read, mapped, date-parsed and cleaned once
    (:func:`preflight`): a bad file fails in seconds with the error a Python user gets. A run holds
    a lock (``<processed_dir>/.<run>.lock``): a second run of the same name stops at once.

    Raises
    ------
    RunError
        A notebook failed: names the notebook, the cell and the error; the partial folders are kept.
    ParameterError
        Bad run name, notebook selection or data path; ``-p`` for a parameter the runner owns; the
        same folder for processed and reports; a run of the same name already in progress.
    SegkitError
        The input cannot be read, mapped or cleaned to at least two customers.
    """
    log = log if log is not None else sys.stderr
    run = check_run_name(run)
    stems = select_notebooks(notebooks)
    check_runner_owned(parameters or {})
    _check_distinct_roots(processed_dir, reports_dir)
    data_value = _resolve_data(data)
    columns_json = _columns_json(columns)
    folder = find_notebooks_dir(notebooks_dir)
    missing = [f"{stem}.ipynb" for stem in stems if not (folder / f"{stem}.ipynb").is_file()]
    if missing:
        raise ParameterError(f"notebook(s) missing from {folder}", column="notebooks", examples=missing)
    defined = {stem: notebook_parameters(folder / f"{stem}.ipynb") for stem in stems}
    check_extra_parameters(parameters or {}, defined)
    read_options = {
        "date_format": date_format or "",
        "sep": sep or "",
        "header": bool(header),
        "sheet": sheet or "",
    }
    _check_read_parameters(read_options, defined)
    if not validated:
        preflight(
            data_value,
            layout=layout,
            columns=columns_json,
            seed=seed,
            sample_customers=sample_customers,
            **read_options,
        )
    with run_lock(processed_dir, run):
        return _run_locked(
            run=run,
            stems=stems,
            folder=folder,
            defined=defined,
            processed_dir=processed_dir,
            reports_dir=reports_dir,
            data_value=data_value,
            common={
                "data": data_value,
                "layout": layout,
                "columns": columns_json,
                "run": run,
                "seed": int(seed),
                "sample_customers": int(sample_customers),
                **read_options,
                **dict(parameters or {}),
            },
            kernel_name=kernel_name,
            keep_code=keep_code,
            progress=progress,
            log=log,
            parallel=parallel,
        )


def preflight(data: str, **options: Any) -> None:
    """Check the input as the notebooks will read it: :func:`segkit.inputs.check_run_inputs`.

    Options: ``layout``, ``columns``, ``seed``, ``sample_customers``, ``date_format``, ``sep``,
    ``header``, ``sheet``; at least :data:`segkit.inputs.MIN_RUN_CUSTOMERS` customers on two days are required.
    """
    from segkit.inputs import check_run_inputs

    check_run_inputs(data, **options)


def _run_locked(
    *,
    run: str,
    stems: list[str],
    folder: Path,
    defined: Mapping[str, Sequence[str]],
    processed_dir: str | os.PathLike[str],
    reports_dir: str | os.PathLike[str],
    data_value: str,
    common: Mapping[str, Any],
    kernel_name: str,
    keep_code: bool,
    progress: bool,
    log: TextIO,
    parallel: int | None = None,
) -> RunResult:
    """The body of :func:`run_notebooks`, run while holding the run's lock."""
    staging = _Staging.prepare(processed_dir, reports_dir, run, partial_rerun=set(stems) != set(NOTEBOOKS))
    engine = str(common.get("engine") or "pandas")
    shared = tempfile.TemporaryDirectory(prefix="segkit-engine-result-") if engine != "pandas" else None
    run_parameters = {
        **common,
        "processed_dir": str(staging.processed.parent),
        "reports_dir": str(staging.reports.parent),
        # on a SQL engine, 01 keeps the engine's result there for 02 (segkit.engines.stored)
        **({"engine_result_dir": shared.name} if shared is not None else {}),
    }
    recorded_parameters = {
        **{key: value for key, value in run_parameters.items() if key != "engine_result_dir"},
        "processed_dir": str(staging.final_processed.parent),
        "reports_dir": str(staging.final_reports.parent),
    }
    seconds = _previous_seconds(staging.processed / "run.json") if len(stems) < len(NOTEBOOKS) else {}
    result = RunResult(run=run, processed=staging.final_processed, reports=staging.final_reports)
    jobs = parallel_notebooks(parallel)

    def execute(stem: str) -> dict[str, float]:
        return _run_one(
            folder / f"{stem}.ipynb",
            staging.reports,
            {key: value for key, value in run_parameters.items() if key in defined[stem]},
            kernel_name=kernel_name,
            progress=progress and jobs == 1,  # one bar of cells at a time
        )

    bar = _notebook_bar(stems, progress)
    try:
        with _kernel_imports_this_segkit():
            reads = notebook_inputs(engine)
            seconds.update(execute_in_order(stems, execute, parallel=jobs, bar=bar, reads=reads))
    finally:
        if bar is not None:
            bar.close()
        if shared is not None:
            shared.cleanup()
    # exported once every notebook ran, so that each report opens with the run's executive summary
    summary_html = _summary_html(staging.processed)
    redact = redactions(
        {
            staging.processed: run,
            staging.reports: run,
            staging.processed.parent: "",
            staging.reports.parent: "",
            staging.final_processed: run,
            staging.final_reports: run,
            folder: "notebooks",
            **({data_value: Path(data_value).name} if data_value != "demo" else {}),
        }
    )
    for stem in stems:
        seconds[stem]["export"] = _export_one(
            staging.reports / "executed" / f"{stem}.ipynb",
            staging.reports / f"{stem}.html",
            keep_code=keep_code,
            nav=f"run {run}",
            summary_html=summary_html,
            redact=redact,
            log=log,
        )
        result.html[stem] = staging.final_reports / f"{stem}.html"

    result.seconds = {stem: seconds[stem] for stem in NOTEBOOKS if stem in seconds}
    _write_run_record(
        staging,
        run=run,
        stems=stems,
        parameters=recorded_parameters,
        data=data_value,
        seconds=result.seconds,
        extra={"notebooks_dir": str(folder), "keep_code": keep_code},
    )
    staging.commit()
    return result


def _run_one(
    source: Path,
    reports: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str,
    progress: bool,
) -> dict[str, float]:
    """Execute one notebook into ``reports/executed/``; return ``{"execute": seconds}``."""
    executed = reports / "executed" / source.name
    started = time.perf_counter()
    with _kernel_imports_this_segkit():
        _execute(source, executed, parameters, cwd=source.parent, kernel_name=kernel_name, progress=progress)
    return {"execute": round(time.perf_counter() - started, 2)}


def _export_one(executed: Path, html_path: Path, *, log: TextIO, **options: Any) -> float:
    """Export one executed notebook to HTML (see :func:`export_html`); return the seconds it took."""
    started = time.perf_counter()
    export_html(executed, html_path, **options)
    size = html_path.stat().st_size
    if size > MAX_REPORT_BYTES:
        print(f"warning: {html_path.name} is {size / 2**20:.1f} MB, above the 10 MB target", file=log)
    return round(time.perf_counter() - started, 2)


def _write_run_record(
    staging: _Staging,
    *,
    run: str,
    stems: Sequence[str],
    parameters: Mapping[str, Any],
    data: str,
    seconds: Mapping[str, Mapping[str, float]],
    extra: Mapping[str, Any],
) -> None:
    """Write ``run.json`` into the staged processed folder and ``index.html`` into the staged reports."""
    from segkit import __version__
    from segkit.io import write_json_atomic

    run_date = datetime.now(UTC)
    record = {
        "run": run,
        "run_date": run_date.isoformat(timespec="seconds"),
        "segkit_version": __version__,
        "notebooks": list(stems),
        "parameters": dict(parameters),
        "inputs": describe_inputs(data),
        "rows": {
            **_summary_row_counts(read_summaries(staging.processed)),
            **count_output_rows(staging.processed),
        },
        "packages": {**package_versions(), "segkit": __version__},
        "seconds": dict(seconds),
        **extra,
    }
    write_json_atomic(record, staging.processed / "run.json")
    build_index(
        staging.processed,
        staging.reports,
        run=run,
        parameters=parameters,
        seconds=seconds,
        run_date=run_date.strftime("%Y-%m-%d %H:%M UTC"),
    )


@contextmanager
def _kernel_imports_this_segkit() -> Iterator[None]:
    """Put the folder holding this ``segkit`` first on the kernel's ``PYTHONPATH`` while it starts.

    The notebooks then import the same segkit as the runner, also from a checkout that is not
    installed (or whose editable install is stale).
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([package_parent, *([previous] if previous else [])])
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous


def _notebook_bar(stems: Sequence[str], progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(stems), unit="notebook", desc="segkit run", position=0)
