"""The Typer application: its consoles, its error boundary, and how a result is written out.

A CvzooError becomes one line on stderr and its exit code (1 failure, 2 usage); ``--debug``
(or ``CVZOO_DEBUG=1``) shows the traceback instead. Data goes to stdout, everything else to
stderr, and text that came from the user is always printed literally, never as rich markup.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from enum import Enum
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.text import Text
from typer.core import TyperGroup

from cvzoo import __version__, catalog
from cvzoo.errors import CvzooError
from cvzoo.render import Surface, View, output


class _Console(Console):
    """rich's console, but a closed pipe is left to the CLI's boundary (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


out = _Console(soft_wrap=False)
err = _Console(stderr=True)


class _State:
    debug = False


state = _State()


def say(kind: str, message: str, style: str = "bold red") -> None:
    """One line on stderr: ``kind: message``, the message printed literally (never as markup)."""
    line = Text(f"{kind}: ", style=style) if kind else Text()
    line.append(message)
    err.print(line, highlight=False, soft_wrap=True)


# The status a shell reports for a program whose reader went away (128 + SIGPIPE), as for
# `yes | head`: cvzoo ends quietly with it when stdout or stderr is closed under it.
CLOSED_PIPE = 141


def reader_gone() -> int:
    """Point stdout and stderr at /dev/null, so that nothing more fails on the way out.

    Returns:
        The exit status to end with.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # not a real file (a test's capture)
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    return CLOSED_PIPE


class _Group(TyperGroup):
    """Turns cvzoo's own errors into one line and an exit code, at the boundary."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CvzooError as exc:
            if state.debug:
                raise
            say("error", str(exc))
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:  # `cvzoo list | head`: the reader has gone, which is no error
            raise typer.Exit(reader_gone()) from None
        except OSError as exc:  # stdout on a full disk, a closed descriptor: one line, not a traceback
            if state.debug:
                raise
            say("error", _describe(exc))
            raise typer.Exit(1) from None

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # `cvzoo --help | head` prints the help while parsing
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            raise typer.Exit(reader_gone()) from None
        except OSError as exc:  # the help into a full disk or a closed stdout
            say("error", _describe(exc))
            raise typer.Exit(1) from None


# How writing to stdout fails: a full disk, a closed or broken descriptor.
WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF, errno.EIO}


def _describe(exc: OSError) -> str:
    """An operating-system error in a line: the file it names, or the output when it was a write."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename:
        return f"{exc.filename}: {reason}"
    return f"cannot write the output: {reason}" if exc.errno in WRITE_ERRORS else reason


class ClosedStream:
    """Stands in for a standard stream the shell closed (``>&-``): writing to it is an OSError."""

    def write(self, text: str) -> int:
        """Refuse, as writing to a closed descriptor does."""
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def flush(self) -> None:
        """Nothing to flush."""

    def isatty(self) -> bool:
        """Not a terminal."""
        return False


app = typer.Typer(
    cls=_Group,
    name="cvzoo",
    help="Look inside computer-vision models and try them: the torchvision zoo, one command away.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cvzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    state.debug = debug or bool(os.environ.get("CVZOO_DEBUG"))


UNLIMITED = 1_000_000  # columns: what a pipe or a file takes


def surface() -> Surface:
    """Where stdout goes: a terminal's width, ``$COLUMNS`` if set, else no limit (a pipe, a file)."""
    if out.is_terminal:
        width: int | None = out.width
    else:
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else None
    return Surface(width=width, color=out.color_system is not None and not out.no_color)  # NO_COLOR too


def emit(result: Any, fmt: Enum, view: View[Any]) -> None:
    """Write ``result`` to stdout in format ``fmt``; a table's notes go to stderr."""
    where = surface()
    shown = output(result, fmt, view, where)
    if isinstance(shown, str):
        sys.stdout.write(shown)
        sys.stdout.flush()
        return
    out.width = where.width or UNLIMITED  # rich would otherwise cap a pipe at 80 columns
    parts = shown.body.renderables if isinstance(shown.body, Group) else [shown.body]
    for part in parts:  # a line marked never to break (a URL) is neither wrapped nor cropped
        whole = isinstance(part, Text) and part.overflow == "ignore"
        out.print(part, soft_wrap=whole, crop=not whole)
    for note in shown.notes:
        say("note", note, style="dim")


def load_catalog() -> catalog.Catalog:
    """The catalogue, with a spinner on stderr while it is built the first time."""
    return catalog.load_catalog(
        on_build=lambda: err.status("Indexing torchvision's zoo (once per torchvision version)...")
    )
