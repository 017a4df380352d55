"""The points of the picture people choose models by: published accuracy against cost.

Each model's DEFAULT weights give one point; the Pareto front (no other model both cheaper
and more accurate) and the course's milestones are marked. The points come from the
catalogue, without torch; :mod:`cvzoo.render.chart` draws them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from cvzoo.cards import family_card
from cvzoo.catalog import Catalog, Task
from cvzoo.errors import CvzooError


class XAxis(str, Enum):
    """The cost a model is plotted against."""

    gmacs = "gmacs"
    params = "params"
    size = "size"


class YAxis(str, Enum):
    """The accuracy a model is plotted at."""

    acc1 = "acc1"
    acc5 = "acc5"


@dataclass(frozen=True)
class PlotPoint:
    """One model on the chart, with its DEFAULT weights' published figures."""

    name: str
    x: float
    y: float
    milestone: bool  # one of the course's milestone models
    pareto: bool  # no other model is both cheaper and more accurate
    input_size: int | None = None  # the side of the input its cost is counted at


def plot_points(
    catalog: Catalog,
    patterns: Iterable[str] = (),
    task: Task = Task.classification,
    x: XAxis = XAxis.gmacs,
    y: YAxis = YAxis.acc1,
) -> list[PlotPoint]:
    """The models to plot, cheapest first; those without the metric are left out.

    Raises:
        NoMatch: for patterns that match no model of ``task``.
        CvzooError: when none of the models publishes the metric.
    """
    patterns = list(patterns)
    entries = catalog.matching(patterns, task)
    raw = []
    for entry in entries:
        w = entry.default
        accuracy = w.acc1 if y is YAxis.acc1 else w.acc5
        cost = {XAxis.gmacs: w.gmacs, XAxis.params: w.params / 1e6, XAxis.size: w.file_size_mib}[x]
        if accuracy is None or cost <= 0:
            continue
        card = family_card(entry.name)
        side = w.input_size[0] if w.input_size else None
        raw.append((entry.name, cost, accuracy, bool(card and card.milestone), side))
    if not raw:
        which = " matching " + " ".join(repr(p) for p in patterns) if patterns else ""
        raise CvzooError(
            f"none of the {len(entries)} {task.value} models{which} publishes {y.value}; "
            "plot classification, quantized or video models"
        )
    raw.sort(key=lambda p: (p[1], -p[2]))
    points, best = [], float("-inf")
    for name, cost, accuracy, milestone, side in raw:
        on_front = accuracy > best
        best = max(best, accuracy)
        points.append(PlotPoint(name, cost, accuracy, milestone, on_front, side))
    return points
