"""environment.yml and pyproject.toml must list the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")
#: conda-forge package name -> PyPI name, where they differ
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}


def _parse(requirements: list[str]) -> dict[str, str]:
    parsed = {}
    for requirement in requirements:
        match = REQ.match(requirement)
        assert match, requirement
        parsed[match.group(1).lower().replace("_", "-")] = match.group(2).replace(" ", "")
    return parsed


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _parse(project["dependencies"] + project["optional-dependencies"]["dev"])


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    parsed = _parse(conda)
    parsed.pop("python")
    parsed.pop("pip")
    return {CONDA_TO_PYPI.get(name, name): bound for name, bound in parsed.items()}


def test_same_dependencies_and_bounds():
    pyproject, conda = _pyproject(), _conda()
    assert set(pyproject) == set(conda), (
        f"only in pyproject: {sorted(set(pyproject) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pyproject))}"
    )
    differing = {name: (pyproject[name], conda[name]) for name in pyproject if pyproject[name] != conda[name]}
    assert not differing, differing


def test_environment_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_python_floor_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert f"python{project['requires-python']}" in env["dependencies"]
