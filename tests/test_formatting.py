"""segkit.formatting: numbers, amounts and tables for people."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from segkit import formatting as fmt
from segkit.schema import ParameterError


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (381096.9, "GBP", "£381,097"),
        (227.707391, "GBP", "£227.71"),
        (56.7, "BRL", "R$ 56.70"),
        (1234.5, "CHF", "1,234 CHF"),
        (-12.345, "", "-12.35"),
        (float("nan"), "GBP", "-"),
        (None, "GBP", "-"),
    ],
)
def test_money_carries_the_currency_and_at_most_two_decimals(value, currency, expected):
    assert fmt.money(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3810969, "3,810,969"), (0.23451837737552023, "0.23"), (227.707391, "227.7"), (3.810969e5, "381,097")],
)
def test_number_has_separators_and_at_most_two_decimals(value, expected):
    assert fmt.number(value) == expected


def test_percent_and_date():
    assert fmt.percent(0.23451837737552023) == "23.5%"
    assert fmt.date(pd.Timestamp("2023-09-01")) == "2023-09-01"
    assert fmt.date(pd.Timestamp("2023-09-01 14:30")) == "2023-09-01 14:30"
    assert fmt.date(pd.NaT) == "-"


@pytest.mark.parametrize(
    ("layout", "expected"), [("online_retail", "GBP"), ("olist", "BRL"), ("generic", ""), (None, "")]
)
def test_default_currency_by_layout(layout, expected):
    assert fmt.resolve_currency("", layout) == expected


def test_explicit_currency_wins_and_bad_codes_are_refused():
    assert fmt.resolve_currency("eur", "olist") == "EUR"
    with pytest.raises(ParameterError, match="currency"):
        fmt.resolve_currency("pounds")


def test_source_name_hides_the_folder():
    assert fmt.source_name("/home/someone/data/shop/") == "shop"
    assert fmt.source_name("demo") == "demo"


def _customers(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "recency_days": rng.integers(1, 400, n),
            "frequency": rng.integers(1, 20, n),
            "monetary": rng.gamma(2.0, 300.0, n),
            "avg_order_value": rng.gamma(2.0, 40.0, n) + 0.123456,
            "first_purchase": pd.date_range("2022-01-01", periods=n, freq="D"),
            "share_cat_books": rng.random(n),
            "rfm_segment": ["<b>Champions</b>"] * n,
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    frame.loc["c3", "monetary"] = np.nan
    return frame


def test_format_table_formats_every_cell_for_people():
    table = fmt.format_table(_customers(), currency="GBP", max_rows=10)
    html = table.to_html()
    assert table.header[0] == "customer"  # the index became a labelled column, no anonymous index
    assert "monetary (GBP)" in table.header and "recency (days)" in table.header
    assert "share of spend: books" in table.header
    text = " ".join(" ".join(row) for row in table.rows)
    assert not re.search(r"\d\.\d{3,}", text), text  # at most 2 decimals everywhere
    assert "£" in text and "%" in text and "2022-01-01" in text and "00:00" not in text
    assert "-" in table.rows[3][table.header.index("monetary (GBP)")]
    assert any("no value" in note for note in table.notes)  # the missing value's footnote
    assert any("first 10 of 30 rows" in note for note in table.notes)
    assert "<b>Champions</b>" not in html and "&lt;b&gt;Champions&lt;/b&gt;" in html  # escaped
    assert "title=" in html  # documented columns carry their description


def test_wide_frames_show_a_chosen_set_of_columns():
    wide = pd.DataFrame(np.arange(40.0).reshape(1, 40), columns=[f"col_{i}" for i in range(40)])
    table = fmt.format_table(wide)
    assert len(table.header) == fmt.MAX_COLUMNS
    assert any("8 of 40 columns" in note for note in table.notes)
    chosen = fmt.format_table(wide, ["col_3", "col_1"])
    assert chosen.header == ["col 3", "col 1"]
    with pytest.raises(ParameterError, match="columns"):
        fmt.format_table(wide, ["nope"])


def test_no_footnote_without_missing_values():
    table = fmt.format_table(pd.DataFrame({"revenue": [1.5, 2.25]}), currency="EUR")
    assert table.rows == [["€1.50"], ["€2.25"]]
    assert table.notes == []
