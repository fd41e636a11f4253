"""The run's summary files (one fixed schema) and the executive summary computed from them.

Each notebook writes ``summary_0N.json`` into the run's processed folder with :func:`write_summary`,
which checks the content against :data:`SUMMARY_SCHEMA` (the one place that says which key holds
what); the index page and the executive summary read them with :func:`read_summaries` and use the
schema's keys, never guesses.

The executive summary (:func:`executive_summary`) is a list of :class:`Sentence`: each produced by
one function of this module from the summary files, each function returning None when its premise
fails (a notebook did not run, no change large enough to name, no alarm...). Every number in a
sentence is a value of the summary files formatted by :mod:`segkit.formatting`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segkit import formatting as fmt
from segkit.schema import SchemaError

__all__ = [
    "SUMMARY_SCHEMA",
    "Sentence",
    "change_sentence",
    "executive_summary",
    "netting_sentence",
    "read_summaries",
    "read_summary",
    "summary_currency",
    "write_summary",
]

_NUMBER = (int, float)

#: The summary files' schema: notebook number -> key -> (accepted types, required, meaning).
#: Keys not listed are allowed (a notebook may report more), but a listed key always has its type.
SUMMARY_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool, str]]] = {
    "01": {
        "customers": ((int,), True, "customers with at least one kept line"),
        "orders": ((int,), True, "distinct orders"),
        "revenue": (_NUMBER, True, "sum of the clean amounts, in the source currency"),
        "currency": ((str,), True, "ISO code of the amounts ('' when unknown)"),
        "period_start": ((str,), True, "first order day, ISO date"),
        "period_end": ((str,), True, "last order day, ISO date"),
        "raw_lines": ((int,), True, "input lines"),
        "kept_lines": ((int,), True, "lines kept by cleaning"),
        "cleaning": ((dict,), True, "input lines by cleaning reason"),
        "kept_share": (_NUMBER, False, "kept_lines / raw_lines"),
        "changes": ((list,), False, "largest change of each monthly KPI (segkit.eda.kpi_changes records)"),
    },
    "02": {
        "customers": ((int,), True, "customers in the customer file"),
        "snapshot_date": ((str,), True, "snapshot day, ISO date"),
        "currency": ((str,), False, "ISO code of the amounts"),
        "rfm_segment_shares": ((dict,), True, "RFM segment -> share of customers"),
        "rfm_segment_revenue_shares": ((dict,), True, "RFM segment -> share of revenue"),
    },
    "03": {
        "k": ((int,), True, "number of segments"),
        "algorithm": ((str,), True, "clustering algorithm"),
        "customers": ((int,), True, "customers segmented"),
        "currency": ((str,), False, "ISO code of the amounts"),
        "reason": ((str,), False, "why this model was chosen (segkit.narrative's source)"),
        "runner_up": ((dict, type(None)), False, "algorithm, k and reason of the best other model"),
        "segments": ((list,), True, "records: segment_id, segment_name, customers, customer_share, "
                                     "revenue_share, action"),
    },
    "04": {
        "verdict": ((str,), True, "retrain_every | alarm | no_alarm | unstable | too_short (segkit.stability)"),
        "retrain_short": ((str,), False, "the answer in a few words, for the index"),
        "headline": ((str,), False, "the recommendation's headline (segkit.stability.Recommendation)"),
        "recommended_retraining_days": ((int, type(None)), True, "retraining period in days, or null"),
        "obsolete_on": ((str, type(None)), True, "first day of the alarm, ISO date, or null"),
        "delay_days": ((int, type(None)), True, "days from training to the alarm, or null"),
        "model_k": ((int, type(None)), False, "segments of the monitored model"),
        "model_sha256": ((str, type(None)), False, "sha256 of the monitored model.skops"),
        "start": ((str,), False, "training day of the simulated model, ISO date (absent: too short)"),
        "end": ((str,), False, "last simulated day, ISO date"),
        "steps": ((int,), False, "simulated steps"),
        "period_days": ((int,), False, "days between steps"),
    },
    "05": {},  # notebook 05 (customer lifetime value): read as written, the index picks its own keys
}  # fmt: skip

#: Keys every record of summary_03's ``segments`` has.
SEGMENT_KEYS = ("segment_id", "segment_name", "customers", "customer_share", "revenue_share", "action")

#: Keys of each record of summary_01's ``changes`` (see segkit.eda.kpi_changes).
CHANGE_KEYS = ("metric", "month", "before", "after", "ratio")


def _check(number: str, content: Mapping[str, Any]) -> None:
    schema = SUMMARY_SCHEMA.get(number)
    if schema is None:
        raise SchemaError(f"summary_{number}.json: no schema for notebook {number!r}", column="summary")
    for key, (types, required, _) in schema.items():
        if key not in content:
            if required:
                raise SchemaError(f"summary_{number}.json: key {key!r} is missing", column=key)
            continue
        value = content[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            raise SchemaError(
                f"summary_{number}.json: {key!r} must be {' or '.join(t.__name__ for t in types)}, "
                f"got {type(value).__name__}",
                column=key,
            )
    if number == "03":
        for record in content["segments"]:
            missing = [key for key in SEGMENT_KEYS if key not in record]
            if missing:
                raise SchemaError(f"summary_03.json: a segment record lacks {missing}", column="segments")
    for record in content.get("changes", []) if number == "01" else []:
        missing = [key for key in CHANGE_KEYS if key not in record]
        if missing:
            raise SchemaError(f"summary_01.json: a change record lacks {missing}", column="changes")


def _plain(value: Any) -> Any:
    """JSON-friendly plain values (numpy numbers to Python, NaN to None)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_summary(number: str, content: Mapping[str, Any], folder: str | os.PathLike[str]) -> Path:
    """Check ``content`` against :data:`SUMMARY_SCHEMA` and write ``folder/summary_<number>.json``.

    Raises
    ------
    SchemaError
        Naming the missing or mistyped key; nothing is written then.
    """
    from segkit.io import write_json_atomic

    plain = _plain(dict(content))
    _check(number, plain)
    return write_json_atomic(plain, Path(folder) / f"summary_{number}.json")


def read_summary(folder: str | os.PathLike[str], number: str) -> dict[str, Any] | None:
    """``summary_<number>.json`` of a run folder, or None when absent, unreadable or off-schema."""
    path = Path(folder) / f"summary_{number}.json"
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        _check(number, content)
    except (OSError, json.JSONDecodeError, SchemaError, TypeError, AttributeError):
        return None
    return content


def read_summaries(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Every summary file of a run folder that follows the schema, by notebook number."""
    found = {}
    for number in SUMMARY_SCHEMA:
        content = read_summary(folder, number)
        if content is not None:
            found[number] = content
    return found


def summary_currency(folder: str | os.PathLike[str], currency: str = "") -> str:
    """``currency`` when given, else the currency an earlier notebook of the run recorded (or ``""``)."""
    if currency:
        return fmt.resolve_currency(currency)
    for number in SUMMARY_SCHEMA:
        content = read_summary(folder, number) or {}
        if content.get("currency"):
            return str(content["currency"])
    return ""


# --------------------------------------------------------------------------- sentences
@dataclass(frozen=True)
class Sentence:
    """One sentence of a summary and the segkit function that wrote it.

    Attributes
    ----------
    text
        The sentence (plain text; escape it when writing HTML).
    source
        Qualified name of the function that produced it, e.g. ``"segkit.summary.who_the_customers_are"``.
    topic
        What it is about: ``customers``, ``change``, ``segments``, ``retraining``, ``data``.
    """

    text: str
    source: str
    topic: str

    def __str__(self) -> str:
        return self.text


_METRIC_LABELS = {
    "active_customers": "active customers per month",
    "orders": "orders per month",
    "revenue_per_order": "revenue per order",
    "revenue": "revenue per month",
}


def _month(iso: str) -> str:
    import pandas as pd

    return f"{pd.Timestamp(iso):%B %Y}"


def _change_words(ratio: float) -> str:
    """``"rose 3.7x"`` / ``"fell 70%"``: rises as a factor, falls as a percentage."""
    if ratio >= 1:
        return f"rose {ratio:.1f}x"
    return f"fell {fmt.percent(1 - ratio, 0)}"


def _metric_value(metric: str, value: float, currency: str) -> str:
    if metric.startswith("revenue"):
        return fmt.money(value, currency)
    return fmt.number(value, decimals=0)


def change_sentence(change: Mapping[str, Any], currency: str = "") -> str | None:
    """``"Active customers per month rose 3.7x in September 2023 (from 1,210 to 4,480 a month)."``

    ``change`` is a record of :func:`segkit.eda.kpi_changes`. None when the change is not material
    (``change["material"]`` false) or the record lacks a number.
    """
    ratio = change.get("ratio")
    if not change.get("material", True) or not isinstance(ratio, _NUMBER) or not ratio > 0:
        return None
    metric = str(change["metric"])
    label = _METRIC_LABELS.get(metric, metric.replace("_", " "))
    before = _metric_value(metric, change["before"], currency)
    after = _metric_value(metric, change["after"], currency)
    return (
        f"{label[0].upper()}{label[1:]} {_change_words(ratio)} in {_month(change['month'])} "
        f"(typical month before: {before}; after: {after})."
    )


def netting_sentence(
    kept_amount: float, revenue: float, partially_netted: int, currency: str = ""
) -> str | None:
    """Why the kept lines' amount (as read) exceeds the revenue: later partial cancellations.

    None when the two agree to the cent or no kept line was partly netted.
    """
    difference = float(kept_amount) - float(revenue)
    if partially_netted <= 0 or abs(difference) < 0.005:
        return None
    return (
        f"The kept lines amount to {fmt.money(kept_amount, currency)} as read; {fmt.number(int(partially_netted))} "
        f"of them were partly cancelled later, which takes {fmt.money(difference, currency)} off, so revenue "
        f"is {fmt.money(revenue, currency)}."
    )


def who_the_customers_are(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Customers, orders, revenue and period of the data (summary 01)."""
    s = summaries.get("01")
    if not s:
        return None
    return (
        f"{fmt.number(s['customers'])} customers placed {fmt.number(s['orders'])} orders worth "
        f"{fmt.money(s['revenue'], s.get('currency', ''))} between {fmt.date(s['period_start'])} and "
        f"{fmt.date(s['period_end'])}."
    )


def data_quality(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Share of raw lines kept and the largest removal (summary 01); None when nothing was removed."""
    s = summaries.get("01")
    if not s or not s.get("raw_lines") or not isinstance(s.get("kept_share"), _NUMBER):
        return None
    removed = {reason: rows for reason, rows in s["cleaning"].items() if reason != "kept" and rows > 0}
    if not removed:
        return None
    reason = max(removed, key=lambda r: (removed[r], r))
    return (
        f"{fmt.percent(s['kept_share'])} of the {fmt.number(s['raw_lines'])} raw lines are "
        f"usable; the largest removal is {reason.replace('_', ' ')} ({fmt.number(removed[reason])} lines)."
    )


def what_changed(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The largest material change of the monthly KPIs and the others in the same month (summary 01)."""
    s = summaries.get("01")
    changes = [c for c in (s or {}).get("changes", []) if c.get("material") and c.get("ratio", 0) > 0]
    if not changes:
        return None
    biggest = max(changes, key=lambda c: abs(math.log(c["ratio"])))
    same_month = [c for c in changes if c["month"] == biggest["month"]]
    same_month.sort(key=lambda c: -abs(math.log(c["ratio"])))
    parts = [
        f"{_METRIC_LABELS.get(c['metric'], c['metric'].replace('_', ' '))} {_change_words(c['ratio'])}"
        for c in same_month
    ]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"The biggest change came in {_month(biggest['month'])}: {listed}."


def _segments(summaries: Mapping[str, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    s = summaries.get("03")
    return list(s["segments"]) if s else []


def _action(segment: Mapping[str, Any]) -> str:
    action = str(segment.get("action") or "").strip().rstrip(".")
    return f": {action[0].lower()}{action[1:]}" if action else ""


def segment_that_matters_most(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The segment with the largest revenue share, its weight and its action (summary 03)."""
    segments = [s for s in _segments(summaries) if s["revenue_share"] is not None]
    if len(segments) < 2:
        return None
    top = max(segments, key=lambda s: (s["revenue_share"], -s["segment_id"]))
    return (
        f"Customers fall into {summaries['03']['k']} segments; the most valuable, {top['segment_name']}, is "
        f"{fmt.percent(top['customer_share'])} of customers and brings {fmt.percent(top['revenue_share'])} of "
        f"revenue{_action(top)}."
    )


def segment_to_watch(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The largest segment bringing less revenue than its share of customers, and its action (summary 03)."""
    segments = [s for s in _segments(summaries) if s["revenue_share"] is not None]
    if len(segments) < 2:
        return None
    top = max(segments, key=lambda s: (s["revenue_share"], -s["segment_id"]))
    lagging = [
        s
        for s in segments
        if s is not top and s["customer_share"] > 0 and s["revenue_share"] < s["customer_share"]
    ]
    if not lagging:
        return None
    watch = max(lagging, key=lambda s: (s["customer_share"], -s["segment_id"]))
    return (
        f"{watch['segment_name']} is {fmt.percent(watch['customer_share'])} of customers but brings only "
        f"{fmt.percent(watch['revenue_share'])} of revenue{_action(watch)}."
    )


def rfm_picture(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The largest RFM segment and the one bringing the most revenue (summary 02)."""
    s = summaries.get("02")
    if not s or not s["rfm_segment_shares"] or not s["rfm_segment_revenue_shares"]:
        return None
    largest = max(s["rfm_segment_shares"].items(), key=lambda item: (item[1], item[0]))
    richest = max(s["rfm_segment_revenue_shares"].items(), key=lambda item: (item[1], item[0]))
    if largest[0] == richest[0]:
        return (
            f"By RFM scores the largest group, {largest[0]}, is {fmt.percent(largest[1])} of customers and "
            f"brings {fmt.percent(richest[1])} of revenue."
        )
    return (
        f"By RFM scores the largest group is {largest[0]} ({fmt.percent(largest[1])} of customers), while "
        f"{richest[0]} bring the most revenue ({fmt.percent(richest[1])})."
    )


def when_to_retrain(summaries: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The retraining advice of the maintenance simulation (summary 04), by its verdict.

    ``retrain_every`` (two or more distinct alarms) gives the period; ``alarm`` (one alarm) the date it went
    stale; ``no_alarm`` the period watched; ``unstable`` and ``too_short`` say that no period can be given.
    """
    s = summaries.get("04")
    if not s:
        return None
    verdict = s.get("verdict")
    watched = bool(s.get("start") and s.get("end"))
    if verdict == "retrain_every" and s.get("recommended_retraining_days"):
        days = fmt.number(s["recommended_retraining_days"])
        if watched and s.get("obsolete_on") and s.get("delay_days") is not None:
            return (
                f"Retrain the segmentation at least every {days} days: replayed on this data, the model trained on "
                f"{fmt.date(s['start'])} stopped matching a fresh one on {fmt.date(s['obsolete_on'])}, "
                f"{fmt.number(s['delay_days'])} days later."
            )
        return f"Retrain the segmentation at least every {days} days."
    if verdict == "alarm" and watched and s.get("obsolete_on") and s.get("delay_days") is not None:
        return (
            f"Replayed on this data, the model trained on {fmt.date(s['start'])} stopped matching a fresh one on "
            f"{fmt.date(s['obsolete_on'])}, {fmt.number(s['delay_days'])} days later: retrain it; one alarm is "
            "not yet a retraining period."
        )
    if verdict == "no_alarm" and watched:
        return (
            f"No retraining was needed: replayed from {fmt.date(s['start'])} to {fmt.date(s['end'])}, the model "
            "kept matching a freshly trained one."
        )
    if verdict == "unstable":
        return "No retraining period can be given: the model is too unstable to monitor (see the maintenance report)."
    if verdict == "too_short":
        return "No retraining period can be given: the log is too short to tell (see the maintenance report)."
    return None


#: The executive summary's sentence functions, in reading order, with their topic.
EXECUTIVE_SENTENCES: tuple[tuple[Callable[[Mapping[str, Mapping[str, Any]]], str | None], str], ...] = (
    (who_the_customers_are, "customers"),
    (what_changed, "change"),
    (segment_that_matters_most, "segments"),
    (segment_to_watch, "segments"),
    (rfm_picture, "segments"),
    (when_to_retrain, "retraining"),
    (data_quality, "data"),
)


def executive_summary(
    summaries: Mapping[str, Mapping[str, Any]], functions: Sequence = EXECUTIVE_SENTENCES
) -> list[Sentence]:
    """The sentences whose premises hold, in reading order (at most eight).

    Parameters
    ----------
    summaries
        The run's summary files by notebook number (:func:`read_summaries`).
    """
    sentences = []
    for function, topic in functions:
        text = function(summaries)
        if text:
            sentences.append(Sentence(text, f"{function.__module__}.{function.__qualname__}", topic))
    return sentences[:8]


def executive_summary_html(sentences: Sequence[Sentence], heading: str = "Executive summary") -> str:
    """The sentences as an escaped HTML section (``<section id="executive-summary">``); ``""`` for none."""
    import html

    if not sentences:
        return ""
    items = "".join(
        f'<li data-source="{html.escape(s.source)}" data-topic="{html.escape(s.topic)}">{html.escape(s.text)}</li>'
        for s in sentences
    )
    return (
        '<section id="executive-summary" class="segkit-summary">'
        f"<h2>{html.escape(heading)}</h2><ul>{items}</ul></section>"
    )
