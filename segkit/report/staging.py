"""Atomic runs: the run's lock, its staging folders (``.<run>.partial``) and the renames that put a
finished run into place (the last good run stays untouched until then).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from segkit.schema import ParameterError


@contextmanager
def run_lock(processed_dir: str | os.PathLike[str], run: str) -> Iterator[Path]:
    """Hold ``<processed_dir>/.<run>.lock`` (an OS file lock, released when the process ends).

    Raises
    ------
    ParameterError
        At once, when another process holds the lock (a run of the same name is in progress).
    """
    import fcntl

    root = Path(processed_dir).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f".{run}.lock"
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ParameterError(
                f"run {run!r} is already in progress ({holder}); this run stopped without touching it",
                column="run",
                hint="wait until it finishes, or pass another --name",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}, started {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        yield path
    finally:
        handle.close()


def _check_distinct_roots(processed_dir: str | os.PathLike[str], reports_dir: str | os.PathLike[str]) -> None:
    processed = Path(processed_dir).expanduser().resolve()
    reports = Path(reports_dir).expanduser().resolve()
    if processed == reports:
        raise ParameterError(
            f"--processed-dir and --reports-dir are the same folder ({processed.name}); a run writes "
            "one folder of its name under each",
            column="reports_dir",
            hint="give them different folders, e.g. --processed-dir data/processed --reports-dir reports",
        )


def _swap_into_place(partial: Path, final: Path) -> None:
    """Replace ``final`` with ``partial`` by renames (the old folder is removed only afterwards)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    previous = final.with_name(f".{final.name}.previous")
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        final.rename(previous)
    try:
        partial.rename(final)
    except OSError:
        if previous.exists() and not final.exists():
            previous.rename(final)
        raise
    if previous.exists():
        shutil.rmtree(previous)


def _prepare_partial(staging: Path, final: Path, *, seed_from_final: bool) -> Path:
    """Create an empty staging folder (``.<run>.partial/<run>``), seeded with ``final`` for a partial rerun."""
    if staging.exists():
        shutil.rmtree(staging)
    target = staging / final.name
    if seed_from_final and final.is_dir():
        shutil.copytree(final, target)
    else:
        target.mkdir(parents=True)
    return target


@dataclass
class _Staging:
    """The staging folders of a run (``<parent>/.<run>.partial/<run>``) and their final places."""

    processed: Path
    reports: Path
    final_processed: Path
    final_reports: Path

    @classmethod
    def prepare(
        cls,
        processed_dir: str | os.PathLike[str],
        reports_dir: str | os.PathLike[str],
        run: str,
        *,
        partial_rerun: bool,
    ) -> _Staging:
        """Create empty staging folders; a partial rerun starts from a copy of the last good run."""
        roots = [Path(folder).expanduser().resolve() for folder in (processed_dir, reports_dir)]
        staged = [
            _prepare_partial(root / f".{run}.partial", root / run, seed_from_final=partial_rerun)
            for root in roots
        ]
        (staged[1] / "executed").mkdir(exist_ok=True)
        return cls(staged[0], staged[1], roots[0] / run, roots[1] / run)

    def commit(self) -> None:
        """Move both staging folders into place (replacing the last good run) and remove the staging parents."""
        _swap_into_place(self.processed, self.final_processed)
        _swap_into_place(self.reports, self.final_reports)
        for staged in (self.processed, self.reports):
            shutil.rmtree(staged.parent, ignore_errors=True)
