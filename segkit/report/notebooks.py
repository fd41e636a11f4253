"""The notebooks of a run and their parameters: which notebooks, where they are, which parameters
each defines, and the checks of ``-p``/``--columns`` values made before any kernel starts.

This is the *parameterize* job of the runner (papermill keeps it apart from execution too). It imports
papermill only to read a notebook's ``parameters`` cell.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from segkit.io import parse_columns
from segkit.schema import ParameterError

#: The notebooks of a run, in execution order (file stems in the notebooks folder).
NOTEBOOKS: tuple[str, ...] = (
    "01_eda",
    "02_customer_files",
    "03_clustering",
    "04_maintenance_simulation",
    "05_clv",
)

#: The notebooks whose outputs each notebook reads from the run folder. A notebook starts once those of
#: them that run have finished; notebooks that do not read each other may run at the same time.
NOTEBOOK_INPUTS: dict[str, tuple[str, ...]] = {
    "01_eda": (),
    "02_customer_files": (),
    "03_clustering": ("01_eda", "02_customer_files"),  # customers.parquet; the currency 01/02 recorded
    "04_maintenance_simulation": ("03_clustering",),  # model.skops
    "05_clv": ("03_clustering",),  # model.skops and segments.csv (to which it adds columns)
}

#: :data:`NOTEBOOK_INPUTS` of a run on a SQL engine (DuckDB, Spark): 02 waits for 01, which leaves the
#: engine's result (cleaning report, customer file, figure sample) in the run's temporary
#: ``engine_result_dir`` for 02 (:mod:`segkit.engines.stored`). The whole log is then cleaned once, by
#: one engine at a time: side by side, two engines (each with its own memory limit, plus the
#: per-customer frames they return) would double the run's peak memory (measured 5.0 GB for one at 20M
#: lines, ``bench_scale.py``) and, on two cores, neither would finish sooner.
ENGINE_NOTEBOOK_INPUTS: dict[str, tuple[str, ...]] = {**NOTEBOOK_INPUTS, "02_customer_files": ("01_eda",)}


def notebook_inputs(engine: str = "pandas") -> dict[str, tuple[str, ...]]:
    """The notebooks each notebook waits for: :data:`NOTEBOOK_INPUTS`, or :data:`ENGINE_NOTEBOOK_INPUTS`
    when ``engine`` is not ``"pandas"``."""
    return NOTEBOOK_INPUTS if engine == "pandas" else ENGINE_NOTEBOOK_INPUTS


#: Parameters every notebook defines (DESIGN "Notebook parameters"), set by the runner itself.
COMMON_PARAMETERS: tuple[str, ...] = (
    "data",
    "layout",
    "columns",
    "run",
    "processed_dir",
    "reports_dir",
    "seed",
    "sample_customers",
)

#: Reader options every notebook defines and passes to ``segkit.load_inputs``; set by the runner.
READ_PARAMETERS: tuple[str, ...] = ("date_format", "sep", "header", "sheet")

#: Parameters the runner owns, with the ``segkit run`` option that sets each (``-p`` for them is refused).
RUNNER_FLAGS: dict[str, str] = {
    "data": "--data",
    "layout": "--layout",
    "columns": "--columns",
    "run": "--name",
    "processed_dir": "--processed-dir",
    "reports_dir": "--reports-dir",
    "seed": "--seed",
    "sample_customers": "--sample-customers",
    "date_format": "--date-format",
    "sep": "--sep",
    "header": "--no-header",
    "sheet": "--sheet",
    "engine_result_dir": "--engine",  # a temporary folder of the run on a SQL engine (01 -> 02)
}


#: Human titles of the notebooks, used on the index page.
NOTEBOOK_TITLES: dict[str, str] = {
    "01_eda": "Exploratory data analysis",
    "02_customer_files": "Customer files and RFM",
    "03_clustering": "Segmentation",
    "04_maintenance_simulation": "Model maintenance simulation",
    "05_clv": "Customer lifetime value",
}

RUN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# --------------------------------------------------------------------------- locating things
def find_notebooks_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding the run's notebooks.

    Parameters
    ----------
    override
        A folder given by the user (``--notebooks-dir``); relative paths resolve against the
        current directory.

    Returns
    -------
    Path
        ``override`` when given, else ``notebooks/`` beside the folder holding the ``segkit``
        package (the repository layout), else ``segkit/notebooks`` (an installed package).

    Raises
    ------
    ParameterError
        When the folder does not exist or holds none of the notebooks.
    """
    if override is not None:
        candidates = [Path(override).expanduser().resolve()]
    else:
        package = Path(__file__).resolve().parent.parent
        candidates = [package.parent / "notebooks", package / "notebooks"]
    for folder in candidates:
        if folder.is_dir() and any((folder / f"{stem}.ipynb").is_file() for stem in NOTEBOOKS):
            return folder
    raise ParameterError(
        f"notebooks folder not found (looked in {', '.join(str(c) for c in candidates)})",
        column="notebooks_dir",
        hint="pass --notebooks-dir pointing at the folder holding 01_eda.ipynb ... 05_clv.ipynb",
    )


def select_notebooks(selection: str | Iterable[str] | None) -> list[str]:
    """Return notebook stems from a selection such as ``"01,03"``, ``["02", "03_clustering"]`` or None (all).

    Raises
    ------
    ParameterError
        Naming the entries that match no notebook.
    """
    if selection is None or selection == "":
        return list(NOTEBOOKS)
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    items = [str(item).strip().removesuffix(".ipynb") for item in items if str(item).strip()]
    chosen: set[str] = set()
    unknown: list[str] = []
    for item in items:
        matches = [stem for stem in NOTEBOOKS if stem == item or stem.split("_", 1)[0] == item.zfill(2)]
        if matches:
            chosen.update(matches)
        else:
            unknown.append(item)
    if unknown or not chosen:
        raise ParameterError(
            "unknown notebook(s) in --notebooks",
            column="notebooks",
            examples=unknown,
            hint=f"choose among {', '.join(s.split('_', 1)[0] for s in NOTEBOOKS)} (e.g. --notebooks 01,02)",
        )
    return [stem for stem in NOTEBOOKS if stem in chosen]


def notebook_parameters(path: str | os.PathLike[str]) -> list[str]:
    """Names defined by a notebook's ``parameters`` cell, in order (papermill's inspection; no kernel)."""
    import papermill

    return list(papermill.inspect_notebook(str(path)))


def check_extra_parameters(extra: Mapping[str, Any], defined: Mapping[str, Sequence[str]]) -> None:
    """Refuse ``-p`` names that no selected notebook defines (a typo would otherwise be ignored).

    Parameters
    ----------
    extra
        The ``-p`` parameters.
    defined
        Parameter names of each selected notebook, by notebook stem.

    Raises
    ------
    ParameterError
        Naming the unknown parameters, with a close match when there is one.
    """
    from difflib import get_close_matches

    known = sorted({name for names in defined.values() for name in names})
    unknown = [name for name in extra if name not in known]
    if not unknown:
        return
    close = {name: get_close_matches(name, known, n=1) for name in unknown}
    hints = [f"{name!r} -> {match[0]!r}?" for name, match in close.items() if match]
    raise ParameterError(
        f"unknown notebook parameter(s) for {', '.join(defined)}",
        column="parameters",
        examples=unknown,
        hint=("did you mean " + ", ".join(hints) + " " if hints else "")
        + f"(known: {', '.join(name for name in known if name not in COMMON_PARAMETERS)})",
    )


def check_runner_owned(parameters: Mapping[str, Any]) -> None:
    """Refuse ``-p`` values for the parameters the runner owns, naming the option to use instead.

    The runner stages ``run``, ``processed_dir`` and ``reports_dir`` and checks ``data`` before any
    notebook starts; a ``-p`` override would write outside the staged folders and record inputs the
    notebooks did not read.
    """
    owned = [name for name in parameters if name in RUNNER_FLAGS]
    if owned:
        raise ParameterError(
            "the runner sets " + ", ".join(map(repr, owned)) + " itself; -p cannot change them",
            column="parameters",
            examples=[f"-p {name}=..." for name in owned],
            hint="use " + ", ".join(f"{RUNNER_FLAGS[name]} instead of -p {name}" for name in owned),
        )


def check_run_name(run: str) -> str:
    """Return ``run`` when it is a safe folder name (letters, digits, ``.``, ``_``, ``-``), else raise."""
    if not isinstance(run, str) or not RUN_NAME_PATTERN.match(run) or run.endswith(".partial"):
        raise ParameterError(
            "run name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            column="run",
            examples=[run],
        )
    return run


def parse_value(text: str) -> Any:
    """Parse a ``-p key=value`` value as papermill's CLI does: bool, None, int, float, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text


def parse_assignments(pairs: Iterable[str] | None, *, option: str, parse: bool = True) -> dict[str, Any]:
    """Parse ``key=value`` strings (``-p`` or ``--columns``) into a dict.

    Raises
    ------
    ParameterError
        Naming the option and the malformed entries.
    """
    parsed: dict[str, Any] = {}
    bad: list[str] = []
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            bad.append(pair)
            continue
        parsed[key.strip()] = parse_value(value) if parse else value.strip()
    if bad:
        raise ParameterError(f"{option} expects key=value", column=option, examples=bad)
    return parsed


def _check_read_parameters(read_options: Mapping[str, Any], defined: Mapping[str, Sequence[str]]) -> None:
    """Every notebook that reads the data must take the reader options the run sets."""
    defaults = {"date_format": "", "sep": "", "header": True, "sheet": ""}
    used = [name for name, value in read_options.items() if value != defaults[name]]
    for stem, names in defined.items():
        lacking = [name for name in used if "data" in names and name not in names]
        if lacking:
            raise ParameterError(
                f"notebook {stem} has no parameter(s) {', '.join(lacking)}: it would read the data otherwise",
                column="notebooks",
                hint="add them to its parameters cell and pass them to segkit.load_inputs",
            )


def _resolve_data(data: str | os.PathLike[str]) -> str:
    """``"demo"`` as is; any other source as an absolute path that must exist."""
    if str(data) == "demo":
        return "demo"
    path = Path(data).expanduser()
    if not path.exists():
        raise ParameterError(f"data source not found: {data}", column="data", examples=[str(data)])
    return str(path.resolve())


def _columns_json(columns: str | Mapping[str, str] | None) -> str:
    """The column mapping as the JSON string the notebooks take (``""`` for none), checked up front
    by :func:`segkit.io.parse_columns` so that a bad mapping fails before any notebook runs."""
    mapping = parse_columns(columns)
    return json.dumps(mapping, ensure_ascii=False) if mapping else ""
