"""``cvzoo infer``: each image's top-k with probability bars, or why it has none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cvzoo.infer import ImageResult
from cvzoo.render import Display, Surface, View
from cvzoo.render.data import csv_lines, to_jsonable
from cvzoo.render.tables import Column, records_table

BAR_WIDTH = 24  # characters for a probability of 100%


def _top_k(result: ImageResult) -> RenderableType:
    ranked = list(enumerate(result.predictions or [], 1))
    columns = [
        Column("#", lambda rp: str(rp[0]), wrap=True, overflow="ellipsis"),
        Column("Label", lambda rp: rp[1].label, "left", wrap=True),
        Column("Prob", lambda rp: f"{100 * rp[1].probability:.2f}%", overflow="ellipsis"),
        Column(
            "",
            lambda rp: Text("█" * round(rp[1].probability * BAR_WIDTH), style="cyan"),
            "left",
            overflow="ellipsis",
        ),
    ]
    return records_table(ranked, columns, caption_justify="center")


def predictions_table(results: Sequence[ImageResult], surface: Surface | None = None) -> Display:
    """Per image, its name, then its top-k table or its error."""
    parts: list[RenderableType] = []
    for n, result in enumerate(results):
        if n:
            parts.append(Text(""))
        parts.append(Text(result.image, style="bold"))
        if result.error is not None:
            parts.append(Text(f"error: {result.error}", style="red"))
        else:
            parts.append(_top_k(result))
    return Display(Group(*parts))


def predictions_json(results: Sequence[ImageResult]) -> list[dict[str, Any]]:
    """An array in input order: ``{"image", "predictions": [...]}`` or ``{"image", "error"}``."""
    return [{k: v for k, v in to_jsonable(r).items() if v is not None} for r in results]


def predictions_csv(results: Sequence[ImageResult]) -> str:
    """One line per prediction (or per failed image): image, rank, index, label, probability, error."""
    rows: list[list[Any]] = []
    for r in results:
        if r.error is not None:
            rows.append([r.image, "", "", "", "", r.error])
        for rank, p in enumerate(r.predictions or [], 1):
            rows.append([r.image, rank, p.index, p.label, f"{p.probability:.6f}", ""])
    return csv_lines(["image", "rank", "index", "label", "probability", "error"], rows)


PREDICTIONS: View[Sequence[ImageResult]] = View(
    table=predictions_table, csv=predictions_csv, json=predictions_json
)
