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
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
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
