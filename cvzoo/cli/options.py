"""Options several commands share, and shell completion (which reads only the cache: no torch)."""

from __future__ import annotations

from typing import Annotated

import typer

from cvzoo import catalog
from cvzoo.render import TableJson, TableJsonCsv
from cvzoo.runtime import Precision


def complete_model(incomplete: str) -> list[str]:
    """Model names starting with what has been typed, from the cached catalogue."""
    cached = catalog.cached_catalog()
    if cached is None:
        return []
    return [n for n in cached.names() if n.startswith(incomplete.lower())]


def complete_weights(ctx: typer.Context, incomplete: str) -> list[str]:
    """``--weights`` values for the MODEL already typed: its sets, DEFAULT and none."""
    cached = catalog.cached_catalog()
    # While completing, Typer leaves the already-typed MODEL in ctx.args rather than ctx.params.
    model = (ctx.params or {}).get("model") or next(iter(ctx.args or []), "")
    entry = cached.models.get(model.lower()) if cached else None
    choices = ["DEFAULT", "none"] + ([w.name for w in entry.weights] if entry else [])
    return [c for c in choices if c.lower().startswith(incomplete.lower())]


ModelArg = Annotated[
    str,
    typer.Argument(
        help="A torchvision model (resnet50) or your own: path/to/file.py:Name.",
        autocompletion=complete_model,
        show_default=False,
        metavar="MODEL",
    ),
]
ModelsArg = Annotated[
    list[str], typer.Argument(help="Models to time.", autocompletion=complete_model, metavar="MODEL...")
]
WeightsOpt = Annotated[
    str,
    typer.Option(
        "--weights",
        "-w",
        help="DEFAULT, a weight set's name (IMAGENET1K_V1), or none.",
        autocompletion=complete_weights,
    ),
]
InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input-size", "-i", help="S, H,W or N,C,H,W (N,C,T,H,W for video). Default: the weights' size."
    ),
]
DepthOpt = Annotated[
    int, typer.Option("--depth", "-d", min=0, help="Fold modules deeper than this (root = 0).")
]
KwargOpt = Annotated[
    list[str] | None,
    typer.Option("--kwarg", "-k", help="key=value for the model's constructor; repeatable."),
]
CollapseOpt = Annotated[
    bool, typer.Option("--collapse/--no-collapse", help="Fold runs of identical sibling blocks into one row.")
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Count again instead of answering from an earlier count.")
]
ReceptiveFieldOpt = Annotated[
    bool,
    typer.Option(
        "--receptive-field",
        help="Add each layer's receptive field: its size, stride and offset in input pixels.",
    ),
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")]
PrecisionOpt = Annotated[Precision, typer.Option("--precision", help="Number format.")]
TableJsonOpt = Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")]
TableJsonCsvOpt = Annotated[TableJsonCsv, typer.Option("--format", "-f", help="Output format.")]
