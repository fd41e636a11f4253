"""The ``olist`` layout: a folder with the Kaggle "Brazilian E-Commerce Public Dataset by Olist" CSVs.

Several tables joined into canonical transactions (amounts in BRL), see :func:`read_olist`.

Join keys
---------
Before any join the empty keys are counted (``Dataset.details["join_checks"]``); more than 1% empty,
one key on conflicting rows, or order items matching no order on more than 1% of rows raise
:class:`~segkit.schema.DataError` naming table, column and counts. Joins declare their cardinality
(``validate="many_to_one"``). An order without a customers row keeps its order-level ``customer_id``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from segkit.io.canonical import canonical_transactions
from segkit.io.dataset import Dataset
from segkit.io.formats import find_table, read_table
from segkit.io.registry import Layout, ReadOptions
from segkit.io.values import canonical_ids, parse_dates, parse_numbers
from segkit.schema import (
    AMOUNT,
    CATEGORY,
    COUNTRY,
    CUSTOMER_ID,
    ORDER_DATE,
    ORDER_ID,
    PRODUCT_ID,
    QUANTITY,
    UNIT_PRICE,
    DataError,
    SchemaError,
    missing_column_error,
)

__all__ = ["LAYOUT", "OLIST_EXCLUDED_STATUSES", "OLIST_FILES", "read_olist"]

#: Kaggle Olist file stems by table (any supported suffix is accepted, ``.csv`` as published).
OLIST_FILES: dict[str, str] = {
    "orders": "olist_orders_dataset",
    "order_items": "olist_order_items_dataset",
    "order_payments": "olist_order_payments_dataset",
    "order_reviews": "olist_order_reviews_dataset",
    "customers": "olist_customers_dataset",
    "products": "olist_products_dataset",
    "category_translation": "product_category_name_translation",
}
#: Olist tables without which no canonical transaction table can be built.
_OLIST_REQUIRED = ("orders", "order_items", "customers")
#: Order statuses that do not count as purchases by default in :func:`read_olist`.
OLIST_EXCLUDED_STATUSES: tuple[str, ...] = ("canceled", "unavailable")


def read_olist(folder: str | os.PathLike[str], statuses: Sequence[str] | None = None) -> Dataset:
    """Read a folder of Kaggle Olist CSVs into a :class:`Dataset`.

    Parameters
    ----------
    folder
        Folder holding the published files (``olist_orders_dataset.csv``, ``olist_order_items_dataset.csv``,
        ``olist_customers_dataset.csv`` are required; ``olist_products_dataset.csv``,
        ``product_category_name_translation.csv``, ``olist_order_reviews_dataset.csv`` and
        ``olist_order_payments_dataset.csv`` are used when present). Parquet copies with the same
        stems are accepted.
    statuses
        Order statuses (``order_status``) whose items count as purchases. Default: every status except
        ``canceled`` and ``unavailable`` (:data:`OLIST_EXCLUDED_STATUSES`), i.e. delivered, shipped,
        invoiced, processing, approved and created orders count.

    Returns
    -------
    Dataset
        ``transactions``: one line per order, product and price (Olist's item rows, one per unit,
        summed); ``customer_id`` is Olist's ``customer_unique_id`` (the per-order ``customer_id`` is
        not a person); ``order_date`` = ``order_purchase_timestamp``; ``quantity`` = number of items;
        ``unit_price`` = ``price``; ``amount`` = sum of ``price + freight_value`` (BRL);
        ``category`` = the English category name (the Portuguese one where Olist has no translation);
        ``country`` = ``"Brazil"``.
        ``customers``: one row per person, location of their latest order (``region`` = state,
        ``city``, ``zip_code_prefix``). ``reviews``: ``order_id``, ``customer_id``, ``score``,
        ``review_date`` for the counted orders. ``products``: ``product_id``, ``category``,
        ``list_price`` (median item price).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder; the Olist layout reads a folder of CSV files")
    if isinstance(statuses, str):
        statuses = [statuses]
    files = {name: find_table(folder, stem) for name, stem in OLIST_FILES.items()}
    missing = [OLIST_FILES[name] + ".csv" for name in _OLIST_REQUIRED if files[name] is None]
    if missing:
        raise SchemaError(
            f"{folder}: Olist folder is missing {', '.join(missing)}",
            column=missing[0],
            hint="download every CSV of the Kaggle 'Brazilian E-Commerce Public Dataset by Olist'",
        )
    ids = ("order_id", "customer_id", "customer_unique_id", "product_id", "customer_zip_code_prefix")
    tables = {name: read_table(path, string_columns=ids) for name, path in files.items() if path is not None}
    return _olist_bundle(tables, folder, statuses)


def _olist_bundle(tables: dict[str, pd.DataFrame], folder: Path, statuses: Sequence[str] | None) -> Dataset:
    where = str(folder)
    orders = _require_columns(
        tables["orders"],
        ("order_id", "customer_id", "order_status", "order_purchase_timestamp"),
        "orders",
        where,
    )
    items = _require_columns(
        tables["order_items"], ("order_id", "product_id", "price", "freight_value"), "order_items", where
    )
    customers = _require_columns(
        tables["customers"], ("customer_id", "customer_unique_id"), "customers", where
    )
    checks: dict[str, int] = {}
    orders = _trusted_keys(orders, "order_id", "orders", where, checks, unique=True)
    orders = _trusted_keys(orders, "customer_id", "orders", where, checks)
    items = _trusted_keys(items, "order_id", "order_items", where, checks)
    customers = _trusted_keys(customers, "customer_id", "customers", where, checks, unique=True)
    orders = orders.assign(
        order_purchase_timestamp=parse_dates(
            orders["order_purchase_timestamp"], "order_purchase_timestamp", None, f"orders ({where})"
        )
    )
    person = orders[["customer_id"]].merge(
        customers[["customer_id", "customer_unique_id"]], on="customer_id", how="left", validate="many_to_one"
    )["customer_unique_id"]
    person = canonical_ids(person.set_axis(orders.index))
    no_customer_row = person.isna()
    checks["orders_without_customer_row"] = int(no_customer_row.sum())
    if no_customer_row.any():  # keep the order-level id: the order stays, as a customer of its own
        warnings.warn(
            f"{where}: {int(no_customer_row.sum()):,} of {len(orders):,} orders have no row in the customers "
            "table; they keep their order-level customer_id (each such order counts as its own customer)",
            stacklevel=4,
        )
    orders = orders.assign(person_id=person.fillna(orders["customer_id"]))
    status = orders["order_status"].astype("str").str.strip().str.lower()
    if statuses is None:
        counted = ~status.isin(OLIST_EXCLUDED_STATUSES)
    else:
        counted = status.isin([str(s).strip().lower() for s in statuses])
    counted_orders = orders.loc[counted]

    category = _olist_categories(tables.get("products"), tables.get("category_translation"), where)
    unmatched = ~items["order_id"].isin(orders["order_id"])
    checks["order_items_without_order"] = int(unmatched.sum())
    if unmatched.mean() > _MAX_MISSING_KEY_SHARE:
        raise _key_error(
            where,
            "order_items.order_id",
            f"matches no order on {int(unmatched.sum()):,} of {len(items):,} rows; the tables do not belong together",
            unmatched,
            items.loc[unmatched, "order_id"].head(5).tolist(),
            hint="use the orders and order items files of the same export",
        )
    frame = _olist_lines(items, counted_orders, where)
    if category is not None:
        frame[CATEGORY] = frame[PRODUCT_ID].map(category)
    transactions = canonical_transactions(frame, {c: c for c in frame.columns}, None, where)

    return Dataset(
        transactions=transactions,
        customers=_olist_customers(customers, orders),
        reviews=_olist_reviews(tables.get("order_reviews"), counted_orders, where),
        products=_olist_products(tables.get("products"), category, frame),
        source=where,
        layout="olist",
        details={
            "statuses_counted": sorted(status[counted].dropna().unique().tolist()),
            "join_checks": checks,
        },
    )


#: Largest share of rows whose join key may be empty (or unmatched) before segkit stops trusting it.
_MAX_MISSING_KEY_SHARE = 0.01


def _trusted_keys(
    table: pd.DataFrame, column: str, name: str, where: str, checks: dict[str, int], *, unique: bool = False
) -> pd.DataFrame:
    """``table`` without the rows whose join key ``column`` is empty, after checking the key can be trusted.

    Counts the empty keys (``checks["<name>.<column> empty"]``) before any join. More than 1% empty,
    or (``unique``) one key on rows that differ, raises :class:`DataError` naming the table, the
    column and the counts: a join on such keys would multiply rows (68 GiB on a truncated export).
    """
    keys = canonical_ids(table[column])
    empty = keys.isna()
    n_empty = int(empty.sum())
    checks[f"{name}.{column} empty"] = n_empty
    if n_empty > _MAX_MISSING_KEY_SHARE * len(table):
        raise _key_error(
            where,
            f"{name}.{column}",
            f"is empty on {n_empty:,} of {len(table):,} rows; the keys cannot be trusted "
            "(a truncated or re-saved export?)",
            empty,
            [f"data row {i + 1}" for i in np.flatnonzero(empty.to_numpy())[:5]],
            hint="re-export the table from the original data",
        )
    out = table.loc[~empty].assign(**{column: keys[~empty]})
    if unique:
        out = out.drop_duplicates()
        repeated = out[column].duplicated(keep=False)
        if repeated.any():
            raise _key_error(
                where,
                f"{name}.{column}",
                f"should name each row once, but {int(repeated.sum()):,} rows share "
                f"{out.loc[repeated, column].nunique():,} keys with different contents",
                repeated,
                out.loc[repeated, column].head(5).tolist(),
                hint="remove the conflicting copies",
            )
    return out


def _key_error(where: str, key: str, problem: str, bad: pd.Series, examples: list, *, hint: str) -> DataError:
    """The :class:`DataError` of a join key that cannot be trusted: ``<where>: <table.column> <problem>``."""
    return DataError(
        f"{where}: {key} {problem}", column=key, n_bad=int(bad.sum()), examples=examples, hint=hint
    )


def _olist_lines(items: pd.DataFrame, counted_orders: pd.DataFrame, where: str) -> pd.DataFrame:
    """Order lines from Olist's order items: one line per order, product and price.

    Olist writes one item row per unit (``order_item_id`` 1, 2, ...); identical rows would look like
    exact duplicates to the cleaning, so they are summed: quantity = number of items, amount = their
    prices plus freight.
    """
    context = f"order_items ({where})"
    lines = items[["order_id", "product_id"]].assign(
        price=parse_numbers(items["price"], "price", context),
        freight=parse_numbers(items["freight_value"], "freight_value", context).fillna(0.0),
    )
    lines = lines.merge(
        counted_orders[["order_id", "person_id", "order_purchase_timestamp"]],
        on="order_id",
        how="inner",
        validate="many_to_one",
    )
    grouped = lines.groupby(["order_id", "product_id", "price"], sort=False, dropna=False).agg(
        person_id=("person_id", "first"),
        order_date=("order_purchase_timestamp", "first"),
        quantity=("order_id", "size"),
        freight=("freight", "sum"),
    )
    grouped = grouped.reset_index()
    quantity = grouped["quantity"].astype("float64")
    return pd.DataFrame(
        {
            CUSTOMER_ID: grouped["person_id"],
            ORDER_ID: grouped["order_id"],
            ORDER_DATE: grouped["order_date"],
            PRODUCT_ID: grouped["product_id"],
            QUANTITY: quantity,
            UNIT_PRICE: grouped["price"],
            AMOUNT: quantity * grouped["price"] + grouped["freight"],
            COUNTRY: "Brazil",
        }
    )


def _olist_categories(
    products: pd.DataFrame | None, translation: pd.DataFrame | None, where: str
) -> pd.Series | None:
    """English category per product id (Portuguese where no translation exists), or None."""
    if products is None:
        warnings.warn(f"{where}: no olist_products_dataset file; transactions have no category", stacklevel=4)
        return None
    products = _require_columns(products, ("product_id", "product_category_name"), "products", where)
    names = products.drop_duplicates("product_id").set_index("product_id")["product_category_name"]
    if translation is None:
        warnings.warn(
            f"{where}: no product_category_name_translation file; categories stay in Portuguese",
            stacklevel=4,
        )
        return names.astype("str")
    translation = _require_columns(
        translation,
        ("product_category_name", "product_category_name_english"),
        "product_category_name_translation",
        where,
    )
    english = translation.drop_duplicates("product_category_name").set_index("product_category_name")[
        "product_category_name_english"
    ]
    return names.map(english).fillna(names).astype("str")


def _olist_customers(customers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    """One row per person: the location given on their latest order."""
    located = customers.merge(
        orders[["customer_id", "order_purchase_timestamp"]],
        on="customer_id",
        how="left",
        validate="one_to_many",
    ).sort_values(["order_purchase_timestamp", "customer_id"], kind="stable", na_position="first")
    latest = located.drop_duplicates("customer_unique_id", keep="last")
    out = pd.DataFrame({CUSTOMER_ID: canonical_ids(latest["customer_unique_id"])})
    for source, target in (
        ("customer_state", "region"),
        ("customer_city", "city"),
        ("customer_zip_code_prefix", "zip_code_prefix"),
    ):
        if source in latest.columns:
            out[target] = latest[source].astype("str")
    return out.sort_values(CUSTOMER_ID, kind="stable").reset_index(drop=True)


def _olist_reviews(
    reviews: pd.DataFrame | None, counted_orders: pd.DataFrame, where: str
) -> pd.DataFrame | None:
    if reviews is None:
        return None
    reviews = _require_columns(
        reviews, ("order_id", "review_score", "review_creation_date"), "order_reviews", where
    )
    merged = reviews.merge(
        counted_orders[["order_id", "person_id"]], on="order_id", how="inner", validate="many_to_one"
    )
    return pd.DataFrame(
        {
            ORDER_ID: canonical_ids(merged["order_id"]),
            CUSTOMER_ID: canonical_ids(merged["person_id"]),
            "score": parse_numbers(merged["review_score"], "review_score", f"order_reviews ({where})"),
            "review_date": parse_dates(
                merged["review_creation_date"], "review_creation_date", None, f"order_reviews ({where})"
            ),
        }
    )


def _olist_products(
    products: pd.DataFrame | None, category: pd.Series | None, lines: pd.DataFrame
) -> pd.DataFrame | None:
    if products is None:
        return None
    product_ids = canonical_ids(products["product_id"].drop_duplicates())
    list_price = lines.groupby(PRODUCT_ID)[UNIT_PRICE].median()
    out = pd.DataFrame({PRODUCT_ID: product_ids.to_numpy()})
    if category is not None:
        out[CATEGORY] = out[PRODUCT_ID].map(category).astype("str")
    out["list_price"] = out[PRODUCT_ID].map(list_price).astype("float64")
    return out


def _require_columns(table: pd.DataFrame, needed: Sequence[str], name: str, where: str) -> pd.DataFrame:
    for column in needed:
        if column not in table.columns:
            raise missing_column_error(column, table.columns, table=name, source=where)
    return table


def _detect_folder(folder: Path) -> bool:
    """A folder holding any ``olist_*`` file."""
    return any(p.name.startswith("olist_") for p in folder.iterdir())


def _read_folder(folder: Path, options: ReadOptions) -> Dataset:
    """The Olist folder with the default statuses (reader options do not apply to Olist's CSVs)."""
    return read_olist(folder)


LAYOUT = Layout(
    name="olist",
    title="Olist",
    description="a folder of Olist CSV files",
    currency="BRL",
    detect_folder=_detect_folder,
    read_folder=_read_folder,
)
