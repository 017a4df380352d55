"""Progress on stderr: a download bar, and a bar counting steps (images, timed iterations).

Each is a context manager that yields the callback the core calls as it goes, or None when
stderr is not a terminal (a pipe, a log file, a test), so that nothing but data is written.
Labels are printed literally: they may name a user's model or file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console


@contextlib.contextmanager
def download_bar(
    console: Console, label: str, needed: bool = True
) -> Iterator[Callable[[int, int | None], None] | None]:
    """A bar with bytes, speed and time left, if ``needed``; yields ``update(done, total)``.

    The bar appears with the first update: a run that downloads nothing shows none.
    """
    if not needed or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = (_label(), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    progress = Progress(*columns, console=console, transient=True)
    task = progress.add_task(label, total=None)

    def update(done: int, total: int | None) -> None:
        progress.start()  # the first time; then nothing
        progress.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        progress.stop()


@contextlib.contextmanager
def step_bar(console: Console, label: str, total: int, minimum: int = 0) -> Iterator[Any]:
    """A bar counting ``total`` steps, shown when there are more than ``minimum``.

    Yields ``update(done=None)``: with a number, the steps done so far; without, one more step.
    """
    if total <= minimum or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        _label(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True
    ) as p:
        task = p.add_task(label, total=total)

        def update(done: int | None = None) -> None:
            if done is None:
                p.advance(task)
            else:
                p.update(task, completed=done)

        yield update


def _label() -> Any:
    """The column that shows a bar's label as it is: it may hold a user's text (never markup)."""
    from rich.progress import TextColumn

    return TextColumn("{task.description}", markup=False)
