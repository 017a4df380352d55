"""``cvzoo list``: the zoo as a table fitted to the terminal, or as Markdown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from cvzoo.catalog import Figures, ZooRow
from cvzoo.render import Display, Surface, View
from cvzoo.render.data import to_csv
from cvzoo.render.numbers import fixed, human_count, human_float, human_size, metric_text
from cvzoo.render.tables import Column, fit_columns, markdown_table, non_empty, records_table


def _figure(
    header: str,
    value: Callable[[Figures], Any],
    text: Callable[[Any], str],
    better: Callable[..., Any] | None,
    drop: int,
    side_by_side: bool,
) -> Column:
    metric = header == "Metric"
    return Column(
        header,
        lambda r: text(value(r.figures)),
        "left" if metric else "right",
        drop=drop,
        best=better if side_by_side else None,
        value=lambda r: value(r.figures),
        wrap=metric,
        breaks=", " if metric else None,
    )


def figure_columns(side_by_side: bool = False) -> list[Column]:
    """The published figures' columns, for records with ``figures``.

    The least important go first when the terminal is narrow; side by side (``compare``), the
    best value of each is marked too.
    """
    specs: list[tuple[str, Callable[[Figures], Any], Callable[[Any], str], Any, int]] = [
        ("Params", lambda f: f.params, human_count, min, 0),
        ("GMACs", lambda f: f.gmacs, human_float, min, 0),
        ("Acc@1", lambda f: f.acc1, lambda v: fixed(v, 2), max, 1),  # before a name is broken
        ("Acc@5", lambda f: f.acc5, lambda v: fixed(v, 2), max, 4),
        ("Metric", lambda f: f.metrics, metric_text, None, 3),  # wraps between metrics
        ("MiB", lambda f: f.file_size_mib, lambda v: fixed(v, 1), min, 6),
        ("Input", lambda f: f.input_size, human_size, None, 5),
    ]
    return [_figure(*spec, side_by_side=side_by_side) for spec in specs]


def metric_as_accuracy(columns: Sequence[Column]) -> list[Column]:
    """Where no row has an ImageNet accuracy (detection, segmentation), Metric is the accuracy.

    It then gives way last of the figures, as Acc@1 does, rather than before the file size.
    """
    if any(c.header == "Acc@1" for c in columns):
        return list(columns)
    return [replace(c, drop=1) if c.header == "Metric" else c for c in columns]


def columns(all_weights: bool) -> list[Column]:
    """The list's columns; with ``all_weights``, one naming each row's weight set."""
    shown = [
        Column("Model", lambda r: r.name, "left", wrap=True),
        Column("Task", lambda r: r.task, "left", drop=2),
    ]
    if all_weights:
        shown.append(Column("Weights", lambda r: r.weights + (" *" if r.default else ""), "left"))
    return shown + figure_columns()


def table(rows: Sequence[ZooRow], all_weights: bool = False, surface: Surface | None = None) -> Display:
    """``cvzoo list`` as a rich table.

    Columns that would be all '-' are left out; so are the least important ones when the
    table would be wider than the terminal (a note on stderr says which).
    """
    width = surface.width if surface else None
    fit = fit_columns(rows, metric_as_accuracy(non_empty(rows, columns(all_weights))), width)
    count = (
        f"{len(rows)} weight sets · * DEFAULT"
        if all_weights
        else f"{len(rows)} model" + "s" * (len(rows) != 1)
    )
    note = fit.note(width)
    body = records_table(rows, fit.columns, count + " · GMACs = multiply-adds, not FLOPs")
    return Display(body, [note] if note else [])


def view(all_weights: bool) -> View[Sequence[ZooRow]]:
    """The list's view: a table, CSV, JSON or Markdown."""
    return View(
        table=lambda rows, surface: table(rows, all_weights, surface),
        csv=to_csv,
        markdown=lambda rows: markdown_table(rows, columns(all_weights)),
    )
