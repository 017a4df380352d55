"""The zoo's commands: ``list``, ``info`` and ``plot``, answered from the catalogue without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cvzoo import catalog
from cvzoo.catalog import SortKey, Task
from cvzoo.cli.app import emit, load_catalog, say
from cvzoo.cli.options import TableJsonOpt, complete_model
from cvzoo.plot import XAxis, YAxis
from cvzoo.render import ListFormat, TableJson


def list_(
    patterns: Annotated[
        list[str] | None,
        typer.Argument(
            help="Globs or substrings to match model names (resnet*, vit).",
            show_default=False,
            metavar="[PATTERN]...",
        ),
    ] = None,
    task: Annotated[Task | None, typer.Option("--task", "-t", help="Only models of this task.")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Order rows by this column.")] = SortKey.name,
    desc: Annotated[bool, typer.Option("--desc", help="Largest first.")] = False,
    all_weights: Annotated[
        bool, typer.Option("--all-weights", "-a", help="A row per weight set, not just DEFAULT.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Show at most N rows.", min=0)] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """The zoo with its published size, cost and accuracy."""
    from cvzoo.render import zoo

    zoo_catalog = load_catalog()
    rows = catalog.list_rows(zoo_catalog, patterns or (), task, sort, desc, all_weights, limit)
    emit(rows, fmt, zoo.view(all_weights))
    _say_unmatched(zoo_catalog, patterns, task)


def info(
    model: Annotated[
        str, typer.Argument(help="A torchvision model.", autocompletion=complete_model, metavar="MODEL")
    ],
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """The model card: family, idea, paper, and every weight set with its metrics."""
    from cvzoo.cards import model_info
    from cvzoo.render.card import INFO

    emit(model_info(load_catalog(), model), fmt, INFO)


def plot(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="Globs or substrings of model names.", metavar="[PATTERN]...")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The picture to write: .png, .svg or .pdf.")
    ] = Path("zoo.png"),
    x: Annotated[XAxis, typer.Option("--x", help="Cost on the (log) x axis.")] = XAxis.gmacs,
    y: Annotated[YAxis, typer.Option("--y", help="Accuracy on the y axis.")] = YAxis.acc1,
    task: Annotated[
        Task,
        typer.Option(
            "--task", "-t", help="Which models: classification, quantized or video (they publish accuracy)."
        ),
    ] = Task.classification,
) -> None:
    """Published accuracy against cost, the Pareto front drawn and the milestones marked."""
    from cvzoo.plot import plot_points
    from cvzoo.render.chart import write_plot

    zoo_catalog = load_catalog()
    points = plot_points(zoo_catalog, patterns or (), task, x, y)
    write_plot(points, out, x, y, task)
    say("", f"wrote {out} ({len(points)} models, {sum(p.pareto for p in points)} on the Pareto front)")
    _say_unmatched(zoo_catalog, patterns, task)


def _say_unmatched(zoo_catalog: catalog.Catalog, patterns: list[str] | None, task: Task | None) -> None:
    """One line for the patterns that matched nothing while others did (all missing is an error)."""
    missed = zoo_catalog.unmatched(patterns or (), task)
    if missed:
        among = f" among {task.value} models" if task else ""
        say("note", f"no model matches {' '.join(repr(p) for p in missed)}{among}", style="yellow")
