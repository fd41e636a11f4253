"""The pandas engine: today's path (read_dataset -> clean_transactions -> customer_file) in memory."""

from __future__ import annotations

import os

import pandas as pd

from segkit.cleaning import CleaningRules, clean_transactions
from segkit.engines.base import Engine, EngineResult
from segkit.engines.sources import ReadOptions
from segkit.features import customer_file
from segkit.io import read_dataset

__all__ = ["PandasEngine"]


class PandasEngine(Engine):
    """Read the whole log into pandas; every layout and reader option (XLSX, Olist, DataFrames)."""

    name = "pandas"

    def read_clean_customer_file(
        self,
        source: str | os.PathLike[str] | pd.DataFrame,
        read: ReadOptions | None = None,
        rules: CleaningRules | None = None,
        snapshot_date: str | pd.Timestamp | None = None,
    ) -> EngineResult:
        read = read or ReadOptions()
        dataset = read_dataset(
            source,
            layout=read.layout,
            columns=read.columns,
            sep=read.sep,
            date_format=read.date_format,
            encoding=read.encoding,
            header=read.header,
        )
        clean, report = clean_transactions(dataset.transactions, rules)
        tables = {name: table for name, table in dataset.tables().items() if name != "transactions"}
        customers = customer_file(
            clean,
            dataset.customers,
            dataset.sessions,
            dataset.reviews,
            snapshot_date=snapshot_date,
            cancellations=report.by_customer,
        )
        return EngineResult(report, customers, dataset.layout, tables, self.name)
