"""Numbers, amounts, dates and tables for people: the one formatting layer of every report.

Every table a report shows goes through :func:`format_table` (thousands separators, the currency on
amounts, percentages, at most two decimals, dates as dates, readable column labels from the column
documentation, no index column, missing values as "-" with a footnote, wide frames cut to a chosen
set of columns, every text HTML-escaped). Scalars in sentences go through :func:`number`,
:func:`money`, :func:`percent` and :func:`date`.

Conventions
-----------
* Amounts are in the source currency; ``currency`` is an ISO 4217 code (``"GBP"``) or ``""`` for
  none. :func:`default_currency` gives the default of a source layout (Online Retail: GBP, Olist:
  BRL, anything else: none).
* Shares are fractions in [0, 1] and are shown as percentages.
* A column's kind (count, amount, share, days, date, text) comes from its unit in
  :data:`segkit.features.CUSTOMER_FILE_COLUMNS` when the column is documented there, else from its
  name (``*_share``, ``revenue``, ``*_days``...) and dtype; ``kinds=`` overrides both.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import ParameterError

__all__ = [
    "CURRENCY_SYMBOLS",
    "Table",
    "column_kind",
    "column_label",
    "date",
    "default_currency",
    "format_table",
    "format_value",
    "money",
    "number",
    "percent",
    "resolve_currency",
    "source_name",
]

#: Symbols written before an amount; other ISO codes are written after it ("1,234.50 CHF").
CURRENCY_SYMBOLS: dict[str, str] = {"GBP": "£", "USD": "$", "EUR": "€", "BRL": "R$", "JPY": "¥"}

#: Text shown for a missing value, and the footnote explaining it.
MISSING = "-"
MISSING_NOTE = "- : no value (missing or not applicable)."

#: Largest number of columns shown when the caller does not choose them.
MAX_COLUMNS = 8
#: Largest number of rows shown.
MAX_ROWS = 25

_KINDS = ("count", "amount", "share", "days", "date", "number", "text", "score")
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")

# Names of columns outside the customer-file documentation, by kind (matched on the whole name).
_AMOUNT_NAMES = re.compile(
    r"^(revenue|amount|monetary|avg_order_value|mean_order_value|revenue_per_\w+|\w+_revenue|"
    r"median_monetary|mean_monetary|median_avg_order_value|unit_price|list_price|price|value|"
    r"expected_value|clv|\w+_clv|\w+_value)$"
)
_SHARE_NAMES = re.compile(r"(^|_)(share|ratio|rate|pct|percent)(_|$)|_share$|^share_|conversion")
_DAYS_NAMES = re.compile(r"_days$|^days_")

#: Readable labels of columns that are not in the customer-file documentation.
LABELS: dict[str, str] = {
    "customer_id": "customer",
    "segment_id": "segment id",
    "segment_name": "segment",
    "rfm_segment": "RFM segment",
    "rfm_score": "RFM score",
    "r_score": "R score",
    "f_score": "F score",
    "m_score": "M score",
    "avg_order_value": "average order value",
    "k": "segments (k)",
    "ari": "agreement (ARI)",
    "psi": "PSI",
    "ks": "KS",
    "js": "Jensen-Shannon",
    "kl": "KL",
    "calinski_harabasz": "Calinski-Harabasz",
    "davies_bouldin": "Davies-Bouldin",
    "n_rows": "rows",
}


# --------------------------------------------------------------------------- currency
def default_currency(layout: str | None) -> str:
    """ISO code of the default currency of a source layout (``""`` when the layout has none).

    Read from the layout registry (:attr:`segkit.io.registry.Layout.currency`; aliases accepted).
    """
    from segkit.io import layout_currency

    return layout_currency(layout)


def resolve_currency(currency: str | None, layout: str | None = None) -> str:
    """The currency to show: ``currency`` when given (an ISO 4217 code), else the layout's default.

    Raises
    ------
    ParameterError
        When ``currency`` is not three letters.
    """
    code = str(currency or "").strip().upper()
    if not code:
        return default_currency(layout)
    if code.lower() == "none":
        return ""
    if not _CURRENCY_CODE.match(code):
        raise ParameterError(
            "currency must be a three-letter ISO 4217 code such as GBP, EUR, BRL or USD",
            column="currency",
            examples=[str(currency)],
        )
    return code


def source_name(data: Any) -> str:
    """A data source as readers see it: ``demo``, or the file or folder name (never a full path)."""
    from pathlib import PurePath

    text = str(data or "").rstrip("/\\")
    return text if text in ("", "demo") else PurePath(text).name


# --------------------------------------------------------------------------- scalars
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, decimals: int | None = None) -> str:
    """A number with thousands separators and at most two decimals.

    Integers (and floats that are whole) get no decimals; other floats get two below 100, one below
    1,000 and none from 1,000 on, unless ``decimals`` says otherwise. Missing values give ``"-"``.
    """
    if _is_missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if decimals is None:
        magnitude = abs(value)
        decimals = 0 if value.is_integer() or magnitude >= 1000 else 1 if magnitude >= 100 else 2
    text = f"{value:,.{min(decimals, 2)}f}"
    return "0" if re.fullmatch(r"-?0(\.0+)?", text) and value != 0 and decimals == 0 else text


def money(value: Any, currency: str = "", decimals: int | None = None) -> str:
    """An amount with its currency: ``"£1,234"``, ``"R$ 56.70"``, ``"1,234.50 CHF"`` or ``"1,234.50"``.

    Amounts of 1,000 or more are shown without decimals, smaller ones with two (unless ``decimals``).
    """
    if _is_missing(value):
        return MISSING
    amount = float(value)
    if decimals is None:
        decimals = 0 if abs(amount) >= 1000 else 2
    text = f"{abs(amount):,.{min(decimals, 2)}f}"
    sign = "-" if amount < 0 and float(text.replace(",", "")) != 0 else ""
    if not currency:
        return sign + text
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{text} {currency}"
    return f"{sign}{symbol}{' ' if len(symbol) > 1 else ''}{text}"


def percent(value: Any, decimals: int = 1) -> str:
    """A share in [0, 1] as a percentage with ``decimals`` decimals (at most 2): ``0.2345 -> "23.5%"``."""
    if _is_missing(value):
        return MISSING
    return f"{100 * float(value):,.{min(decimals, 2)}f}%"


def date(value: Any, with_time: bool | None = None) -> str:
    """A date as ``2023-09-01`` (with ``HH:MM`` when it has a time of day and ``with_time`` is not False)."""
    if _is_missing(value):
        return MISSING
    stamp = pd.Timestamp(value)
    if with_time is None:
        with_time = stamp != stamp.normalize()
    return f"{stamp:%Y-%m-%d %H:%M}" if with_time else f"{stamp:%Y-%m-%d}"


# --------------------------------------------------------------------------- columns
def _documented(name: str) -> pd.Series | None:
    from segkit.features import column_doc

    try:
        return column_doc(name)
    except ParameterError:
        return None


def column_kind(name: str, values: pd.Series | None = None) -> str:
    """The display kind of a column: count, amount, share, days, date, score, number or text.

    The unit in the customer-file documentation decides when the column is documented there; else the
    name (``revenue``, ``*_share``, ``*_days``...) and the dtype.
    """
    doc = _documented(name)
    if doc is not None:
        unit = str(doc["unit"])
        if unit == "currency":
            return "amount"
        if unit.startswith("share"):
            return "share"
        if unit == "days":
            return "days"
        if unit == "timestamp":
            return "date"
        if unit.startswith("score") and name.endswith("_score") and name != "rfm_score":
            return "score"
        if str(doc["dtype"]).startswith("int"):
            return "count"
    lowered = name.lower()
    dtype = values.dtype if values is not None else None
    if dtype is not None and (
        pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype)
    ):
        return "date"
    if dtype is not None and not pd.api.types.is_numeric_dtype(dtype):
        return "text"
    if dtype is not None and pd.api.types.is_bool_dtype(dtype):
        return "text"
    if _AMOUNT_NAMES.match(lowered):
        return "amount"
    if _SHARE_NAMES.search(lowered):
        return "share"
    if _DAYS_NAMES.search(lowered):
        return "days"
    if dtype is not None and pd.api.types.is_integer_dtype(dtype):
        return "count"
    return "number"


def column_label(name: Any, currency: str = "", kind: str | None = None) -> str:
    """A readable label: ``recency_days`` -> ``"recency (days)"``, ``monetary`` -> ``"monetary (GBP)"``.

    Known names come from :data:`LABELS`; category and channel share columns read
    ``"share of spend: books"``; other underscores become spaces.
    """
    text = str(name)
    if text.startswith("share_cat_"):
        return f"share of spend: {text.removeprefix('share_cat_').replace('_', ' ')}"
    if text.startswith("share_channel_"):
        return f"share of spend via {text.removeprefix('share_channel_').replace('_', ' ')}"
    label = LABELS.get(text)
    if label is None:
        label = text.replace("_", " ")
        if label.endswith(" days"):
            label = label.removesuffix(" days") + " (days)"
    if kind == "amount" and currency and currency not in label:
        label += f" ({currency})"
    return label


def format_value(value: Any, kind: str, currency: str = "") -> str:
    """One cell as text, by kind (see :func:`column_kind`); missing values give ``"-"``."""
    if _is_missing(value):
        return MISSING
    if kind == "amount":
        return money(value, currency)
    if kind == "share":
        return percent(value)
    if kind == "date":
        return date(value)
    if kind in ("count", "score") and isinstance(value, float | np.floating) and float(value).is_integer():
        return number(int(value))
    if kind == "days" and isinstance(value, float | np.floating):
        return number(value, decimals=0 if abs(value) >= 10 else 1)
    if kind == "text" or isinstance(value, str):
        return str(value)
    if isinstance(value, pd.Timestamp | np.datetime64):
        return date(value)
    if isinstance(value, int | float | np.number | bool | np.bool_):
        return number(value)
    return str(value)


# --------------------------------------------------------------------------- tables
@dataclass
class Table:
    """A table formatted for people; displays as HTML in notebooks and reports.

    Attributes
    ----------
    header
        Column labels, in order.
    rows
        Cell texts (not yet escaped), one list per row.
    kinds
        Display kind of each column (numbers are right-aligned).
    notes
        Footnotes (the missing-value note, columns or rows left out).
    caption
        Optional caption above the table.
    titles
        Tooltip of each column (its documentation), or ``""``.
    """

    header: list[str]
    rows: list[list[str]]
    kinds: list[str]
    notes: list[str] = field(default_factory=list)
    caption: str = ""
    titles: list[str] = field(default_factory=list)

    def to_html(self) -> str:
        """The table as an HTML fragment; every text is escaped."""
        esc = html.escape
        titles = self.titles or [""] * len(self.header)
        numeric = [kind not in ("text", "date") for kind in self.kinds]

        def cell(tag: str, text: str, i: int, title: str = "") -> str:
            style = ' style="text-align: right"' if numeric[i] else ' style="text-align: left"'
            tip = f' title="{esc(title)}"' if title else ""
            return f"<{tag}{style}{tip}>{esc(text)}</{tag}>"

        head = "".join(cell("th", label, i, titles[i]) for i, label in enumerate(self.header))
        body = "".join(
            "<tr>" + "".join(cell("td", text, i) for i, text in enumerate(row)) + "</tr>" for row in self.rows
        )
        caption = f"<caption>{esc(self.caption)}</caption>" if self.caption else ""
        notes = "".join(f'<p class="segkit-note">{esc(note)}</p>' for note in self.notes)
        return (
            '<div class="segkit-table" style="overflow-x: auto; max-width: 100%">'
            f'<table class="segkit">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            f"{notes}</div>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_text(self) -> str:
        """A plain-text rendering (aligned columns), for terminals."""
        widths = [max([len(h), *(len(r[i]) for r in self.rows)]) for i, h in enumerate(self.header)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True))]
        for row in self.rows:
            lines.append("  ".join(t.ljust(w) for t, w in zip(row, widths, strict=True)))
        return "\n".join([*lines, *self.notes])

    def __repr__(self) -> str:
        return self.to_text()


def _with_index_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn a meaningful index (named, or of labels) into columns; drop an anonymous integer index."""
    index = frame.index
    named = isinstance(index, pd.MultiIndex) or index.name is not None
    if named:
        if any(name in frame.columns for name in index.names):
            return frame.reset_index(drop=True)
        return frame.reset_index()
    if isinstance(index, pd.RangeIndex) or pd.api.types.is_integer_dtype(index):
        return frame.reset_index(drop=True)
    return frame.rename_axis("item").reset_index()


def format_table(
    frame: pd.DataFrame | pd.Series,
    columns: Sequence[str] | None = None,
    *,
    currency: str = "",
    labels: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    max_rows: int = MAX_ROWS,
    max_columns: int = MAX_COLUMNS,
    caption: str = "",
) -> Table:
    """Format a DataFrame (or Series) for a report.

    Parameters
    ----------
    frame
        The data. A named index (``customer_id``, ``reason``...) becomes the first column; an
        anonymous range index is dropped.
    columns
        The columns to show, in order (after the index became a column). Default: all, or the first
        ``max_columns`` with a note saying how many were left out.
    currency
        ISO code shown on amounts (``""``: none).
    labels
        Column labels overriding the readable defaults of :func:`column_label`.
    kinds
        Display kinds overriding :func:`column_kind` (``count``, ``amount``, ``share``, ``days``,
        ``date``, ``score``, ``number``, ``text``).
    max_rows
        Rows shown; a note says how many more there are.
    max_columns
        Columns shown when ``columns`` is None.
    caption
        Caption above the table.

    Returns
    -------
    Table
        Displays as escaped HTML (``_repr_html_``); ``to_text()`` for a terminal.

    Raises
    ------
    ParameterError
        When ``columns`` names a column the frame does not have, or a kind is unknown.
    """
    if isinstance(frame, pd.Series):
        frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"format_table needs a DataFrame, got {type(frame).__name__}", column="frame")
    frame = _with_index_as_columns(frame)
    frame.columns = [str(c) for c in frame.columns]
    notes: list[str] = []
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ParameterError("format_table: columns not in the table", column="columns", examples=missing)
        shown_columns = list(columns)
    else:
        shown_columns = list(frame.columns)[:max_columns]
    if len(shown_columns) < frame.shape[1]:
        notes.append(f"Showing {len(shown_columns)} of {frame.shape[1]} columns.")
    if len(frame) > max_rows:
        notes.append(f"Showing the first {max_rows:,} of {len(frame):,} rows.")
    part = frame.loc[:, shown_columns].head(max_rows)
    kinds = dict(kinds or {})
    unknown = [k for k in kinds.values() if k not in _KINDS]
    if unknown:
        raise ParameterError("format_table: unknown column kind", column="kinds", examples=unknown)
    column_kinds = [kinds.get(c) or column_kind(c, part[c]) for c in shown_columns]
    header = [
        (labels or {}).get(c) or column_label(c, currency, kind)
        for c, kind in zip(shown_columns, column_kinds, strict=True)
    ]
    titles = []
    for c in shown_columns:
        doc = _documented(c)
        titles.append(str(doc["description"]) if doc is not None else "")
    rows = [
        [format_value(value, kind, currency) for value, kind in zip(values, column_kinds, strict=True)]
        for values in part.itertuples(index=False, name=None)
    ]
    if any(text == MISSING for row in rows for text in row):
        notes.insert(0, MISSING_NOTE)
    return Table(header, rows, column_kinds, notes, caption, titles)


def format_records(
    records: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, **options: Any
) -> Table:
    """:func:`format_table` of a list of records (dicts), e.g. a summary file's segment rows."""
    return format_table(pd.DataFrame(list(records)), columns, **options)
