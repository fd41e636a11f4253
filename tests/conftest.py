"""Shared fixtures: the real-data samples in ../shared/samples (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: ``shared/`` sits next to the repository (a fresh CI clone gets a copy of it there).
SAMPLES_DIR = ROOT.parent / "shared" / "samples"
ONLINE_RETAIL_II = "online_retail_II_sample.csv"
ONLINE_RETAIL_I = "online_retail_I_layout_sample.csv"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The folder of real UCI Online Retail samples; skips the test when it is absent."""
    if not (SAMPLES_DIR / ONLINE_RETAIL_II).is_file():
        pytest.skip(
            f"real-data samples not found at {SAMPLES_DIR} (they live in ../shared/samples next to the "
            "repository and are not shipped with a clone)"
        )
    return SAMPLES_DIR


@pytest.fixture(scope="session")
def online_retail_ii_path(samples_dir: Path) -> Path:
    """The Online Retail II layout sample (29,462 lines)."""
    return samples_dir / ONLINE_RETAIL_II


@pytest.fixture(scope="session")
def online_retail_i_path(samples_dir: Path) -> Path:
    """The same lines in the older Online Retail layout (latin-1, dates like 12/1/2009 9:08)."""
    return samples_dir / ONLINE_RETAIL_I
