"""Real-browser test: every HTML report of the demo run opens in headless Chromium, offline.

Each report must draw every plotly figure (a ``.js-plotly-plot`` with its ``svg.main-svg``), log no
console error and request nothing outside ``file://`` (or inline ``data:``/``blob:`` URLs). The index
page must fit a phone's width. The small demo run is shared with tests/test_e2e.py (once per
session); the repository's ``reports/demo`` (what ``make report`` writes) is checked too when present.

Needs Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it with apt-get when missing)
and the ``playwright`` Python package; the test skips, saying which, only when one cannot be found.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from segkit import report

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_path() -> str | None:
    """Path of a Chromium executable: $SEGKIT_CHROMIUM, /usr/bin/chromium, or chromium on the PATH."""
    for candidate in (os.environ.get("SEGKIT_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


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
