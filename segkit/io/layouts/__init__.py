"""One module per source layout; each defines ``LAYOUT`` (a :class:`segkit.io.registry.Layout`).

:func:`register_package_layouts` registers the built-in layouts first, in the order of
:data:`BUILT_IN` (the order of the command line's choices), then the ``LAYOUT`` of every other
module of the package in name order: adding a layout is adding one module here (and its test).
"""

from __future__ import annotations

import importlib
import pkgutil

from segkit.io.registry import LAYOUTS, Layout, register_layout

__all__ = ["BUILT_IN", "register_package_layouts"]

#: The built-in layouts, in the order they are listed.
BUILT_IN: tuple[str, ...] = ("generic", "online_retail", "olist")


def register_package_layouts() -> list[Layout]:
    """Import every module of this package (every folder of its ``__path__``) and register its ``LAYOUT``.

    Layouts already registered under the same name (the same object) are left as they are.
    Returns the layouts registered by this call.
    """
    found = sorted(info.name for info in pkgutil.iter_modules(list(__path__)))
    ordered = [name for name in BUILT_IN if name in found] + [n for n in found if n not in BUILT_IN]
    added = []
    for name in ordered:
        layout = getattr(importlib.import_module(f"{__name__}.{name}"), "LAYOUT", None)
        if isinstance(layout, Layout) and LAYOUTS.get(layout.name) is not layout:
            added.append(register_layout(layout))
    return added


register_package_layouts()
