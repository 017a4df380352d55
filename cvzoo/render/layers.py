"""``summary``, ``params`` and ``flops``: the module tree with its numbers, and the totals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cvzoo.render import View
from cvzoo.render.numbers import dims, human_bytes, human_count, human_macs, shape_text, share
from cvzoo.render.tables import Column, facts_table, records_table, tree_prefixes
from cvzoo.reports import FlopsReport, ParamsReport, Summary

ELLIPSIS: dict[str, Any] = {"overflow": "ellipsis"}


def tree_table(rows: Sequence[Any], numbers: Sequence[str] = ("shape", "params", "macs")) -> Table:
    """The module tree: guides and names, type, then the ``numbers`` columns the rows carry.

    ``numbers`` names which of output shape, params and MACs to show (the rows have them).
    """
    prefixes = tree_prefixes([r.depth for r in rows])
    pairs = list(zip(prefixes, rows, strict=True))
    columns = [
        Column("Module", lambda p: p[0] + (p[1].name or p[1].type), "left", **ELLIPSIS),
        Column(
            "Type",
            lambda p: f"{p[1].type} ×{p[1].count}" if p[1].count > 1 else p[1].type,
            "left",
            **ELLIPSIS,
        ),
    ]
    if "shape" in numbers:  # the one column that wraps when the terminal is narrow
        columns.append(Column("Output shape", lambda p: shape_text(p[1].output_shape), "left", wrap=True))
    if "params" in numbers:
        columns.append(Column("Params", lambda p: f"{p[1].params:,}" if p[1].params else "-", **ELLIPSIS))
    if "macs" in numbers:
        columns.append(Column("MACs", lambda p: human_macs(p[1].macs) if p[1].macs else "-", **ELLIPSIS))
    return records_table(pairs, columns, caption_justify="center")


def _notes(notes: Sequence[str]) -> list[Text]:
    return [Text(f"note: {note}", style="dim") for note in notes]


def summary_table(report: Summary, width: int | None = None) -> RenderableType:
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
    return Group(tree_table(report.layers), Text(""), facts_table(facts), *_notes(report.notes))


def _share_table(headers: tuple[str, str], counts: dict[str, int], whole: int, fmt: Any) -> Table:
    """A breakdown (per layer type, per operator): name, amount, share of the whole."""
    columns = [
        Column(headers[0], lambda kv: kv[0], "left", wrap=True, overflow="ellipsis"),
        Column(headers[1], lambda kv: fmt(kv[1]), wrap=True, overflow="ellipsis"),
        Column("Share", lambda kv: share(kv[1], whole), wrap=True, overflow="ellipsis"),
    ]
    return records_table(list(counts.items()), columns, caption_justify="center")


def params_table(report: ParamsReport, by_type: bool = False) -> RenderableType:
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
        breakdown = _share_table(("Layer type", "Params"), report.by_type, total, lambda n: f"{n:,}")
    else:
        breakdown = tree_table(report.modules, numbers=("params",))
    return Group(facts_table(facts), Text(""), breakdown)


def flops_table(report: FlopsReport, width: int | None = None) -> RenderableType:
    """``cvzoo flops``: MACs and FLOPs in total and per module, and per operator."""
    facts = [
        ("Model", f"{report.model}  (weights {report.weights})"),
        ("Input", dims(report.input_size)),
        ("MACs", f"{report.macs:,} ({human_macs(report.macs)})"),
        ("FLOPs", f"{report.flops:,} ({human_macs(report.flops)}) = 2 x MACs"),
    ]
    ops = _share_table(("Operator", "MACs"), report.by_operator, report.macs, human_macs)
    modules = tree_table(report.modules, numbers=("macs",))
    return Group(facts_table(facts), Text(""), modules, Text(""), ops, *_notes(report.notes))


SUMMARY: View[Summary] = View(table=summary_table)
FLOPS: View[FlopsReport] = View(table=flops_table)


def params_view(by_type: bool) -> View[ParamsReport]:
    """The params view, broken down per module or (``by_type``) per layer type."""
    return View(table=lambda report, width: params_table(report, by_type))
