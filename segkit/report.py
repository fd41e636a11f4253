"""Run the numbered notebooks with papermill, export them to offline HTML and write the run's index page.

A *run* (DESIGN "A run") executes ``notebooks/01_eda.ipynb`` ... ``05_clv.ipynb`` in
order, headlessly, with the same parameters, and produces::

    data/processed/<run>/   customers.parquet, segments.csv, model.skops (+ .json), summary_0N.json, run.json
    reports/<run>/          01_eda.html ... 05_clv.html, index.html, executed/*.ipynb

It is atomic: everything is written under ``data/processed/.<run>.partial/`` and
``reports/.<run>.partial/`` and moved into place only when every notebook succeeded. A failed run
raises :class:`RunError` (naming the notebook, the cell and the error) and leaves the partial folders,
with the executed notebooks, for debugging; the last good run is untouched.

HTML reports render offline: papermill keeps what the kernel displayed, and segkit's notebooks use
plotly's ``notebook`` renderer (``text/html`` outputs). :class:`PlotlyOfflinePreprocessor` turns any
plotly JSON output into an HTML ``<div>``, removes every CDN ``<script src=...>`` (plotly adds a
MathJax one per figure) and the copies of plotly.js from the outputs, and embeds plotly.js once in the
page head. The HTML template (``segkit/templates/report.html.j2``) drops what JupyterLab's template
would fetch from the internet (require.js, MathJax, mermaid, the widget manager).

The index page is built from the ``summary_0N.json`` files the notebooks write, never from HTML.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from nbconvert.preprocessors import Preprocessor

from segkit.io import parse_columns
from segkit.schema import ParameterError, SegkitError

#: The notebooks of a run, in execution order (file stems in the notebooks folder).
NOTEBOOKS: tuple[str, ...] = (
    "01_eda",
    "02_customer_files",
    "03_clustering",
    "04_maintenance_simulation",
    "05_clv",
)

#: Parameters every notebook defines (DESIGN "Notebook parameters"), set by the runner itself.
COMMON_PARAMETERS: tuple[str, ...] = (
    "data",
    "layout",
    "columns",
    "run",
    "processed_dir",
    "reports_dir",
    "seed",
    "sample_customers",
)

#: Reader options every notebook defines and passes to ``segkit.load_inputs``; set by the runner.
READ_PARAMETERS: tuple[str, ...] = ("date_format", "sep", "header", "sheet")

#: Parameters the runner owns, with the ``segkit run`` option that sets each (``-p`` for them is refused).
RUNNER_FLAGS: dict[str, str] = {
    "data": "--data",
    "layout": "--layout",
    "columns": "--columns",
    "run": "--name",
    "processed_dir": "--processed-dir",
    "reports_dir": "--reports-dir",
    "seed": "--seed",
    "sample_customers": "--sample-customers",
    "date_format": "--date-format",
    "sep": "--sep",
    "header": "--no-header",
    "sheet": "--sheet",
}


#: Human titles of the notebooks, used on the index page.
NOTEBOOK_TITLES: dict[str, str] = {
    "01_eda": "Exploratory data analysis",
    "02_customer_files": "Customer files and RFM",
    "03_clustering": "Segmentation",
    "04_maintenance_simulation": "Model maintenance simulation",
    "05_clv": "Customer lifetime value",
}

#: Largest HTML report segkit accepts without a warning, in bytes.
MAX_REPORT_BYTES = 10 * 1024 * 1024

#: Packages whose versions run.json records.
RECORDED_PACKAGES: tuple[str, ...] = (
    "segkit",
    "pandas",
    "numpy",
    "scikit-learn",
    "scipy",
    "pyarrow",
    "plotly",
    "matplotlib",
    "yellowbrick",
    "skops",
    "papermill",
    "nbconvert",
    "nbformat",
    "ipykernel",
)

#: Output files of a run, in the processed folder, linked from the index page when present.
OUTPUT_FILES: tuple[tuple[str, str], ...] = (
    ("customers.parquet", "Customer file: one row per customer, every feature"),
    (
        "segments.csv",
        "Segment of every customer (customer_id, segment_id, segment_name, rfm_segment; expected_purchases, prob_alive, clv), for CRM/BI",
    ),
    ("model.skops", "Segmentation model (load with segkit.load_model)"),
    ("model.json", "Model metadata, human-readable"),
    ("run.json", "Run record: parameters, input files with sha256, package versions, timings"),
)

#: Arguments of the kernel: its own start-up warnings (e.g. about local TCP transport) are not the user's concern.
KERNEL_ARGUMENTS: list[str] = ["--IPKernelApp.log_level=ERROR"]

RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TEMPLATES_DIR = Path(__file__).parent / "templates"


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


# --------------------------------------------------------------------------- locating things
def find_notebooks_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding the run's notebooks.

    Parameters
    ----------
    override
        A folder given by the user (``--notebooks-dir``); relative paths resolve against the
        current directory.

    Returns
    -------
    Path
        ``override`` when given, else ``notebooks/`` beside the folder holding the ``segkit``
        package (the repository layout), else ``segkit/notebooks`` (an installed package).

    Raises
    ------
    ParameterError
        When the folder does not exist or holds none of the notebooks.
    """
    if override is not None:
        candidates = [Path(override).expanduser().resolve()]
    else:
        package = Path(__file__).resolve().parent
        candidates = [package.parent / "notebooks", package / "notebooks"]
    for folder in candidates:
        if folder.is_dir() and any((folder / f"{stem}.ipynb").is_file() for stem in NOTEBOOKS):
            return folder
    raise ParameterError(
        f"notebooks folder not found (looked in {', '.join(str(c) for c in candidates)})",
        column="notebooks_dir",
        hint="pass --notebooks-dir pointing at the folder holding 01_eda.ipynb ... 05_clv.ipynb",
    )


def select_notebooks(selection: str | Iterable[str] | None) -> list[str]:
    """Return notebook stems from a selection such as ``"01,03"``, ``["02", "03_clustering"]`` or None (all).

    Raises
    ------
    ParameterError
        Naming the entries that match no notebook.
    """
    if selection is None or selection == "":
        return list(NOTEBOOKS)
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    items = [str(item).strip().removesuffix(".ipynb") for item in items if str(item).strip()]
    chosen: set[str] = set()
    unknown: list[str] = []
    for item in items:
        matches = [stem for stem in NOTEBOOKS if stem == item or stem.split("_", 1)[0] == item.zfill(2)]
        if matches:
            chosen.update(matches)
        else:
            unknown.append(item)
    if unknown or not chosen:
        raise ParameterError(
            "unknown notebook(s) in --notebooks",
            column="notebooks",
            examples=unknown,
            hint=f"choose among {', '.join(s.split('_', 1)[0] for s in NOTEBOOKS)} (e.g. --notebooks 01,02)",
        )
    return [stem for stem in NOTEBOOKS if stem in chosen]


def notebook_parameters(path: str | os.PathLike[str]) -> list[str]:
    """Names defined by a notebook's ``parameters`` cell, in order (papermill's inspection; no kernel)."""
    import papermill

    return list(papermill.inspect_notebook(str(path)))


def check_extra_parameters(extra: Mapping[str, Any], defined: Mapping[str, Sequence[str]]) -> None:
    """Refuse ``-p`` names that no selected notebook defines (a typo would otherwise be ignored).

    Parameters
    ----------
    extra
        The ``-p`` parameters.
    defined
        Parameter names of each selected notebook, by notebook stem.

    Raises
    ------
    ParameterError
        Naming the unknown parameters, with a close match when there is one.
    """
    from difflib import get_close_matches

    known = sorted({name for names in defined.values() for name in names})
    unknown = [name for name in extra if name not in known]
    if not unknown:
        return
    close = {name: get_close_matches(name, known, n=1) for name in unknown}
    hints = [f"{name!r} -> {match[0]!r}?" for name, match in close.items() if match]
    raise ParameterError(
        f"unknown notebook parameter(s) for {', '.join(defined)}",
        column="parameters",
        examples=unknown,
        hint=("did you mean " + ", ".join(hints) + " " if hints else "")
        + f"(known: {', '.join(name for name in known if name not in COMMON_PARAMETERS)})",
    )


def check_runner_owned(parameters: Mapping[str, Any]) -> None:
    """Refuse ``-p`` values for the parameters the runner owns, naming the option to use instead.

    The runner stages ``run``, ``processed_dir`` and ``reports_dir`` and checks ``data`` before any
    notebook starts; a ``-p`` override would write outside the staged folders and record inputs the
    notebooks did not read.
    """
    owned = [name for name in parameters if name in RUNNER_FLAGS]
    if owned:
        raise ParameterError(
            "the runner sets " + ", ".join(map(repr, owned)) + " itself; -p cannot change them",
            column="parameters",
            examples=[f"-p {name}=..." for name in owned],
            hint="use " + ", ".join(f"{RUNNER_FLAGS[name]} instead of -p {name}" for name in owned),
        )


def check_run_name(run: str) -> str:
    """Return ``run`` when it is a safe folder name (letters, digits, ``.``, ``_``, ``-``), else raise."""
    if not isinstance(run, str) or not RUN_NAME_PATTERN.match(run) or run.endswith(".partial"):
        raise ParameterError(
            "run name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            column="run",
            examples=[run],
        )
    return run


def parse_value(text: str) -> Any:
    """Parse a ``-p key=value`` value as papermill's CLI does: bool, None, int, float, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def parse_assignments(pairs: Iterable[str] | None, *, option: str, parse: bool = True) -> dict[str, Any]:
    """Parse ``key=value`` strings (``-p`` or ``--columns``) into a dict.

    Raises
    ------
    ParameterError
        Naming the option and the malformed entries.
    """
    parsed: dict[str, Any] = {}
    bad: list[str] = []
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            bad.append(pair)
            continue
        parsed[key.strip()] = parse_value(value) if parse else value.strip()
    if bad:
        raise ParameterError(f"{option} expects key=value", column=option, examples=bad)
    return parsed


# --------------------------------------------------------------------------- HTML export
class PlotlyOfflinePreprocessor(Preprocessor):
    """Make every plotly figure of a notebook draw offline in nbconvert's HTML.

    * ``application/vnd.plotly.v1+json`` outputs (plotly's default renderer, which nbconvert's
      HTML drops) become ``text/html`` outputs with the figure's ``<div>`` and script;
    * ``<script src="http...">`` tags (plotly's ``notebook`` renderer adds a MathJax CDN one to
      every figure) are removed from HTML outputs, as are copies of plotly.js itself, and outputs
      left empty (the renderer's activation output) are dropped;
    * when the notebook shows at least one figure, ``resources["plotlyjs"]`` holds plotly.js,
      which segkit's template (``templates/report.html.j2``) embeds once in the page head.
    """

    def preprocess(self, nb, resources):
        import plotly.offline

        n_figures = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            kept = []
            for output in cell.get("outputs", []):
                n_figures += _offline_output(output)
                if not _is_empty_html_output(output):
                    kept.append(output)
            cell.outputs = kept
        resources["plotlyjs"] = plotly.offline.get_plotlyjs() if n_figures else ""
        nb.metadata.pop("widgets", None)
        return nb, resources


PLOTLY_MIME = "application/vnd.plotly.v1+json"
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_REMOTE_SRC = re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
_PLOTLY_CONFIG = "window.PlotlyConfig"
_PLOTLY_BANNER = re.compile(r"^\s*/\*\*?\s*\*?\s*plotly\.js v", re.IGNORECASE)


def _strip_scripts(markup: str) -> str:
    """Remove remote ``<script src>`` tags, plotly.js copies and plotly's config script from ``markup``."""

    def replace(match: re.Match[str]) -> str:
        attributes, body = match.group(1), match.group(2)
        if _REMOTE_SRC.search(attributes):
            return ""
        if _PLOTLY_BANNER.match(body) or body.strip().startswith(_PLOTLY_CONFIG):
            return ""
        return match.group(0)

    return _SCRIPT.sub(replace, markup)


def _figure_html(figure_json: Mapping[str, Any]) -> str:
    import plotly.io as pio

    return pio.to_html(
        dict(figure_json),
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        default_width="100%",
        default_height=525,
        validate=False,
    )


def _offline_output(output: Any) -> int:
    """Rewrite one notebook output in place for offline HTML; return 1 when it holds a plotly figure."""
    data = output.get("data")
    if not data:
        return 0
    if PLOTLY_MIME in data:
        data["text/html"] = _deferred(_figure_html(data.pop(PLOTLY_MIME)))
        return 1
    markup = data.get("text/html")
    if not markup:
        return 0
    if isinstance(markup, list):
        markup = "".join(markup)
    has_figure = "Plotly.newPlot" in markup or "plotly-graph-div" in markup
    markup = _strip_scripts(markup) if "<script" in markup.lower() else markup
    data["text/html"] = _deferred(markup)
    return int(has_figure)


def _deferred(markup: str) -> str:
    """Let segkit's template draw the charts below the fold when the browser is idle
    (``templates/responsive.js``); plain ``Plotly.newPlot`` where the template is not there."""
    return markup.replace("Plotly.newPlot(", "(window.segkitPlot || Plotly.newPlot)(")


def _is_empty_html_output(output: Any) -> bool:
    """True for an output left with nothing but whitespace HTML (e.g. plotly's activation output)."""
    data = output.get("data") or {}
    if set(data) - {"text/html", "text/plain"} or "text/html" not in data:
        return False
    markup = data["text/html"]
    return not re.sub(r"<div>\s*</div>", "", markup).strip()


def export_html(
    executed_path: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    *,
    keep_code: bool = False,
    nav: str = "",
    summary_html: str = "",
    redact: Mapping[str, str] | None = None,
) -> Path:
    """Export an executed notebook to a self-contained HTML report that renders offline.

    Parameters
    ----------
    executed_path
        The executed ``.ipynb``.
    html_path
        Where to write the HTML (written atomically).
    keep_code
        Show the code cells; by default they are hidden (with their prompts and stderr output),
        for stakeholders.
    nav
        Text of the navigation bar linking back to ``index.html``; ``""`` for no bar.
    summary_html
        An HTML fragment shown at the top of the report (the run's executive summary, already
        escaped: :func:`segkit.summary.executive_summary_html`).
    redact
        Text to replace in every output and markdown cell, e.g. absolute folders of this machine ->
        their names (see :func:`redactions`). Longest first.

    Returns
    -------
    Path
        ``html_path``.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    notebook = nbformat.read(os.fspath(executed_path), as_version=4)
    if not keep_code:
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.get("outputs", []) if _for_stakeholders(o)]
    if redact:
        _redact_notebook(notebook, redact)
    notebook.metadata["title"] = _notebook_title(notebook, Path(executed_path).stem)
    _escape_markdown_outputs(notebook)

    exporter = HTMLExporter(
        template_name="lab",
        template_file="report.html.j2",
        extra_template_paths=[str(TEMPLATES_DIR)],
        exclude_input=not keep_code,
        exclude_input_prompt=not keep_code,
        exclude_output_prompt=not keep_code,
        embed_images=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags={"remove-cell", "remove_cell"},
            remove_input_tags={"remove-input", "remove_input", "hide-input"},
            remove_all_outputs_tags={"remove-output", "remove_output"},
            enabled=True,
        ),
        enabled=True,
    )
    exporter.register_preprocessor(PlotlyOfflinePreprocessor, enabled=True)
    body, _ = exporter.from_notebook_node(
        notebook, resources={"segkit_nav": nav, "segkit_summary": summary_html}
    )
    from segkit.io import write_text_atomic

    target = Path(html_path)
    write_text_atomic(body, target)
    return target


def _escape_markdown_outputs(notebook: Any) -> None:
    """Render every displayed Markdown output (``display(Markdown(...))``) with raw HTML escaped.

    Those sentences interpolate text from the data (categories, countries, segment names, ids);
    nbconvert would render HTML inside them as live markup. They become ``text/html`` outputs
    rendered by mistune with ``escape=True``: Markdown formatting works, any tag shows as text.
    The notebooks' own Markdown cells are authored, not data, and are left alone.
    """
    import mistune

    render = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if "text/markdown" in data:
                text = data.pop("text/markdown")
                data["text/html"] = render(text if isinstance(text, str) else "".join(text))


def _for_stakeholders(output: Any) -> bool:
    """False for outputs meant for data scientists only: stderr and stdout streams, and results that
    are nothing but a plain-text repr (a dict or DataFrame printed at the end of a cell)."""
    if output.get("output_type") == "stream":
        return False
    if output.get("output_type") == "execute_result":
        data = output.get("data") or {}
        return bool(set(data) - {"text/plain"})
    return True


def redactions(folders: Mapping[str | os.PathLike[str], str]) -> dict[str, str]:
    """Replacement map for :func:`export_html`'s ``redact``: each absolute folder -> its given name.

    Both the path as given and its resolved form are mapped; shorter entries come after longer ones
    so that a folder inside another is replaced first.
    """
    mapping: dict[str, str] = {}
    for folder, name in folders.items():
        for variant in {str(folder), str(Path(folder).expanduser().resolve())}:
            if variant and variant not in (".", "/"):
                mapping.setdefault(variant, name)
    return dict(sorted(mapping.items(), key=lambda item: -len(item[0])))


def _redact_text(text: str, redact: Mapping[str, str]) -> str:
    for old, new in redact.items():
        if old in text:
            text = text.replace(old + "/", (new + "/") if new else "").replace(old, new)
    return text


def _redact_notebook(notebook: Any, redact: Mapping[str, str]) -> None:
    """Replace machine paths in markdown cells and in text outputs, in place."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = _redact_text(cell.source, redact)
            continue
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _redact_text("".join(output["text"]), redact)
            for mime, value in (output.get("data") or {}).items():
                if mime.startswith("text/"):
                    text = "".join(value) if isinstance(value, list) else value
                    if isinstance(text, str):
                        output["data"][mime] = _redact_text(text, redact)


def _notebook_title(notebook: Any, fallback: str) -> str:
    """The first markdown heading of the notebook, else ``fallback``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


# --------------------------------------------------------------------------- run record
def sha256_file(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks of ``chunk_bytes``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def describe_inputs(data: str) -> list[dict[str, Any]]:
    """List the input files of a run with their sizes (bytes) and sha256.

    ``data`` is a file, a folder (every file below it, sorted) or ``"demo"`` (generated in memory:
    no files).
    """
    path = Path(data)
    if data == "demo" or not path.exists():
        return []
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return [
        {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in files
        if not p.name.startswith(".")
    ]


def package_versions(names: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (``"not installed"`` when absent) and of Python."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def count_output_rows(processed: Path) -> dict[str, int]:
    """Row counts of the run's tabular outputs (customers.parquet, segments.csv) that exist."""
    counts: dict[str, int] = {}
    parquet = processed / "customers.parquet"
    if parquet.is_file():
        import pyarrow.parquet as pq

        counts["customers.parquet"] = int(pq.read_metadata(parquet).num_rows)
    segments = processed / "segments.csv"
    if segments.is_file():
        with open(segments, "rb") as handle:
            counts["segments.csv"] = max(sum(1 for _ in handle) - 1, 0)
    return counts


def read_summaries(processed: Path) -> dict[str, dict[str, Any]]:
    """The ``summary_0N.json`` files of a run folder, by notebook number (``"01"`` ...)."""
    summaries: dict[str, dict[str, Any]] = {}
    for path in sorted(processed.glob("summary_*.json")):
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(content, dict):
            summaries[path.stem.removeprefix("summary_")] = content
    return summaries


# --------------------------------------------------------------------------- the index page
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


def _retrain_text(days: Any, period: Any, short: Any = None) -> Any:
    """``"every 90 days"`` from a number of days, else notebook 04's short answer (``retrain_short``,
    e.g. "too short to tell"), else the period as notebook 04 wrote it (or None)."""
    if isinstance(days, int | float) and not isinstance(days, bool) and days > 0:
        return f"every {days:,.0f} days"
    return short if short else period


def _monitored_model(summary_04: Mapping[str, Any]) -> str | None:
    """Which model notebook 04 monitored: k, segment names and the model file's sha256 (or None)."""
    k, names = summary_04.get("model_k"), summary_04.get("model_segment_names")
    if not k or not names:
        return None
    sha = summary_04.get("model_sha256")
    source = (
        f"the saved model (model.skops, sha256 {sha[:12]})"
        if sha
        else "a model searched on the training window"
    )
    return f"Advice for {source}: {k} segments ({', '.join(map(str, names))})."


def key_figures(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The headline figures of a run, read from its summary files by the keys of
    :data:`segkit.summary.SUMMARY_SCHEMA` (None where the notebook did not run).

    Returns a dict with ``customers``, ``revenue``, ``currency``, ``orders``, ``period_start``,
    ``period_end`` (notebook 01; customers from 03 when 01 did not run), ``n_segments`` and
    ``segments`` (03: rows of id, name, customers, share, revenue_share, action) and ``retrain``
    (04, e.g. ``"every 90 days"``), and notebook 03's sentences on the chosen model (``model_choice``)
    and on why the runner-up lost (``runner_up``), both written by :mod:`segkit.narrative`'s sources.
    From 05: ``clv_total``, ``clv_horizon_months``, ``prob_alive_mean`` and, per segment, ``clv_share`` and
    ``prob_alive``.
    """
    eda, clusters, maintenance = (summaries.get(n) or {} for n in ("01", "03", "04"))
    segments = [
        {
            "id": record.get("segment_id"),
            "name": record.get("segment_name", ""),
            "share": record.get("customer_share"),
            "revenue_share": record.get("revenue_share"),
            "customers": record.get("customers"),
            "action": record.get("action", ""),
        }
        for record in clusters.get("segments", [])
    ]
    days = maintenance.get("recommended_retraining_days")
    return {
        "customers": eda.get("customers", clusters.get("customers")),
        "revenue": eda.get("revenue"),
        "currency": eda.get("currency") or clusters.get("currency") or "",
        "orders": eda.get("orders"),
        "period_start": eda.get("period_start"),
        "period_end": eda.get("period_end"),
        "n_segments": clusters.get("k"),
        "segments": segments,
        "retrain": _retrain_text(days, None, maintenance.get("retrain_short")),
        "retrain_model": _monitored_model(maintenance),
        "model_choice": clusters.get("reason"),
        "runner_up": (clusters.get("runner_up") or {}).get("reason"),
        **_clv_figures(summaries.get("05", {}), segments),
    }


def _clv_figures(summary: Mapping[str, Any], segments: list[dict[str, Any]]) -> dict[str, Any]:
    """Notebook 05's headline figures; its per-segment value joined into ``segments`` by id (in place)."""
    by_id = {row.get("segment_id"): row for row in summary.get("segments", []) if isinstance(row, Mapping)}
    for row in segments:
        value = by_id.get(row["id"], {})
        row["clv_share"], row["prob_alive"] = value.get("clv_share"), value.get("prob_alive_mean")
    return {
        "clv_total": summary.get("clv_total"),
        "clv_horizon_months": summary.get("horizon_months"),
        "prob_alive_mean": summary.get("prob_alive_mean"),
    }


def _format_value(value: Any) -> str:
    """Readable text for a summary value: thousands separators, at most 2 decimals, mappings as
    ``key: value`` pairs, lists joined, missing as ``-``."""
    from segkit import formatting as fmt

    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "; ".join(f"{str(k).replace('_', ' ')}: {_format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_format_value(v) for v in value)
    return fmt.number(value)


def _format_share(value: Any) -> str:
    from segkit import formatting as fmt

    if not isinstance(value, int | float) or isinstance(value, bool):
        return "" if value is None else str(value)
    return fmt.percent(value)


def _format_money(value: Any, currency: str = "") -> str:
    from segkit import formatting as fmt

    return fmt.money(value, currency or "", decimals=0)


def _scalar_items(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Key/value pairs of a summary for the index's detail tables (lists of records left out: the
    segments have their own table)."""
    return [
        (str(key).replace("_", " "), _format_value(value))
        for key, value in summary.items()
        if not (isinstance(value, list) and any(isinstance(v, Mapping) for v in value))
        and key not in ("explanation",)
    ]


def render_index(context: Mapping[str, Any]) -> str:
    """Render ``index.html`` from a context (see :func:`build_index`) with ``templates/index.html.j2``."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["value"] = _format_value
    environment.filters["share"] = _format_share
    environment.filters["money"] = _format_money
    return environment.get_template("index.html.j2").render(**context)


def build_index(
    processed: Path,
    reports: Path,
    *,
    run: str,
    parameters: Mapping[str, Any],
    seconds: Mapping[str, Mapping[str, float]],
    run_date: str | None = None,
) -> Path:
    """Write ``reports/index.html`` from the run's summaries and parameters (never from HTML).

    The output files are copied into ``reports/files/`` so that the reports folder is self-contained
    (zip it and every link works elsewhere).

    Parameters
    ----------
    processed, reports
        The run's processed and reports folders (the partial ones during a run).
    run
        Run name.
    parameters
        The notebook parameters of the run.
    seconds
        Seconds per notebook, as in :attr:`RunResult.seconds`.
    run_date
        ISO timestamp of the run (UTC); now by default.
    """
    from segkit import __version__
    from segkit import summary as run_summary

    summaries = run_summary.read_summaries(processed)
    raw_summaries = read_summaries(processed)
    reports_list = [
        {
            "stem": stem,
            "title": NOTEBOOK_TITLES.get(stem, stem),
            "href": f"{stem}.html",
            "exists": (reports / f"{stem}.html").is_file(),
            "seconds": sum(seconds.get(stem, {}).values()) if stem in seconds else None,
            "bytes": (reports / f"{stem}.html").stat().st_size if (reports / f"{stem}.html").is_file() else 0,
        }
        for stem in NOTEBOOKS
    ]
    outputs = copy_outputs(processed, reports / OUTPUT_FOLDER)
    data_source = _source_name(parameters.get("data", ""))
    context = {
        "run": run,
        "parameters": {
            key: data_source if key == "data" else _format_value(value)
            for key, value in parameters.items()
            if key not in MACHINE_PARAMETERS
        },
        "data_source": data_source,
        "figures": key_figures(summaries),
        "executive_summary": run_summary.executive_summary(summaries),
        "summaries": {number: _scalar_items(summary) for number, summary in raw_summaries.items()},
        "summary_titles": {stem.split("_", 1)[0]: NOTEBOOK_TITLES[stem] for stem in NOTEBOOKS},
        "reports": reports_list,
        "outputs": outputs,
        "version": __version__,
        "run_date": run_date or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    from segkit.io import write_text_atomic

    target = reports / "index.html"
    write_text_atomic(render_index(context), target)
    return target


#: Folder of the reports holding copies of the run's output files (so that the folder is self-contained).
OUTPUT_FOLDER = "files"
#: Output files larger than this are listed on the index but not copied into the reports folder (bytes).
MAX_COPIED_BYTES = 200 * 1024 * 1024
#: Parameters that hold folders of this machine: not shown on the index page.
MACHINE_PARAMETERS: tuple[str, ...] = ("processed_dir", "reports_dir")


def _source_name(data: Any) -> str:
    """The data source as shown to readers: ``demo``, or the file or folder name (never a full path)."""
    text = str(data or "")
    return text if text in ("", "demo") else Path(text).name


def copy_outputs(processed: Path, target: Path) -> list[dict[str, Any]]:
    """Copy the run's output files (:data:`OUTPUT_FILES`) into ``target``; describe each for the index.

    Files above :data:`MAX_COPIED_BYTES` are not copied (``href`` None): they stay in the processed
    folder only.
    """
    rows = []
    for name, description in OUTPUT_FILES:
        source = processed / name
        if not source.is_file():
            continue
        size = source.stat().st_size
        href = None
        if size <= MAX_COPIED_BYTES:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
            href = f"{target.name}/{name}"
        rows.append({"name": name, "description": description, "href": href, "bytes": size})
    return rows


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


def _swap_into_place(partial: Path, final: Path) -> None:
    """Replace ``final`` with ``partial`` by renames (the old folder is removed only afterwards)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    previous = final.with_name(f".{final.name}.previous")
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        final.rename(previous)
    try:
        partial.rename(final)
    except OSError:
        if previous.exists() and not final.exists():
            previous.rename(final)
        raise
    if previous.exists():
        shutil.rmtree(previous)


def _prepare_partial(staging: Path, final: Path, *, seed_from_final: bool) -> Path:
    """Create an empty staging folder (``.<run>.partial/<run>``), seeded with ``final`` for a partial rerun."""
    if staging.exists():
        shutil.rmtree(staging)
    target = staging / final.name
    if seed_from_final and final.is_dir():
        shutil.copytree(final, target)
    else:
        target.mkdir(parents=True)
    return target


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
        )


def preflight(data: str, **options: Any) -> None:
    """Check the input as the notebooks will read it: :func:`segkit.inputs.check_run_inputs`.

    Options: ``layout``, ``columns``, ``seed``, ``sample_customers``, ``date_format``, ``sep``,
    ``header``, ``sheet``; at least :data:`segkit.inputs.MIN_RUN_CUSTOMERS` customers on two days are required.
    """
    from segkit.inputs import check_run_inputs

    check_run_inputs(data, **options)


@contextmanager
def run_lock(processed_dir: str | os.PathLike[str], run: str) -> Iterator[Path]:
    """Hold ``<processed_dir>/.<run>.lock`` (an OS file lock, released when the process ends).

    Raises
    ------
    ParameterError
        At once, when another process holds the lock (a run of the same name is in progress).
    """
    import fcntl

    root = Path(processed_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".{run}.lock"
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ParameterError(
                f"run {run!r} is already in progress ({holder}); this run stopped without touching it",
                column="run",
                hint="wait until it finishes, or pass another --name",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        yield path
    finally:
        handle.close()


def _check_distinct_roots(processed_dir: str | os.PathLike[str], reports_dir: str | os.PathLike[str]) -> None:
    processed = Path(processed_dir).expanduser().resolve()
    reports = Path(reports_dir).expanduser().resolve()
    if processed == reports:
        raise ParameterError(
            f"--processed-dir and --reports-dir are the same folder ({processed.name}); a run writes "
            "one folder of its name under each",
            column="reports_dir",
            hint="give them different folders, e.g. --processed-dir data/processed --reports-dir reports",
        )


def _check_read_parameters(read_options: Mapping[str, Any], defined: Mapping[str, Sequence[str]]) -> None:
    """Every notebook that reads the data must take the reader options the run sets."""
    defaults = {"date_format": "", "sep": "", "header": True, "sheet": ""}
    used = [name for name, value in read_options.items() if value != defaults[name]]
    for stem, names in defined.items():
        lacking = [name for name in used if "data" in names and name not in names]
        if lacking:
            raise ParameterError(
                f"notebook {stem} has no parameter(s) {', '.join(lacking)}: it would read the data otherwise",
                column="notebooks",
                hint="add them to its parameters cell and pass them to segkit.load_inputs",
            )


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
) -> RunResult:
    """The body of :func:`run_notebooks`, run while holding the run's lock."""
    staging = _Staging.prepare(processed_dir, reports_dir, run, partial_rerun=set(stems) != set(NOTEBOOKS))
    run_parameters = {
        **common,
        "processed_dir": str(staging.processed.parent),
        "reports_dir": str(staging.reports.parent),
    }
    recorded_parameters = {
        **run_parameters,
        "processed_dir": str(staging.final_processed.parent),
        "reports_dir": str(staging.final_reports.parent),
    }
    seconds = _previous_seconds(staging.processed / "run.json") if len(stems) < len(NOTEBOOKS) else {}
    result = RunResult(run=run, processed=staging.final_processed, reports=staging.final_reports)
    bar = _notebook_bar(stems, progress)
    try:
        for stem in stems:
            if bar is not None:
                bar.set_description(stem)
            seconds[stem] = _run_one(
                folder / f"{stem}.ipynb",
                staging.reports,
                {key: value for key, value in run_parameters.items() if key in defined[stem]},
                kernel_name=kernel_name,
                progress=progress,
            )
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
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


@dataclass
class _Staging:
    """The staging folders of a run (``<parent>/.<run>.partial/<run>``) and their final places."""

    processed: Path
    reports: Path
    final_processed: Path
    final_reports: Path

    @classmethod
    def prepare(
        cls,
        processed_dir: str | os.PathLike[str],
        reports_dir: str | os.PathLike[str],
        run: str,
        *,
        partial_rerun: bool,
    ) -> _Staging:
        """Create empty staging folders; a partial rerun starts from a copy of the last good run."""
        roots = [Path(folder).expanduser().resolve() for folder in (processed_dir, reports_dir)]
        staged = [
            _prepare_partial(root / f".{run}.partial", root / run, seed_from_final=partial_rerun)
            for root in roots
        ]
        (staged[1] / "executed").mkdir(exist_ok=True)
        return cls(staged[0], staged[1], roots[0] / run, roots[1] / run)

    def commit(self) -> None:
        """Move both staging folders into place (replacing the last good run) and remove the staging parents."""
        _swap_into_place(self.processed, self.final_processed)
        _swap_into_place(self.reports, self.final_reports)
        for staged in (self.processed, self.reports):
            shutil.rmtree(staged.parent, ignore_errors=True)


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


def _summary_html(processed: Path) -> str:
    """The executive summary of the run's summary files, as an HTML section (``""`` when empty)."""
    from segkit import summary

    return summary.executive_summary_html(summary.executive_summary(summary.read_summaries(processed)))


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
    package_parent = str(Path(__file__).resolve().parent.parent)
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


def _previous_seconds(run_json: Path) -> dict[str, dict[str, float]]:
    """Seconds per notebook recorded by the last good run (kept for the notebooks a partial rerun skips)."""
    try:
        return dict(json.loads(run_json.read_text(encoding="utf-8")).get("seconds", {}))
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}


def _summary_row_counts(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Integer counts the notebooks reported under row-like keys (rows_*, n_*, *_rows, customers...)."""
    counts: dict[str, int] = {}
    pattern = re.compile(r"^(rows|n)_|_(rows|lines)$|^(customers|orders|transactions|lines)$")
    for number, summary in summaries.items():
        for key, value in summary.items():
            if isinstance(value, int) and not isinstance(value, bool) and pattern.search(key):
                counts[f"summary_{number}.{key}"] = value
    return counts


def _resolve_data(data: str | os.PathLike[str]) -> str:
    """``"demo"`` as is; any other source as an absolute path that must exist."""
    if str(data) == "demo":
        return "demo"
    path = Path(data).expanduser()
    if not path.exists():
        raise ParameterError(f"data source not found: {data}", column="data", examples=[str(data)])
    return str(path.resolve())


def _columns_json(columns: str | Mapping[str, str] | None) -> str:
    """The column mapping as the JSON string the notebooks take (``""`` for none), checked up front
    by :func:`segkit.io.parse_columns` so that a bad mapping fails before any notebook runs."""
    mapping = parse_columns(columns)
    return json.dumps(mapping, ensure_ascii=False) if mapping else ""
