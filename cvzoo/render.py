"""Typed results in, things to show out: rich tables and trees, JSON, CSV and Markdown.

Nothing here computes a number and nothing here prints: the CLI hands a result to a
function of this module and writes what comes back to stdout.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from cvzoo.catalog import ZooRow


class OutputFormat(str, Enum):
    """How a command writes its result to stdout."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# --- numbers for people ------------------------------------------------------------------------


def human_count(n: int | float | None) -> str:
    """25557032 -> '25.6M'; three significant figures, K/M/B suffixes."""
    if n is None:
        return "-"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{_sig3(n / scale)}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def human_float(x: float | None) -> str:
    """4.089 -> '4.09', 178.722 -> '178.7', 1016.717 -> '1,017'."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return _sig3(x) if abs(x) >= 1 else f"{x:.3f}".rstrip("0").rstrip(".")


def _sig3(x: float) -> str:
    if abs(x) >= 100:
        return f"{x:.1f}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def human_size(size: Sequence[int] | None) -> str:
    """[224, 224] -> '224', [520, 480] -> '520x480', None -> '-'."""
    if not size:
        return "-"
    if len(size) == 2 and size[0] == size[1]:
        return str(size[0])
    return "x".join(str(s) for s in size)


def metric_text(
    metrics: dict[str, dict[str, float | None]], skip: tuple[str, ...] = ("acc@1", "acc@5")
) -> str:
    """The first dataset's metrics not shown in their own columns, e.g. 'box_map 37.0'."""
    first = next(iter(metrics.values()), {})
    return ", ".join(f"{k} {v}" for k, v in first.items() if k not in skip and v is not None) or "-"


# --- tables of records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, its cell text, its alignment, and when to drop it.

    ``drop`` orders what goes first when the terminal is too narrow (highest first); 0 never goes.
    """

    header: str
    cell: Callable[[Any], str]
    justify: str = "right"
    drop: int = 0


def _zoo_columns(all_weights: bool) -> list[Column]:
    columns = [Column("Model", lambda r: r.name, "left"), Column("Task", lambda r: r.task, "left", drop=2)]
    if all_weights:
        columns.append(Column("Weights", lambda r: r.weights + (" *" if r.default else ""), "left"))
    columns += [
        Column("Params", lambda r: human_count(r.params)),
        Column("GMACs", lambda r: human_float(r.gmacs)),
        Column("Acc@1", lambda r: _pct(r.acc1)),
        Column("Acc@5", lambda r: _pct(r.acc5), drop=4),
        Column("Metric", lambda r: metric_text(r.metrics), "left", drop=3),
        Column("MiB", lambda r: f"{r.file_size_mib:,.1f}", drop=6),
        Column("Input", lambda r: human_size(r.input_size), drop=5),
    ]
    return columns


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def zoo_table(rows: Sequence[ZooRow], all_weights: bool = False, width: int | None = None) -> Table:
    """``cvzoo list`` as a rich table.

    Columns that would be all '-' are left out; so are the least important ones when the
    table would be wider than ``width`` (the caption says which).
    """
    columns = [c for c in _zoo_columns(all_weights) if any(c.cell(r) != "-" for r in rows)]
    shown = fit_columns(rows, columns, width)
    table = records_table(rows, shown)
    caption = (
        f"{len(rows)} weight sets · * DEFAULT"
        if all_weights
        else f"{len(rows)} model" + "s" * (len(rows) != 1)
    )
    table.caption = caption + " · GMACs = multiply-adds, not FLOPs"
    hidden = [c.header for c in columns if c not in shown]
    if hidden:
        table.caption += f"\n{', '.join(hidden)} hidden to fit the terminal: widen it, or use --format json"
    return table


def fit_columns(rows: Sequence[Any], columns: Sequence[Column], width: int | None) -> list[Column]:
    """The columns that fit in ``width`` characters, dropping by each column's ``drop`` order."""
    shown = list(columns)
    if width is None:
        return shown
    widths = {c.header: max([len(c.header)] + [len(c.cell(r)) for r in rows]) for c in columns}
    while sum(widths[c.header] for c in shown) + 2 * (len(shown) - 1) > width:
        candidates = [c for c in shown if c.drop]
        if not candidates:
            break
        shown.remove(max(candidates, key=lambda c: c.drop))
    return shown


def records_table(rows: Sequence[Any], columns: Sequence[Column]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold", caption_justify="left")
    for i, col in enumerate(columns):
        # Only the first column (a name) may fold onto a second line; numbers are never cut.
        table.add_column(col.header, justify=col.justify, no_wrap=i > 0, overflow="fold")
    for row in rows:
        table.add_row(*(Text(col.cell(row)) for col in columns))
    return table


def zoo_markdown(rows: Sequence[ZooRow], all_weights: bool = False) -> str:
    """``cvzoo list`` as a GitHub-flavoured Markdown table."""
    columns = _zoo_columns(all_weights)
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join("---:" if c.justify == "right" else "---" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(c.cell(r).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


# --- machine-readable --------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and containers as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n"


def to_csv(rows: Sequence[Any]) -> str:
    """One line per record; lists as 'AxB', nested objects as compact JSON."""
    buffer = io.StringIO()
    records = [to_jsonable(r) for r in rows]
    if not records:
        return ""
    fields = list(dict.fromkeys(key for record in records for key in record))  # every record's keys
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return "x".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return value


# --- model statistics --------------------------------------------------------------------------


def human_bytes(n: int | float | None) -> str:
    """1536 -> '1.5 KiB'; binary units, three significant figures."""
    if n is None:
        return "-"
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= scale:
            return f"{_sig3(n / scale)} {unit}"
    return f"{int(n)} B"


def human_macs(n: int) -> str:
    """11513626624 -> '11.51 G'; MACs and FLOPs with an SI prefix and two decimals."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:,.2f} {prefix}"
    return str(n)


def shape_text(shape: Any) -> str:
    """[1, 64, 56, 56] as is; several outputs joined, long lists shortened."""
    if shape is None:
        return "-"
    if isinstance(shape, dict):
        items = [f"{k}: {shape_text(v)}" for k, v in shape.items()]
        return "{" + ", ".join(items[:2]) + (", …" if len(items) > 2 else "") + "}"
    if shape and all(isinstance(d, int) for d in shape):
        return "[" + ", ".join(str(d) for d in shape) + "]"
    if not shape:
        return "[]"
    parts = [shape_text(s) for s in shape]
    return ", ".join(parts[:2]) + (f", … ({len(parts)})" if len(parts) > 2 else "")


def tree_prefixes(rows: Sequence[Any]) -> list[str]:
    """Tree guides ('├─ ', '│  └─ ') for rows in pre-order with a ``depth`` each."""
    prefixes = []
    for i, row in enumerate(rows):
        if row.depth == 0:
            prefixes.append("")
            continue
        parts = []
        for level in range(1, row.depth + 1):
            last = _is_last(rows, i, level)
            if level == row.depth:
                parts.append("└─ " if last else "├─ ")
            else:
                parts.append("   " if last else "│  ")
        prefixes.append("".join(parts))
    return prefixes


def _is_last(rows: Sequence[Any], i: int, level: int) -> bool:
    """Whether row i's ancestor at ``level`` (or row i itself) has no later sibling."""
    for later in rows[i + 1 :]:
        if later.depth < level:
            return True
        if later.depth == level:
            return False
    return True


def _layer_name(row: Any) -> str:
    return row.name or row.type


def _layer_type(row: Any) -> str:
    return f"{row.type} ×{row.count}" if row.count > 1 else row.type


def layers_table(rows: Sequence[Any], columns: Sequence[str] = ("shape", "params", "macs")) -> Table:
    """The module tree as a table: guides and names, then type, output shape, params, MACs."""
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("Module", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    if "shape" in columns:  # the one column that wraps when the terminal is narrow
        table.add_column("Output shape", overflow="fold")
    if "params" in columns:
        table.add_column("Params", justify="right", no_wrap=True)
    if "macs" in columns:
        table.add_column("MACs", justify="right", no_wrap=True)
    for prefix, row in zip(tree_prefixes(rows), rows, strict=True):
        cells = [Text(prefix + _layer_name(row)), Text(_layer_type(row))]
        if "shape" in columns:
            cells.append(Text(shape_text(row.output_shape)))
        if "params" in columns:
            cells.append(Text(f"{row.params:,}" if row.params else "-"))
        if "macs" in columns:
            cells.append(Text(human_macs(row.macs) if row.macs else "-"))
        table.add_row(*cells)
    return table


def _facts_table(facts: Sequence[tuple[str, str]]) -> Table:
    table = Table(box=None, pad_edge=False, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in facts:
        table.add_row(key, value)
    return table


def _input_text(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "-"


def summary_view(stats: Any, rows: Sequence[Any]) -> Group:
    """``cvzoo summary``: the layer tree, then the totals."""
    facts = [
        ("Model", f"{stats.model}  ({stats.task}, weights {stats.weights})"),
        ("Input", _input_text(stats.input_size)),
        ("Params", f"{stats.total_params:,} ({human_count(stats.total_params)})"),
        ("Trainable params", f"{stats.trainable_params:,}"),
        ("Non-trainable params", f"{stats.non_trainable_params:,}"),
        ("MACs", f"{human_macs(stats.macs)}  (FLOPs = 2 x MACs = {human_macs(stats.flops)})"),
        (
            "Parameter memory",
            f"{human_bytes(stats.param_bytes)} (+ {human_bytes(stats.buffer_bytes)} buffers)",
        ),
        ("Activation memory", f"{human_bytes(stats.activation_bytes)} (layer outputs of one forward pass)"),
        ("Weights file", f"{stats.file_size_mib:,.1f} MiB" if stats.file_size_mib is not None else "-"),
    ]
    parts: list[Any] = [layers_table(rows), Text(""), _facts_table(facts)]
    parts += [Text(f"note: {note}", style="dim") for note in stats.notes]
    return Group(*parts)


def params_view(stats: Any, rows: Sequence[Any], by_type: bool) -> Group:
    """``cvzoo params``: totals and memory, then the breakdown per module or per layer type."""
    total = stats.total_params
    facts = [
        ("Model", f"{stats.model}  (weights {stats.weights})"),
        ("Total", f"{total:,} ({human_count(total)})"),
        ("Trainable", f"{stats.trainable_params:,}"),
        ("Non-trainable", f"{stats.non_trainable_params:,}"),
        ("Buffers", f"{stats.buffers:,} elements ({human_bytes(stats.buffer_bytes)})"),
        ("Memory", "  ".join(f"{k} {human_bytes(v)}" for k, v in param_memory(total).items())),
    ]
    if by_type:
        breakdown = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        breakdown.add_column("Layer type")
        breakdown.add_column("Params", justify="right")
        breakdown.add_column("Share", justify="right")
        for name, count in stats.by_type.items():
            breakdown.add_row(name, f"{count:,}", f"{100 * count / total:.1f}%" if total else "-")
    else:
        breakdown = layers_table(rows, columns=("params",))
    return Group(_facts_table(facts), Text(""), breakdown)


def flops_view(stats: Any, rows: Sequence[Any]) -> Group:
    """``cvzoo flops``: MACs and FLOPs in total and per module, and per operator."""
    facts = [
        ("Model", f"{stats.model}  (weights {stats.weights})"),
        ("Input", _input_text(stats.input_size)),
        ("MACs", f"{stats.macs:,} ({human_macs(stats.macs)})"),
        ("FLOPs", f"{stats.flops:,} ({human_macs(stats.flops)}) = 2 x MACs"),
    ]
    ops = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    ops.add_column("Operator")
    ops.add_column("MACs", justify="right")
    ops.add_column("Share", justify="right")
    for op, macs in stats.macs_by_op.items():
        ops.add_row(op, human_macs(macs), f"{100 * macs / stats.macs:.1f}%" if stats.macs else "-")
    parts: list[Any] = [_facts_table(facts), Text(""), layers_table(rows, columns=("macs",)), Text(""), ops]
    parts += [Text(f"note: {note}", style="dim") for note in stats.notes]
    return Group(*parts)


def param_memory(total: int) -> dict[str, int]:
    """Bytes the parameters take at each precision."""
    return {"fp32": 4 * total, "bf16": 2 * total, "int8": total}


def layer_records(rows: Sequence[Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows as JSON objects with the named fields (``flops`` is derived from ``macs``)."""
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        for f in fields:
            record[f] = 2 * row.macs if f == "flops" else getattr(row, f)
        records.append(record)
    return records


def summary_json(stats: Any, rows: Sequence[Any]) -> dict[str, Any]:
    fields = ("name", "type", "depth", "count", "output_shape", "params", "macs")
    return {
        "model": stats.model,
        "weights": stats.weights,
        "task": stats.task,
        "input_size": stats.input_size,
        "layers": layer_records(rows, fields),
        "total_params": stats.total_params,
        "trainable_params": stats.trainable_params,
        "non_trainable_params": stats.non_trainable_params,
        "buffers": stats.buffers,
        "macs": stats.macs,
        "flops": stats.flops,
        "param_bytes": stats.param_bytes,
        "buffer_bytes": stats.buffer_bytes,
        "activation_bytes": stats.activation_bytes,
        "file_size_mib": stats.file_size_mib,
        "notes": stats.notes,
    }


def params_json(stats: Any, rows: Sequence[Any]) -> dict[str, Any]:
    return {
        "model": stats.model,
        "weights": stats.weights,
        "total": stats.total_params,
        "trainable": stats.trainable_params,
        "non_trainable": stats.non_trainable_params,
        "buffers": stats.buffers,
        "memory_bytes": param_memory(stats.total_params),
        "modules": layer_records(rows, ("name", "type", "depth", "count", "params")),
        "by_type": stats.by_type,
    }


def flops_json(stats: Any, rows: Sequence[Any]) -> dict[str, Any]:
    return {
        "model": stats.model,
        "weights": stats.weights,
        "input_size": stats.input_size,
        "macs": stats.macs,
        "flops": stats.flops,
        "modules": layer_records(rows, ("name", "type", "depth", "count", "macs", "flops")),
        "by_operator": stats.macs_by_op,
        "notes": stats.notes,
    }


# --- model cards -------------------------------------------------------------------------------


def transforms_text(t: dict[str, Any]) -> str:
    """The preprocessing in one line: 'resize 232 bilinear, crop 224'."""
    parts = []
    if t.get("resize_size"):
        parts.append(f"resize {human_size(t['resize_size'] * (2 if len(t['resize_size']) == 1 else 1))}")
    if t.get("interpolation") and parts:
        parts[-1] += f" {t['interpolation']}"
    if t.get("crop_size"):
        parts.append(f"crop {human_size(t['crop_size'] * (2 if len(t['crop_size']) == 1 else 1))}")
    return ", ".join(parts) or t.get("class", "-")


def info_view(info: Any) -> Group:
    """``cvzoo info``: the card, then every weight set with its metrics and preprocessing."""
    heading = Text(info.name, style="bold")
    heading.append(f"  {info.title} ({info.year}) · {info.task}" if info.title else f"  {info.task}")
    if info.milestone:
        heading.append("  · milestone", style="bold cyan")
    parts: list[Any] = [heading]
    if info.idea:
        parts += [Text(""), Text(info.idea)]
    facts = []
    if info.paper:
        p = info.paper
        facts.append(("Paper", f"{p.title}. {p.authors}, {p.year}. {p.arxiv}"))
    facts += [
        ("Size", f"{human_count(info.params)} params, {human_float(info.gmacs)} GMACs (DEFAULT weights)"),
        ("Categories", str(info.num_categories) if info.num_categories else "-"),
    ]
    parts += [Text(""), _facts_table(facts), Text("")]
    columns = [
        Column("Weights", lambda w: w.name + (" *" if w.is_default else ""), "left"),
        Column("Acc@1", lambda w: _pct(w.acc1)),
        Column("Acc@5", lambda w: _pct(w.acc5)),
        Column("Metric", lambda w: metric_text(w.metrics), "left"),
        Column("GMACs", lambda w: human_float(w.gmacs)),
        Column("MiB", lambda w: f"{w.file_size_mib:,.1f}"),
        Column("Input", lambda w: human_size(w.input_size)),
        Column("Preprocessing", lambda w: transforms_text(w.transforms), "left"),
    ]
    columns = [c for c in columns if any(c.cell(w) != "-" for w in info.weights)]
    sets = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for c in columns:
        sets.add_column(c.header, justify=c.justify, no_wrap=c.header != "Preprocessing", overflow="fold")
    for w in info.weights:
        sets.add_row(*(Text(c.cell(w)) for c in columns))
    parts.append(sets)
    notes = []
    normalizations = {
        (tuple(w.transforms.get("mean", ())), tuple(w.transforms.get("std", ()))) for w in info.weights
    }
    for mean, std in normalizations:
        if mean:
            notes.append(f"normalize: mean {list(mean)}, std {list(std)}")
    for w in info.weights:
        line = f"{w.name}: recipe {w.recipe}"
        if w.license:
            line += f"; license {w.license}"
        notes.append(line)
    parts += [Text("* DEFAULT", style="dim")] + [Text(n, style="dim") for n in notes]
    return Group(*parts)


# --- predictions -------------------------------------------------------------------------------


def predictions_view(results: Sequence[Any], bar_width: int = 24) -> Group:
    """``cvzoo infer``: per image, its top-k with probability bars, or its error."""
    parts: list[Any] = []
    for n, result in enumerate(results):
        if n:
            parts.append(Text(""))
        parts.append(Text(result.image, style="bold"))
        if result.error is not None:
            parts.append(Text(f"error: {result.error}", style="red"))
            continue
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        table.add_column("#", justify="right")
        table.add_column("Label", overflow="fold")
        table.add_column("Prob", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        for rank, p in enumerate(result.predictions, 1):
            filled = round(p.probability * bar_width)
            table.add_row(str(rank), p.label, f"{100 * p.probability:.2f}%", Text("█" * filled, style="cyan"))
        parts.append(table)
    return Group(*parts)


def predictions_json(results: Sequence[Any]) -> list[dict[str, Any]]:
    """An array in input order: ``{"image", "predictions": [...]}`` or ``{"image", "error"}``."""
    return [{k: v for k, v in to_jsonable(r).items() if v is not None} for r in results]


def predictions_csv(results: Sequence[Any]) -> str:
    """One line per prediction (or per failed image): image, rank, index, label, probability, error."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "rank", "index", "label", "probability", "error"])
    for r in results:
        if r.error is not None:
            writer.writerow([r.image, "", "", "", "", r.error])
        for rank, p in enumerate(r.predictions or [], 1):
            writer.writerow([r.image, rank, p.index, p.label, f"{p.probability:.6f}", ""])
    return buffer.getvalue()


# --- speed ---------------------------------------------------------------------------------------


def bench_table(rows: Sequence[Any]) -> Table:
    """``cvzoo bench``: a row per model and batch size."""
    columns = [
        Column("Model", lambda r: r.model, "left"),
        Column("Batch", lambda r: str(r.batch_size)),
        Column("p50 ms", lambda r: f"{r.latency_ms.p50:,.2f}" if r.latency_ms else "-"),
        Column("p90 ms", lambda r: f"{r.latency_ms.p90:,.2f}" if r.latency_ms else "-"),
        Column("p99 ms", lambda r: f"{r.latency_ms.p99:,.2f}" if r.latency_ms else "-"),
        Column("img/s", lambda r: f"{r.throughput:,.1f}" if r.throughput else "-"),
        Column("GMAC/s", lambda r: f"{r.gmacs_per_s:,.0f}" if r.gmacs_per_s else "-"),
        Column("Peak mem", lambda r: human_bytes(r.peak_memory_bytes) if r.peak_memory_bytes else "-"),
        Column("Status", lambda r: r.status if not r.error else f"{r.status}: {r.error}", "left"),
    ]
    table = records_table(rows, columns)
    if rows:
        first = rows[0]
        flags = [first.device, first.precision]
        flags += ["channels_last"] if first.channels_last else []
        flags += ["torch.compile"] if first.compiled else []
        kinds = {r.memory_kind for r in rows if r.memory_kind}
        table.caption = " · ".join(flags) + (f" · peak mem = {', '.join(sorted(kinds))}" if kinds else "")
    return table


def bench_csv(rows: Sequence[Any]) -> str:
    flat = []
    for r in rows:
        record = to_jsonable(r)
        latency = record.pop("latency_ms") or {}
        flat.append({**record, **{f"latency_{k}_ms": v for k, v in latency.items()}})
    return to_csv(flat)


def compare_table(rows: Sequence[Any]) -> Table:
    """``cvzoo compare``: side by side, the best value of each column in bold green."""
    specs = [
        ("Model", "name", None, lambda v: v, "left"),
        ("Family", "family", None, lambda v: v or "-", "left"),
        ("Year", "year", None, lambda v: str(v) if v else "-", "right"),
        ("Params", "params", min, human_count, "right"),
        ("GMACs", "gmacs", min, human_float, "right"),
        ("Acc@1", "acc1", max, _pct, "right"),
        ("Acc@5", "acc5", max, _pct, "right"),
        ("Metric", "metrics", None, metric_text, "left"),
        ("MiB", "file_size_mib", min, lambda v: f"{v:,.1f}", "right"),
        ("Input", "input_size", None, human_size, "right"),
        ("p50 ms", "latency_ms", min, lambda v: f"{v:,.2f}" if v is not None else "-", "right"),
        ("img/s", "throughput", max, lambda v: f"{v:,.1f}" if v is not None else "-", "right"),
    ]
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    shown = [s for s in specs if any(s[3](getattr(r, s[1])) != "-" for r in rows)]
    for header, _, _, _, justify in shown:
        table.add_column(header, justify=justify, no_wrap=True)
    best = {}
    for _, field_name, pick, _, _ in shown:
        values = [getattr(r, field_name) for r in rows if getattr(r, field_name) is not None]
        if pick and len(rows) > 1 and values:
            best[field_name] = pick(values)
    for r in rows:
        cells = []
        for _, field_name, _, fmt, _ in shown:
            value = getattr(r, field_name)
            style = "bold green" if field_name in best and value == best[field_name] else ""
            cells.append(Text(fmt(value), style=style))
        table.add_row(*cells)
    table.caption = "best of each column in bold green" if len(rows) > 1 else None
    return table
