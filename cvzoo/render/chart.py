"""``cvzoo plot``: the accuracy-against-cost chart drawn with matplotlib (the ``plot`` extra).

The file is written atomically: an existing one is replaced whole or left as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvzoo.catalog import Task
from cvzoo.errors import CvzooError, UsageError
from cvzoo.files import replacing
from cvzoo.plot import PlotPoint, XAxis, YAxis

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
X_LABELS = {
    XAxis.gmacs: "GMACs per input (multiply-adds, log scale)",
    XAxis.params: "parameters, millions (log scale)",
    XAxis.size: "weights file, MiB (log scale)",
}
X_TITLES = {XAxis.gmacs: "compute", XAxis.params: "size", XAxis.size: "download size"}
Y_LABELS = {YAxis.acc1: "top-1 accuracy (%)", YAxis.acc5: "top-5 accuracy (%)"}
Y_TITLES = {YAxis.acc1: "top-1 accuracy", YAxis.acc5: "top-5 accuracy"}
FOOTNOTE = "Each model at its DEFAULT weights, with torchvision's published figures. {accuracy} on {dataset}."
COST = "Cost is per {unit} at the model's own input size ({sizes}); accuracy"  # where cost is compute


def write_plot(points: list[PlotPoint], out: Path, x: XAxis, y: YAxis, task: Task) -> None:
    """Draw ``points`` to ``out`` (.png, .svg or .pdf), replacing any existing file atomically.

    Raises:
        UsageError: for a file type or folder that can't be written.
        CvzooError: without matplotlib, or when the file can't be written.
    """
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out '{out}' must end in {', '.join(FORMATS)}")
    if not out.parent.is_dir():
        raise UsageError(f"--out '{out}': the folder '{out.parent}' does not exist")
    if out.is_dir():
        raise UsageError(f"--out '{out}' is a directory; name a file")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise CvzooError("cvzoo plot needs matplotlib: pip install 'cvzoo[plot]'") from None
    fig, ax = plt.subplots(figsize=(12, 7.5), dpi=120)
    try:
        _draw(ax, points)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(Y_LABELS[y])
        ax.set_title(
            f"torchvision {task.value.replace('_', ' ')} models: {Y_TITLES[y]} against {X_TITLES[x]}"
        )
        sizes = sorted({p.input_size for p in points if p.input_size})
        size_text = f"{sizes[0]} to {sizes[-1]} px" if len(sizes) > 1 else f"{sizes[0]} px" if sizes else "-"
        video = task is Task.video
        dataset = "Kinetics-400 clips" if video else "ImageNet-1K validation"
        accuracy = (
            COST.format(unit="clip" if video else "image", sizes=size_text)
            if x is XAxis.gmacs
            else "Accuracy"
        )
        fig.text(
            0.01, 0.01, FOOTNOTE.format(accuracy=accuracy, dataset=dataset), fontsize=7.5, color="#555555"
        )
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        _place_labels(fig, ax, points)
        try:
            with replacing(out) as temporary:
                fig.savefig(temporary, format=fmt)
        except OSError as exc:
            raise CvzooError(f"cannot write '{out}': {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _draw(ax: Any, points: list[PlotPoint]) -> None:
    """The points, the milestones starred, the Pareto front, and a legend that explains them."""
    from matplotlib.lines import Line2D

    others = [p for p in points if not p.milestone]
    milestones = [p for p in points if p.milestone]
    ax.scatter([p.x for p in others], [p.y for p in others], s=22, color="#4c72b0", alpha=0.75, label="model")
    ax.scatter(
        [p.x for p in milestones],
        [p.y for p in milestones],
        s=70,
        marker="*",
        color="#dd8452",
        zorder=3,
        label="milestone of the course",
    )
    front = [p for p in points if p.pareto]
    ax.plot(
        [p.x for p in front], [p.y for p in front], color="#55a868", lw=1.5, zorder=2, label="Pareto front"
    )
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], linestyle="none"))
    labels.append("bold name: a milestone, or no model is cheaper and as accurate")
    ax.legend(handles, labels, loc="best", fontsize=8)  # where it covers the fewest points


# Where a label may go, nearest first: offsets in points from its dot, in eight directions.
_RINGS = (3, 9, 16, 26, 38, 52)
_DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))


def _place_labels(fig: Any, ax: Any, points: list[PlotPoint]) -> None:
    """Name every point where its label overlaps no other label, dot or the legend.

    Labels of milestones and of the Pareto front are placed first. A label that had to move
    away from its dot gets a thin line back to it; one with no free place anywhere goes where
    it overlaps least.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    dots = ax.transData.transform([(p.x, p.y) for p in points])
    taken = [(x - 4, y - 4, x + 4, y + 4) for x, y in dots]
    legend = ax.get_legend()
    if legend is not None:
        box = legend.get_window_extent(renderer)
        taken.append((box.x0, box.y0, box.x1, box.y1))
    frame = ax.get_window_extent(renderer)
    for p in sorted(points, key=lambda p: not (p.milestone or p.pareto)):
        bold = p.milestone or p.pareto
        label = ax.annotate(
            p.name,
            (p.x, p.y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=6.5,
            fontweight="bold" if bold else "normal",
        )
        best: tuple[float, tuple[float, float, float, float], int, tuple[int, int]] | None = None
        for ring, radius in enumerate(_RINGS):
            for dx, dy in _DIRECTIONS:
                label.set_position((dx * radius, dy * radius))
                label.set_horizontalalignment("left" if dx > 0 else "right" if dx < 0 else "center")
                label.set_verticalalignment("bottom" if dy > 0 else "top" if dy < 0 else "center")
                extent = label.get_window_extent(renderer)
                box = (extent.x0, extent.y0, extent.x1, extent.y1)
                cost = sum(_overlap(box, other) for other in taken) + _outside(box, frame)
                if best is None or cost < best[0]:
                    best = (cost, box, ring, (dx * radius, dy * radius))
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        cost, box, ring, offset = best
        label.set_position(offset)
        label.set_horizontalalignment("left" if offset[0] > 0 else "right" if offset[0] < 0 else "center")
        label.set_verticalalignment("bottom" if offset[1] > 0 else "top" if offset[1] < 0 else "center")
        if ring > 1:
            ax.annotate(
                "",
                (p.x, p.y),
                xytext=offset,
                textcoords="offset points",
                arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5},
            )
        taken.append(box)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _outside(box: tuple[float, float, float, float], frame: Any) -> float:
    """How much of ``box`` lies outside the axes (weighted heavily: a label must stay inside)."""
    inside = _overlap(box, (frame.x0, frame.y0, frame.x1, frame.y1))
    return 10 * ((box[2] - box[0]) * (box[3] - box[1]) - inside)
