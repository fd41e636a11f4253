"""The bundle every reader returns: canonical transactions plus the optional side tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from segkit.schema import SIDE_TABLES

__all__ = ["Dataset"]


@dataclass
class Dataset:
    """Canonical transactions plus the optional side tables of a source.

    Attributes
    ----------
    transactions
        Canonical transaction table (one row per order line, see :mod:`segkit.schema`).
    customers
        One row per customer: ``customer_id`` and attributes (age, gender, income_band, region...).
    sessions
        Browsing log: ``customer_id``, ``session_start``, ``pages_viewed``, ``category_viewed``...
    reviews
        ``order_id``, ``customer_id``, ``score`` (1-5), ``review_date``.
    products
        ``product_id``, ``category``, ``list_price``.
    source
        The path as given (or a description of an in-memory source).
    layout
        ``generic``, ``online_retail`` or ``olist``.
    details
        Reader notes, e.g. ``statuses_counted`` for Olist.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame | None = None
    sessions: pd.DataFrame | None = None
    reviews: pd.DataFrame | None = None
    products: pd.DataFrame | None = None
    source: str = ""
    layout: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the non-None tables by name, transactions first."""
        tables = {"transactions": self.transactions}
        for name in SIDE_TABLES:
            table = getattr(self, name)
            if table is not None:
                tables[name] = table
        return tables
