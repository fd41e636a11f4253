"""Plotly figures of an executed notebook made to draw offline in nbconvert's HTML.

Imported only by :func:`segkit.report.export.export_html` (it subclasses nbconvert's ``Preprocessor``),
so that the runner and the CLI do not import nbconvert before the first report is exported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nbconvert.preprocessors import Preprocessor


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
