"""The cleaning of :mod:`segkit.cleaning` written once in SQL, for DuckDB and Spark SQL.

Every SQL engine runs the same statements; a :class:`Dialect` supplies the few expressions the two
spell differently (identifier quoting, string literals, regular expressions, epoch nanoseconds,
integer division, a quantile). The statements follow :func:`segkit.cleaning.clean_transactions`
step by step, so each input row gets the same reason:

1. ``copies`` (the later lines of each set of exact copies, found through a hash of every column)
   and ``flagged``: the columns of the canonical table ``tx`` the cleaning reads (with ``_row``, the
   input order), ``_repeat`` (a later exact copy) and ``early``: the first of the reasons
   ``missing_customer_id``, ``non_product``, ``duplicate``, ``cancellation`` that applies.
2. ``netted``: the LIFO netting of cancellations against purchases as window functions, the same
   formulas as :func:`segkit.cleaning._lifo_pass` (cumulative sum reflected at zero, suffix minimum,
   one pass per (customer, product, unit price), then per (customer, product)); ties in time are
   broken by purchases first, then input order, as the stable sort of the pandas path.
3. ``prepared``: every row with its ``netted`` flag, netted ``net_amount`` and the reason settled
   before the outlier rule; the outlier threshold (a quantile over the lines still without a reason) is
   computed once, and ``cleaned`` gives every row its final ``reason`` code (index into
   :data:`segkit.cleaning.REASONS`).

The report (rows and amount per reason, netting totals, per-customer counts, removed customers) and the
clean lines of the customer file are queries on ``cleaned``; only per-customer rows leave the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from segkit.cleaning import _KEPT_CODES, _NET_TOLERANCE, _PURCHASE_REASONS, REASONS, CleaningRules
from segkit.schema import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
)

__all__ = ["Dialect", "DUCKDB", "SPARK", "CleaningSql", "NS_PER_DAY"]

NS_PER_DAY = 86_400_000_000_000
_CODE = {reason: code for code, reason in enumerate(REASONS)}
_KEPT = ", ".join(str(int(c)) for c in _KEPT_CODES)
_PURCHASES = ", ".join(str(_CODE[r]) for r in _PURCHASE_REASONS)
#: Columns of the clean lines the customer file reads (see :func:`segkit.features.sql_lines`).
LINE_COLUMNS = (ORDER_ID, PRODUCT_ID, CATEGORY, CHANNEL)
#: Columns of ``tx`` the cleaning and the customer file read (the others, e.g. descriptions, only
#: take part in finding exact copies).
_WORK_COLUMNS = (
    CUSTOMER_ID,
    ORDER_ID,
    ORDER_DATE,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
    AMOUNT,
    CATEGORY,
    CHANNEL,
)


@dataclass(frozen=True)
class Dialect:
    """The expressions DuckDB and Spark SQL spell differently."""

    name: str
    quote: str
    regex_template: str
    epoch_ns_template: str
    int_div_template: str
    quantile_template: str
    row_hash_template: str
    backslash_escapes: bool

    def ident(self, name: str) -> str:
        """A quoted identifier."""
        return f"{self.quote}{name.replace(self.quote, self.quote * 2)}{self.quote}"

    def literal(self, text: str) -> str:
        """A string literal."""
        if self.backslash_escapes:
            text = text.replace("\\", "\\\\")
        return "'" + text.replace("'", "''" if not self.backslash_escapes else "\\'") + "'"

    def regex(self, expression: str, pattern: str) -> str:
        """True when ``pattern`` is found in ``expression`` (search, as :meth:`re.search`)."""
        if self.name == "duckdb":
            pattern = re2_pattern(pattern)
        return self.regex_template.format(x=expression, p=self.literal(pattern))

    def epoch_ns(self, expression: str) -> str:
        """Nanoseconds since 1970-01-01 of a timestamp."""
        return self.epoch_ns_template.format(x=expression)

    def int_div(self, numerator: str, denominator: str) -> str:
        """Integer division of non-negative integers."""
        return self.int_div_template.format(a=numerator, b=denominator)

    def row_hash(self, expressions: str) -> str:
        """A 64-bit hash of a comma-separated list of expressions (equal rows hash equal)."""
        return self.row_hash_template.format(x=expressions)

    def quantile(self, expression: str, q: float) -> str:
        """The ``q`` quantile with linear interpolation (as :func:`numpy.quantile`)."""
        return self.quantile_template.format(x=expression, q=repr(float(q)))


DUCKDB = Dialect(
    name="duckdb",
    quote='"',
    regex_template="regexp_matches({x}, {p})",
    epoch_ns_template="epoch_ns({x})",
    int_div_template="({a} // {b})",
    quantile_template="quantile_cont({x}, {q})",
    row_hash_template="hash({x})",
    backslash_escapes=False,
)
SPARK = Dialect(
    name="spark",
    quote="`",
    regex_template="({x} RLIKE {p})",
    epoch_ns_template="(unix_micros(CAST({x} AS TIMESTAMP)) * 1000)",
    int_div_template="({a} div {b})",
    quantile_template="percentile({x}, {q})",
    row_hash_template="xxhash64({x})",
    backslash_escapes=True,
)

_LOOKAHEAD = re.compile(r"\(\?!(\[[^\]]*\])\)$")


def re2_pattern(pattern: str) -> str:
    """``pattern`` for RE2 (DuckDB), which has no look-ahead.

    A trailing negative look-ahead of one character class, as the default cancellation pattern
    ``^C(?![A-Za-z])``, becomes "another character or the end": ``^C([^A-Za-z]|$)``. Other patterns are
    passed unchanged (DuckDB then names what it cannot compile).
    """
    match = _LOOKAHEAD.search(pattern)
    if match is None:
        return pattern
    negated = "[^" + match.group(1)[1:] if not match.group(1).startswith("[^") else "[" + match.group(1)[2:]
    return pattern[: match.start()] + f"({negated}|$)"


@dataclass(frozen=True)
class CleaningSql:
    """The statements of the cleaning for one canonical table (``tx``) and one set of rules.

    Parameters
    ----------
    dialect
        :data:`DUCKDB` or :data:`SPARK`.
    columns
        The canonical columns of ``tx`` (besides ``_row``), in canonical order.
    rules
        The cleaning rules.
    """

    dialect: Dialect
    columns: tuple[str, ...]
    rules: CleaningRules
    #: The canonical table the statements read (the whole log, or one bucket of customers).
    table: str = "tx"

    def has(self, column: str) -> bool:
        return column in self.columns

    def _q(self, name: str) -> str:
        return self.dialect.ident(name)

    # ------------------------------------------------------------------ step 1
    def copies(self) -> str:
        """``copies``: ``_row`` of every line that repeats an earlier line (input order) in every column.

        Lines are grouped by a 64-bit hash of all their canonical columns first; only the lines of a
        hash seen more than once (the exact copies, and the rare hash collisions) are then compared
        column by column, in a window numbering each set of copies in input order. Numbering every
        line of the log in such a window sorts the whole log: on 10M lines of the demo shop the
        window took 4.1 s and the hash pass 2.1 s (DuckDB, 2 threads).
        """
        everything = ", ".join(self._q(c) for c in self.columns)
        hashed = self.dialect.row_hash(everything)
        repeated = (
            f"SELECT h FROM (SELECT {hashed} AS h FROM {self.table}) AS hashed GROUP BY h HAVING count(*) > 1"
        )
        return (
            f"SELECT _row FROM (SELECT _row, row_number() OVER (PARTITION BY {everything} ORDER BY _row) "
            f"AS _copy FROM {self.table} WHERE {hashed} IN ({repeated})) AS numbered WHERE _copy > 1"
        )

    def flagged(self) -> str:
        """``flagged``: the columns the cleaning reads, ``_repeat`` and ``early``.

        ``_repeat`` is true for a line in ``copies``; ``early`` is the code of the first early
        reason that applies, or NULL.
        """
        q = self._q
        conditions = [(f"{q(CUSTOMER_ID)} IS NULL", "missing_customer_id")]
        if self.has(PRODUCT_ID):
            conditions.append((self._non_product(), "non_product"))
        if self.has(ORDER_ID):
            conditions.append((f"{q(ORDER_ID)} IS NOT NULL AND _repeat", "duplicate"))
        conditions.append((self._cancellation(), "cancellation"))
        cases = " ".join(f"WHEN {condition} THEN {_CODE[reason]}" for condition, reason in conditions)
        read = ", ".join(q(c) for c in _WORK_COLUMNS if self.has(c))
        return (
            f"SELECT _row, {read}, _repeat, CASE {cases} END AS early FROM (SELECT t.*, "
            f"(c._row IS NOT NULL) AS _repeat FROM {self.table} AS t LEFT JOIN copies AS c ON t._row = c._row) "
            "AS marked"
        )

    def _non_product(self) -> str:
        product = self._q(PRODUCT_ID)
        tests = []
        if self.rules.non_product_codes:
            codes = ", ".join(self.dialect.literal(c) for c in self.rules.non_product_codes)
            tests.append(f"{product} IN ({codes})")
        for prefix in self.rules.non_product_prefixes:
            tests.append(
                f"substr(lower({product}), 1, {len(prefix)}) = {self.dialect.literal(prefix.lower())}"
            )
        return "(" + " OR ".join(tests) + ")" if tests else "FALSE"

    def _size(self) -> str:
        """Quantity, or amount without one; missing and NaN as 0 (the pandas path's ``nan_to_num``)."""
        column = self._q(QUANTITY if self.has(QUANTITY) else AMOUNT)
        return f"(CASE WHEN {column} IS NULL OR isnan({column}) THEN 0.0 ELSE {column} END)"

    def _cancellation(self) -> str:
        column = self._q(QUANTITY if self.has(QUANTITY) else AMOUNT)
        tests = [f"{column} < 0"]
        if self.rules.cancellation_pattern is not None and self.has(ORDER_ID):
            tests.append(self.dialect.regex(self._q(ORDER_ID), self.rules.cancellation_pattern))
        return "(" + " OR ".join(tests) + ")"

    # ------------------------------------------------------------------ step 2
    @property
    def nets(self) -> bool:
        """True when cancellations are netted (rules on, table has product ids)."""
        return self.rules.net_cancellations and self.has(PRODUCT_ID)

    def events(self) -> str:
        """``events``: purchases and cancellations with a product id, their capacity and demand.

        Only (customer, product) pairs with a cancellation: a purchase of any other pair keeps its
        whole size (in the pandas path its stack only grows, so every purchase keeps its capacity),
        and leaving them out spares the window functions almost every line of the log.
        """
        q = self._q
        price = q(UNIT_PRICE) if self.has(UNIT_PRICE) else "CAST(NULL AS DOUBLE)"
        size = self._size()
        cancel = _CODE["cancellation"]
        pairs = (
            f"EXISTS (SELECT 1 FROM flagged AS g WHERE g.early = {cancel} AND "
            f"g.{q(CUSTOMER_ID)} = flagged.{q(CUSTOMER_ID)} AND g.{q(PRODUCT_ID)} = flagged.{q(PRODUCT_ID)})"
        )
        return (
            f"SELECT _row, {q(CUSTOMER_ID)} AS c, {q(PRODUCT_ID)} AS p, {price} AS u, "
            f"{q(ORDER_DATE)} AS t, (coalesce(early, -1) = {_CODE['cancellation']}) AS is_cancel, "
            f"CASE WHEN early IS NULL THEN {size} ELSE 0.0 END AS cap, "
            f"CASE WHEN early = {_CODE['cancellation']} THEN abs({size}) ELSE 0.0 END AS need "
            f"FROM flagged WHERE (early IS NULL OR early = {cancel}) "
            f"AND {q(PRODUCT_ID)} IS NOT NULL AND {pairs}"
        )

    def lifo_pass(self, source: str, keys: Sequence[str]) -> str:
        """One netting pass over ``source`` within groups ``keys`` (see :func:`segkit.cleaning._lifo_pass`)."""
        partition = ", ".join(keys)
        order = f"PARTITION BY {partition} ORDER BY t, is_cancel, _row"
        tol = repr(_NET_TOLERANCE)
        stepped = (
            f"SELECT *, sum(CASE WHEN is_cancel THEN -need ELSE cap END) OVER ({order} "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum FROM {source}"
        )
        levelled = (
            f"SELECT *, cum - min(least(cum, 0.0)) OVER ({order} ROWS BETWEEN UNBOUNDED PRECEDING "
            f"AND CURRENT ROW) AS lvl FROM ({stepped}) AS s1"
        )
        framed = (
            f"SELECT *, coalesce(lag(lvl) OVER ({order}), 0.0) AS before, min(lvl) OVER ({order} "
            f"ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS after FROM ({levelled}) AS s2"
        )
        kept = "greatest(0.0, after - before)"
        unmatched = "greatest(0.0, need - before)"
        return (
            f"SELECT _row, c, p, u, t, is_cancel, "
            f"CASE WHEN is_cancel OR {kept} <= {tol} THEN 0.0 ELSE least({kept}, cap) END AS cap, "
            f"CASE WHEN is_cancel AND {unmatched} > {tol} THEN {unmatched} ELSE 0.0 END AS need "
            f"FROM ({framed}) AS s3"
        )

    def netting(self) -> str:
        """``netted``: ``_row`` and the remaining capacity of every event after both passes."""
        source = "events"
        if self.has(UNIT_PRICE):
            source = f"({self.lifo_pass('events', ('c', 'p', 'u'))}) AS same_price"
        return f"SELECT _row, cap AS remaining FROM ({self.lifo_pass(source, ('c', 'p'))}) AS any_price"

    # ------------------------------------------------------------------ step 3
    def prepared(self) -> str:
        """``prepared``: every line with the columns the report and the customer file read, ``_repeat``,
        ``netted``, ``net_amount`` and ``pre`` (the code of its reason when it is settled before the
        outlier rule: an early reason, ``cancelled_purchase`` or ``non_positive_price``; else NULL).

        The netted quantity is not kept: nothing downstream of the cleaning reads quantities.
        """
        q = self._q
        tol = repr(_NET_TOLERANCE)
        size = self._size()
        original = f"(CASE WHEN early IS NULL THEN {size} ELSE 0.0 END)"
        if self.nets:
            remaining = f"(CASE WHEN early IS NULL THEN coalesce(n.remaining, {size}) ELSE 0.0 END)"
            source = "flagged AS f LEFT JOIN netted AS n ON f._row = n._row"
        else:
            remaining, source = original, "flagged AS f"
        netted = f"(early IS NULL AND {original} - {remaining} > {tol})"
        ratio = f"(CASE WHEN {original} <> 0 THEN {remaining} / {original} ELSE 1.0 END)"
        amount = q(AMOUNT)
        net_amount = f"(CASE WHEN {netted} THEN {amount} * {ratio} ELSE {amount} END)"
        base = (
            f"SELECT f.*, {netted} AS netted, {remaining} AS remaining, {net_amount} AS net_amount "
            f"FROM {source}"
        )
        negative = (
            f"({self._price()} < 0 OR net_amount < 0 OR {self._price()} IS NULL OR isnan({self._price()}))"
        )
        if self.rules.zero_amount == "drop":
            negative = f"({negative} OR {self._zero()})"
        kept_columns = ", ".join(
            q(c) for c in (CUSTOMER_ID, ORDER_DATE, AMOUNT, UNIT_PRICE, *LINE_COLUMNS) if self.has(c)
        )
        return (
            f"SELECT _repeat, {kept_columns}, netted, net_amount, CASE WHEN early IS NOT NULL THEN early "
            f"WHEN netted AND remaining <= {tol} THEN {_CODE['cancelled_purchase']} "
            f"WHEN {negative} THEN {_CODE['non_positive_price']} END AS pre FROM ({base}) AS b"
        )

    def _price(self) -> str:
        return self._q(UNIT_PRICE) if self.has(UNIT_PRICE) else "net_amount"

    def _zero(self) -> str:
        return f"({self._price()} = 0 OR net_amount = 0)"

    def outlier_threshold(self) -> str | None:
        """The query of the outlier threshold: the quantile of ``net_amount`` over the lines of
        ``prepared`` without a reason yet (None when the rules do not drop outliers)."""
        if not self.rules.outliers:
            return None
        quantile = self.dialect.quantile("net_amount", self.rules.outlier_quantile)
        return f"SELECT {quantile} FROM prepared WHERE pre IS NULL"

    def cleaned(self, threshold: float | None) -> str:
        """``cleaned``: ``prepared`` with every line's final ``reason`` code (index into
        :data:`segkit.cleaning.REASONS`); ``threshold`` is the value of :meth:`outlier_threshold`
        (None: no outlier rule, or no line to take it from).
        """
        outlier = "FALSE"
        if threshold is not None:
            outlier = f"net_amount > CAST({self.dialect.literal(repr(float(threshold)))} AS DOUBLE)"
        return (
            f"SELECT *, CASE WHEN pre IS NOT NULL THEN pre "
            f"WHEN {outlier} THEN {_CODE['outlier']} WHEN {self._zero()} THEN {_CODE['zero_amount']} "
            f"ELSE {_CODE['kept']} END AS reason FROM prepared"
        )

    # ------------------------------------------------------------------ report queries
    def per_reason(self) -> str:
        """Rows and input amount per reason code."""
        return f"SELECT reason, count(*) AS n_rows, sum({self._q(AMOUNT)}) AS amount FROM cleaned GROUP BY reason"

    def totals(self) -> str:
        """Partly netted kept lines, amount taken off by netting, possible duplicates."""
        no_order = f"{self._q(ORDER_ID)} IS NULL" if self.has(ORDER_ID) else "TRUE"
        return (
            f"SELECT sum(CASE WHEN reason IN ({_KEPT}) AND netted THEN 1 ELSE 0 END) AS partially_netted, "
            f"sum(CASE WHEN netted THEN {self._q(AMOUNT)} - net_amount ELSE 0.0 END) AS netted_amount, "
            f"sum(CASE WHEN _repeat AND {no_order} AND reason IN ({_KEPT}) THEN 1 ELSE 0 END) "
            "AS possible_duplicates FROM cleaned"
        )

    def reasons_per_customer(self) -> str:
        """``customer_reasons``: per customer with an id, its lines (``lines``), its lines per reason
        code (``r0``, ``r1``...), its partly or wholly netted purchase lines (``netted_lines``) and the
        amount netting took off them (``netted_amount``). One pass over ``cleaned`` for
        :meth:`by_customer` and :meth:`removed_customers`.
        """
        customer = self._q(CUSTOMER_ID)
        counts = ", ".join(
            f"sum(CASE WHEN reason = {code} THEN 1 ELSE 0 END) AS r{code}" for code in range(len(REASONS))
        )
        return (
            f"SELECT {customer} AS customer_id, count(*) AS lines, {counts}, "
            "sum(CASE WHEN netted THEN 1 ELSE 0 END) AS netted_lines, "
            f"sum(CASE WHEN netted THEN {self._q(AMOUNT)} - net_amount ELSE 0.0 END) AS netted_amount "
            f"FROM cleaned WHERE {customer} IS NOT NULL GROUP BY {customer}"
        )

    def by_customer(self) -> str:
        """The per-customer table of :attr:`segkit.cleaning.CleaningReport.by_customer`, from ``customer_reasons``.

        A netted line is always a purchase (netting only touches lines without an early reason).
        """
        purchases = " + ".join(f"r{_CODE[r]}" for r in _PURCHASE_REASONS)
        cancel = f"r{_CODE['cancellation']}"
        return (
            f"SELECT customer_id, {purchases} AS lines, netted_lines AS cancelled_lines, "
            f"{' + '.join(f'r{int(c)}' for c in _KEPT_CODES)} AS kept_lines, {cancel} AS cancellation_lines, "
            f"netted_amount AS cancelled_amount FROM customer_reasons WHERE {purchases} + {cancel} > 0 "
            "ORDER BY customer_id"
        )

    def removed_customers(self) -> str:
        """Customers without a kept line: their lines and their line count per reason code."""
        counts = ", ".join(f"r{code}" for code in range(len(REASONS)))
        return (
            f"SELECT customer_id, lines, {counts} FROM customer_reasons "
            f"WHERE {' + '.join(f'r{int(c)}' for c in _KEPT_CODES)} = 0 ORDER BY customer_id"
        )

    def lines(self) -> str:
        """The clean lines in the columns :func:`segkit.features.sql_lines` reads (before the snapshot)."""
        q = self._q
        timestamp_ns = self.dialect.epoch_ns(q(ORDER_DATE))
        extra = "".join(f", {q(c)} AS {c}" for c in LINE_COLUMNS if self.has(c))
        return (
            f"SELECT {q(CUSTOMER_ID)} AS customer_id, {timestamp_ns} AS timestamp_ns, "
            f"{self.dialect.int_div(timestamp_ns, str(NS_PER_DAY))} AS day, net_amount AS amount{extra} "
            f"FROM cleaned WHERE reason IN ({_KEPT})"
        )

    def line_columns(self) -> tuple[str, ...]:
        """Columns of :meth:`lines`."""
        return (CUSTOMER_ID, "timestamp_ns", "day", AMOUNT) + tuple(c for c in LINE_COLUMNS if self.has(c))


#: A function that runs one SQL statement and returns its result (or None for a statement).
Runner = Callable[[str], object]
