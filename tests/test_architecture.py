"""The architecture rules of DESIGN.md, checked on the source: layered imports, thin notebooks."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from segkit.report import COMMON_PARAMETERS, READ_PARAMETERS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "segkit"
NOTEBOOKS = ROOT / "notebooks"

#: module -> layer; a module may import only from strictly lower layers (and itself / its own package).
LAYERS: dict[str, int] = {
    "schema": 0,
    "io": 1,  # package segkit/io/: registry, read, formats, values, canonical, dataset, writers, layouts/*
    "cleaning": 1,
    "eda": 1,
    "features": 1,
    "drift": 1,
    "model": 1,
    "naming": 1,  # segment names and actions from a rule table over the profile
    "datasets": 2,  # may use io to write files
    "formatting": 2,  # numbers, amounts, dates and tables for people (labels from features' column docs)
    "summary": 3,  # the summary files' schema and the executive summary (io + formatting)
    "inputs": 3,  # io + datasets + cleaning: the notebooks' one call to get clean data
    "clustering": 4,
    "clv": 4,  # BG/NBD + Gamma-Gamma on the BTYD summary of features
    "engines": 4,  # the heavy path (read, clean, customer file, score) on pandas, DuckDB or Spark
    "stability": 5,
    "narrative": 4,  # every fact sentence of notebooks and index; imports no segkit module (stability uses it)
    "viz": 6,
    "report": 7,
    "cli": 7,
    "browser": 7,  # the run's pages in headless Chromium: audit, screenshots, timing
}
#: allowed same-or-higher imports, each a documented exception
EXCEPTIONS: set[tuple[str, str]] = {
    ("cli", "report"),  # the command line is a thin front end on the runner
    ("cli", "browser"),  # segkit run --screenshots
}

#: DESIGN's common notebook parameters (set by the runner), then the reader options (--date-format, --sep...), then currency
NOTEBOOK_PARAMETERS = [*COMMON_PARAMETERS, *READ_PARAMETERS, "currency"]


def _segkit_module(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_segkit_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("segkit"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from segkit import x
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "segkit" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _module_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE]


@pytest.mark.parametrize("path", _module_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    module = _segkit_module(path)
    if module not in LAYERS:
        pytest.fail(f"segkit/{path.relative_to(PACKAGE)} is not in the layer table of DESIGN.md")
    tree = ast.parse(path.read_text())
    for imported in _imported_segkit_modules(tree):
        if imported == module or imported not in LAYERS:
            continue
        ok = LAYERS[imported] < LAYERS[module] or (module, imported) in EXCEPTIONS
        assert ok, (
            f"segkit.{module} (layer {LAYERS[module]}) imports segkit.{imported} (layer {LAYERS[imported]})"
        )


def test_layer_check_can_fail():
    tree = ast.parse("from segkit.report import run_notebooks\nimport segkit.viz.eda")
    assert _imported_segkit_modules(tree) == {"report", "viz"}


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_five_numbered_notebooks():
    names = [p.stem for p in _notebooks()]
    assert names == ["01_eda", "02_customer_files", "03_clustering", "04_maintenance_simulation", "05_clv"]


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_is_thin_and_stripped(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).lstrip().startswith("#")
    code = [c for c in cells if c["cell_type"] == "code"]
    for cell in code:
        assert cell.get("outputs", []) == [], f"{path.name}: outputs not stripped"
        assert cell.get("execution_count") is None, f"{path.name}: execution counts not stripped"
        tree = ast.parse("".join(cell["source"]))
        defs = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        ]
        assert not defs, f"{path.name}: function or class defined in a notebook; move it into segkit"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    top = name.split(".")[0]
                    assert top in {"segkit", "pandas", "plotly", "IPython", "json", "pathlib", "numpy"}, (
                        f"{path.name} imports {name}"
                    )
    parameters = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(parameters) == 1, f"{path.name}: exactly one cell tagged 'parameters'"
    assert code.index(parameters[0]) == 0, f"{path.name}: the parameters cell is the first code cell"
    tree = ast.parse("".join(parameters[0]["source"]))
    assigned = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets]
    assert assigned[: len(NOTEBOOK_PARAMETERS)] == NOTEBOOK_PARAMETERS


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    """papermill drops a parameter line it cannot parse (e.g. a comment holding '='), so `-p` would not
    reach it: every assignment of the parameters cell must be one papermill sees."""
    import papermill

    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    assigned = [node.targets[0].id for node in ast.parse("".join(cell["source"])).body]
    assert list(papermill.inspect_notebook(str(path))) == assigned
