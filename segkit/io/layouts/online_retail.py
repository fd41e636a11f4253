"""The ``online_retail`` layout: the UCI "Online Retail" and "Online Retail II" files.

"Online Retail" (``InvoiceNo ... UnitPrice, CustomerID``) and "Online Retail II"
(``Invoice ... Price, Customer ID``), recognised by their header; CSV, Parquet or XLSX (every sheet
of a workbook is read and stacked: the published Online Retail II workbook has two). Amounts are
in GBP. Dates keep their published month-first order (``12/1/2010 8:26``) unless a value's first
part is above 12.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from segkit.io.registry import Layout
from segkit.schema import (
    COUNTRY,
    CUSTOMER_ID,
    DESCRIPTION,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
    SchemaError,
    suggest_column,
)

__all__ = ["LAYOUT", "UCI_DATE_FORMATS"]

#: Formats tried, in order, on UCI dates without a date_format.
UCI_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
)


@dataclass(frozen=True)
class _UciLayout:
    name: str
    columns: dict[str, str]  # canonical -> source


_UCI_LAYOUTS: tuple[_UciLayout, ...] = (
    _UciLayout(
        "Online Retail II",
        {
            ORDER_ID: "Invoice",
            PRODUCT_ID: "StockCode",
            DESCRIPTION: "Description",
            QUANTITY: "Quantity",
            ORDER_DATE: "InvoiceDate",
            UNIT_PRICE: "Price",
            CUSTOMER_ID: "Customer ID",
            COUNTRY: "Country",
        },
    ),
    _UciLayout(
        "Online Retail",
        {
            ORDER_ID: "InvoiceNo",
            PRODUCT_ID: "StockCode",
            DESCRIPTION: "Description",
            QUANTITY: "Quantity",
            ORDER_DATE: "InvoiceDate",
            UNIT_PRICE: "UnitPrice",
            CUSTOMER_ID: "CustomerID",
            COUNTRY: "Country",
        },
    ),
)


def _detect_uci(header: Sequence[str]) -> _UciLayout | None:
    present = {h.strip() for h in header}
    for spec in _UCI_LAYOUTS:
        if set(spec.columns.values()) <= present:
            return spec
    return None


def _not_uci_error(header: Sequence[str], where: str) -> SchemaError:
    present = {h.strip() for h in header}
    best = min(_UCI_LAYOUTS, key=lambda s: len(set(s.columns.values()) - present))
    missing = sorted(set(best.columns.values()) - present)
    close = suggest_column(missing[0], header)
    return SchemaError(
        f"{where}: not an Online Retail file; the {best.name!r} header lacks {', '.join(map(repr, missing))}",
        column=missing[0],
        hint=(f"did you mean {close!r}? " if close else "")
        + "use layout='generic' with a columns mapping for other files",
    )


def _map_columns(header: Sequence[str], columns: Mapping[str, str], where: str) -> dict[str, str]:
    """The published columns of the UCI file the header belongs to (a ``columns`` mapping is ignored)."""
    uci = _detect_uci(header)
    if uci is None:
        raise _not_uci_error(header, where)
    stripped = {h.strip(): h for h in header}
    return {canon: stripped[src] for canon, src in uci.columns.items()}


LAYOUT = Layout(
    name="online_retail",
    title="Online Retail",
    description="the UCI Online Retail files",
    aliases=("online_retail_ii", "online_retail_i"),
    currency="GBP",
    detect=lambda header: _detect_uci(header) is not None,
    map_columns=_map_columns,
    date_formats=UCI_DATE_FORMATS,
    example_headers=tuple(tuple(spec.columns.values()) for spec in _UCI_LAYOUTS),
)
