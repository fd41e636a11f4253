"""Real-browser test: every HTML report of the demo run opens in headless Chromium, offline.

Each report must draw every plotly figure (a ``.js-plotly-plot`` with its ``svg.main-svg``), log no
console error and request nothing outside ``file://`` (or inline ``data:``/``blob:`` URLs). The index
page must fit a phone's width. The small demo run is shared with tests/test_e2e.py (once per
session); the repository's ``reports/demo`` (what ``make report`` writes) is checked too when present.

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it with apt-get when missing)
and the ``playwright`` Python package; the test skips, saying which, only when one cannot be found.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from segkit import browser as browser_module
from segkit import report

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = browser_module.CHROMIUM_ARGS
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
chromium_path = browser_module.chromium_path


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium not found (install Debian's chromium package: apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


#: The run ``make report`` writes in the repository (checked too when present).
REPOSITORY_RUN = Path(__file__).resolve().parents[1] / "reports" / "demo"


@pytest.fixture(scope="module", params=["e2e", "make-report"])
def reports(request, tmp_path_factory) -> Path:
    """The reports folder of the session's small demo run, then of ``make report``'s run when present."""
    if request.param == "make-report":
        if not (REPOSITORY_RUN / "index.html").is_file():
            pytest.skip(f"no {REPOSITORY_RUN}/index.html: run `make report` first to check its reports too")
        return REPOSITORY_RUN
    from test_e2e import RUN, demo_run_workspace

    workspace, _ = demo_run_workspace(tmp_path_factory.getbasetemp())
    return workspace / "reports" / RUN


def open_page(browser, path: Path, **context_options):
    """Open ``path``; return (page, console errors, non-local requests). Closes nothing: the caller does."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    errors: list[str] = []
    remote: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on(
        "request",
        lambda request: None if request.url.startswith(LOCAL_SCHEMES) else remote.append(request.url),
    )
    page.goto(path.as_uri(), wait_until="load", timeout=120_000)
    return page, errors, remote


@pytest.mark.parametrize("stem", report.NOTEBOOKS)
def test_report_draws_every_figure_offline(browser, reports, stem):
    path = reports / f"{stem}.html"
    expected = path.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    assert expected > 0, f"{stem}.html has no plotly figure"
    page, errors, remote = open_page(browser, path)
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= n && "
            "[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('svg.main-svg'))",
            arg=expected,
            timeout=60_000,
        )
        drawn = page.evaluate(
            "[...document.querySelectorAll('.plotly-graph-div')].map(d => ["
            "d.classList.contains('js-plotly-plot'), !!d.querySelector('svg.main-svg'), "
            "d.getBoundingClientRect().height])"
        )
        assert len(drawn) == expected
        assert all(is_plot and has_svg and height > 100 for is_plot, has_svg, height in drawn), drawn
        assert errors == [], errors
        assert remote == [], remote
    finally:
        page.context.close()


def test_index_page_fits_a_phone_and_links_to_every_report(browser, reports):
    page, errors, remote = open_page(browser, reports / "index.html", viewport={"width": 390, "height": 844})
    try:
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"index.html is {overflow}px wider than a phone screen"
        links = page.evaluate("[...document.querySelectorAll('#reports a')].map(a => a.getAttribute('href'))")
        assert links == [f"{stem}.html" for stem in report.NOTEBOOKS]
        assert page.locator("#kf-customers").inner_text().strip() not in ("", "n/a")
        assert errors == [] and remote == []
    finally:
        page.context.close()


# --------------------------------------------------------------------------- what a stakeholder sees
@pytest.mark.parametrize("width", browser_module.WIDTHS)
def test_every_page_reads_well_at_phone_and_desktop_width(browser, reports, width):
    """No code, raw dict, machine path, NaN, long decimals, traceback, overflow or overlapping chart text."""
    audits = [browser_module.audit_page(browser, page, width) for page in browser_module.run_pages(reports)]
    for audit in audits:
        print(audit.report())
    assert len(audits) == len(report.NOTEBOOKS) + 1
    bad = [audit.report() for audit in audits if not audit.ok]
    assert not bad, "\n".join(bad)


def test_audit_finds_what_it_looks_for(browser, tmp_path):
    """The audit is able to fail: a page with each fault is reported for each."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body><div style='width: 2000px'>{'customers': 3} /work/wt/x/.demo.partial NaN 0.23451837 "
        "Traceback (most recent call last) 5 rows x 35 columns</div>"
        "<div class='jp-CodeCell'><div class='jp-InputArea'>import segkit</div></div></body></html>"
    )
    audit = browser_module.audit_page(browser, page, 390)
    found = {kind for kind, items in audit.findings.items() if items}
    assert found >= {
        "raw dict",
        "machine path",
        "staging folder",
        "NaN/NaT/None",
        "5+ decimals",
        "traceback or warning",
        "DataFrame repr",
        "visible code",
        "horizontal overflow",
    }
    overlap = browser_module.chart_findings(
        [
            {
                "index": 0,
                "title": "t",
                "box": {"x": 0, "y": 0, "w": 300, "h": 300},
                "texts": [
                    {"kind": "title", "text": "a", "x": 10, "y": 10, "w": 100, "h": 20},
                    {"kind": "annotation", "text": "b", "x": 50, "y": 15, "w": 100, "h": 20},
                ],
                "areas": [{"x": 0, "y": 0, "w": 100, "h": 250}],
            }
        ]
    )
    assert overlap["overlapping chart text"] and overlap["squeezed plot"]


def _processed_of(reports: Path) -> Path:
    return reports.parent.parent / "data" / "processed" / reports.name


def _numbers(text: str) -> list[str]:
    """Numbers as written in a sentence (1,234 / 12.5 / 3.6), dates excluded."""
    text = re.sub(r"\d{4}-\d{2}-\d{2}", " ", text)
    return re.findall(r"\d[\d,]*(?:\.\d+)?", text)


def _figures_of(summaries: dict) -> set[str]:
    """Every number of the summary files in the forms segkit writes them (and ratios' complements)."""
    from segkit import formatting as fmt

    forms: set[str] = set()

    def add(value):
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            for text in (
                fmt.number(value),
                fmt.number(value, decimals=0),
                fmt.money(value),
                fmt.money(value, decimals=0),
                fmt.percent(value).rstrip("%"),
                fmt.percent(value, 0).rstrip("%"),
                fmt.percent(1 - value, 0).rstrip("%"),
                f"{value:.1f}",
            ):
                forms.add(text)
        elif isinstance(value, dict):
            for item in value.values():
                add(item)
        elif isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, str):
            forms.update(_numbers(value))

    add(summaries)
    return forms


def test_executive_summary_sentences_come_from_segkit_and_match_the_summary_files(reports):
    """Every sentence is produced by a segkit.summary function; every number is a summary file's figure;
    the index and every report open with the same summary; no sentence is typed into a notebook or template."""
    import html as html_module

    from segkit import summary

    summaries = summary.read_summaries(_processed_of(reports))
    expected = summary.executive_summary(summaries)
    assert 5 <= len(expected) <= 8, [s.text for s in expected]

    def summary_items(page: str) -> list[tuple[str, str]]:
        markup = (reports / page).read_text(encoding="utf-8")
        section = re.search(r'<section[^>]*id="executive-summary"[^>]*>.*?</section>', markup, re.DOTALL)
        assert section, f"{page} has no executive summary"
        items = re.findall(r'<li[^>]*data-source="([^"]+)"[^>]*>(.*?)</li>', section.group(0), re.DOTALL)
        return [(source, html_module.unescape(text).strip()) for source, text in items]

    shown = summary_items("index.html")
    assert shown == [(s.source, s.text) for s in expected]
    for stem in report.NOTEBOOKS:  # every report opens with the same summary
        assert summary_items(f"{stem}.html") == shown, f"{stem}.html"
    figures = _figures_of(summaries)
    for source, text in shown:
        module, name = source.rsplit(".", 1)
        assert module == "segkit.summary" and callable(getattr(summary, name))
        unknown = [n for n in _numbers(text) if n not in figures]
        assert not unknown, f"{text!r}: {unknown} are not figures of the summary files"
    authored = [p.read_text(encoding="utf-8") for p in (ROOT / "notebooks").glob("*.ipynb")]
    authored += [p.read_text(encoding="utf-8") for p in (ROOT / "segkit" / "templates").iterdir()]
    for _, text in shown:
        assert not any(text[:40] in source for source in authored), f"typed into a notebook/template: {text}"


def test_report_folder_is_self_contained(reports, tmp_path):
    """Zip reports/<run>/, unpack it elsewhere: every link of every page resolves inside it."""
    archive = shutil.make_archive(str(tmp_path / "run"), "zip", reports)
    unpacked = tmp_path / "unpacked"
    shutil.unpack_archive(archive, unpacked)
    for page in unpacked.glob("*.html"):
        links = _links(page.read_text(encoding="utf-8"))
        assert page.name != "index.html" or len(links) >= len(report.NOTEBOOKS) + 3
        for href in links:
            assert not href.startswith(("http://", "https://", "//")), f"{page.name}: remote link {href}"
            assert (page.parent / href).resolve().is_file(), f"{page.name}: broken link {href}"


def _links(markup: str) -> list[str]:
    """Local href/src targets of a page's elements (anchors and data: URLs left out)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if name in ("href", "src") and value and not value.startswith(("#", "data:", "mailto:")):
                    found.append(value.split("#", 1)[0])

    Links().feed(markup)
    return found
