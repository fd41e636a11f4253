"""Tables for exploratory data analysis: table overviews, monthly KPIs, new vs existing customers,
acquisition cohorts and breakdowns. No plotting here (figures live in :mod:`segkit.viz.eda`).

All functions take canonical transactions (normally cleaned: see :func:`segkit.clean_transactions`).
Months are calendar months labelled by their first day (``Timestamp``); money is in the source
currency; an order is an ``order_id`` or, without that column, one customer at one timestamp.
"New" customers are those whose first purchase *in the data* falls in the month: the data are
left-censored, so every customer of the first month counts as new.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from segkit.schema import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    COUNTRY,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    QUANTITY,
    UNIT_PRICE,
    DataError,
    ParameterError,
    SchemaError,
    bad_rows_error,
    missing_column_error,
)

__all__ = [
    "BREAKDOWN_COLUMNS",
    "available_breakdowns",
    "breakdown",
    "cohort_retention",
    "kpi_changes",
    "monthly_kpis",
    "new_vs_existing",
    "table_overview",
    "table_summary",
]

#: Columns :func:`breakdown` is meant for, in the order notebooks show them.
BREAKDOWN_COLUMNS: tuple[str, ...] = (COUNTRY, CHANNEL, CATEGORY)
#: KPIs of :func:`monthly_kpis` that get a year-over-year column ``<kpi>_yoy``.
YOY_KPIS: tuple[str, ...] = ("revenue", "orders", "items_sold", "active_customers", "revenue_per_order")


# --------------------------------------------------------------------------- table overview
def _as_tables(tables: object) -> dict[str, pd.DataFrame]:
    if isinstance(tables, pd.DataFrame):
        return {"table": tables}
    if hasattr(tables, "tables") and callable(tables.tables):  # a segkit Dataset
        tables = tables.tables()
    if isinstance(tables, Mapping):
        out = {str(name): table for name, table in tables.items() if table is not None}
        for name, table in out.items():
            if not isinstance(table, pd.DataFrame):
                raise SchemaError(
                    f"table {name!r} must be a pandas DataFrame, got {type(table).__name__}", column=name
                )
        return out
    raise SchemaError(
        f"tables must be a DataFrame, a dict of DataFrames or a Dataset, got {type(tables).__name__}",
        column="tables",
    )


def _text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ") if value != value.normalize() else value.date().isoformat()
    if isinstance(value, (float, np.floating)):  # for people: at most 2 decimals (tiny values: 2 digits)
        if float(value).is_integer():
            return f"{value:.0f}"
        return f"{value:.2f}" if abs(value) >= 0.01 else f"{value:.2g}"
    return str(value)


def _column_overview(values: pd.Series) -> dict[str, object]:
    present = values.dropna()
    orderable = (
        pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_datetime64_any_dtype(values.dtype)
    ) and not pd.api.types.is_bool_dtype(values.dtype)
    if pd.api.types.is_string_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        orderable = False
    low = present.min() if orderable and len(present) else None
    high = present.max() if orderable and len(present) else None
    return {
        "dtype": str(values.dtype),
        "missing": int(values.isna().sum()),
        "missing_share": float(values.isna().mean()) if len(values) else 0.0,
        "distinct": int(present.nunique()),
        "min": _text(low),
        "max": _text(high),
    }


def table_overview(tables: pd.DataFrame | Mapping[str, pd.DataFrame | None] | object) -> pd.DataFrame:
    """One row per column of one or many tables.

    Parameters
    ----------
    tables
        A DataFrame, a dict ``name -> DataFrame`` (None values are skipped) or a
        :class:`segkit.io.Dataset`.

    Returns
    -------
    pandas.DataFrame
        ``table, column, dtype, rows, columns`` (the table's row and column counts), ``missing``
        (count), ``missing_share`` (0-1), ``distinct`` (non-missing distinct values), ``min`` and
        ``max`` (as text; for datetime columns they give the date range; empty for text columns).
    """
    rows = []
    for name, table in _as_tables(tables).items():  # loop over tables and their columns only
        for column in table.columns:
            rows.append(
                {"table": name, "column": str(column), "rows": len(table), "columns": table.shape[1]}
                | _column_overview(table[column])
            )
    order = [
        "table",
        "column",
        "dtype",
        "rows",
        "columns",
        "missing",
        "missing_share",
        "distinct",
        "min",
        "max",
    ]
    return pd.DataFrame(rows, columns=order)


def table_summary(tables: pd.DataFrame | Mapping[str, pd.DataFrame | None] | object) -> pd.DataFrame:
    """One row per table: ``rows``, ``columns``, ``customers`` (distinct ``customer_id``, 0 without
    it), and the date range ``date_from`` / ``date_to`` over its datetime columns (NaT without)."""
    rows = []
    for name, table in _as_tables(tables).items():
        dates = table.select_dtypes(include=["datetime", "datetimetz"])
        rows.append(
            {
                "table": name,
                "rows": len(table),
                "columns": table.shape[1],
                "customers": int(table[CUSTOMER_ID].nunique()) if CUSTOMER_ID in table.columns else 0,
                "date_from": dates.min().min() if dates.shape[1] else pd.NaT,
                "date_to": dates.max().max() if dates.shape[1] else pd.NaT,
            }
        )
    return pd.DataFrame(rows).set_index("table")


# --------------------------------------------------------------------------- transactions helpers
def _transactions(transactions: object) -> pd.DataFrame:
    """Validate the columns EDA needs and return a frame with ``amount`` and a ``_month`` column."""
    if not isinstance(transactions, pd.DataFrame):
        raise SchemaError(
            f"transactions must be a pandas DataFrame, got {type(transactions).__name__}",
            column="transactions",
        )
    for name in (CUSTOMER_ID, ORDER_DATE):
        if name not in transactions.columns:
            raise missing_column_error(name, transactions.columns)
    if len(transactions) == 0:
        raise DataError("transactions: the table is empty", column=CUSTOMER_ID)
    tx = transactions
    if AMOUNT not in tx.columns:
        if QUANTITY in tx.columns and UNIT_PRICE in tx.columns:
            tx = tx.assign(**{AMOUNT: tx[QUANTITY] * tx[UNIT_PRICE]})
        else:
            raise missing_column_error(AMOUNT, tx.columns)
    if not pd.api.types.is_numeric_dtype(tx[AMOUNT].dtype):
        raise SchemaError(
            f"transactions: column {AMOUNT!r} must be numeric, got {tx[AMOUNT].dtype}", column=AMOUNT
        )
    dates = tx[ORDER_DATE]
    if not pd.api.types.is_datetime64_dtype(dates.dtype):
        raise SchemaError(
            f"transactions: column {ORDER_DATE!r} must be datetime64 (parse it with segkit.read_dataset), got {dates.dtype}",
            column=ORDER_DATE,
        )
    if dates.isna().any():
        raise bad_rows_error(
            DataError, "transactions: order_date has missing dates", ORDER_DATE, tx.index[dates.isna()]
        )
    ids = tx[CUSTOMER_ID]
    if ids.isna().any():
        raise bad_rows_error(
            DataError,
            "transactions: customer_id is missing (clean the data with segkit.clean_transactions)",
            CUSTOMER_ID,
            tx.index[ids.isna()],
        )
    return tx.assign(_month=dates.dt.to_period("M").dt.to_timestamp())


def _order_key(tx: pd.DataFrame) -> pd.Series:
    """Order identity per line: ``order_id``, or customer + timestamp when there is none."""
    if ORDER_ID in tx.columns and tx[ORDER_ID].notna().all():
        return tx[ORDER_ID]
    stamp = tx[CUSTOMER_ID].astype("str") + "@" + tx[ORDER_DATE].astype("str")
    return tx[ORDER_ID].fillna(stamp) if ORDER_ID in tx.columns else stamp


def _month_range(tx: pd.DataFrame) -> pd.DatetimeIndex:
    return pd.date_range(tx["_month"].min(), tx["_month"].max(), freq="MS", name="month")


def _distinct_per(keys: pd.DataFrame, by: list[str]) -> pd.Series:
    return keys.drop_duplicates().groupby(by, sort=True).size()


# --------------------------------------------------------------------------- monthly KPIs
def monthly_kpis(transactions: pd.DataFrame) -> pd.DataFrame:
    """Key figures per calendar month, with year-over-year comparison.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``month`` (first day of the month; every month between the first and last
        transaction, empty months with zeros). Columns: ``year``, ``month_of_year`` (1-12),
        ``revenue`` (sum of amount), ``orders`` (distinct orders), ``items_sold`` (sum of quantity;
        number of lines when there is no quantity column), ``active_customers`` (distinct buyers),
        ``revenue_per_order``, ``revenue_per_customer`` (NaN in a month without orders),
        ``days_observed`` (days of the month inside the data's date range) and ``partial`` (the
        month is only partly covered), plus ``<kpi>_yoy`` for revenue, orders, items_sold,
        active_customers and revenue_per_order: the relative change against the same month a year
        earlier (0.1 = +10%), NaN when either month is partial, outside the data or zero.
    """
    tx = _transactions(transactions)
    months = _month_range(tx)
    by_month = tx.groupby("_month", sort=True)
    items = by_month[QUANTITY].sum() if QUANTITY in tx.columns else by_month.size()
    keys = pd.DataFrame({"_month": tx["_month"], "order": _order_key(tx)})
    table = pd.DataFrame(
        {
            "revenue": by_month[AMOUNT].sum(),
            "orders": _distinct_per(keys, ["_month"]),
            "items_sold": items,
            "active_customers": _distinct_per(tx[["_month", CUSTOMER_ID]], ["_month"]),
        }
    ).reindex(months, fill_value=0)
    table.index.name = "month"
    table = table.astype(
        {"revenue": "float64", "items_sold": "float64", "orders": "int64", "active_customers": "int64"}
    )
    table["revenue_per_order"] = table["revenue"] / table["orders"].where(table["orders"] > 0)
    table["revenue_per_customer"] = table["revenue"] / table["active_customers"].where(
        table["active_customers"] > 0
    )
    first, last = tx[ORDER_DATE].min().normalize(), tx[ORDER_DATE].max().normalize()
    month_end = months + pd.offsets.MonthEnd(0)
    covered = np.minimum(month_end, last) - np.maximum(months, first)
    table["days_observed"] = (covered.days + 1).astype("int64")
    table["partial"] = table["days_observed"] < months.days_in_month
    table.insert(0, "month_of_year", months.month)
    table.insert(0, "year", months.year)
    full = table[list(YOY_KPIS)].where(~table["partial"], axis=0)
    year_before = full.shift(freq=pd.DateOffset(years=1)).reindex(months)
    change = full / year_before.where(year_before > 0) - 1
    return table.join(change.add_suffix("_yoy"))


# --------------------------------------------------------------------------- new vs existing
def _first_month(tx: pd.DataFrame) -> pd.Series:
    first = tx.groupby(CUSTOMER_ID, sort=False)["_month"].transform("min")
    return first


def new_vs_existing(transactions: pd.DataFrame) -> pd.DataFrame:
    """Revenue and customers per month, split by whether it is the customer's first-purchase month.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``month``: ``new_customers`` (first purchase in the month), ``existing_customers``
        (active in the month, first purchase earlier), ``new_revenue``, ``existing_revenue``,
        ``new_revenue_share`` (0-1; NaN in a month without revenue). The first month is all new
        (the data are left-censored).
    """
    tx = _transactions(transactions)
    tx = tx.assign(_new=(tx["_month"] == _first_month(tx)))
    months = _month_range(tx)
    revenue = tx.groupby(["_month", "_new"])[AMOUNT].sum().unstack("_new")
    customers = (
        tx[["_month", "_new", CUSTOMER_ID]]
        .drop_duplicates()
        .groupby(["_month", "_new"])
        .size()
        .unstack("_new")
    )
    table = pd.DataFrame(
        {
            "new_customers": customers.get(True),
            "existing_customers": customers.get(False),
            "new_revenue": revenue.get(True),
            "existing_revenue": revenue.get(False),
        },
        index=months,
    ).fillna(0)
    table = table.astype(
        {
            "new_customers": "int64",
            "existing_customers": "int64",
            "new_revenue": "float64",
            "existing_revenue": "float64",
        }
    )
    total = table["new_revenue"] + table["existing_revenue"]
    table["new_revenue_share"] = table["new_revenue"] / total.where(total != 0)
    table.index.name = "month"
    return table


# --------------------------------------------------------------------------- cohorts
def cohort_retention(transactions: pd.DataFrame) -> pd.DataFrame:
    """Monthly acquisition cohorts x months since first purchase.

    Returns
    -------
    pandas.DataFrame
        Long table, one row per (``cohort``, ``months_since``) observed in the data: ``cohort``
        (month of first purchase), ``months_since`` (0 = the acquisition month), ``cohort_size``
        (customers acquired), ``active_customers``, ``share_active`` (active / cohort size, 0-1;
        1 at month 0), ``revenue`` and ``revenue_per_customer`` (revenue / cohort size). Pivot it
        with ``pivot(index="cohort", columns="months_since", values="share_active")``.
    """
    tx = _transactions(transactions)
    cohort = _first_month(tx)
    since = (tx["_month"].dt.year - cohort.dt.year) * 12 + (tx["_month"].dt.month - cohort.dt.month)
    frame = pd.DataFrame(
        {"cohort": cohort, "months_since": since, CUSTOMER_ID: tx[CUSTOMER_ID], AMOUNT: tx[AMOUNT]}
    )
    grouped = frame.groupby(["cohort", "months_since"], sort=True)
    active = (
        frame[["cohort", "months_since", CUSTOMER_ID]]
        .drop_duplicates()
        .groupby(["cohort", "months_since"])
        .size()
    )
    table = pd.DataFrame({"active_customers": active, "revenue": grouped[AMOUNT].sum()}).reset_index()
    sizes = table.loc[table["months_since"] == 0].set_index("cohort")["active_customers"]
    table.insert(2, "cohort_size", table["cohort"].map(sizes).astype("int64"))
    table.insert(4, "share_active", table["active_customers"] / table["cohort_size"])
    table["revenue_per_customer"] = table["revenue"] / table["cohort_size"]
    return table.astype({"months_since": "int64", "active_customers": "int64"})


# --------------------------------------------------------------------------- breakdowns
def available_breakdowns(transactions: pd.DataFrame) -> list[str]:
    """The columns of :data:`BREAKDOWN_COLUMNS` present in ``transactions`` with at least one value."""
    return [c for c in BREAKDOWN_COLUMNS if c in transactions.columns and transactions[c].notna().any()]


def breakdown(transactions: pd.DataFrame, by: str = COUNTRY) -> pd.DataFrame:
    """Revenue, orders and customers per level of ``by`` (country, channel, category or any column).

    Returns
    -------
    pandas.DataFrame
        Indexed by the level (missing values as ``"unknown"``), sorted by revenue (descending):
        ``revenue``, ``revenue_share`` (0-1), ``orders``, ``customers`` (distinct buyers; a customer
        may count in several levels), ``lines`` and ``avg_order_value`` (revenue / orders).

    Raises
    ------
    SchemaError
        ``by`` is not a column of ``transactions`` (the message suggests a close name).
    """
    if not isinstance(by, str):
        raise ParameterError(f"by must be a column name, got {by!r}", column="by")
    tx = _transactions(transactions)
    if by not in tx.columns:
        raise missing_column_error(by, tx.columns)
    level = tx[by].astype("str").fillna("unknown")
    keys = pd.DataFrame({by: level, "order": _order_key(tx)})
    table = pd.DataFrame(
        {
            "revenue": tx[AMOUNT].groupby(level).sum().astype("float64"),
            "orders": _distinct_per(keys, [by]),
            "customers": _distinct_per(pd.DataFrame({by: level, CUSTOMER_ID: tx[CUSTOMER_ID]}), [by]),
            "lines": level.value_counts(),
        }
    )
    total = table["revenue"].sum()
    table.insert(1, "revenue_share", table["revenue"] / total if total != 0 else np.nan)
    table["avg_order_value"] = table["revenue"] / table["orders"]
    table.index.name = by
    return table.sort_values(["revenue", "lines"], ascending=False, kind="stable")


# --------------------------------------------------------------------------- changes
#: Monthly KPIs whose largest change :func:`kpi_changes` looks for by default.
CHANGE_KPIS: tuple[str, ...] = ("active_customers", "orders", "revenue_per_order")


def kpi_changes(
    kpis: pd.DataFrame,
    metrics: tuple[str, ...] = CHANGE_KPIS,
    window: int = 3,
    material_ratio: float = 1.25,
) -> pd.DataFrame:
    """The largest lasting change of each monthly KPI: when it happened and how big it is.

    A change point in its simplest form: for every month ``t`` with ``window`` full months on each
    side, the step of ``t`` is the difference between the mean log value of ``t`` and the
    ``window - 1`` months after it and the mean log value of the ``window`` months before it. The
    month with the largest absolute step is the KPI's largest change (the earliest on ties); a step
    change scores highest exactly at its first month. The levels reported are the medians of the two
    windows (typical months), and ``ratio = after / before``. Partial months (the data start or end
    inside them) are left out; months with a zero value are skipped.

    Parameters
    ----------
    kpis
        :func:`monthly_kpis` output.
    metrics
        KPI columns to examine.
    window
        Months on each side (at least 2).
    material_ratio
        A change is *material* when ``after / before`` is at least this or at most its inverse.

    Returns
    -------
    pandas.DataFrame
        One row per metric with enough months (``2 * window`` full months): ``metric``, ``month``
        (first day of the first month at the new level), ``before``, ``after`` (typical monthly
        values), ``ratio`` (after / before) and ``material`` (bool). Empty when the data are too
        short.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ParameterError(f"window must be an integer >= 2, got {window!r}", column="window")
    missing = [m for m in (*metrics, "partial") if m not in kpis.columns]
    if missing:
        raise SchemaError(f"kpis: column {missing[0]!r} is missing (use eda.monthly_kpis)", column=missing[0])
    full = kpis.loc[~kpis["partial"].astype(bool)]
    rows = []
    for metric in metrics:
        values = full[metric].astype("float64")
        best = None
        for position in range(window, len(values) - window + 1):
            before_values = values.iloc[position - window : position]
            after_values = values.iloc[position : position + window]
            if not ((before_values > 0).all() and (after_values > 0).all()):
                continue
            score = abs(float(np.log(after_values).mean() - np.log(before_values).mean()))
            before, after = float(before_values.median()), float(after_values.median())
            if best is None or score > best[0] + 1e-12:
                best = (score, values.index[position], before, after)
        if best is None:
            continue
        _, month, before, after = best
        ratio = after / before
        rows.append(
            {
                "metric": metric,
                "month": pd.Timestamp(month),
                "before": before,
                "after": after,
                "ratio": ratio,
                "material": bool(ratio >= material_ratio or ratio <= 1 / material_ratio),
            }
        )
    columns = ["metric", "month", "before", "after", "ratio", "material"]
    return pd.DataFrame(rows, columns=columns)
