"""The run's index page: key figures and the executive summary from the summary files (never from HTML),
the list of reports, and copies of the output files so that the reports folder is self-contained.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from segkit.report.export import TEMPLATES_DIR
from segkit.report.notebooks import NOTEBOOK_TITLES, NOTEBOOKS
from segkit.report.record import read_summaries

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
    From 05: ``clv_total``, ``clv_horizon_months``, ``prob_alive_mean``, ``clv_sample_customers`` (the
    customers drawn when the total is estimated from a sample, else None) and, per segment, ``clv_share``
    and ``prob_alive``.
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
    sample = summary.get("customer_sample") or {}
    sampled = isinstance(sample, Mapping) and sample.get("customers", 0) < sample.get("population", 0)
    return {
        "clv_total": summary.get("clv_total"),
        "clv_horizon_months": summary.get("horizon_months"),
        "prob_alive_mean": summary.get("prob_alive_mean"),
        "clv_sample_customers": sample.get("customers") if sampled else None,
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
