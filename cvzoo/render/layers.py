"""``summary``, ``params`` and ``flops``: the module tree with its numbers, and the totals.

The tree fits the terminal it is printed in, giving way in this order: parameters and MACs
switch to units (``115.6M``, ``17.56G``), output shapes lose their brackets (``1x768``), the
Type column goes, then the Output shape column; only then do module names fold onto a second
line. Numbers are never cut. A line on stderr says what was hidden; piped output is whole.

``summary --receptive-field`` adds three columns: the field (``435x435``), its stride and its
offset, which switch to one number where height and width agree (most layers); the RF offset
goes after the Type column and before the Output shape column, the field and its stride never.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cvzoo.render import Display, Surface, View
from cvzoo.render.numbers import (
    compact_macs,
    compact_shape,
    dims,
    human_bytes,
    human_count,
    human_macs,
    hw,
    shape_text,
    share,
)
from cvzoo.render.tables import Column, facts_table, fit_columns, records_table, tree_prefixes
from cvzoo.reports import FlopsReport, ParamsReport, Summary, TreeRow

NUMBERS = ("shape", "params", "macs")
CONTEXT_MARK = "*"  # after a field whose layer also sees the whole image through pooled values
CONTEXT_NOTE = (
    f"RF{CONTEXT_MARK}: the layer also sees the whole image through values pooled over all of it"
    " (squeeze-and-excitation gates, normalisation statistics, image pooling); the field is that"
    " of its path through the image"
)


def _label(row: TreeRow, root: str) -> str:
    """A row's own name (the tree shows where it sits), ``×N`` for a folded run."""
    if not row.name:
        return root
    own = row.name.rsplit(".", 1)[-1]  # a folded run "layer3.1-35" keeps its range: "1-35"
    return f"{own} ×{row.count}" if row.count > 1 else own


def _shape(row: Any, compact: bool) -> str:
    if row.output_shape is None and getattr(row, "note", None):
        note = row.note
        if note.startswith("returns "):
            kinds = note.removeprefix("returns ").removesuffix(", not tensors")
            return f"({kinds})" if compact else f"(returns {kinds})"
        return "(not run)" if compact else f"({note})"
    return compact_shape(row.output_shape) if compact else shape_text(row.output_shape)


def _field(row: Any, key: str, compact: bool) -> str:
    """A row's receptive field (``key`` = "receptive_field"), stride or offset as a cell."""
    values = getattr(row, key, None)
    if values is None:
        return "global" if key == "receptive_field" and getattr(row, "rf_global", False) else "-"
    text = hw(values, compact, sep="," if key == "rf_offset" else "x")
    return text + CONTEXT_MARK if key == "receptive_field" and row.rf_context else text


def _field_columns() -> list[Column]:
    return [
        Column(
            "RF",
            lambda p: _field(p[1], "receptive_field", False),
            compact=lambda p: _field(p[1], "receptive_field", True),
        ),
        Column(
            "RF stride",
            lambda p: _field(p[1], "rf_stride", False),
            compact=lambda p: _field(p[1], "rf_stride", True),
            compact_header="Stride",
        ),
        Column(
            "RF offset",
            lambda p: _field(p[1], "rf_offset", False),
            compact=lambda p: _field(p[1], "rf_offset", True),
            compact_header="Offset",
            drop=2,
        ),
    ]


def tree_columns(numbers: Sequence[str]) -> list[Column]:
    """Type, then the ``numbers`` columns (of shape, params, macs, rf) the rows carry."""
    columns = [Column("Type", lambda p: p[1].type, "left", drop=3 if "rf" in numbers else 2)]
    if "shape" in numbers:
        columns.append(
            Column(
                "Output shape",
                lambda p: _shape(p[1], False),
                "left",
                drop=1,
                compact=lambda p: _shape(p[1], True),
                compact_header="Shape",
                squeeze=2,
            )
        )
    if "params" in numbers:
        columns.append(
            Column(
                "Params",
                lambda p: f"{p[1].params:,}" if p[1].params else "-",
                compact=lambda p: human_count(p[1].params) if p[1].params else "-",
            )
        )
    if "macs" in numbers:
        columns.append(
            Column(
                "MACs",
                lambda p: f"{p[1].macs:,}" if p[1].macs else "-",
                compact=lambda p: compact_macs(p[1].macs) if p[1].macs else "-",
            )
        )
    if "rf" in numbers:
        columns.extend(_field_columns())
    return columns


def tree_table(
    rows: Sequence[TreeRow], root: str, width: int | None, numbers: Sequence[str] = NUMBERS
) -> tuple[Table, list[str]]:
    """The module tree fitted to ``width``, and the notes on what was hidden (for stderr)."""
    prefixes = tree_prefixes([r.depth for r in rows])
    pairs = [(prefix + _label(row, root), row) for prefix, row in zip(prefixes, rows, strict=True)]
    module = Column("Module", lambda p: p[0], "left", wrap=True)
    fit = fit_columns(pairs, [module, *tree_columns(numbers)], width)
    note = fit.note(width)
    return records_table(pairs, fit.columns, caption_justify="center"), [note] if note else []


def _root(model: str) -> str:
    """The root row's name: the model's (a user's file.py:Name shows as Name)."""
    return model.rsplit(":", 1)[-1]


def summary_table(report: Summary, surface: Surface) -> Display:
    """``cvzoo summary``: the layer tree, then the totals."""
    facts = [
        ("Model", f"{report.model}  ({report.task}, weights {report.weights})"),
        ("Input", dims(report.input_size)),
        ("Params", f"{report.total_params:,} ({human_count(report.total_params)})"),
        ("Trainable params", f"{report.trainable_params:,}"),
        ("Non-trainable params", f"{report.non_trainable_params:,}"),
        ("MACs", f"{human_macs(report.macs)}  (FLOPs = 2 x MACs = {human_macs(report.flops)})"),
        (
            "Parameter memory",
            f"{human_bytes(report.param_bytes)} (+ {human_bytes(report.buffer_bytes)} buffers)",
        ),
        ("Activation memory", f"{human_bytes(report.activation_bytes)} (layer outputs of one forward pass)"),
        ("Weights file", f"{report.file_size_mib:,.1f} MiB" if report.file_size_mib is not None else "-"),
    ]
    numbers = (*NUMBERS, "rf") if report.receptive_field else NUMBERS
    tree, hidden = tree_table(report.layers, _root(report.model), surface.width, numbers)
    context = [CONTEXT_NOTE] if any(getattr(r, "rf_context", False) for r in report.layers) else []
    return Display(Group(tree, Text(""), facts_table(facts)), [*hidden, *report.notes, *context])


def _share_table(headers: tuple[str, str], counts: dict[str, int], whole: int, fmt: Any) -> Table:
    """A breakdown (per layer type, per operator): name, amount, share of the whole."""
    columns = [
        Column(headers[0], lambda kv: kv[0], "left", wrap=True),
        Column(headers[1], lambda kv: fmt(kv[1])),
        Column("Share", lambda kv: share(kv[1], whole)),
    ]
    return records_table(list(counts.items()), columns, caption_justify="center")


def params_table(report: ParamsReport, surface: Surface, by_type: bool = False) -> Display:
    """``cvzoo params``: totals and memory, then the breakdown per module or per layer type."""
    total = report.total
    facts = [
        ("Model", f"{report.model}  (weights {report.weights})"),
        ("Total", f"{total:,} ({human_count(total)})"),
        ("Trainable", f"{report.trainable:,}"),
        ("Non-trainable", f"{report.non_trainable:,}"),
        ("Buffers", f"{report.buffers:,} elements ({human_bytes(report.buffer_bytes)})"),
        ("Memory", "  ".join(f"{k} {human_bytes(v)}" for k, v in report.memory_bytes.items())),
    ]
    if by_type:
        counts = _share_table(("Layer type", "Params"), report.by_type, total, lambda n: f"{n:,}")
        return Display(Group(facts_table(facts), Text(""), counts))
    tree, hidden = tree_table(report.modules, _root(report.model), surface.width, numbers=("params",))
    return Display(Group(facts_table(facts), Text(""), tree), hidden)


def flops_table(report: FlopsReport, surface: Surface) -> Display:
    """``cvzoo flops``: MACs and FLOPs in total and per module, and per operator."""
    facts = [
        ("Model", f"{report.model}  (weights {report.weights})"),
        ("Input", dims(report.input_size)),
        ("MACs", f"{report.macs:,} ({human_macs(report.macs)})"),
        ("FLOPs", f"{report.flops:,} ({human_macs(report.flops)}) = 2 x MACs"),
    ]
    ops = _share_table(("Operator", "MACs"), report.by_operator, report.macs, human_macs)
    modules, hidden = tree_table(report.modules, _root(report.model), surface.width, numbers=("macs",))
    return Display(Group(facts_table(facts), Text(""), modules, Text(""), ops), [*hidden, *report.notes])


SUMMARY: View[Summary] = View(table=summary_table)
FLOPS: View[FlopsReport] = View(table=flops_table)


def params_view(by_type: bool) -> View[ParamsReport]:
    """The params view, broken down per module or (``by_type``) per layer type."""
    return View(table=lambda report, surface: params_table(report, surface, by_type))
