"""The Spark engine: the same SQL as DuckDB's on Spark, in local mode or on a cluster.

``master`` (``local[2]``, ``spark://host:7077``, ``yarn``...) and any Spark ``conf`` are passed to the
session builder. The session's time zone is UTC (timestamps are the log's wall-clock times, as in
pandas). Scoring ships the saved model file to the executors (``SparkContext.addFile``) and loads it
with skops there (:func:`segkit.model.load_model`); customers are scored in Arrow batches by
``mapInPandas``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from segkit.engines.base import DEFAULT_BATCH_CUSTOMERS, SqlEngine
from segkit.engines.sources import WHITESPACE, SourcePlan
from segkit.engines.sql import SPARK
from segkit.schema import CUSTOMER_ID, DataError, ParameterError

__all__ = ["SparkEngine", "DEFAULT_SPARK_CONF", "java_available"]

#: Settings of the session unless ``conf`` overrides them.
DEFAULT_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "2g",
    # pandas writes nanosecond timestamps, which Spark reads only as longs (nanoseconds since the epoch)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
}
_FILE_STRIDE = 1 << 40


def java_available() -> str | None:
    """Path of the ``java`` Spark would start (``JAVA_HOME`` or PATH), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    return shutil.which("java")


class SparkEngine(SqlEngine):
    """Run the heavy path on Spark.

    Parameters
    ----------
    master
        Spark master URL (default ``local[*]`` unless the environment's Spark sets one).
    conf
        Spark settings (``key -> value``), over :data:`DEFAULT_SPARK_CONF`.
    """

    name = "spark"
    dialect = SPARK

    def __init__(self, master: str | None = None, conf: Mapping[str, str] | None = None) -> None:
        if java_available() is None:
            raise ParameterError(
                "the spark engine needs Java (17 or later): none on PATH nor in JAVA_HOME",
                column="engine",
                hint="install a JDK (apt-get install openjdk-17-jre-headless) or use engine='duckdb'",
            )
        from pyspark.sql import SparkSession

        builder = SparkSession.builder.appName("segkit")
        if master is None and not _has_master(builder):
            master = "local[*]"
        if master:
            builder = builder.master(master)
        settings = {**DEFAULT_SPARK_CONF, **dict(conf or {})}
        if str(master or "").startswith("local"):
            # local Python workers run this interpreter (it has segkit and pyarrow); a cluster's
            # workers run its own PYSPARK_PYTHON
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        for key, value in settings.items():
            builder = builder.config(key, str(value))
        self.spark = builder.getOrCreate()
        self._persisted: dict[str, Any] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="segkit-spark-")

    def close(self) -> None:
        """Unpersist the working tables (the session stays for the process; ``stop()`` ends it)."""
        for frame in self._persisted.values():
            frame.unpersist()
        self._persisted.clear()
        self._tmp.cleanup()

    def stop(self) -> None:
        """Close and stop the Spark session."""
        self.close()
        self.spark.stop()

    def _create(self, name: str, sql: str, materialise: bool = False) -> None:
        frame = self._sql(sql)
        if materialise:
            frame = frame.persist()
            self._persisted[name] = frame
        frame.createOrReplaceTempView(name)

    def _release(self, *names: str) -> None:
        for name in names:
            if name in self._persisted:
                self._persisted.pop(name).unpersist()
            self.spark.catalog.dropTempView(name)

    def _sql(self, sql: str, params: list[object] | None = None) -> Any:
        from pyspark.errors import PySparkException

        try:
            return self.spark.sql(sql, args=list(params)) if params else self.spark.sql(sql)
        except PySparkException as exc:
            raise DataError(f"Spark could not run the query ({str(exc).splitlines()[0]})") from exc

    def _arrow(self, sql: str, params: list[object] | None = None) -> pa.Table:
        return self._sql(sql, params).toArrow()

    def _register(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(name)

    def _load_side(self, name: str, files: list[str]) -> dict[str, str]:
        frame = self.spark.read.parquet(*files)
        frame.createOrReplaceTempView(f"side_{name}")
        return {column: kind.lower() for column, kind in frame.dtypes}

    def _load_raw(self, plan: SourcePlan) -> dict[str, str]:
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        if plan.kind == "parquet":
            reader = self.spark.read
            if plan.hive:
                reader = reader.option("basePath", str(Path(_common_root(plan.files))))
            frame = reader.parquet(*plan.files)
            frame = frame.withColumn("_file", F.col("_metadata.file_path")).withColumn(
                "_file_row", F.col("_metadata.row_index")
            )
            # the files' order, numbered in one partition (a handful of rows: no global sort of the log)
            files = frame.select("_file").distinct()
            by_name = Window.partitionBy(F.lit(0)).orderBy("_file")
            files = files.withColumn("_index", F.row_number().over(by_name) - 1)
            frame = frame.join(F.broadcast(files), "_file").withColumn(
                "_row", F.col("_index") * F.lit(_FILE_STRIDE) + F.col("_file_row")
            )
            frame = frame.drop("_file", "_file_row", "_index")
        elif plan.sep == WHITESPACE:
            lines = self.spark.read.text(plan.files).withColumn("_row", F.monotonically_increasing_id())
            lines = lines.where(F.trim(F.col("value")) != "")
            if plan.header:
                lines = lines.where(F.col("_row") != lines.agg(F.min("_row")).first()[0])
            fields = F.split(F.trim(F.col("value")), WHITESPACE)
            frame = lines.select(
                "_row",
                *(
                    F.try_element_at(fields, F.lit(i + 1)).alias(name)
                    for i, name in enumerate(plan.header_names)
                ),
            )
        else:
            options = {
                "header": plan.header,
                "sep": plan.sep,
                "quote": '"',
                "escape": '"',
                "inferSchema": False,
            }
            if plan.encoding:
                options["encoding"] = plan.encoding
            frame = self.spark.read.options(**options).csv(plan.files)
            frame = frame.toDF(*plan.header_names).withColumn("_row", F.monotonically_increasing_id())
        frame.createOrReplaceTempView("raw")
        return {name: kind.lower() for name, kind in frame.dtypes}

    def score(
        self, model: Any, customer_file: pd.DataFrame, batch_customers: int = DEFAULT_BATCH_CUSTOMERS
    ) -> pd.DataFrame:
        """Segments of every customer, scored on the executors with ``mapInPandas`` in Arrow batches."""
        from pyspark import SparkFiles

        if int(batch_customers) < 1:
            raise ParameterError("batch_customers must be >= 1", column="batch_customers")
        folder = Path(tempfile.mkdtemp(dir=self._tmp.name))
        # a name of its own: Spark refuses a second file of the same name with other contents
        model_path = model.save(folder / f"model-{uuid.uuid4().hex}.skops")
        self.spark.sparkContext.addFile(str(model_path))
        self.spark.sparkContext.addFile(str(model_path.with_suffix(".json")))
        frame = customer_file.reset_index()
        frame["_order"] = range(len(frame))
        has_rfm = "rfm_segment" in frame.columns
        schema = f"{CUSTOMER_ID} string, segment_id long, segment_name string"
        schema += ", rfm_segment string" if has_rfm else ""
        schema += ", _order long"
        name = model_path.name

        def score_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            from segkit.model import load_model

            loaded = load_model(SparkFiles.get(name))
            for batch in batches:
                segments = loaded.segment_frame(batch.set_index(CUSTOMER_ID))
                segments["_order"] = batch["_order"].to_numpy()
                yield segments

        self.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(int(batch_customers)))
        scored = self.spark.createDataFrame(frame).mapInPandas(score_batches, schema).toArrow().to_pandas()
        scored = scored.sort_values("_order").drop(columns="_order").reset_index(drop=True)
        out = pd.DataFrame(
            {
                CUSTOMER_ID: pd.array(scored[CUSTOMER_ID].to_numpy(), dtype="str"),
                "segment_id": scored["segment_id"].to_numpy(dtype="int64"),
                "segment_name": pd.array(scored["segment_name"].to_numpy(), dtype="str"),
            }
        )
        if has_rfm:
            out["rfm_segment"] = pd.array(scored["rfm_segment"].to_numpy(), dtype="str")
        return out


def _has_master(builder: Any) -> bool:
    return bool(os.environ.get("MASTER") or os.environ.get("SPARK_MASTER"))


def _common_root(files: list[str]) -> str:
    """The folder above the first ``key=value`` folder of the parts."""
    parts = Path(files[0]).parts
    for i, part in enumerate(parts):
        if "=" in part:
            return str(Path(*parts[:i]))
    return str(Path(files[0]).parent)
