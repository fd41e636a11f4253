"""The run's pages in a real browser (headless Chromium via playwright): audit, screenshots, timing.

What a stakeholder sees is what the browser draws, so the checks run there:

* :func:`audit_page` lists what a reader should never meet on a page at a given width: visible code
  inputs, raw Python dicts, paths of this machine or of a staging folder, ``NaN``/``NaT``/``None``
  tokens, numbers with five or more decimals, traceback or warning text, horizontal overflow of the
  page, overlapping text boxes in a chart (titles, axis titles, annotations, legend entries), text
  cut at a chart's edge, and plots squeezed by their legend.
* :func:`screenshot_run` writes ``reports/<run>/screenshots/<page>-<width>.png`` for every page at
  phone (390 px) and desktop (1366 px) width (``segkit run --screenshots``, ``make report SCREENSHOTS=1``).
* :func:`time_to_interactive` measures how long a page takes until every chart is drawn.

Needs the ``playwright`` Python package and a Chromium (Debian's ``/usr/bin/chromium``, or
``$SEGKIT_CHROMIUM``); :class:`BrowserError` says which is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segkit.schema import SegkitError

#: Widths every page is checked and photographed at: a phone and a laptop.
WIDTHS: tuple[int, ...] = (390, 1366)
#: Viewport height used with each width.
HEIGHTS: dict[int, int] = {390: 844, 1366: 768}
#: Folder of the screenshots inside ``reports/<run>/``.
SCREENSHOT_FOLDER = "screenshots"
#: Arguments of headless Chromium (no sandbox in containers; no background network).
CHROMIUM_ARGS: list[str] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Text patterns a stakeholder page must not contain, by finding name.
TEXT_PATTERNS: dict[str, re.Pattern[str]] = {
    "raw dict": re.compile(r"\{\s*['\"][^'\"\n]{1,60}['\"]\s*:\s*"),
    "machine path": re.compile(
        r"(?<![\w.])(?:/(?:work|home|tmp|root|usr|var|opt|mnt|Users|private)/[\w.-]+|[A-Za-z]:\\[\w.-]+)"
    ),
    "staging folder": re.compile(r"\.partial\b"),
    "NaN/NaT/None": re.compile(r"\b(?:NaN|NaT|None|nan|<NA>)\b"),
    "5+ decimals": re.compile(r"\d\.\d{5,}"),
    "traceback or warning": re.compile(r"Traceback \(most recent call last\)|\b\w*Warning:|\bException:"),
    "DataFrame repr": re.compile(r"\d+ rows\s*[x×]\s*\d+ columns"),
}

# Visible code inputs of nbconvert's lab template.
_CODE_SELECTOR = (
    ".jp-CodeCell .jp-InputArea, .jp-CodeCell .jp-InputPrompt, .jp-CodeMirrorEditor, .highlight pre"
)

# Plotly text boxes that must not overlap, per chart; and the plot areas (for squeezed plots).
_CHART_JS = r"""
() => {
  const visible = el => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0';
  };
  const seen = new Set();
  const boxes = (root, selector, kind) => [...root.querySelectorAll(selector)]
    .filter(el => { if (seen.has(el)) return false; seen.add(el); return visible(el) && (el.textContent || '').trim(); })
    .map(el => { const r = el.getBoundingClientRect();
                 return {kind, text: el.textContent.trim().slice(0, 60), x: r.left, y: r.top, w: r.width, h: r.height}; });
  const charts = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, index) => {
    const r = plot.getBoundingClientRect();
    const texts = [
      ...boxes(plot, '.gtitle', 'title'),
      ...boxes(plot, 'text[class$="title"]:not(.gtitle):not(.legendtitletext)', 'axis title'),
      ...boxes(plot, '.annotation-text-g text, .annotation text', 'annotation'),
      ...boxes(plot, '.legendtext', 'legend entry'),
      ...boxes(plot, '.legendtitletext', 'legend title'),
      ...boxes(plot, '.sankey .node-label', 'sankey label'),
    ];
    const areas = [...plot.querySelectorAll('.nsewdrag, .gl-container, .sankey')].filter(visible)
      .map(el => el.getBoundingClientRect()).map(a => ({x: a.left, y: a.top, w: a.width, h: a.height}));
    const title = plot.querySelector('.gtitle');
    charts.push({index, title: title ? title.textContent.trim().slice(0, 80) : '',
                 box: {x: r.left, y: r.top, w: r.width, h: r.height}, texts, areas});
  });
  return charts;
}
"""


class BrowserError(SegkitError):
    """Chromium or the playwright package is missing (the message says which and how to install it)."""


def chromium_path() -> str | None:
    """Path of a Chromium executable: ``$SEGKIT_CHROMIUM``, ``/usr/bin/chromium``, or chromium on the PATH."""
    for candidate in (os.environ.get("SEGKIT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (playwright ``Browser``), closed on exit.

    Raises
    ------
    BrowserError
        When Chromium or playwright is not installed.
    """
    executable = chromium_path()
    if executable is None:
        raise BrowserError(
            "Chromium not found: install it (apt-get install -y chromium) or set $SEGKIT_CHROMIUM"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserError(
            "the playwright Python package is not installed (pip install playwright)"
        ) from None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def run_pages(reports: str | os.PathLike[str]) -> list[Path]:
    """The HTML pages of a run folder: ``index.html`` first, then the reports in name order."""
    folder = Path(reports)
    pages = sorted(p for p in folder.glob("*.html") if p.name != "index.html")
    index = folder / "index.html"
    return ([index] if index.is_file() else []) + pages


@dataclass
class PageAudit:
    """What :func:`audit_page` found on one page at one width (empty lists: nothing found)."""

    page: str
    width: int
    seconds_to_interactive: float
    findings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.findings.values())

    def report(self) -> str:
        """One line per kind of finding (with up to three examples), or ``ok``."""
        head = f"{self.page} @ {self.width}px ({self.seconds_to_interactive:.1f} s to interactive):"
        if self.ok:
            return f"{head} ok"
        lines = [head]
        for kind, items in self.findings.items():
            if items:
                examples = "; ".join(items[:3])
                lines.append(f"  {kind}: {len(items)} ({examples})")
        return "\n".join(lines)


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    width = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(width, 0.0) * max(height, 0.0)


def chart_findings(charts: Sequence[dict[str, Any]], tolerance: float = 0.15) -> dict[str, list[str]]:
    """Overlapping text boxes, text cut at the chart's edge and squeezed plots, from the boxes the page
    reported (see ``_CHART_JS``).

    Two boxes overlap when their intersection exceeds ``tolerance`` of the smaller one's area.
    """
    overlaps, cut, squeezed = [], [], []
    for chart in charts:
        name = chart["title"] or f"chart {chart['index'] + 1}"
        texts = chart["texts"]
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                smaller = min(a["w"] * a["h"], b["w"] * b["h"])
                if smaller > 0 and _overlap(a, b) > tolerance * smaller:
                    overlaps.append(f"{name}: {a['kind']} '{a['text']}' x {b['kind']} '{b['text']}'")
            box = chart["box"]
            if a["x"] < box["x"] - 2 or a["x"] + a["w"] > box["x"] + box["w"] + 2:
                cut.append(f"{name}: {a['kind']} '{a['text']}'")
        areas = chart["areas"]
        if areas and chart["box"]["w"] > 0:  # the plot areas together, against the whole chart
            width = max(a["x"] + a["w"] for a in areas) - min(a["x"] for a in areas)
            height = max(a["y"] + a["h"] for a in areas) - min(a["y"] for a in areas)
            if width < 0.5 * chart["box"]["w"] or height < 0.3 * chart["box"]["h"]:
                squeezed.append(f"{name}: plot area {width:.0f}x{height:.0f} px")
    return {"overlapping chart text": overlaps, "text cut at chart edge": cut, "squeezed plot": squeezed}


def text_findings(text: str) -> dict[str, list[str]]:
    """Matches of :data:`TEXT_PATTERNS` in a page's visible text, each with a little context."""
    found: dict[str, list[str]] = {}
    for kind, pattern in TEXT_PATTERNS.items():
        found[kind] = [
            text[max(0, m.start() - 25) : m.end() + 25].replace("\n", " ") for m in pattern.finditer(text)
        ]
    return found


def _wait_for_charts(page: Any, timeout_ms: int) -> None:
    page.wait_for_function(
        "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
        timeout=timeout_ms,
    )


def open_page(browser: Any, path: Path, width: int, timeout_ms: int = 120_000) -> tuple[Any, float]:
    """Open ``path`` at ``width`` px and wait until every chart is drawn; return the page (its context
    closes with ``page.context.close()``) and the seconds to interactive: from navigation until the page
    has loaded and every chart of the first screen is drawn (charts further down are drawn while the
    browser is idle, see ``templates/responsive.js``)."""
    context = browser.new_context(viewport={"width": width, "height": HEIGHTS.get(width, 900)})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    page.wait_for_function(
        "[...document.querySelectorAll('.plotly-graph-div')]"
        ".filter(d => d.getBoundingClientRect().top < window.innerHeight)"
        ".every(d => d.querySelector('.main-svg'))",
        timeout=timeout_ms,
    )
    interactive = time.perf_counter() - started
    _wait_for_charts(page, timeout_ms)
    return page, interactive


def audit_page(browser: Any, path: Path, width: int) -> PageAudit:
    """Open one page at one width and list what a stakeholder should not see (see the module doc)."""
    page, seconds = open_page(browser, path, width)
    try:
        page.evaluate("() => window.dispatchEvent(new Event('resize'))")
        page.wait_for_timeout(900)
        findings = text_findings(page.evaluate("() => document.body.innerText"))
        code = page.evaluate(
            "s => [...document.querySelectorAll(s)].filter(e => e.getBoundingClientRect().height > 0)"
            ".map(e => (e.innerText || '').trim().slice(0, 60))",
            _CODE_SELECTOR,
        )
        findings["visible code"] = [c or "(empty input)" for c in code]
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        findings["horizontal overflow"] = [f"{overflow}px wider than the window"] if overflow > 1 else []
        findings.update(chart_findings(page.evaluate(_CHART_JS)))
    finally:
        page.context.close()
    return PageAudit(path.name, width, seconds, findings)


def audit_run(reports: str | os.PathLike[str], widths: Sequence[int] = WIDTHS) -> list[PageAudit]:
    """:func:`audit_page` for every page of a run folder at every width."""
    with chromium() as browser:
        return [audit_page(browser, page, width) for page in run_pages(reports) for width in widths]


def screenshot_run(reports: str | os.PathLike[str], widths: Sequence[int] = WIDTHS) -> list[Path]:
    """Write a full-page PNG of every page at every width into ``reports/screenshots/``.

    Returns the files written, named ``<page>-<width>.png`` (e.g. ``01_eda-390.png``).
    """
    folder = Path(reports) / SCREENSHOT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with chromium() as browser:
        for path in run_pages(reports):
            for width in widths:
                page, _ = open_page(browser, path, width)
                try:
                    target = folder / f"{path.stem}-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                finally:
                    page.context.close()
    return written


def time_to_interactive(reports: str | os.PathLike[str], widths: Sequence[int] = WIDTHS) -> dict[str, float]:
    """Seconds from navigation until every chart is drawn, per ``<page>@<width>``."""
    seconds = {}
    with chromium() as browser:
        for path in run_pages(reports):
            for width in widths:
                page, elapsed = open_page(browser, path, width)
                page.context.close()
                seconds[f"{path.name}@{width}"] = elapsed
    return seconds
