"""Read transaction sources into a :class:`Dataset`; write outputs atomically.

Modules
-------
:mod:`~segkit.io.registry` (the one registry of layouts, :data:`LAYOUTS`),
:mod:`~segkit.io.read` (dispatch through it), :mod:`~segkit.io.formats` (file formats),
:mod:`~segkit.io.values` (ids, numbers, dates), :mod:`~segkit.io.canonical` (the canonical
transaction mapping and checks), :mod:`~segkit.io.dataset`, :mod:`~segkit.io.writers` (atomic
writes), and one module per layout in :mod:`segkit.io.layouts`. Every name below is importable
from ``segkit.io``.

Layouts
-------
``generic``
    One table (CSV/TSV/any delimiter including whitespace ``sep=r"\\s+"``, Parquet, XLSX) or a folder
    of tables named ``transactions.*``, ``customers.*``, ``sessions.*``, ``reviews.*``, ``products.*``
    (what ``segkit.write_demo_shop(layout="generic")`` writes). ``columns`` maps canonical names to the
    source's names; canonical names present in the source are used as they are.
``online_retail``
    The UCI "Online Retail" (``InvoiceNo ... UnitPrice, CustomerID``) and "Online Retail II"
    (``Invoice ... Price, Customer ID``) layouts, recognised by their header; CSV, Parquet or XLSX
    (every sheet of a workbook is read and stacked: the published Online Retail II workbook has two).
``olist``
    A folder with the Kaggle Olist CSVs, see :func:`read_olist`.
any other registered layout
    See :class:`~segkit.io.registry.Layout`: a module in :mod:`segkit.io.layouts` defining ``LAYOUT``.
``auto``
    The UCI layouts by header, a folder with ``olist_*`` files as Olist, a folder with
    ``transactions.*`` as a generic folder, a table whose header holds canonical names (or with a
    ``columns`` mapping) as generic. Anything else needs ``layout="generic"`` and a mapping.

Every reader returns canonical transactions (see :mod:`segkit.schema`): ids as pandas ``str`` (a
float id column such as ``17850.0`` loses its ``.0`` only when every value is integral; a column
mixing numbers and text keeps every value), ``order_date`` as naive ``datetime64[ns]``, ``amount``
as float64 in the source currency (``quantity * unit_price`` when the source has no amount). Bad
input raises a :class:`~segkit.schema.SegkitError` subclass naming the file, the column, the number
of bad rows and up to five examples.

Dates
-----
* A time-zone offset (``+05:00``, ``Z``) is dropped and the local wall time kept, as the schema says
  (``2024-01-01T10:00+05:00`` is 10:00).
* Dates outside 1677-09-22 .. 2262-04-11 are refused, naming the rows.
* A few dates far from all the others (a 1900 or 2200 typing error among 1997 orders: beyond twice
  the span of the central 98% of dates, at least two years, and at most 1% of the lines) are
  refused naming the rows, not dropped: only the data owner knows the right year.
* ``a/b/yyyy`` dates without ``date_format``: a first part above 12 means day first, a second part
  above 12 month first; when every part is <= 12 segkit refuses to guess and asks for
  ``date_format``. The UCI layouts keep their published month-first order.

Join keys (Olist)
-----------------
Checked before any join, see :mod:`segkit.io.layouts.olist`.
"""

from __future__ import annotations

from segkit.io.canonical import parse_columns
from segkit.io.dataset import Dataset
from segkit.io.formats import SEP_NAMES, find_table, normalise_sep, read_table
from segkit.io.layouts import register_package_layouts
from segkit.io.layouts.generic import read_side_table
from segkit.io.layouts.olist import OLIST_EXCLUDED_STATUSES, OLIST_FILES, read_olist
from segkit.io.read import TablePlan, plan_table, read_dataset, read_transactions
from segkit.io.registry import LAYOUTS, Layout, ReadOptions, get_layout, layout_currency, register_layout
from segkit.io.writers import (
    FORMULA_STARTS,
    atomic_write,
    neutralise_formulas,
    run_dir,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

__all__ = [
    "LAYOUTS",
    "OLIST_FILES",
    "OLIST_EXCLUDED_STATUSES",
    "Dataset",
    "read_dataset",
    "read_transactions",
    "read_olist",
    "read_table",
    "read_side_table",
    "find_table",
    "parse_columns",
    "run_dir",
    "normalise_sep",
    "atomic_write",
    "write_parquet_atomic",
    "write_csv_atomic",
    "neutralise_formulas",
    "write_json_atomic",
    "write_text_atomic",
    "FORMULA_STARTS",
    "SEP_NAMES",
    "Layout",
    "ReadOptions",
    "get_layout",
    "layout_currency",
    "register_layout",
    "register_package_layouts",
    "TablePlan",
    "plan_table",
]
