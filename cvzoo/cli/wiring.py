"""``cvzoo graph``: a model's dataflow graph as a picture, a page or text, traced on the meta device."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cvzoo.cli.app import load_catalog, say
from cvzoo.cli.options import CollapseOpt, InputOpt, KwargOpt, ModelArg, WeightsOpt
from cvzoo.errors import CvzooError, UsageError
from cvzoo.render import GraphFormat

DepthAuto = Annotated[
    int | None,
    typer.Option(
        "--depth",
        "-d",
        min=0,
        help="Open modules down to this depth (root = 0). Default: what fits a screen, blocks that wire"
        " tensors (skips, concatenations, branches) first.",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="The file to write: .svg, .png, .html, .dot, .mmd or .json. Default: MODEL.html."
    ),
]
GraphFormatOpt = Annotated[
    GraphFormat | None,
    typer.Option(
        "--format", "-f", help="Output format; without --out it goes to stdout. Default: from --out."
    ),
]


def graph(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthAuto = None,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    out: OutOpt = None,
    fmt: GraphFormatOpt = None,
) -> None:
    """The dataflow graph: modules, the operations that wire them, shapes, parameters and MACs."""
    from cvzoo import inputs, usermodel
    from cvzoo.graph import model_graph
    from cvzoo.render.graph import draw, format_for

    if out is None and fmt is None:
        out = Path(f"{model.rsplit(':', 1)[-1].rsplit('/', 1)[-1]}.html")
    chosen = format_for(out, fmt)
    if out is not None:
        _check_target(out)
    elif chosen is GraphFormat.png and sys.stdout.isatty():
        raise UsageError("PNG is binary: give --out FILE.png, or pipe it (cvzoo graph ... -f png > g.png)")
    requested = inputs.parse_input_size(input_size) if input_size else None
    result = model_graph(
        model,
        weights,
        requested,
        usermodel.parse_kwargs(kwarg or []),
        depth=depth,
        collapse=collapse,
        insides=chosen is GraphFormat.html,
        catalog=load_catalog,
    )
    shown = draw(result, chosen)
    if out is None:
        if isinstance(shown, bytes):
            sys.stdout.buffer.write(shown)
        else:
            sys.stdout.write(shown)
        sys.stdout.flush()
        return
    _write(out, shown)
    say("", f"wrote {out} ({len(result.nodes)} nodes, {len(result.edges)} edges)", style="")


def _check_target(out: Path) -> None:
    if out.is_dir():
        raise UsageError(f"--out '{out}' is a directory; name a file")
    if not out.parent.is_dir():
        raise UsageError(f"--out '{out}': the folder '{out.parent}' does not exist")


def _write(out: Path, shown: str | bytes) -> None:
    from cvzoo.files import replacing

    try:
        with replacing(out) as temporary:
            if isinstance(shown, bytes):
                temporary.write_bytes(shown)
            else:
                temporary.write_text(shown, encoding="utf-8")
    except OSError as exc:
        raise CvzooError(f"cannot write '{out}': {exc.strerror or exc}") from None
