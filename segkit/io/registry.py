"""The one registry of source layouts: what each is called, how it is recognised, how it is read.

A layout is a :class:`Layout` object. Two kinds exist:

* a **table layout** reads one table (a file, a Parquet folder, a DataFrame) and says which of its
  columns holds each canonical column (``map_columns``); reading, value parsing and checks are
  common to all table layouts (:mod:`segkit.io.read`, :mod:`segkit.io.canonical`). ``generic`` and
  ``online_retail`` are table layouts; a Shopify orders export would be one too.
* a **folder layout** (``read_folder``) reads a folder of several tables and joins them itself
  (``olist``). ``generic`` is both: one table, or a folder with ``transactions.*`` and side tables.

The built-in layouts live one per module in :mod:`segkit.io.layouts`; every module of that package
that defines ``LAYOUT`` is registered when :mod:`segkit.io` is imported, so adding a layout is
adding one file (or calling :func:`register_layout`). :func:`segkit.io.read_dataset`, its
``layout="auto"`` detection, the command line's ``--layout`` choices and help, and the default
currency of a report (:func:`layout_currency`) all read this registry.

A layout added with :func:`register_layout` exists in the calling process only; the notebooks that
``segkit run`` starts (their own kernels) import :mod:`segkit.io` afresh and see the modules of
:mod:`segkit.io.layouts`, so a layout meant for ``segkit run`` is a module there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segkit.io.canonical import parse_columns
from segkit.io.formats import normalise_sep
from segkit.schema import ParameterError, SchemaError, suggest_column

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from segkit.io.dataset import Dataset

__all__ = [
    "AUTO",
    "LAYOUTS",
    "Layout",
    "LayoutRegistry",
    "ReadOptions",
    "check_layout",
    "get_layout",
    "layout_currency",
    "register_layout",
]

#: The layout name that asks segkit to recognise the source (not a registered layout).
AUTO = "auto"


@dataclass(frozen=True)
class ReadOptions:
    """The reader options of :func:`segkit.io.read_dataset`, checked, as a layout receives them.

    Attributes
    ----------
    columns
        Canonical -> source column mapping of the transactions table (empty: none given).
    sep
        Field delimiter of text files (None: sniffed); ``"whitespace"`` already resolved to ``r"\\s+"``.
    date_format
        strftime format of ``order_date`` (None: the layout's candidates, then ISO 8601).
    encoding
        Text encoding (None: UTF-8, then latin-1 with a warning).
    sheet
        XLSX sheet name or index (None: every sheet, stacked).
    header
        False when the first line of a text file is data (columns named ``"0"``, ``"1"``...).
    """

    columns: dict[str, str] = field(default_factory=dict)
    sep: str | None = None
    date_format: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    header: bool = True

    @classmethod
    def parse(cls, **reader_options: Any) -> ReadOptions:
        """Checked options from :func:`~segkit.io.read_dataset`'s keyword arguments.

        ``columns`` may be a mapping, a JSON string, ``""`` or None (:func:`~segkit.io.parse_columns`);
        ``sep`` a name such as ``"whitespace"`` (:func:`~segkit.io.normalise_sep`).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(reader_options) - known)
        if unknown:
            raise TypeError(
                f"unknown reader option(s) {', '.join(unknown)}; options: {', '.join(sorted(known))}"
            )
        values = dict(reader_options)
        values["columns"] = parse_columns(values.get("columns"))
        values["sep"] = normalise_sep(values.get("sep"))
        return cls(**values)


@dataclass(frozen=True)
class Layout:
    """One source layout: its names, how it is recognised and how it becomes canonical transactions.

    Attributes
    ----------
    name
        The name passed as ``layout=`` and ``--layout`` (lower case, ``[a-z0-9_]``), also
        ``Dataset.layout`` of what it reads.
    title
        How people call it in sentences (``"Online Retail"``).
    description
        What it reads, a phrase that follows "reads" (``"the UCI Online Retail files"``): used in
        the command line's help and in error hints.
    aliases
        Other accepted names (``online_retail_ii``).
    currency
        ISO 4217 code of the amounts of this layout's published data (``"GBP"``), ``""`` when
        unknown: the default currency of the reports.
    detect
        ``detect(header) -> bool``: True when a table with these column names (strings, as read)
        is in this layout. Used by ``layout="auto"``. None: never recognised from a header.
    map_columns
        ``map_columns(header, columns, where) -> dict``: the canonical -> source column mapping of a
        table with ``header``, given the user's ``columns`` mapping (canonical -> source, maybe
        empty); raises :class:`~segkit.schema.SchemaError` naming ``where`` when the header does
        not fit. None for a layout that reads only folders.
    date_formats
        strftime formats tried in order on ``order_date`` when the user gives no ``date_format``
        (None: ISO 8601, then the format of the first value).
    detect_folder
        ``detect_folder(folder) -> bool``: True when a folder is in this layout (auto detection).
    read_folder
        ``read_folder(folder, options) -> Dataset``: reads a folder in this layout (``folder`` a
        :class:`~pathlib.Path`, ``options`` the :class:`ReadOptions` of the call).
    fallback
        True for the layout tried last by auto detection and chosen whenever the user gives a
        ``columns`` mapping that no other layout's ``detect`` claims (``generic``).
    example_headers
        Headers of real files in this layout, each of which ``detect`` must claim and no other
        non-fallback layout may (checked for every registered layout by ``tests/test_io_layouts.py``).
    sql_select
        Optional engine-side definition: SQL SELECT producing the canonical columns from the raw
        table(s), used by the DuckDB/Spark engines. None: the engines derive it from the table
        plan (:func:`segkit.io.plan_table`: ``map_columns`` and ``date_formats``) for a table
        layout, or cannot read the layout out of core.
    """

    name: str
    title: str
    description: str
    aliases: tuple[str, ...] = ()
    currency: str = ""
    detect: Callable[[Sequence[str]], bool] | None = field(default=None, repr=False)
    map_columns: Callable[[Sequence[str], Mapping[str, str], str], dict[str, str]] | None = field(
        default=None, repr=False
    )
    date_formats: tuple[str, ...] | None = None
    detect_folder: Callable[[Path], bool] | None = field(default=None, repr=False)
    read_folder: Callable[[Path, ReadOptions], Dataset] | None = field(default=None, repr=False)
    fallback: bool = False
    example_headers: tuple[tuple[str, ...], ...] = field(default=(), repr=False)
    sql_select: Callable[..., str] | None = field(default=None, repr=False)

    @property
    def reads_tables(self) -> bool:
        """True when the layout reads a single table (file, Parquet folder or DataFrame)."""
        return self.map_columns is not None

    def read(self, source: str | os.PathLike[str] | pd.DataFrame, **reader_options: Any) -> Dataset:
        """Read ``source`` in this layout: ``read_dataset(source, layout=self.name, **reader_options)``.

        The layout must be registered (:func:`register_layout`).
        """
        from segkit.io.read import read_dataset

        return read_dataset(source, layout=self.name, **reader_options)


class LayoutRegistry(Mapping[str, Layout]):
    """Registered layouts by name, in registration order (iteration yields the names)."""

    def __init__(self) -> None:
        self._layouts: dict[str, Layout] = {}

    def __getitem__(self, name: str) -> Layout:
        return self._layouts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layouts)

    def __len__(self) -> int:
        return len(self._layouts)

    def __repr__(self) -> str:
        return f"LayoutRegistry({', '.join(self._layouts)})"

    def names(self) -> tuple[str, ...]:
        """``"auto"`` then every registered name: the values ``layout=`` and ``--layout`` accept."""
        return (AUTO, *self._layouts)

    def aliases(self) -> dict[str, str]:
        """Other accepted spelling -> registered name."""
        return {alias: layout.name for layout in self._layouts.values() for alias in layout.aliases}

    def detection_order(self) -> list[Layout]:
        """Layouts in the order ``layout="auto"`` tries them: registration order, fallbacks last."""
        layouts = list(self._layouts.values())
        return [lay for lay in layouts if not lay.fallback] + [lay for lay in layouts if lay.fallback]

    def register(self, layout: Layout, *, replace: bool = False) -> Layout:
        """Add ``layout``; a name or alias already taken raises unless ``replace`` (same name only)."""
        if not isinstance(layout, Layout):
            raise TypeError(f"expected a Layout, got {type(layout).__name__}")
        if (
            layout.name == AUTO
            or not layout.name.replace("_", "").isalnum()
            or layout.name != layout.name.lower()
        ):
            raise SchemaError(
                f"layout name {layout.name!r} must be lower case letters, digits and '_' (and not 'auto')",
                column="layout",
            )
        if layout.map_columns is None and layout.read_folder is None:
            raise SchemaError(f"layout {layout.name!r} needs map_columns or read_folder", column="layout")
        taken = {*self._layouts, *self.aliases()} - (
            {layout.name, *self[layout.name].aliases} if replace and layout.name in self else set()
        )
        clash = sorted({layout.name, *layout.aliases} & taken)
        if clash:
            raise SchemaError(f"layout name {clash[0]!r} is already registered", column="layout")
        self._layouts[layout.name] = layout
        return layout

    def unregister(self, name: str) -> Layout:
        """Remove and return the layout ``name`` (tests register and remove toy layouts)."""
        return self._layouts.pop(name)


#: Every registered layout (the built-in ones: ``generic``, ``online_retail``, ``olist``).
LAYOUTS = LayoutRegistry()


def register_layout(layout: Layout, *, replace: bool = False) -> Layout:
    """Register ``layout`` in :data:`LAYOUTS` and return it (see :meth:`LayoutRegistry.register`)."""
    return LAYOUTS.register(layout, replace=replace)


def check_layout(layout: str) -> str:
    """The registered name meant by ``layout`` (an alias resolved; ``"auto"`` stays ``"auto"``).

    Raises
    ------
    ParameterError
        When no layout has that name or alias (the hint names the closest and lists all).
    """
    name = LAYOUTS.aliases().get(str(layout), str(layout))
    names = LAYOUTS.names()
    if name not in names:
        close = suggest_column(str(layout), names)
        raise ParameterError(
            f"unknown layout {layout!r}",
            column="layout",
            hint=(f"did you mean {close!r}? " if close else "") + f"layouts: {', '.join(names)}",
        )
    return name


def get_layout(layout: str) -> Layout:
    """The registered :class:`Layout` named ``layout`` (or one of its aliases); ParameterError otherwise."""
    name = check_layout(layout)
    if name == AUTO:
        raise ParameterError("'auto' is not a layout but asks segkit to recognise one", column="layout")
    return LAYOUTS[name]


def layout_currency(layout: str | None) -> str:
    """ISO code of the default currency of a layout (``""`` for none, an unknown name or None)."""
    name = str(layout or "").lower()
    name = LAYOUTS.aliases().get(name, name)
    return LAYOUTS[name].currency if name in LAYOUTS else ""
