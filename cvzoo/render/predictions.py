"""``cvzoo infer``: what each input holds, per task, as a table, JSON or CSV.

JSON is one object per input (``image``, ``task``, the task's findings, ``output``, ``error``),
with fields that don't apply left out. CSV has one line per finding, its columns by task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cvzoo.infer.results import Result
from cvzoo.render import Display, Surface, View
from cvzoo.render.data import csv_lines, to_csv, to_jsonable
from cvzoo.render.tables import Column, records_table

BAR_WIDTH = 24  # characters for a probability (or a share) of 100%


def _bar(fraction: float) -> Text:
    return Text("█" * round(fraction * BAR_WIDTH), style="cyan")


def _ranked(result: Result) -> RenderableType:
    rows = list(enumerate(result.predictions or [], 1))
    columns = [
        Column("#", lambda rp: str(rp[0])),
        Column("Label", lambda rp: rp[1].label, "left", wrap=True),
        Column("Prob", lambda rp: f"{100 * rp[1].probability:.2f}%"),
        Column("", lambda rp: _bar(rp[1].probability), "left"),
    ]
    return records_table(rows, columns)


def _objects(result: Result) -> RenderableType:
    found = result.detections or []
    if not found:
        return Text("nothing over the threshold", style="dim")
    rows = list(enumerate(found, 1))
    columns = [
        Column("#", lambda rd: str(rd[0])),
        Column("Label", lambda rd: rd[1].label, "left", wrap=True),
        Column("Score", lambda rd: f"{rd[1].score:.3f}"),
        Column("Box (x1, y1, x2, y2)", lambda rd: ", ".join(f"{c:.0f}" for c in rd[1].box), "left"),
    ]
    if any(d.mask for d in found):
        columns.append(Column("Mask px", lambda rd: f"{rd[1].mask.pixels:,}" if rd[1].mask else "-"))
    if any(d.keypoints for d in found):
        columns.append(Column("Keypoints", lambda rd: _sure(rd[1].keypoints), "left"))
    return records_table(rows, columns)


def _sure(points: Any) -> str:
    """How many of the keypoints the model is sure of (a positive score)."""
    if not points:
        return "-"
    return f"{sum(p.score > 0 for p in points)} of {len(points)} sure"


def _shares(result: Result) -> RenderableType:
    columns = [
        Column("Label", lambda s: s.label, "left", wrap=True),
        Column("Share", lambda s: f"{100 * s.share:.1f}%"),
        Column("", lambda s: _bar(s.share), "left"),
    ]
    return records_table(result.segments or [], columns)


def _flow(result: Result) -> RenderableType:
    assert result.flow is not None
    f = result.flow
    moved = f"moved {f.mean_magnitude:.2f} px on average, {f.max_magnitude:.2f} px at most"
    return Text(f"{moved} ({f.size[1]}x{f.size[0]})")


def predictions_table(results: Sequence[Result], surface: Surface | None = None) -> Display:
    """Per input, its name, then what was found (a table per task) or its error."""
    parts: list[RenderableType] = []
    for n, result in enumerate(results):
        if n:
            parts.append(Text(""))
        parts.append(Text(result.image + (f" → {result.next}" if result.next else ""), style="bold"))
        if result.error is not None:
            parts.append(Text(f"error: {result.error}", style="red"))
            continue
        if result.predictions is not None:
            parts.append(_ranked(result))
        elif result.detections is not None:
            parts.append(_objects(result))
        elif result.segments is not None:
            parts.append(_shares(result))
        elif result.flow is not None:
            parts.append(_flow(result))
        if result.output:
            parts.append(Text(f"picture: {result.output}", style="dim"))
    return Display(Group(*parts))


def _compact(value: Any) -> Any:
    """JSON data with every null left out: a field that doesn't apply is absent."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def predictions_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    """An array in input order: ``{"image", "task", <findings>, "output"}`` or ``{..., "error"}``."""
    return [_compact(to_jsonable(r)) for r in results]


def _lines(result: Result) -> list[list[Any]]:
    """The CSV lines of one result, without the image and error columns."""
    if result.predictions is not None:
        return [[i, p.index, p.label, f"{p.probability:.6f}"] for i, p in enumerate(result.predictions, 1)]
    if result.detections is not None:
        return [
            [
                i,
                d.index,
                d.label,
                f"{d.score:.6f}",
                *d.box,
                d.mask.pixels if d.mask else "",
                _points(d.keypoints),
            ]
            for i, d in enumerate(result.detections, 1)
        ]
    if result.segments is not None:
        return [[s.index, s.label, f"{s.share:.6f}"] for s in result.segments]
    if result.flow is not None:
        f = result.flow
        return [[result.next, f.size[0], f.size[1], f.mean_magnitude, f.max_magnitude]]
    return []


def _points(points: Any) -> str:
    if not points:
        return ""
    return ";".join(f"{p.name}:{p.x}:{p.y}:{p.score}" for p in points)


HEADERS = {
    "classification": ["rank", "index", "label", "probability"],
    "video": ["rank", "index", "label", "probability"],
    "detection": ["rank", "index", "label", "score", "x1", "y1", "x2", "y2", "mask_pixels", "keypoints"],
    "segmentation": ["index", "label", "share"],
    "optical_flow": ["next", "height", "width", "mean_magnitude", "max_magnitude"],
}


def predictions_csv(results: Sequence[Result]) -> str:
    """One line per finding (or per input with none, or failed): the image, the task's columns, the error.

    An ``output`` column follows when pictures were written.
    """
    task = results[0].task if results else "classification"
    width = len(HEADERS[task])
    pictures = any(r.output for r in results)
    rows: list[list[Any]] = []
    for r in results:
        tail = [r.output or ""] if pictures else []
        lines = _lines(r)
        if r.error is not None or not lines:  # a failed input, or one with nothing found: a line still
            rows.append([r.image, *[""] * width, r.error or "", *tail])
        for line in lines:
            rows.append([r.image, *line, "", *tail])
    return csv_lines(["image", *HEADERS[task], "error", *(["output"] if pictures else [])], rows)


PREDICTIONS: View[Sequence[Result]] = View(
    table=predictions_table, csv=predictions_csv, json=predictions_json
)


def ray_table(outcome: Any, surface: Surface | None = None) -> Display:
    """What ``infer --engine ray`` did: how many images, written where, how many failed."""
    from cvzoo.render.tables import facts_table

    facts = [
        ("Images", f"{outcome.images:,} in the source"),
        ("Skipped", f"{outcome.skipped:,} already in {outcome.out} (--resume)"),
        ("Written", f"{outcome.written:,} rows to {outcome.out}"),
        ("Failed", f"{outcome.failed:,} (their rows say why)"),
        (
            "Workers",
            f"{outcome.workers} model actor" + "s" * (outcome.workers != 1) + f", {outcome.gpus} on a GPU",
        ),
    ]
    return Display(facts_table(facts))


RAY: View[Any] = View(table=ray_table, csv=lambda outcome: to_csv([outcome]))
