"""``cvzoo plot``: the accuracy-against-cost chart drawn with matplotlib (the ``plot`` extra).

The file is written atomically: an existing one is replaced whole or left as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cvzoo.errors import CvzooError, UsageError
from cvzoo.files import replacing
from cvzoo.plot import PlotPoint, XAxis, YAxis

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
X_LABELS = {
    XAxis.gmacs: "GMACs per image (log scale)",
    XAxis.params: "parameters, millions (log scale)",
    XAxis.size: "weights file, MiB (log scale)",
}
Y_LABELS = {YAxis.acc1: "top-1 accuracy (%)", YAxis.acc5: "top-5 accuracy (%)"}


def write_plot(points: list[PlotPoint], out: Path, x: XAxis, y: YAxis, title: str) -> None:
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
    fig, ax = plt.subplots(figsize=(11, 7), dpi=120)
    try:
        _draw(ax, points)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(Y_LABELS[y])
        ax.set_title(title)
        fig.tight_layout()
        try:
            with replacing(out) as temporary:
                fig.savefig(temporary, format=fmt)
        except OSError as exc:
            raise CvzooError(f"cannot write '{out}': {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _draw(ax: Any, points: list[PlotPoint]) -> None:
    """The points, the milestones starred, the Pareto front, every point labelled."""
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
        label="milestone (course)",
    )
    front = [p for p in points if p.pareto]
    ax.plot(
        [p.x for p in front], [p.y for p in front], color="#55a868", lw=1.5, zorder=2, label="Pareto front"
    )
    for p in points:
        weight = "bold" if p.milestone or p.pareto else "normal"
        ax.annotate(
            p.name, (p.x, p.y), xytext=(3, 3), textcoords="offset points", fontsize=6.5, fontweight=weight
        )
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="lower right")
