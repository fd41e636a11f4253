"""Export an executed notebook to a stakeholder HTML report: inputs hidden, streams and plain reprs
dropped, machine paths redacted, data text in displayed Markdown escaped, plotly drawn offline.

nbconvert (about 3 s of imports) is imported here only inside :func:`export_html`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Largest HTML report segkit accepts without a warning, in bytes.
MAX_REPORT_BYTES = 10 * 1024 * 1024
#: segkit's nbconvert and index templates.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


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

    from segkit.report.plotly_offline import PlotlyOfflinePreprocessor

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
