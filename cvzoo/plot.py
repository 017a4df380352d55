"""The picture people choose models by: published accuracy against cost, with the Pareto front.

The points come from the catalogue; matplotlib (the optional ``plot`` extra) draws them.
The file is written atomically: an existing one is replaced whole or left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cvzoo.catalog import Catalog, Task, family_card
from cvzoo.errors import CvzooError, UsageError

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


class XAxis(str, Enum):
    """The cost a model is plotted against."""

    gmacs = "gmacs"
    params = "params"
    size = "size"


class YAxis(str, Enum):
    """The accuracy a model is plotted at."""

    acc1 = "acc1"
    acc5 = "acc5"


X_LABELS = {
    XAxis.gmacs: "GMACs per image (log scale)",
    XAxis.params: "parameters, millions (log scale)",
    XAxis.size: "weights file, MiB (log scale)",
}
Y_LABELS = {YAxis.acc1: "top-1 accuracy (%)", YAxis.acc5: "top-5 accuracy (%)"}


@dataclass(frozen=True)
class PlotPoint:
    """One model on the chart, with its DEFAULT weights' published figures."""

    name: str
    x: float
    y: float
    milestone: bool  # one of the course's milestone models
    pareto: bool  # no other model is both cheaper and more accurate


def plot_points(
    catalog: Catalog,
    patterns: Iterable[str] = (),
    task: Task = Task.classification,
    x: XAxis = XAxis.gmacs,
    y: YAxis = YAxis.acc1,
) -> list[PlotPoint]:
    """The models to plot, cheapest first; those without the metric are left out."""
    raw = []
    for entry in catalog.select(patterns, task):
        w = entry.default
        accuracy = w.acc1 if y is YAxis.acc1 else w.acc5
        cost = {XAxis.gmacs: w.gmacs, XAxis.params: w.params / 1e6, XAxis.size: w.file_size_mib}[x]
        if accuracy is None or cost <= 0:
            continue
        card = family_card(entry.name)
        raw.append((entry.name, cost, accuracy, bool(card and card.milestone)))
    if not raw:
        raise CvzooError(f"no {task.value} model matching the patterns has a published {y.value} to plot")
    raw.sort(key=lambda p: (p[1], -p[2]))
    points, best = [], float("-inf")
    for name, cost, accuracy, milestone in raw:
        on_front = accuracy > best
        best = max(best, accuracy)
        points.append(PlotPoint(name, cost, accuracy, milestone, on_front))
    return points


def write_plot(points: list[PlotPoint], out: Path, x: XAxis, y: YAxis, title: str) -> None:
    """Draw ``points`` to ``out`` (.png, .svg or .pdf), replacing any existing file atomically."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out '{out}' must end in {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise UsageError(f"--out '{out}': the folder '{out.parent}' does not exist")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise CvzooError("cvzoo plot needs matplotlib: pip install 'cvzoo[plot]'") from None

    fig, ax = plt.subplots(figsize=(11, 7), dpi=120)
    try:
        others = [p for p in points if not p.milestone]
        milestones = [p for p in points if p.milestone]
        ax.scatter(
            [p.x for p in others], [p.y for p in others], s=22, color="#4c72b0", alpha=0.75, label="model"
        )
        ax.scatter(
            [p.x for p in milestones],
            [p.y for p in milestones],
            s=70,
            marker="*",
            color="#dd8452",
            zorder=3,
            label="milestone (course)",
        )
        front = [p for p in points if p.pareto]
        ax.plot(
            [p.x for p in front],
            [p.y for p in front],
            color="#55a868",
            lw=1.5,
            zorder=2,
            label="Pareto front",
        )
        for p in points:
            weight = "bold" if p.milestone or p.pareto else "normal"
            ax.annotate(
                p.name, (p.x, p.y), xytext=(3, 3), textcoords="offset points", fontsize=6.5, fontweight=weight
            )
        ax.set_xscale("log")
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(Y_LABELS[y])
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(loc="lower right")
        fig.tight_layout()
        _save_atomically(fig, out, fmt)
    finally:
        plt.close(fig)


def _save_atomically(fig: object, out: Path, fmt: str) -> None:
    if out.is_dir():
        raise UsageError(f"--out '{out}' is a directory; name a file")
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise CvzooError(f"cannot write in '{out.parent}': {exc.strerror or exc}") from None
    os.close(fd)
    try:
        fig.savefig(tmp, format=fmt)  # type: ignore[attr-defined]
        os.replace(tmp, out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise CvzooError(f"cannot write '{out}': {exc.strerror or exc}") from None
        raise
