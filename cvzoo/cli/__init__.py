"""The command line: parse options, call the core, emit the result in the chosen format.

Each command is a thin function in the module named for what it does (:mod:`.zoo`,
:mod:`.inspection`, :mod:`.wiring`, :mod:`.trying`, :mod:`.speed`); :mod:`.app` holds the Typer
application, its error boundary and the output; :mod:`.options` the options several commands share.
Torch is imported only by the commands that build a model, never for ``list``, ``info``,
completion or ``--help``: the core is imported inside the commands that need it.
"""

from __future__ import annotations

import sys

from cvzoo.cli import inspection, speed, trying, wiring, zoo
from cvzoo.cli.app import ClosedStream, app, reader_gone

# Registered here, in the order ``cvzoo --help`` lists them.
for _name, _command in (
    ("list", zoo.list_),
    ("summary", inspection.summary),
    ("params", inspection.params),
    ("flops", inspection.flops),
    ("graph", wiring.graph),
    ("infer", trying.infer),
    ("bench", speed.bench),
    ("compare", speed.compare),
    ("info", zoo.info),
    ("plot", zoo.plot),
):
    app.command(_name)(_command)

__all__ = ["app", "main"]


def main() -> None:
    """The ``cvzoo`` console script."""
    if sys.stdout is None:  # started with stdout closed: what is written fails in one line
        sys.stdout = ClosedStream()
    try:
        app(prog_name="cvzoo")
    except BrokenPipeError:  # help or a usage message cut off: the reader has gone
        sys.exit(reader_gone())
