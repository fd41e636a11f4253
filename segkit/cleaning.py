"""Clean a canonical transaction table and account for every input row by reason.

Each input row is counted under exactly one reason, the first that applies, in this order
(:data:`REASONS`):

1. ``missing_customer_id``: no customer id.
2. ``non_product``: the product id is a non-product code (postage, manual lines, bank charges, fees,
   test lines, "adjust bad debt"; :attr:`CleaningRules.non_product_codes`, compared exactly) or starts
   with a non-product prefix (gift vouchers ``gift_...``; compared case-insensitively).
3. ``duplicate``: an exact copy (every column) of an earlier row that carries an order id; the first
   copy is kept. Rows without an order id (no ``order_id`` column, or an empty one) are never dropped
   as duplicates: two identical purchases on the same day are real repeat purchases in a log without
   order numbers (the CDNOW log has 255 such rows). They are counted in
   :attr:`CleaningReport.possible_duplicates` and kept.
4. ``cancellation``: a cancellation line: the order id matches
   :attr:`CleaningRules.cancellation_pattern` (UCI "C" invoices) or the quantity is negative (the
   amount, when the table has no quantity).
5. ``cancelled_purchase``: a purchase line whose whole quantity was netted away by later
   cancellations (see below).
6. ``non_positive_price``: unit price (or, without one, amount) negative, or amount negative; zero
   too when :attr:`CleaningRules.zero_amount` is ``"drop"``.
7. ``outlier``: only when :attr:`CleaningRules.outliers` is on: amount above the
   :attr:`CleaningRules.outlier_quantile` of the lines still kept.
8. ``zero_amount``: a $0 purchase line (amount or unit price exactly 0). **Kept** by default
   (:attr:`CleaningRules.zero_amount` ``"keep"``) and reported under this reason: a $0 purchase is
   still a purchase, so it counts for recency, frequency and the BTYD summaries (the published CDNOW
   fits count the log's 8 $0 purchases) and adds no revenue. Every layout uses this default.
9. ``kept``.

Rows under ``zero_amount`` and ``kept`` form the clean table (:data:`KEPT_REASONS`). Customers
who keep no line at all are listed, with the reason of most of their lines, in
:attr:`CleaningReport.removed_customers`.

Netting
-------
A cancellation is matched to the latest earlier purchase line of the same customer and product, and
its quantity is taken off that line, then off earlier ones while some remains (last in, first out);
purchases at the same timestamp as the cancellation count as earlier. The same unit price is
preferred: netting runs in two passes, first among lines of the same customer, product and unit price,
then the rest of each cancellation against the lines of the same customer and product at any price.
Cancellation quantity that matches no earlier purchase is dropped with its line. A purchase netted
to quantity 0 becomes ``cancelled_purchase``; a partly netted one stays ``kept`` with the reduced
quantity and its amount scaled in proportion. Without ``product_id`` nothing is netted.

The netting is vectorised: within a group (in time order) the purchases form a stack, the level of
the stack is the cumulative sum of purchases minus cancellations reflected at zero
(``L_t = S_t - min(0, min_{s<=t} S_s)``), each cancellation's unmatched quantity is
``max(0, demand - L_{t-1})``, and a purchase entered at level ``L_{p-1}`` keeps
``max(0, min_{t>=p} L_t - L_{p-1})`` units. Cumulative sums and minima per group replace any loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import (
    AMOUNT,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
    ParameterError,
    validate_transactions,
)

__all__ = [
    "REASONS",
    "KEPT_REASONS",
    "DEFAULT_NON_PRODUCT_CODES",
    "CleaningRules",
    "CleaningReport",
    "clean_transactions",
]

#: Reasons, in the order they are tested; every input row gets exactly one.
REASONS: tuple[str, ...] = (
    "missing_customer_id",
    "non_product",
    "duplicate",
    "cancellation",
    "cancelled_purchase",
    "non_positive_price",
    "outlier",
    "zero_amount",
    "kept",
)
#: Reasons of the rows that stay in the clean table.
KEPT_REASONS: tuple[str, ...] = ("zero_amount", "kept")
_CODE = {reason: code for code, reason in enumerate(REASONS)}
_KEPT_CODES = np.array([_CODE[r] for r in KEPT_REASONS])
#: Reasons of purchase lines (rows that reached the netting step).
_PURCHASE_REASONS = ("cancelled_purchase", "non_positive_price", "outlier", "zero_amount", "kept")

#: Non-product stock codes of the UCI Online Retail data sets: postage (POST, DOT: dotcom postage,
#: C2: carriage), manual lines (M, m), discounts (D), samples (S), bank charges, Amazon fees, CRUK
#: commission, adjustments (ADJUST, ADJUST2, B: adjust bad debt), test lines, pads (PADS: padding
#: cushions, priced 0.001 as a placeholder).
DEFAULT_NON_PRODUCT_CODES: tuple[str, ...] = (
    "POST",
    "DOT",
    "M",
    "m",
    "D",
    "C2",
    "S",
    "BANK CHARGES",
    "AMAZONFEE",
    "CRUK",
    "ADJUST",
    "ADJUST2",
    "TEST001",
    "TEST002",
    "PADS",
    "B",
)
_NET_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CleaningRules:
    """What :func:`clean_transactions` removes.

    Parameters
    ----------
    non_product_codes
        Product ids of non-product lines, compared exactly (case-sensitive: UCI uses both ``M`` and
        ``m``).
    non_product_prefixes
        Product-id prefixes of non-product lines, compared case-insensitively (gift vouchers).
    cancellation_pattern
        Regular expression an order id of a cancellation invoice matches (default: ``C`` not followed
        by a letter, as UCI's ``C489449``; ids such as ``CA-2016-1`` do not match). None: only negative
        quantities mark cancellations.
    net_cancellations
        Net cancellations against earlier purchases (see the module docstring). When False they are
        only dropped.
    outliers
        Flag lines whose amount exceeds ``outlier_quantile`` of the kept lines (off by default).
    outlier_quantile
        Quantile in (0, 1) of line amounts above which a line is an outlier.
    zero_amount
        ``"keep"`` (default): $0 purchase lines stay, under the reason ``zero_amount`` (they count
        as purchases and add no revenue); ``"drop"``: they are removed as ``non_positive_price``.
    """

    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES
    non_product_prefixes: tuple[str, ...] = ("gift_",)
    cancellation_pattern: str | None = r"^C(?![A-Za-z])"
    net_cancellations: bool = True
    outliers: bool = False
    outlier_quantile: float = 0.999
    zero_amount: str = "keep"

    def __post_init__(self) -> None:
        if self.zero_amount not in ("keep", "drop"):
            raise ParameterError(
                f"CleaningRules.zero_amount must be 'keep' or 'drop', got {self.zero_amount!r}",
                column="zero_amount",
            )
        for name in ("non_product_codes", "non_product_prefixes"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ParameterError(f"CleaningRules.{name} must be a tuple of strings", column=name)
            object.__setattr__(self, name, tuple(value))
        if self.cancellation_pattern is not None:
            try:
                re.compile(self.cancellation_pattern)
            except re.error as exc:
                raise ParameterError(
                    f"CleaningRules.cancellation_pattern is not a regular expression ({exc})",
                    column="cancellation_pattern",
                ) from None
        if not 0.0 < float(self.outlier_quantile) < 1.0:
            raise ParameterError(
                f"CleaningRules.outlier_quantile must be in (0, 1), got {self.outlier_quantile!r}",
                column="outlier_quantile",
            )


@dataclass
class CleaningReport:
    """Where every input row went.

    Attributes
    ----------
    reasons
        One reason per input row (categorical, categories :data:`REASONS`), aligned with the input index.
    amounts
        The input ``amount`` of each row (aligned with ``reasons``), before any netting.
    by_customer
        Per customer id (index ``customer_id``): ``lines`` (purchase lines, cancelled ones included),
        ``cancelled_lines`` (purchase lines netted fully or partly by a cancellation),
        ``cancellation_lines`` (the customer's cancellation lines), ``kept_lines`` and ``cancelled_amount`` (amount
        taken off by netting, source currency). ``cancelled_lines / lines`` is the share of cancelled
        lines.
    partially_netted
        Number of kept lines whose quantity and amount were reduced by netting.
    netted_amount
        Amount taken off purchase lines by netting (fully and partly netted lines together).
    rules
        The rules used.
    possible_duplicates
        Kept rows without an order id that are exact copies of an earlier row (same customer, date,
        amount...): possibly a double entry, possibly a real repeat purchase; kept and counted here.
    removed_customers
        Customers (index ``customer_id``) who had input lines but keep none: ``lines`` (their input
        rows) and ``reason`` (the reason of most of their lines; ties go to the earlier reason).
    """

    reasons: pd.Series
    amounts: pd.Series
    by_customer: pd.DataFrame
    partially_netted: int = 0
    netted_amount: float = 0.0
    rules: CleaningRules = field(default_factory=CleaningRules)
    possible_duplicates: int = 0
    removed_customers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"lines": pd.Series(dtype="int64"), "reason": pd.Series(dtype="str")},
            index=pd.Index([], dtype="str", name=CUSTOMER_ID),
        )
    )

    @property
    def n_input(self) -> int:
        """Number of input rows."""
        return int(len(self.reasons))

    @property
    def n_kept(self) -> int:
        """Number of rows in the clean table (reasons ``zero_amount`` and ``kept``)."""
        return int(self.reasons.isin(KEPT_REASONS).sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per reason (in :data:`REASONS` order, ``kept`` last): ``reason``, ``rows``, ``amount``.

        ``rows`` sums to the number of input rows; ``amount`` is the input amount of those rows
        (before netting), so it sums to the input total.
        """
        codes = self.reasons.cat.codes.to_numpy()
        rows = np.bincount(codes, minlength=len(REASONS))
        amount = np.bincount(codes, weights=self.amounts.to_numpy(dtype="float64"), minlength=len(REASONS))
        return pd.DataFrame({"reason": list(REASONS), "rows": rows.astype("int64"), "amount": amount})

    def __str__(self) -> str:
        table = self.to_frame()
        total = max(self.n_input, 1)
        width = max(len(r) for r in REASONS)
        lines = [
            f"Cleaning report: {self.n_input:,} input lines, {self.n_kept:,} kept ({self.n_kept / total:.1%})"
        ]
        for row in table.itertuples(index=False):
            lines.append(
                f"  {row.reason:<{width}}  {row.rows:>10,} lines  {row.rows / total:>6.1%}  amount {row.amount:>16,.2f}"
            )
        lines.append(
            f"  {self.partially_netted:,} kept lines partly netted; {self.netted_amount:,.2f} taken off purchases by netting"
        )
        customers = self.by_customer
        kept_customers = int((customers["kept_lines"] > 0).sum())
        lines.append(
            f"  customers with purchase lines: {int((customers['lines'] > 0).sum()):,}; with kept lines: {kept_customers:,}"
        )
        if self.possible_duplicates:
            lines.append(
                f"  {self.possible_duplicates:,} kept lines without an order id repeat an earlier line exactly "
                "(possible duplicates, kept: same-day repeat purchases are real)"
            )
        if len(self.removed_customers):
            by_reason = self.removed_customers["reason"].value_counts()
            lines.append(
                f"  {len(self.removed_customers):,} customers removed entirely ("
                + ", ".join(f"{reason}: {count:,}" for reason, count in by_reason.items())
                + "); see removed_customers"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.__str__())}</pre>" + self.to_frame().to_html(index=False)


def clean_transactions(
    df: pd.DataFrame, rules: CleaningRules | None = None
) -> tuple[pd.DataFrame, CleaningReport]:
    """Remove unusable lines and net cancellations; report every input row's reason.

    Parameters
    ----------
    df
        Canonical transactions (see :mod:`segkit.schema`); not modified.
    rules
        What to remove; default :class:`CleaningRules`.

    Returns
    -------
    clean : pandas.DataFrame
        The kept lines, input columns and index labels, in input order; partly netted lines carry
        their reduced ``quantity`` and ``amount``.
    report : CleaningReport
        One reason per input row, counts and amounts per reason, per-customer cancellation counts.
    """
    rules = CleaningRules() if rules is None else rules
    if not isinstance(rules, CleaningRules):
        raise ParameterError(f"rules must be a CleaningRules, got {type(rules).__name__}", column="rules")
    validate_transactions(df)
    book = _ReasonBook(len(df))
    book.assign(df[CUSTOMER_ID].isna().to_numpy(), "missing_customer_id")
    if PRODUCT_ID in df.columns:
        book.assign(_non_product(df[PRODUCT_ID], rules), "non_product")
    exact_copy = df.duplicated(keep="first").to_numpy()
    has_order_id = df[ORDER_ID].notna().to_numpy() if ORDER_ID in df.columns else np.zeros(len(df), bool)
    book.assign(exact_copy & has_order_id, "duplicate")
    book.assign(_is_cancellation(df, rules), "cancellation")

    netting = _netting(df, book, rules)
    book.assign(netting.netted & (netting.remaining <= _NET_TOLERANCE), "cancelled_purchase")
    price = (
        df[UNIT_PRICE].to_numpy(dtype="float64", na_value=np.nan)
        if UNIT_PRICE in df.columns
        else netting.amount
    )
    zero = (price == 0) | (netting.amount == 0)
    negative = (price < 0) | (netting.amount < 0) | np.isnan(price)
    book.assign(negative | (zero if rules.zero_amount == "drop" else False), "non_positive_price")
    if rules.outliers and (~book.assigned).any():
        threshold = np.quantile(netting.amount[~book.assigned], rules.outlier_quantile)
        book.assign(netting.amount > threshold, "outlier")
    book.assign(zero, "zero_amount")

    kept = ~book.assigned | book.has("zero_amount")
    clean = df.iloc[np.flatnonzero(kept)]
    if (kept & netting.netted).any():
        clean[AMOUNT] = netting.amount[kept]
        if QUANTITY in df.columns:
            clean[QUANTITY] = netting.quantity[kept]
    input_amount = df[AMOUNT].to_numpy(dtype="float64")
    taken_off = input_amount - netting.amount
    report = CleaningReport(
        reasons=pd.Series(
            pd.Categorical.from_codes(book.reason, categories=list(REASONS)), index=df.index, name="reason"
        ),
        amounts=pd.Series(input_amount, index=df.index, name=AMOUNT),
        by_customer=_by_customer(df[CUSTOMER_ID], book.reason, netting.netted, taken_off),
        partially_netted=int((kept & netting.netted).sum()),
        netted_amount=float(taken_off[netting.netted].sum()),
        rules=rules,
        possible_duplicates=int((exact_copy & ~has_order_id & kept).sum()),
        removed_customers=_removed_customers(df[CUSTOMER_ID], book.reason),
    )
    return clean, report


def _removed_customers(customers: pd.Series, reason: np.ndarray) -> pd.DataFrame:
    """Customers with input lines and no kept line: their line count and their main reason."""
    known = customers.notna().to_numpy()
    codes, uniques = pd.factorize(customers[known], sort=True)
    n = len(uniques)
    row_reason = reason[known]
    kept = np.bincount(codes, weights=np.isin(row_reason, _KEPT_CODES), minlength=n)
    lines = np.bincount(codes, minlength=n)
    counts = np.zeros((n, len(REASONS)), dtype="int64")
    np.add.at(counts, (codes, row_reason), 1)
    removed = np.flatnonzero(kept == 0)
    main = counts[removed].argmax(axis=1)  # argmax takes the first (earlier reason) on ties
    return pd.DataFrame(
        {
            "lines": lines[removed].astype("int64"),
            "reason": pd.Series(np.asarray(REASONS, dtype=object)[main], dtype="str").to_numpy(),
        },
        index=pd.Index(pd.Series(uniques[removed], dtype="str"), name=CUSTOMER_ID),
    )


class _ReasonBook:
    """The reason code of every row; a row keeps the first reason assigned to it."""

    def __init__(self, n_rows: int) -> None:
        self.reason = np.full(n_rows, _CODE["kept"], dtype=np.int8)
        self.assigned = np.zeros(n_rows, dtype=bool)

    def assign(self, mask: np.ndarray, name: str) -> None:
        new = np.asarray(mask, dtype=bool) & ~self.assigned
        self.reason[new] = _CODE[name]
        self.assigned[new] = True

    def has(self, name: str) -> np.ndarray:
        return self.reason == _CODE[name]


@dataclass(frozen=True)
class _Netting:
    """Per row: the purchase lines netted (fully or partly), their remaining size, new quantity and amount."""

    netted: np.ndarray
    remaining: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray


def _netting(df: pd.DataFrame, book: _ReasonBook, rules: CleaningRules) -> _Netting:
    """Net the cancellation lines against the unassigned (purchase) lines.

    Sizes are quantities, or amounts when the table has no quantity; amounts of partly netted lines
    are scaled by remaining / original size.
    """
    has_quantity = QUANTITY in df.columns
    size = (df[QUANTITY] if has_quantity else df[AMOUNT]).to_numpy(dtype="float64", na_value=np.nan)
    size = np.nan_to_num(size, nan=0.0)
    purchase = ~book.assigned
    original = np.where(purchase, size, 0.0)
    remaining = original
    if rules.net_cancellations and PRODUCT_ID in df.columns:
        remaining = _net(df, purchase, book.has("cancellation"), np.abs(size), original)
    netted = purchase & (original - remaining > _NET_TOLERANCE)
    amount = df[AMOUNT].to_numpy(dtype="float64")
    ratio = np.divide(remaining, original, out=np.ones(len(df)), where=netted & (original != 0))
    quantity = df[QUANTITY].to_numpy(dtype="float64", na_value=np.nan) if has_quantity else amount
    return _Netting(
        netted=netted,
        remaining=remaining,
        quantity=np.where(netted, remaining, quantity) if has_quantity else quantity,
        amount=np.where(netted, amount * ratio, amount),
    )


# --------------------------------------------------------------------------- rules
def _on_uniques(values: pd.Series, test: Any) -> np.ndarray:
    """Apply a vectorised ``test`` (str Series -> bool Series) once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return np.zeros(len(values), dtype=bool)
    hits = test(pd.Series(uniques, dtype="str")).fillna(False).to_numpy(dtype=bool)
    return np.where(codes >= 0, hits[np.maximum(codes, 0)], False)


def _non_product(products: pd.Series, rules: CleaningRules) -> np.ndarray:
    codes = set(rules.non_product_codes)
    prefixes = tuple(p.lower() for p in rules.non_product_prefixes)

    def test(unique: pd.Series) -> pd.Series:
        hit = unique.isin(codes)
        if prefixes:
            hit = hit | unique.str.lower().str.startswith(prefixes)
        return hit

    return _on_uniques(products, test)


def _is_cancellation(df: pd.DataFrame, rules: CleaningRules) -> np.ndarray:
    size_column = QUANTITY if QUANTITY in df.columns else AMOUNT
    cancel = df[size_column].to_numpy(dtype="float64", na_value=np.nan) < 0
    if rules.cancellation_pattern is not None and ORDER_ID in df.columns:
        pattern = rules.cancellation_pattern
        cancel = cancel | _on_uniques(df[ORDER_ID], lambda unique: unique.str.contains(pattern, regex=True))
    return cancel


# --------------------------------------------------------------------------- netting
def _net(
    df: pd.DataFrame,
    purchase: np.ndarray,
    cancellation: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """Remaining quantity of every row after netting (0 for rows that are not purchases)."""
    product_known = df[PRODUCT_ID].notna().to_numpy()
    events = np.flatnonzero((purchase | cancellation) & product_known)
    if not cancellation[events].any():
        return capacity
    customer_codes = pd.factorize(df[CUSTOMER_ID])[0][events]
    product_codes = pd.factorize(df[PRODUCT_ID])[0][events]
    same_product = _combine_codes(customer_codes, product_codes)
    is_cancel = cancellation[events]
    times = df[ORDER_DATE].to_numpy()[events].astype("int64")
    # order within a group: time, then purchases before cancellations (then input order: stable sort)
    time_key = (times - times.min()) * 2 + is_cancel
    cap = np.where(is_cancel, 0.0, capacity[events])
    need = np.where(is_cancel, demand[events], 0.0)
    if UNIT_PRICE in df.columns:
        price_codes = pd.factorize(df[UNIT_PRICE].to_numpy(dtype="float64"), use_na_sentinel=False)[0][events]
        same_price = _combine_codes(same_product, price_codes)
        cap, need = _lifo_pass(same_price, time_key, is_cancel, cap, need)
    cap, _ = _lifo_pass(same_product, time_key, is_cancel, cap, need)
    remaining = capacity.copy()
    remaining[events] = np.where(is_cancel, 0.0, cap)
    return remaining


def _combine_codes(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs (first, second) of non-negative integer codes."""
    combined = first.astype("int64") * (int(second.max()) + 1) + second.astype("int64")
    return pd.factorize(combined)[0]


def _lifo_pass(
    group_codes: np.ndarray,
    time_key: np.ndarray,
    is_cancel: np.ndarray,
    cap: np.ndarray,
    need: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One netting pass within groups: purchases' remaining capacity, cancellations' unmatched need.

    Events are ordered by group, then ``time_key`` (time, purchases first), then input order.
    """
    order = np.lexsort((time_key, group_codes))  # stable: ties keep input order
    group = group_codes[order]
    boundary = np.ones(len(order), dtype=bool)
    boundary[1:] = group[1:] != group[:-1]
    sorted_cancel = is_cancel[order]
    sorted_cap = cap[order]
    sorted_need = need[order]
    step = np.where(sorted_cancel, -sorted_need, sorted_cap)

    cumulative = pd.Series(step).groupby(group, sort=False).cumsum().to_numpy()
    floor = pd.Series(np.minimum(cumulative, 0.0)).groupby(group, sort=False).cummin().to_numpy()
    level = cumulative - floor  # stack level after each event, reflected at 0
    level_before = np.where(boundary, 0.0, np.roll(level, 1))
    suffix_min = pd.Series(level[::-1]).groupby(group[::-1], sort=False).cummin().to_numpy()[::-1]

    kept_sorted = np.where(sorted_cancel, 0.0, np.maximum(0.0, suffix_min - level_before))
    kept_sorted = np.where(kept_sorted <= _NET_TOLERANCE, 0.0, np.minimum(kept_sorted, sorted_cap))
    unmatched_sorted = np.where(sorted_cancel, np.maximum(0.0, sorted_need - level_before), 0.0)
    unmatched_sorted = np.where(unmatched_sorted <= _NET_TOLERANCE, 0.0, unmatched_sorted)

    new_cap = np.empty(len(order))
    new_need = np.empty(len(order))
    new_cap[order] = kept_sorted
    new_need[order] = unmatched_sorted
    return new_cap, new_need


# --------------------------------------------------------------------------- per customer
def _by_customer(
    customers: pd.Series, reason: np.ndarray, netted: np.ndarray, taken_off: np.ndarray
) -> pd.DataFrame:
    purchase_codes = [_CODE[r] for r in _PURCHASE_REASONS]
    is_purchase = np.isin(reason, purchase_codes)
    is_cancellation = reason == _CODE["cancellation"]
    relevant = (is_purchase | is_cancellation) & customers.notna().to_numpy()
    codes, uniques = pd.factorize(customers[relevant], sort=True)
    n_customers = len(uniques)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=mask[relevant].astype("float64"), minlength=n_customers).astype(
            "int64"
        )

    table = pd.DataFrame(
        {
            "lines": count(is_purchase),
            "cancelled_lines": count(is_purchase & netted),
            "kept_lines": count(np.isin(reason, _KEPT_CODES)),
            "cancellation_lines": count(is_cancellation),
            "cancelled_amount": np.bincount(
                codes, weights=np.where(netted, taken_off, 0.0)[relevant], minlength=n_customers
            ),
        },
        index=pd.Index(pd.Series(uniques, dtype="str"), name=CUSTOMER_ID),
    )
    return table
