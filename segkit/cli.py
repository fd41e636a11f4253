"""The ``segkit`` command: ``segkit run``, ``segkit demo-data``, ``segkit score``.

Relative paths are resolved against the current directory. A :class:`~segkit.schema.SegkitError`
(bad input, bad parameter, a failed notebook) prints ``segkit: error: <message>`` on stderr and exits
with code 2, without a traceback.

Examples
--------
.. code-block:: console

    $ segkit run                                   # the demo shop, into reports/demo/
    $ segkit run --data sales.csv --columns customer_id=Client order_date=Date amount=Total --name 2024-06
    $ segkit run --data ../shared/samples/online_retail_II_sample.csv --name sample
    $ segkit run --data CDNOW_sample.txt --sep whitespace --no-header --date-format %Y%m%d \\
          --columns customer_id=1 order_date=2 amount=4 --name cdnow
    $ segkit run --notebooks 03 -p k_max=6         # rerun one notebook of the demo run
    $ segkit demo-data --out data/raw/demo --layout generic
    $ segkit score --model data/processed/demo/model.skops --data new.csv --out segments.csv
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segkit.schema import ParameterError, SegkitError

#: Where ``segkit run`` without ``--data`` writes (and reuses) the demo shop, relative to the current dir.
DEFAULT_DEMO_DIR = Path("data/raw/demo")
DEMO_LAYOUTS = ("generic", "olist", "online_retail_ii")

#: Exit code of a run or command stopped by a SegkitError.
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``segkit`` command (sub-commands run, demo-data, score)."""
    from segkit import __version__

    parser = argparse.ArgumentParser(
        prog="segkit",
        description="Reproducible customer segmentation: run the notebooks into HTML reports, "
        "generate the demo shop, score new customers.",
    )
    parser.add_argument("--version", action="version", version=f"segkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run the notebooks into reports/<run>/ (HTML + index) and data/processed/<run>/",
        description="Run the notebooks (01-05) with papermill, export HTML reports and the index page. "
        "Without --data, the demo shop is generated into data/raw/demo/ (once) and used.",
    )
    _add_source_arguments(run, data_required=False)
    run.add_argument("--name", default=None, help="run name (default: 'demo', or the data file's stem)")
    run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="notebook parameter, repeatable (e.g. -p k_max=6 -p period_days=30)",
    )
    run.add_argument(
        "--notebooks", default=None, help="which notebooks to run, e.g. 01,02 (default: all four)"
    )
    run.add_argument("--keep-code", action="store_true", help="show the code in the HTML reports")
    run.add_argument(
        "--currency",
        default="",
        metavar="CODE",
        help=f"ISO code shown on amounts, e.g. GBP (default: {_default_currencies()})",
    )
    run.add_argument(
        "--screenshots",
        action="store_true",
        help="also write screenshots of every page at 390 and 1366 px into reports/<run>/screenshots/",
    )
    run.add_argument(
        "--sample-customers",
        type=int,
        default=0,
        metavar="N",
        help="use a seeded sample of N customers (duckdb/spark: the customers of 01's figures and of "
        "04-05's samples; 0: their defaults)",
    )
    run.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    run.add_argument(
        "--notebooks-dir", default=None, help="folder holding the notebooks (default: the repo's)"
    )
    run.add_argument("--processed-dir", default="data/processed", help="parent of the processed run folder")
    run.add_argument("--reports-dir", default="reports", help="parent of the reports run folder")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_engine_arguments(
        run,
        "what reads, cleans and builds the customer file in notebooks 01-02 and draws the customer "
        "sample of notebooks 04-05 (default auto: pandas below 100 MB of input files, duckdb above)",
    )
    run.set_defaults(handler=command_run)

    demo = commands.add_parser(
        "demo-data",
        help="write the generated demo shop to disk",
        description="Generate the demo shop (seeded, identical every time) and write it in a layout.",
    )
    demo.add_argument("--out", default=str(DEFAULT_DEMO_DIR), help="output folder (default data/raw/demo)")
    demo.add_argument(
        "--layout", choices=DEMO_LAYOUTS, default="generic", help="file layout (default generic)"
    )
    demo.add_argument("--n-customers", type=int, default=None, metavar="N", help="customers with an order")
    demo.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    demo.set_defaults(handler=command_demo_data)

    score = commands.add_parser(
        "score",
        help="assign segments to the customers of new transaction data with a saved model",
        description="Rebuild the customer file with the model's training conventions and write "
        "customer_id, segment_id, segment_name (+ rfm_segment) to a CSV file.",
    )
    score.add_argument("--model", required=True, help="model file (model.skops)")
    _add_source_arguments(score, data_required=True)
    score.add_argument("--out", required=True, help="output CSV (e.g. segments.csv)")
    _add_engine_arguments(
        score,
        "what reads, cleans and builds the customer file and scores it (default auto: pandas below "
        "100 MB of input files, duckdb above; duckdb and spark score in batches of customers)",
    )
    score.set_defaults(handler=command_score)
    return parser


def __getattr__(name: str) -> tuple[str, ...]:
    """``cli.LAYOUTS`` (the ``--layout`` choices) is read from the layout registry on each access."""
    if name == "LAYOUTS":
        return layout_choices()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def layout_choices() -> tuple[str, ...]:
    """The values of ``--layout``: ``auto`` then every layout of the registry (:data:`segkit.io.LAYOUTS`)."""
    from segkit.io import LAYOUTS

    return LAYOUTS.names()


def _layout_help() -> str:
    from segkit.io import LAYOUTS

    described = "; ".join(f"{name}: {layout.description}" for name, layout in LAYOUTS.items())
    return f"source layout (default auto: recognised from the header or the folder); {described}"


def _layout_titles() -> str:
    from segkit.io import LAYOUTS

    titles = [layout.title for layout in LAYOUTS.values()]
    return ", ".join(titles[:-1]) + f" or {titles[-1]}" if len(titles) > 1 else "".join(titles)


def _default_currencies() -> str:
    from segkit.io import LAYOUTS

    named = [f"{layout.title} {layout.currency}" for layout in LAYOUTS.values() if layout.currency]
    return ", ".join([*named, "else none"])


def _add_engine_arguments(parser: argparse.ArgumentParser, engine_help: str) -> None:
    """``--engine`` and its options (DuckDB memory limit, Spark master and settings)."""
    parser.add_argument(
        "--engine", choices=("auto", "pandas", "duckdb", "spark"), default="auto", help=engine_help
    )
    parser.add_argument(
        "--memory-limit",
        default=None,
        metavar="SIZE",
        help="DuckDB memory limit, e.g. 4GB (larger logs are cleaned in buckets of customers)",
    )
    parser.add_argument("--spark-master", default=None, metavar="URL", help="Spark master (default local[*])")
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Spark setting, repeatable (e.g. --spark-conf spark.executor.memory=8g)",
    )


def _add_source_arguments(parser: argparse.ArgumentParser, *, data_required: bool) -> None:
    parser.add_argument(
        "--data",
        required=data_required,
        default=None,
        help=f"transaction file or folder (csv, parquet, xlsx; {_layout_titles()} layout)",
    )
    parser.add_argument("--layout", choices=layout_choices(), default="auto", help=_layout_help())
    parser.add_argument(
        "--columns",
        nargs="+",
        default=[],
        metavar="CANONICAL=SOURCE",
        help="column mapping, e.g. customer_id=Client order_date=Date amount=Total "
        "(with --no-header, source columns are 0, 1, 2... by position)",
    )
    parser.add_argument(
        "--sep",
        default="",
        metavar="SEP",
        help="field delimiter of a text file: whitespace, tab, comma, semicolon, pipe or a character "
        "(default: sniffed)",
    )
    parser.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the file has no header line: columns are named 0, 1, 2... by position",
    )
    parser.add_argument(
        "--date-format",
        default="",
        metavar="FORMAT",
        help="strftime format of the dates, e.g. %%Y%%m%%d or %%d/%%m/%%Y (default: ISO / UCI layouts)",
    )
    parser.add_argument(
        "--sheet", default="", metavar="NAME", help="XLSX sheet to read (default: every sheet)"
    )


# --------------------------------------------------------------------------- commands
def command_run(args: argparse.Namespace) -> int:
    """``segkit run``: run the notebooks; print where the reports are and the seconds per notebook.

    The input is checked (read, mapped, dates, cleaning) before the runner and its notebook
    machinery are even imported, so that a bad file fails in about a second.
    """
    engine, engine_options = _engine_choice(args)
    validated = _check_input_early(args) if engine == "pandas" else _check_source_early(args)
    from segkit import report

    columns = report.parse_assignments(args.columns, option="--columns", parse=False)
    parameters = report.parse_assignments(args.parameters, option="-p")
    if args.currency:
        from segkit.formatting import resolve_currency

        parameters["currency"] = resolve_currency(args.currency)
    if args.sample_customers < 0:
        raise ParameterError(
            "--sample-customers must be >= 0", column="sample_customers", examples=[args.sample_customers]
        )
    if engine != "pandas" and _runs_engine_notebooks(args.notebooks):  # pandas: the notebooks' default
        parameters |= {
            "engine": engine,
            "engine_options": json.dumps(engine_options) if engine_options else "",
        }
    data = args.data if args.data is not None else str(ensure_demo_data(DEFAULT_DEMO_DIR))
    name = args.name or default_run_name(args.data)
    result = report.run_notebooks(
        data,
        layout=args.layout,
        columns=columns,
        run=name,
        processed_dir=args.processed_dir,
        reports_dir=args.reports_dir,
        seed=args.seed,
        sample_customers=args.sample_customers,
        date_format=args.date_format,
        sep=args.sep,
        header=args.header,
        sheet=args.sheet,
        parameters=parameters,
        notebooks=args.notebooks,
        notebooks_dir=args.notebooks_dir,
        keep_code=args.keep_code,
        progress=not args.no_progress,
        validated=validated,
    )
    print(f"run {result.run}: reports in {result.reports}, outputs in {result.processed}")
    print(f"open {result.index}")
    print(result.timing_table())
    if args.screenshots:
        from segkit import browser

        shots = browser.screenshot_run(result.reports)
        print(f"{len(shots)} screenshots in {result.reports / browser.SCREENSHOT_FOLDER}")
    return 0


def command_demo_data(args: argparse.Namespace) -> int:
    """``segkit demo-data``: generate the demo shop and write it to ``--out``."""
    out = write_demo_data(Path(args.out), layout=args.layout, n_customers=args.n_customers, seed=args.seed)
    print(f"demo shop written to {out} (layout {args.layout})")
    return 0


def command_score(args: argparse.Namespace) -> int:
    """``segkit score``: segments of the customers of ``--data`` with the model ``--model``."""
    from segkit import report
    from segkit.clustering import score_dataset
    from segkit.io import read_dataset, write_csv_atomic
    from segkit.model import load_model

    model_path = Path(args.model)
    if not model_path.is_file():
        raise ParameterError(f"model file not found: {args.model}", column="model", examples=[args.model])
    columns = report.parse_assignments(args.columns, option="--columns", parse=False)
    model = load_model(model_path)
    if not Path(args.data).exists():
        raise ParameterError(f"data source not found: {args.data}", column="data", examples=[args.data])
    engine, engine_options = _engine_choice(args)
    if engine != "pandas":
        scored = _score_with_engine(model, args, columns, engine, engine_options)
        out = write_csv_atomic(scored, Path(args.out))
        print(f"{len(scored):,} customers scored into {out} ({engine} engine)")
        return 0
    dataset = read_dataset(
        str(Path(args.data)),
        layout=args.layout,
        columns=columns or None,
        sep=args.sep or None,
        header=args.header,
        date_format=args.date_format or None,
        sheet=args.sheet or None,
    )
    scored = score_dataset(model, dataset)  # customer_id, segment_id, segment_name, rfm_segment
    out = write_csv_atomic(scored, Path(args.out))
    print(f"{len(scored):,} customers scored into {out}")
    return 0


# --------------------------------------------------------------------------- helpers
def _score_with_engine(
    model: Any, args: argparse.Namespace, columns: dict[str, str], engine: str, options: dict[str, Any]
) -> Any:
    """``segkit score`` on DuckDB or Spark: the engine's customer file, scored in batches by the engine."""
    from segkit.clustering import check_input_tables, score_customer_file
    from segkit.engines import ReadOptions, get_engine

    read = ReadOptions(
        layout=args.layout,
        columns=columns or None,
        sep=args.sep or None,
        date_format=args.date_format or None,
        header=args.header,
    )
    with get_engine(engine, **options) as runner:
        result = runner.read_clean_customer_file(str(Path(args.data).expanduser().resolve()), read)
        customers = result.customer_file
        check_input_tables(model, customers.attrs.get("tables", ["transactions"]))
        # the share columns say which of the line columns the new data have
        line_columns = [
            column
            for column, prefix in (("category", "share_cat_"), ("channel", "share_channel_"))
            if any(str(name).startswith(prefix) for name in customers.columns)
        ]
        return score_customer_file(
            model, customers, line_columns, segment_frame=lambda cf: runner.score(model, cf)
        )


def _engine_choice(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The engine ``--engine`` names (``auto`` resolved by the size of ``--data``) and its options."""
    from segkit.engines import choose_engine

    engine = args.engine
    if engine == "auto":
        data = Path(args.data).expanduser() if args.data is not None else None
        engine = choose_engine(str(data)) if data is not None and data.exists() else "pandas"
    options: dict[str, Any] = {}
    if engine == "duckdb" and args.memory_limit:
        options["memory_limit"] = args.memory_limit
    if engine == "spark":
        conf = {}
        for pair in args.spark_conf:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise ParameterError(f"--spark-conf takes KEY=VALUE, got {pair!r}", column="spark_conf")
            conf[key.strip()] = value.strip()
        options = {"master": args.spark_master, "conf": conf} if args.spark_master else {"conf": conf}
    return engine, options


#: Notebooks with the ``engine`` parameter: 01-02 read the whole log through it, 04-05 a customer
#: sample it draws (03 reads notebook 02's customer file).
ENGINE_NOTEBOOKS = ("01", "02", "04", "05")


def _runs_engine_notebooks(notebooks: str | None) -> bool:
    """True when the selected notebooks include one of :data:`ENGINE_NOTEBOOKS`."""
    numbers = {*ENGINE_NOTEBOOKS, *(number.lstrip("0") for number in ENGINE_NOTEBOOKS)}
    return notebooks is None or any(part.strip()[:2] in numbers for part in notebooks.split(","))


def _check_source_early(args: argparse.Namespace) -> bool:
    """For a DuckDB or Spark run: resolve ``--data`` (files, layout, columns) without reading the log."""
    if args.data is None or not Path(args.data).expanduser().exists():
        return False
    from segkit.engines.sources import ReadOptions, plan_source

    pairs = [pair.partition("=") for pair in args.columns]
    plan_source(
        str(Path(args.data).expanduser().resolve()),
        ReadOptions(
            layout=args.layout,
            columns={key.strip(): value.strip() for key, _, value in pairs} or None,
            sep=args.sep or None,
            date_format=args.date_format or None,
            header=args.header,
        ),
    )
    return True


def _check_input_early(args: argparse.Namespace) -> bool:
    """Run :func:`segkit.inputs.check_run_inputs` on ``--data``; False when it is left to the runner.

    Left to the runner (which names the problem) when there is no ``--data`` (the demo shop), the
    path does not exist, or ``--columns`` is malformed.
    """
    if args.data is None or not Path(args.data).expanduser().exists():
        return False
    pairs = [pair.partition("=") for pair in args.columns]
    if any(not sep or not key.strip() for key, sep, _ in pairs):
        return False
    from segkit.inputs import check_run_inputs

    check_run_inputs(
        str(Path(args.data).expanduser().resolve()),
        layout=args.layout,
        columns={key.strip(): value.strip() for key, _, value in pairs},
        seed=args.seed,
        sample_customers=max(args.sample_customers, 0),
        date_format=args.date_format,
        sep=args.sep,
        header=args.header,
        sheet=args.sheet,
    )
    return True


#: Longest error message printed (a message quoting a huge header is cut, saying so).
MAX_MESSAGE_CHARS = 2000

_PY_MAPPING = re.compile(r"columns=\{([^{}]*)\}")
_PY_PAIR = re.compile(r"""['"]([^'"]+)['"]\s*:\s*['"]([^'"]*)['"]""")
_PY_OPTIONS = (
    (re.compile(r"""\blayout=['"]([\w-]+)['"]"""), r"--layout \1"),
    (re.compile(r"""\bdate_format=['"]([^'"]+)['"]"""), r"--date-format '\1'"),
    (re.compile(r"""\bsep=r?['"]([^'"]+)['"]"""), r"--sep '\1'"),
    (re.compile(r"""\bsheet=['"]?([^'";,\s]+)['"]?"""), r"--sheet \1"),
    (re.compile(r"\bheader=False\b"), "--no-header"),
    (re.compile(r"""\brun=['"]([^'"]+)['"]"""), r"--name \1"),
    (re.compile(r"\b(date_format|sep|sheet|columns)=(?=\s|$|[;,)])"), None),
)


def command_line_syntax(message: str) -> str:
    """Rewrite the Python-syntax hints of a SegkitError message for a command-line user.

    ``columns={'customer_id': 'cust'}`` becomes ``--columns customer_id=cust``, ``layout='generic'``
    ``--layout generic``, ``date_format=`` ``--date-format`` and so on; a message longer than
    :data:`MAX_MESSAGE_CHARS` is cut (a file's 64 KB header is not worth printing).
    """

    def mapping(match: re.Match[str]) -> str:
        pairs = _PY_PAIR.findall(match.group(1))
        return "--columns " + " ".join(f"{key}={value}" for key, value in pairs) if pairs else match.group(0)

    text = _PY_MAPPING.sub(mapping, message)
    for pattern, replacement in _PY_OPTIONS:
        if replacement is None:
            text = pattern.sub(lambda m: "--" + m.group(1).replace("_", "-"), text)
        else:
            text = pattern.sub(replacement, text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 60] + f" ... [message cut: {len(text):,} characters]"
    return text


def default_run_name(data: str | None) -> str:
    """``"demo"`` without data, else the data file's (or folder's) name as a safe run name."""
    import re

    if data is None:
        return "demo"
    stem = Path(data).name
    for suffix in (".gz", ".zip", ".csv", ".parquet", ".xlsx", ".xls", ".tsv", ".txt"):
        stem = stem.removesuffix(suffix)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")
    return name[:64] or "run"


def write_demo_data(
    out: Path, *, layout: str = "generic", n_customers: int | None = None, seed: int = 0
) -> Path:
    """Generate the demo shop (``make_demo_shop``) and write it to ``out`` in ``layout``."""
    if n_customers is not None and n_customers <= 0:
        raise ParameterError("--n-customers must be > 0", column="n_customers", examples=[n_customers])
    from segkit.datasets import make_demo_shop, write_demo_shop

    options = {"seed": seed} if n_customers is None else {"seed": seed, "n_customers": n_customers}
    shop = make_demo_shop(**options)
    write_demo_shop(shop, out, layout=layout)
    return out


def ensure_demo_data(folder: Path, *, seed: int = 0) -> Path:
    """Return ``folder``, writing the demo shop (generic layout, ``seed``) into it when it holds no transactions.

    The shop is the same for every analysis seed: ``segkit run --seed N`` changes the analysis, not the data.
    """
    if not any(folder.glob("transactions*")):
        print(f"generating the demo shop into {folder} ...", file=sys.stderr)
        write_demo_data(folder, layout="generic", seed=seed)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segkit`` command; returns the exit code (2 on a SegkitError)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except SegkitError as error:
        print(f"segkit: error: {command_line_syntax(str(error))}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("segkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
