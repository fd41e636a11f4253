"""The order of a run's notebooks: each starts once the notebooks it reads have finished.

:func:`execute_in_order` runs at most :func:`parallel_notebooks` notebooks at a time (threads, each
waiting on its own kernel); which notebook waits for which is
:func:`segkit.report.notebooks.notebook_inputs`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from segkit.report.notebooks import NOTEBOOK_INPUTS

__all__ = ["RUN_PARALLEL", "execute_in_order", "parallel_notebooks"]

#: Notebooks executed at the same time (each in its own kernel) when they do not read each other's
#: outputs (:data:`~segkit.report.notebooks.NOTEBOOK_INPUTS`); never more than the machine's cores.
#: ``SEGKIT_RUN_PARALLEL`` overrides it (1: one after the other).
RUN_PARALLEL = 2


def parallel_notebooks(parallel: int | None) -> int:
    """``parallel``, else ``SEGKIT_RUN_PARALLEL``, else :data:`RUN_PARALLEL`; between 1 and the cores."""
    if parallel is None:
        parallel = int(os.environ.get("SEGKIT_RUN_PARALLEL") or RUN_PARALLEL)
    return max(1, min(int(parallel), os.cpu_count() or 1))


def execute_in_order(
    stems: Sequence[str],
    execute: Callable[[str], dict[str, float]],
    *,
    parallel: int = 1,
    bar: Any = None,
    reads: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, dict[str, float]]:
    """Call ``execute(stem)`` for every notebook, each once the notebooks it reads have finished.

    Parameters
    ----------
    stems
        The notebooks to run, in notebook order.
    execute
        Runs one notebook; returns its seconds (``{"execute": s}``).
    parallel
        At most this many notebooks at a time (threads, each waiting on its own kernel). A notebook
        starts when the notebooks it reads (:data:`~segkit.report.notebooks.NOTEBOOK_INPUTS`; every
        earlier one for a notebook not listed there) that are among ``stems`` have finished.
    bar
        A tqdm bar advanced by one per finished notebook, or None.
    reads
        The notebooks each notebook waits for (default
        :data:`~segkit.report.notebooks.NOTEBOOK_INPUTS`; see
        :func:`~segkit.report.notebooks.notebook_inputs`).

    Returns
    -------
    dict
        Seconds per notebook, in the order of ``stems``.

    Raises
    ------
    Exception
        The error of the first failed notebook (in notebook order), once the running ones finished;
        no notebook starts after a failure.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    def inputs(stem: str) -> set[str]:
        read = (NOTEBOOK_INPUTS if reads is None else reads).get(stem, tuple(stems[: stems.index(stem)]))
        return {name for name in read if name in stems}

    seconds: dict[str, dict[str, float]] = {}
    errors: dict[str, BaseException] = {}
    pending, running = list(stems), {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        while running or (pending and not errors):
            for stem in list(pending) if not errors else []:
                if len(running) < parallel and inputs(stem) <= set(seconds):
                    pending.remove(stem)
                    if bar is not None:
                        bar.set_description(stem)
                    running[pool.submit(execute, stem)] = stem
            if not running:  # a cycle in NOTEBOOK_INPUTS cannot happen; guard anyway
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                stem = running.pop(future)
                if future.exception() is not None:
                    errors[stem] = future.exception()
                    continue
                seconds[stem] = future.result()
                if bar is not None:
                    bar.update(1)
    if errors:
        raise errors[next(stem for stem in stems if stem in errors)]
    return {stem: seconds[stem] for stem in stems if stem in seconds}
