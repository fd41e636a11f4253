"""The interface every engine implements, the result it returns and the SQL engines' common run.

An engine runs the heavy path: reading a source, cleaning it with its full report, building the
customer file and scoring customers with a saved model. Only per-customer rows (the customer file,
the per-customer parts of the report) come back to pandas from a SQL engine.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from segkit import features, io
from segkit.cleaning import REASONS, CleaningReport, CleaningRules
from segkit.engines.sources import ReadOptions, SourcePlan, id_expression, plan_source
from segkit.engines.sql import NS_PER_DAY, CleaningSql, Dialect
from segkit.io import formats
from segkit.schema import AMOUNT, CUSTOMER_ID, ORDER_DATE, PRODUCT_ID, DataError, ParameterError

__all__ = ["Engine", "EngineResult", "CleaningSummary", "SqlEngine", "DEFAULT_BATCH_CUSTOMERS"]

#: Side tables a SQL engine reduces per customer itself (when they are Parquet); the others are read
#: by :func:`segkit.io.read_side_table` (one row per customer, or a small table).
_REDUCED_SIDE_TABLES = ("sessions", "reviews")


def _parquet_files(path: os.PathLike[str]) -> list[str]:
    path = Path(path)
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
    return [str(path)]


#: Customers scored per batch by :meth:`Engine.score`.
DEFAULT_BATCH_CUSTOMERS = 200_000


@dataclass
class CleaningSummary(CleaningReport):
    """A :class:`~segkit.cleaning.CleaningReport` from counts, without the per-row reasons.

    SQL engines return it: ``to_frame()``, ``n_input``, ``n_kept``, ``by_customer``,
    ``removed_customers``, ``partially_netted``, ``netted_amount`` and ``possible_duplicates`` are
    those of the pandas report; ``reasons`` and ``amounts`` (one value per input row) are None.

    Attributes
    ----------
    table
        One row per reason (:data:`~segkit.cleaning.REASONS` order): ``reason``, ``rows``, ``amount``.
    """

    table: pd.DataFrame | None = None

    @property
    def n_input(self) -> int:
        return int(self.table["rows"].sum())

    @property
    def n_kept(self) -> int:
        return int(self.table.loc[self.table["reason"].isin(("zero_amount", "kept")), "rows"].sum())

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


@dataclass
class EngineResult:
    """What :meth:`Engine.read_clean_customer_file` returns.

    Attributes
    ----------
    report
        The cleaning report (:class:`~segkit.cleaning.CleaningReport` for pandas,
        :class:`CleaningSummary` for SQL engines).
    customer_file
        :func:`segkit.customer_file` of the clean lines (with the source's side tables and the
        report's cancellations).
    layout
        The layout read.
    tables
        The side tables read (name -> DataFrame).
    engine
        The engine's name.
    """

    report: CleaningReport
    customer_file: pd.DataFrame
    layout: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    engine: str = ""


class Engine(ABC):
    """One way to run the heavy path; :data:`segkit.engines.ENGINES` names them all."""

    name: str = ""

    @abstractmethod
    def read_clean_customer_file(
        self,
        source: str | os.PathLike[str] | pd.DataFrame,
        read: ReadOptions | None = None,
        rules: CleaningRules | None = None,
        snapshot_date: str | pd.Timestamp | None = None,
    ) -> EngineResult:
        """Read ``source``, clean it and build its customer file.

        Parameters
        ----------
        source
            A file, a folder (generic, or Parquet parts, partitioned or not), a glob, or (pandas
            engine only) a DataFrame.
        read
            Reader options (layout, columns mapping, separator, date format, header).
        rules
            Cleaning rules; default :class:`~segkit.cleaning.CleaningRules`.
        snapshot_date
            Snapshot of the customer file (default: the day after the last clean line).
        """

    def score(self, model: Any, customer_file: pd.DataFrame, batch_customers: int = DEFAULT_BATCH_CUSTOMERS):
        """Segments of every customer (``model.segment_frame``), computed in batches of customers.

        Returns
        -------
        pandas.DataFrame
            ``customer_id, segment_id, segment_name`` (+ ``rfm_segment``), in customer-file order.
        """
        if int(batch_customers) < 1:
            raise ParameterError("batch_customers must be >= 1", column="batch_customers")
        parts = [
            model.segment_frame(customer_file.iloc[start : start + int(batch_customers)])
            for start in range(0, max(len(customer_file), 1), int(batch_customers))
        ]
        return pd.concat(parts, ignore_index=True)

    def close(self) -> None:  # noqa: B027 (engines without resources keep it)
        """Release the engine's resources."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqlEngine(Engine):
    """The run shared by the SQL engines: the statements of :class:`~segkit.engines.sql.CleaningSql`.

    A subclass loads the raw source as ``raw`` (:meth:`_load_raw`) and runs statements
    (:meth:`_create`, :meth:`_arrow`).
    """

    dialect: Dialect

    @abstractmethod
    def _load_raw(self, plan: SourcePlan) -> dict[str, str]:
        """Register ``raw`` (the source columns plus ``_row``); return each column's type name."""

    @abstractmethod
    def _load_side(self, name: str, files: list[str]) -> dict[str, str]:
        """Register the Parquet side table ``side_<name>``; return each column's type name."""

    @abstractmethod
    def _create(self, name: str, sql: str, materialise: bool = False) -> None:
        """Make ``sql`` available as ``name`` (a view, or a table when ``materialise``)."""

    @abstractmethod
    def _arrow(self, sql: str, params: list[object] | None = None) -> pa.Table:
        """Run a query; its result as Arrow."""

    @abstractmethod
    def _register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table available as ``name``."""

    def sample_lines(self, n_customers: int, seed: int) -> tuple[pd.DataFrame, int]:
        """Canonical raw lines (input order) of a seeded sample of ``n_customers`` customers.

        Drawn as :func:`segkit.inputs.load_inputs` samples customers (sorted ids, ``numpy`` generator
        of ``seed``). Call after :meth:`read_clean_customer_file`. Returns the lines and the number of
        customers drawn from.
        """
        ids = self._arrow(
            f"SELECT DISTINCT {self.dialect.ident(CUSTOMER_ID)} AS c FROM tx WHERE {self.dialect.ident(CUSTOMER_ID)} IS NOT NULL"
        )
        ids = np.sort(np.asarray(ids.column("c").to_pylist(), dtype=object).astype(str))
        chosen = ids
        if n_customers < len(ids):
            chosen = np.random.default_rng(seed).choice(ids, size=n_customers, replace=False)
        self._register("sample_ids", pa.table({"c": pa.array(chosen.tolist(), type=pa.string())}))
        q = self.dialect.ident
        frame = self._frame(
            f"SELECT * FROM tx WHERE {q(CUSTOMER_ID)} IN (SELECT c FROM sample_ids) ORDER BY _row"
        ).drop(columns="_row")
        for column in frame.columns:
            if column == ORDER_DATE:
                dates = frame[column]
                if isinstance(dates.dtype, pd.DatetimeTZDtype):  # Spark: instants in its UTC session
                    dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
                frame[column] = dates.astype("datetime64[ns]")
            elif frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
                frame[column] = frame[column].astype("str")
        return frame.reset_index(drop=True), len(ids)

    def _scalar(self, sql: str) -> Any:
        return self._arrow(sql).column(0)[0].as_py()

    def _frame(self, sql: str) -> pd.DataFrame:
        return self._arrow(sql).to_pandas()

    def read_clean_customer_file(
        self,
        source: str | os.PathLike[str] | pd.DataFrame,
        read: ReadOptions | None = None,
        rules: CleaningRules | None = None,
        snapshot_date: str | pd.Timestamp | None = None,
    ) -> EngineResult:
        if isinstance(source, pd.DataFrame):
            raise ParameterError(
                f"the {self.name} engine reads files; pass a DataFrame to engine='pandas'", column="engine"
            )
        rules = CleaningRules() if rules is None else rules
        if not isinstance(rules, CleaningRules):
            raise ParameterError(f"rules must be a CleaningRules, got {type(rules).__name__}", column="rules")
        plan = plan_source(source, read or ReadOptions())
        types = self._load_raw(plan)
        self._create("tx", plan.canonical_select(self.dialect, self._scalar, types))
        n_lines = self._check_canonical(plan)
        sql = CleaningSql(self.dialect, plan.columns, rules)
        self._clean(sql, n_lines)
        report = self._report(sql, rules)
        tables: dict[str, Any] = {}
        for name, path in plan.side_tables.items():
            if name in _REDUCED_SIDE_TABLES and formats.file_kind(Path(path)) == "parquet":
                tables[name] = (path, self._load_side(name, _parquet_files(path)))
            else:
                tables[name] = io.read_side_table(path, name)
        customer_file = self._customer_file(sql, report, tables, snapshot_date)
        read = {name: table for name, table in tables.items() if isinstance(table, pd.DataFrame)}
        return EngineResult(report, customer_file, plan.layout, read, self.name)

    def _clean(self, sql: CleaningSql, n_lines: int) -> None:
        """Make ``cleaned`` (every line of ``tx`` with its reason): ``prepared`` in one pass (the
        SQL engines' default; DuckDB cleans a large log in buckets of customers), then the outlier
        threshold, computed once."""
        self._prepare(sql)
        self._create("prepared", sql.prepared(), materialise=True)
        self._release("netted", "events", "flagged", "copies")
        self._finish(sql)

    def _prepare(self, sql: CleaningSql) -> None:
        """The statements before ``prepared``: ``copies``, ``flagged`` and the netting."""
        self._create("copies", sql.copies(), materialise=True)
        self._create("flagged", sql.flagged(), materialise=True)
        if sql.nets:
            self._create("events", sql.events())
            self._create("netted", sql.netting(), materialise=True)

    def _per_customer_arrow(self, sql: str, params: list[object] | None = None) -> pa.Table:
        """Run a query grouped by customer and ordered by ``customer_id`` (over ``prepared``)."""
        return self._arrow(sql, params)

    def _create_per_customer(self, name: str, sql: str) -> None:
        """Materialise a query grouped by customer (over ``prepared``) as ``name``."""
        self._create(name, sql, materialise=True)

    def _finish(self, sql: CleaningSql) -> None:
        query = sql.outlier_threshold()
        threshold = self._scalar(query) if query is not None else None
        self._create("cleaned", sql.cleaned(threshold))

    @abstractmethod
    def _release(self, *names: str) -> None:
        """Drop the working tables or views ``names`` (those that exist)."""

    def _check_canonical(self, plan: SourcePlan) -> int:
        """Refuse a log without lines, dates or amounts; return its number of lines."""
        q = self.dialect.ident
        counts = self._arrow(
            f"SELECT count(*) AS n, sum(CASE WHEN {q(ORDER_DATE)} IS NULL THEN 1 ELSE 0 END) AS no_date, "
            f"sum(CASE WHEN {q(AMOUNT)} IS NULL OR isnan({q(AMOUNT)}) THEN 1 ELSE 0 END) AS no_amount FROM tx"
        ).to_pylist()[0]
        if not counts["n"]:
            raise DataError(f"{plan.source}: the table has no rows")
        for column, key in ((ORDER_DATE, "no_date"), (AMOUNT, "no_amount")):
            if counts[key]:
                raise DataError(
                    f"transactions ({plan.source}): {column} is missing on {counts[key]:,} lines",
                    column=column,
                )
        return int(counts["n"])

    def _report(self, sql: CleaningSql, rules: CleaningRules) -> CleaningSummary:
        per_reason = self._frame(sql.per_reason()).set_index("reason")
        codes = range(len(REASONS))
        table = pd.DataFrame(
            {
                "reason": list(REASONS),
                "rows": per_reason["n_rows"].reindex(codes, fill_value=0).to_numpy(dtype="int64"),
                "amount": per_reason["amount"].reindex(codes, fill_value=0.0).to_numpy(dtype="float64"),
            }
        )
        totals = self._arrow(sql.totals()).to_pylist()[0]
        self._create_per_customer("customer_reasons", sql.reasons_per_customer())
        by_customer = self._frame(sql.by_customer())
        by_customer = by_customer.set_index(
            pd.Index(by_customer.pop(CUSTOMER_ID).astype("str"), name=CUSTOMER_ID)
        )
        by_customer = by_customer.astype(
            {c: "int64" for c in ("lines", "cancelled_lines", "kept_lines", "cancellation_lines")}
            | {"cancelled_amount": "float64"}
        )
        removed = self._frame(sql.removed_customers())
        self._release("customer_reasons")  # one row per customer: its memory goes to the customer file
        counts = removed[[f"r{code}" for code in codes]].to_numpy(dtype="int64")
        main = counts.argmax(axis=1) if len(removed) else np.zeros(0, dtype=int)
        removed_customers = pd.DataFrame(
            {
                "lines": removed["lines"].to_numpy(dtype="int64"),
                "reason": pd.Series(np.asarray(REASONS, dtype=object)[main], dtype="str").to_numpy(),
            },
            index=pd.Index(removed[CUSTOMER_ID].astype("str"), name=CUSTOMER_ID),
        )
        return CleaningSummary(
            reasons=None,
            amounts=None,
            by_customer=by_customer[
                ["lines", "cancelled_lines", "kept_lines", "cancellation_lines", "cancelled_amount"]
            ],
            partially_netted=int(totals["partially_netted"] or 0),
            netted_amount=float(totals["netted_amount"] or 0.0),
            rules=rules,
            possible_duplicates=int(totals["possible_duplicates"] or 0),
            removed_customers=removed_customers,
            table=table,
        )

    def _customer_file(
        self,
        sql: CleaningSql,
        report: CleaningSummary,
        tables: dict[str, pd.DataFrame],
        snapshot_date: str | pd.Timestamp | None,
    ) -> pd.DataFrame:
        self._create("clean_lines", sql.lines())
        stats = self._arrow("SELECT count(*) AS n, max(day) AS last_day FROM clean_lines").to_pylist()[0]
        if not stats["n"]:
            raise DataError("transactions: no line is left after cleaning", column=CUSTOMER_ID)
        snapshot = features.snapshot_day(snapshot_date, int(stats["last_day"]), "marketing")
        self._create("lines", f"SELECT * FROM clean_lines WHERE day <= {int(snapshot)}")
        if not self._scalar("SELECT count(*) FROM lines"):
            raise DataError("no transaction on or before the snapshot date", column="snapshot_date")
        product_nulls = sql.has(PRODUCT_ID) and bool(
            self._scalar("SELECT count(*) FROM lines WHERE product_id IS NULL")
        )
        lines = features.sql_lines(
            self._arrow, sql.line_columns(), snapshot, product_nulls, self._per_customer_arrow
        )
        sessions, reviews = tables.get("sessions"), tables.get("reviews")
        if isinstance(sessions, tuple):
            sessions = self._session_reducer(sessions[1], snapshot)
        if isinstance(reviews, tuple):
            reviews = self._review_reducer(reviews[1], snapshot)
        return features.customer_file_of_lines(
            lines, tables.get("customers"), sessions, reviews, cancellations=report.by_customer
        )

    # ------------------------------------------------------------------ side tables in SQL
    def _side_rows(self, name: str, types: dict[str, str], date_column: str, snapshot: int) -> str:
        """SQL of ``side_<name>``'s rows up to the snapshot day, with canonical ``cid``."""
        table = f"side_{name}"
        if CUSTOMER_ID not in types:
            raise DataError(f"{name}: the table has no {CUSTOMER_ID!r} column", column=CUSTOMER_ID)
        q = self.dialect.ident
        cid = id_expression(q(CUSTOMER_ID), types[CUSTOMER_ID], self.dialect, self._scalar, table)
        where = ""
        if date_column in types:
            kind, column = types[date_column], q(date_column)
            ns = column if kind in ("bigint", "long") else self.dialect.epoch_ns(column)
            where = (
                f" WHERE {column} IS NULL OR {self.dialect.int_div(ns, str(NS_PER_DAY))} <= {int(snapshot)}"
            )
        return f"SELECT *, {cid} AS cid FROM {table}{where}"

    def _session_reducer(self, types: dict[str, str], snapshot: int):
        """``sessions(customer_ids, frequency)`` for :func:`segkit.features.customer_file_of_lines`."""
        q = self.dialect.ident
        sums = ["count(*) AS n"]
        if "pages_viewed" in types:
            sums.append(f"sum(coalesce(try_cast({q('pages_viewed')} AS DOUBLE), 0.0)) AS pages")
        if "converted" in types:
            sums.append(
                f"sum(CASE WHEN coalesce(CAST({q('converted')} AS BOOLEAN), FALSE) THEN 1.0 ELSE 0.0 END) AS conv"
            )
        rows = self._side_rows("sessions", types, "session_start", snapshot)
        table = self._frame(
            f"SELECT cid, {', '.join(sums)} FROM ({rows}) AS s WHERE cid IS NOT NULL GROUP BY cid"
        )

        def reduce(customer_ids: pd.Index, frequency: np.ndarray) -> pd.DataFrame:
            rows = features.positions(customer_ids, table["cid"])
            sums = {
                name: features.values_at(table[name].to_numpy(dtype="float64", na_value=0.0), rows)
                for name in ("n", "pages", "conv")
                if name in table
            }
            return features.session_columns(
                sums["n"].astype(np.int64), sums.get("pages"), sums.get("conv"), frequency, customer_ids
            )

        return reduce

    def _review_reducer(self, types: dict[str, str], snapshot: int):
        """``reviews(customer_ids)`` for :func:`segkit.features.customer_file_of_lines`."""
        if "score" not in types:
            raise DataError("reviews: the table has no 'score' column", column="score")
        rows = self._side_rows("reviews", types, "review_date", snapshot)
        score = f"try_cast({self.dialect.ident('score')} AS DOUBLE)"
        table = self._frame(
            f"SELECT cid, count({score}) AS n, coalesce(sum({score}), 0.0) AS total FROM ({rows}) AS r "
            "WHERE cid IS NOT NULL GROUP BY cid"
        )

        def reduce(customer_ids: pd.Index) -> pd.DataFrame:
            rows = features.positions(customer_ids, table["cid"])
            count = features.values_at(table["n"].to_numpy(dtype="float64", na_value=0.0), rows).astype(
                np.int64
            )
            total = features.values_at(table["total"].to_numpy(dtype="float64", na_value=0.0), rows)
            population_mean = float(total.sum() / count.sum()) if count.sum() else 0.0
            return features.review_columns(count, total, population_mean, customer_ids)

        return reduce
