"""``cvzoo list``: the zoo as a table fitted to the terminal, or as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from cvzoo.catalog import ZooRow
from cvzoo.render import View
from cvzoo.render.data import to_csv
from cvzoo.render.numbers import fixed, human_count, human_float, human_size, metric_text
from cvzoo.render.tables import Column, fit_columns, markdown_table, non_empty, records_table


def columns(all_weights: bool) -> list[Column]:
    """The list's columns; with ``all_weights``, one naming each row's weight set."""
    shown = [
        Column("Model", lambda r: r.name, "left", wrap=True),
        Column("Task", lambda r: r.task, "left", drop=2),
    ]
    if all_weights:
        shown.append(Column("Weights", lambda r: r.weights + (" *" if r.default else ""), "left"))
    shown += [
        Column("Params", lambda r: human_count(r.params)),
        Column("GMACs", lambda r: human_float(r.gmacs)),
        Column("Acc@1", lambda r: fixed(r.acc1, 2)),
        Column("Acc@5", lambda r: fixed(r.acc5, 2), drop=4),
        Column("Metric", lambda r: metric_text(r.metrics), "left", drop=3),
        Column("MiB", lambda r: fixed(r.file_size_mib, 1), drop=6),
        Column("Input", lambda r: human_size(r.input_size), drop=5),
    ]
    return shown


def table(rows: Sequence[ZooRow], all_weights: bool = False, width: int | None = None) -> Table:
    """``cvzoo list`` as a rich table.

    Columns that would be all '-' are left out; so are the least important ones when the
    table would be wider than ``width`` (the caption says which).
    """
    present = non_empty(rows, columns(all_weights))
    shown = fit_columns(rows, present, width)
    count = (
        f"{len(rows)} weight sets · * DEFAULT"
        if all_weights
        else f"{len(rows)} model" + "s" * (len(rows) != 1)
    )
    caption = count + " · GMACs = multiply-adds, not FLOPs"
    hidden = [c.header for c in present if c not in shown]
    if hidden:
        caption += f"\n{', '.join(hidden)} hidden to fit the terminal: widen it, or use --format json"
    return records_table(rows, shown, caption)


def view(all_weights: bool) -> View[Sequence[ZooRow]]:
    """The list's view: a table, CSV, JSON or Markdown."""
    return View(
        table=lambda rows, width: table(rows, all_weights, width),
        csv=to_csv,
        markdown=lambda rows: markdown_table(rows, columns(all_weights)),
    )
