"""Looking inside a model: ``summary``, ``params`` and ``flops``, counted on the meta device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cvzoo.cli.app import emit, err, load_catalog
from cvzoo.cli.options import (
    CollapseOpt,
    DepthOpt,
    InputOpt,
    KwargOpt,
    ModelArg,
    NoCacheOpt,
    ReceptiveFieldOpt,
    TableJsonOpt,
    WeightsOpt,
)
from cvzoo.render import TableJson

if TYPE_CHECKING:
    from cvzoo.stats import ModelStats


def _count(
    model: str,
    weights: str,
    input_size: str | None,
    kwargs: list[str] | None,
    no_cache: bool,
    macs: bool = True,
    receptive_field: bool = False,
) -> ModelStats:
    """Count ``model`` as the command line asked (nothing downloaded, nothing allocated), or recall it."""
    from cvzoo import inputs, reports, usermodel

    requested = inputs.parse_input_size(input_size) if input_size else None
    parsed = usermodel.parse_kwargs(kwargs or [])
    return reports.count(
        model,
        weights,
        requested,
        parsed,
        count_macs=macs,
        catalog=load_catalog,
        use_cache=not no_cache,
        receptive_field=receptive_field,
    )


def _checkpoint(model: str, depth: int, fmt: TableJson) -> bool:
    """``summary FILE`` and ``params FILE`` for a checkpoint: its tensors and what it fits."""
    from pathlib import Path

    from cvzoo import checkpoints
    from cvzoo.render.checkpoint import checkpoint_view

    if not checkpoints.is_checkpoint(model):
        return False
    label = "Matching its shapes with the zoo's architectures (once per torchvision version)..."
    report = checkpoints.describe(
        Path(model).expanduser(), load_catalog(), on_build=lambda: err.status(label)
    )
    emit(report, fmt, checkpoint_view(depth))
    return True


def summary(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 2,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    receptive_field: ReceptiveFieldOpt = False,
    no_cache: NoCacheOpt = False,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """The layer tree with output shapes, parameters and MACs, and the totals."""
    from cvzoo import reports
    from cvzoo.render.layers import SUMMARY

    if _checkpoint(model, depth, fmt):
        return
    counted = _count(model, weights, input_size, kwarg, no_cache, receptive_field=receptive_field)
    emit(reports.summary(counted, depth, collapse, receptive_field), fmt, SUMMARY)


def params(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    depth: DepthOpt = 1,
    by_type: Annotated[
        bool, typer.Option("--by-type", help="Break down by layer type (Conv2d, Linear...).")
    ] = False,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    no_cache: NoCacheOpt = False,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """Parameters: total, trainable, buffers, memory, and where they are."""
    from cvzoo import reports
    from cvzoo.render.layers import params_view

    if _checkpoint(model, depth, fmt):
        return
    counted = _count(model, weights, None, kwarg, no_cache, macs=False)
    emit(reports.params(counted, depth, collapse), fmt, params_view(by_type))


def flops(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 1,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    no_cache: NoCacheOpt = False,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """MACs and FLOPs (= 2 x MACs), in total, per module and per operator."""
    from cvzoo import reports
    from cvzoo.render.layers import FLOPS

    counted = _count(model, weights, input_size, kwarg, no_cache)
    emit(reports.flops(counted, depth, collapse), fmt, FLOPS)
