"""Every segkit figure. Plotly first (interactive, rendered offline in the HTML reports);
matplotlib/yellowbrick where they serve better.

One module per notebook keeps each file readable: :mod:`segkit.viz.eda` (notebook 01),
:mod:`segkit.viz.customers` (02), :mod:`segkit.viz.clusters` (03), :mod:`segkit.viz.maintenance` (04), :mod:`segkit.viz.clv` (05),
plus :mod:`segkit.viz.yb_compat` (the yellowbrick compatibility layer) and :mod:`segkit.viz._common`.
``segkit.viz.<figure>`` finds a figure function in whichever module defines it.
"""

from __future__ import annotations

import importlib
from typing import Any

from segkit.viz._common import PALETTE, sample_for_scatter, segment_colour, segment_colours, setup_notebook

_SUBMODULES = ("eda", "customers", "clusters", "maintenance", "clv", "yb_compat")

__all__ = ["PALETTE", "sample_for_scatter", "segment_colour", "segment_colours", "setup_notebook"]


def __getattr__(name: str) -> Any:
    for sub in _SUBMODULES:
        try:
            module = importlib.import_module(f"segkit.viz.{sub}")
        except ModuleNotFoundError as exc:  # a figure module not written yet
            if exc.name == f"segkit.viz.{sub}":
                continue
            raise
        if hasattr(module, name) and not name.startswith("_"):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module 'segkit.viz' has no attribute {name!r}")
