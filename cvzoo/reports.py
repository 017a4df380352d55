"""What ``summary``, ``params`` and ``flops`` report: a model counted once, shaped per command.

:func:`count` builds a model on meta and counts it (:mod:`cvzoo.stats`); :func:`summary`,
:func:`params` and :func:`flops` fold its layer tree to the asked depth and keep what each
command shows. Each report is a typed record whose fields are exactly the command's JSON
schema (fields marked ``json=False`` are shown in tables only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cvzoo import registry, stats, statscache
from cvzoo.catalog import Catalog
from cvzoo.schema import TABLE_ONLY
from cvzoo.stats import LayerRow, ModelStats, collapse, flatten


def count(
    model: str,
    weights: str = "DEFAULT",
    requested_input: Sequence[int] | None = None,
    kwargs: dict[str, Any] | None = None,
    count_macs: bool = True,
    catalog: Catalog | Callable[[], Catalog] | None = None,
    use_cache: bool = True,
    receptive_field: bool = False,
) -> ModelStats:
    """Build ``model`` on meta with ``weights``' architecture and count it, or recall the count.

    Args:
        model: a zoo model or ``path/to/file.py:Name``.
        requested_input: ``--input-size`` as parsed; None for the weights' own size.
        count_macs: run one forward pass (on meta) for MACs and shapes; parameters only otherwise.
        use_cache: answer from an earlier count of the same thing if there is one (no torch is
            imported then); without it, count again. Either way the fresh count is kept.
        receptive_field: follow each layer's receptive field through the same pass.
    """
    entry = statscache.key(model, weights, requested_input, kwargs or {}, count_macs, receptive_field)
    if entry and use_cache:
        kept = statscache.read(entry)
        if kept is not None:
            return kept
    built = registry.build(model, weights, catalog=catalog, kwargs=kwargs)
    result = stats.collect(built, requested_input, count_macs=count_macs, receptive_field=receptive_field)
    if entry:
        statscache.write(entry, result)
    return result


def _rows(result: ModelStats, depth: int, fold: bool) -> list[LayerRow]:
    return flatten(collapse(result.root) if fold else result.root, depth)


@dataclass(frozen=True)
class TreeRow:
    """A row of a module tree, as every command's JSON starts it."""

    name: str  # dotted path ("" for the root; "layer3.1-35" for a collapsed run)
    type: str
    depth: int
    count: int  # how many identical siblings the row stands for


@dataclass(frozen=True)
class SummaryLayer(TreeRow):
    """A row of ``summary``'s layer tree."""

    output_shape: Any
    params: int
    macs: int
    note: str | None = None  # why there is no output shape, or what the row is (a parameter)


@dataclass(frozen=True)
class FieldLayer(SummaryLayer):
    """A row of ``summary --receptive-field``: a layer's receptive field, ``[height, width]`` each.

    A layer whose outputs each see the whole input (global pooling, attention, a fully connected
    layer, and anything computed from them) has none: null, and ``rf_global`` in tables.
    """

    receptive_field: list[int] | None = None  # input pixels one output sees
    rf_stride: list[int | float] | None = None  # input pixels between adjacent outputs
    rf_offset: list[int | float] | None = None  # centre of the first output's field (pixel i's is i)
    rf_context: bool = False  # also sees the whole input through values pooled over it (an SE gate)
    rf_global: bool = field(default=False, metadata=TABLE_ONLY)


@dataclass(frozen=True)
class Summary:
    """``cvzoo summary``: the layer tree with shapes, parameters and MACs, and the totals."""

    model: str
    weights: str
    task: str
    input_size: list[int]
    layers: list[SummaryLayer]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    buffers: int
    macs: int
    flops: int  # 2 x MACs
    param_bytes: int
    buffer_bytes: int
    activation_bytes: int
    file_size_mib: float | None
    notes: list[str]
    receptive_field: bool = field(default=False, metadata=TABLE_ONLY)  # rows are FieldLayers


def summary(result: ModelStats, depth: int = 2, fold: bool = True, receptive_field: bool = False) -> Summary:
    """``result`` as ``summary`` shows it: rows down to ``depth``, identical runs folded.

    With ``receptive_field`` (``result`` counted with it), the rows are :class:`FieldLayer`.
    """
    layers = [_summary_layer(r, receptive_field) for r in _rows(result, depth, fold)]
    return Summary(
        model=result.model,
        weights=result.weights,
        task=result.task,
        input_size=result.input_size,
        layers=layers,
        total_params=result.total_params,
        trainable_params=result.trainable_params,
        non_trainable_params=result.total_params - result.trainable_params,
        buffers=result.buffers,
        macs=result.macs,
        flops=2 * result.macs,
        param_bytes=result.param_bytes,
        buffer_bytes=result.buffer_bytes,
        activation_bytes=result.activation_bytes,
        file_size_mib=result.file_size_mib,
        notes=result.notes,
        receptive_field=receptive_field,
    )


def _summary_layer(row: LayerRow, receptive_field: bool) -> SummaryLayer:
    common = (row.name, row.type, row.depth, row.count, row.output_shape, row.params, row.macs, row.note)
    if not receptive_field:
        return SummaryLayer(*common)
    return FieldLayer(*common, *(getattr(row, f) for f in stats.RF_FIELDS))


@dataclass(frozen=True)
class ParamsModule(TreeRow):
    """A row of ``params``' module tree."""

    params: int


@dataclass(frozen=True)
class ParamsReport:
    """``cvzoo params``: totals, memory per precision, and where the parameters are."""

    model: str
    weights: str
    total: int
    trainable: int
    non_trainable: int
    buffers: int  # elements
    memory_bytes: dict[str, int]  # bytes the parameters take at each precision
    modules: list[ParamsModule]
    by_type: dict[str, int]  # parameters per module type, largest first
    buffer_bytes: int = field(default=0, metadata=TABLE_ONLY)


def params(result: ModelStats, depth: int = 1, fold: bool = True) -> ParamsReport:
    """``result`` as ``params`` shows it."""
    total = result.total_params
    return ParamsReport(
        model=result.model,
        weights=result.weights,
        total=total,
        trainable=result.trainable_params,
        non_trainable=total - result.trainable_params,
        buffers=result.buffers,
        memory_bytes={"fp32": 4 * total, "bf16": 2 * total, "int8": total},
        modules=[
            ParamsModule(r.name, r.type, r.depth, r.count, r.params) for r in _rows(result, depth, fold)
        ],
        by_type=result.by_type,
        buffer_bytes=result.buffer_bytes,
    )


@dataclass(frozen=True)
class FlopsModule(TreeRow):
    """A row of ``flops``' module tree."""

    macs: int
    flops: int


@dataclass(frozen=True)
class FlopsReport:
    """``cvzoo flops``: MACs and FLOPs in total, per module and per operator."""

    model: str
    weights: str
    input_size: list[int]
    macs: int
    flops: int  # 2 x MACs
    modules: list[FlopsModule]
    by_operator: dict[str, int]  # MACs per aten operator, largest first
    notes: list[str]


def flops(result: ModelStats, depth: int = 1, fold: bool = True) -> FlopsReport:
    """``result`` as ``flops`` shows it."""
    modules = [
        FlopsModule(r.name, r.type, r.depth, r.count, r.macs, 2 * r.macs) for r in _rows(result, depth, fold)
    ]
    return FlopsReport(
        model=result.model,
        weights=result.weights,
        input_size=result.input_size,
        macs=result.macs,
        flops=2 * result.macs,
        modules=modules,
        by_operator=result.macs_by_op,
        notes=result.notes,
    )
