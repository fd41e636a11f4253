"""The DuckDB engine: the heavy path out of core, straight from Parquet and CSV files.

DuckDB reads the files itself (globs, folders of Parquet parts, ``key=value`` partitions), keeps
its working tables under ``memory_limit`` and spills the rest to ``temp_directory``. The log never
becomes a pandas DataFrame: only per-customer rows come back.
"""

from __future__ import annotations

import os
import tempfile

import duckdb
import pyarrow as pa

from segkit.engines.base import SqlEngine
from segkit.engines.sources import WHITESPACE, SourcePlan
from segkit.engines.sql import DUCKDB
from segkit.schema import DataError

__all__ = ["DuckDBEngine", "DEFAULT_MEMORY_LIMIT"]

#: DuckDB's memory limit by default (it spills beyond it).
DEFAULT_MEMORY_LIMIT = "4GB"
_FILE_STRIDE = 1 << 40  # _row = file index * stride + row number in the file


class DuckDBEngine(SqlEngine):
    """Run the heavy path in DuckDB.

    Parameters
    ----------
    memory_limit
        DuckDB's ``memory_limit`` (e.g. ``"4GB"``); working tables beyond it spill to disk.
    temp_directory
        Folder under which a fresh folder holds the working database and DuckDB's spill files
        (default: the system temporary folder); removed by :meth:`close`.
    threads
        DuckDB threads (default: the machine's cores). Sums over many lines may differ in the last
        bits between thread counts; the customer file's figures agree to 1e-9 relative.
    """

    name = "duckdb"
    dialect = DUCKDB

    def __init__(
        self,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        temp_directory: str | None = None,
        threads: int | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="segkit-duckdb-", dir=temp_directory)
        self.memory_limit = memory_limit
        self.temp_directory = self._tmp.name
        self.threads = int(threads or os.cpu_count() or 1)
        # working tables live in memory up to memory_limit and spill to temp_directory beyond it
        # (writing them to a database file instead took 4x longer: 8.6 s against 1.8 s for 10M lines)
        self.con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "temp_directory": self.temp_directory,
                "threads": self.threads,
                "preserve_insertion_order": True,
            },
        )

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()

    def _create(self, name: str, sql: str, materialise: bool = False) -> None:
        kind = "TABLE" if materialise else "VIEW"
        self._run(f"CREATE OR REPLACE {kind} {name} AS {sql}")

    def _run(self, sql: str, params: list[object] | None = None) -> duckdb.DuckDBPyRelation | None:
        try:
            return self.con.execute(sql, params or [])
        except duckdb.Error as exc:
            raise DataError(f"DuckDB could not run the query ({str(exc).splitlines()[0]})") from exc

    def _arrow(self, sql: str, params: list[object] | None = None) -> pa.Table:
        try:
            return self.con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise DataError(f"DuckDB could not run the query ({str(exc).splitlines()[0]})") from exc

    def _register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def _load_side(self, name: str, files: list[str]) -> dict[str, str]:
        listed = "[" + ", ".join(self.dialect.literal(f) for f in files) + "]"
        self._create(f"side_{name}", f"SELECT * FROM read_parquet({listed})")
        return self._types(f"side_{name}")

    def _types(self, table: str) -> dict[str, str]:
        return {
            row["column_name"]: row["column_type"].lower()
            for row in self._arrow(f"DESCRIBE {table}").to_pylist()
        }

    def _load_raw(self, plan: SourcePlan) -> dict[str, str]:
        files = "[" + ", ".join(self.dialect.literal(f) for f in plan.files) + "]"
        if plan.kind == "parquet":
            # file_index: the file's position in the list (plan.files order)
            self._create(
                "raw",
                f"SELECT * EXCLUDE (file_index, file_row_number), CAST(file_index AS BIGINT) * {_FILE_STRIDE} + file_row_number "
                f"AS _row FROM (SELECT *, file_index, file_row_number FROM read_parquet({files}, "
                f"hive_partitioning = {str(plan.hive).lower()})) AS r",
            )
        else:
            self._create("raw_text", self._text_scan(plan, files), materialise=True)
            self._create("raw", "SELECT *, rowid AS _row FROM raw_text")
        return self._types("raw")

    def _text_scan(self, plan: SourcePlan, files: str) -> str:
        literal = self.dialect.literal
        encoding = f", encoding = {literal(plan.encoding)}" if plan.encoding else ""
        if plan.sep == WHITESPACE:
            fields = ", ".join(
                f"list_extract(f, {i + 1}) AS {self.dialect.ident(name)}"
                for i, name in enumerate(plan.header_names)
            )
            return (
                f"SELECT {fields} FROM (SELECT string_split_regex(trim(line), {literal(WHITESPACE)}) AS f "
                f"FROM read_csv({files}, columns = {{'line': 'VARCHAR'}}, delim = {literal(chr(31))}, "
                f"quote = '', escape = '', header = false, skip = {1 if plan.header else 0}{encoding}) "
                "WHERE trim(line) <> '') AS split"
            )
        names = "[" + ", ".join(literal(n) for n in plan.header_names) + "]"
        return (
            f"SELECT * FROM read_csv({files}, delim = {literal(plan.sep)}, header = {str(plan.header).lower()}, "
            f"names = {names}, all_varchar = true, quote = '\"', escape = '\"'{encoding})"
        )
