"""``cvzoo info``: a model card, then every weight set with its metrics and preprocessing."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from cvzoo.cards import ModelInfo
from cvzoo.render import Display, Surface, View
from cvzoo.render.numbers import fixed, human_count, human_float, human_size, metric_text
from cvzoo.render.tables import Column, facts_table, fit_columns, non_empty, records_table


def transforms_text(t: dict[str, Any]) -> str:
    """The preprocessing in one line: 'resize 232 bilinear, crop 224'."""
    parts = []
    if t.get("resize_size"):
        parts.append(f"resize {human_size(t['resize_size'] * (2 if len(t['resize_size']) == 1 else 1))}")
    if t.get("interpolation") and parts:
        parts[-1] += f" {t['interpolation']}"
    if t.get("crop_size"):
        parts.append(f"crop {human_size(t['crop_size'] * (2 if len(t['crop_size']) == 1 else 1))}")
    return ", ".join(parts) or t.get("class", "-")


WEIGHT_SET_COLUMNS = [
    Column("Weights", lambda w: w.name + (" *" if w.is_default else ""), "left"),
    Column("Acc@1", lambda w: fixed(w.acc1, 2)),
    Column("Acc@5", lambda w: fixed(w.acc5, 2), drop=4),
    Column("Metric", lambda w: metric_text(w.metrics), "left", wrap=True, breaks=", "),
    Column("GMACs", lambda w: human_float(w.gmacs)),
    Column("MiB", lambda w: fixed(w.file_size_mib, 1), drop=3),
    Column("Input", lambda w: human_size(w.input_size), drop=2),
    Column("Preprocessing", lambda w: transforms_text(w.transforms), "left", wrap=True, breaks=" ", drop=1),
]


def _heading(info: ModelInfo) -> Text:
    heading = Text(info.name, style="bold")
    heading.append(f"  {info.title} ({info.year}) · {info.task}" if info.title else f"  {info.task}")
    if info.milestone:
        heading.append("  · milestone", style="bold cyan")
    return heading


def _unbroken(text: str) -> Text:
    """A line that is never wrapped or cut, so that a URL in it stays whole and clickable."""
    return Text(text, style="dim", no_wrap=True, overflow="ignore")


def _notes(info: ModelInfo) -> list[Text]:
    """Normalisation, then each weight set's training recipe (a URL) and licence, a line each."""
    lines = [Text("* DEFAULT", style="dim")]
    normalizations = {
        (tuple(w.transforms.get("mean", ())), tuple(w.transforms.get("std", ()))) for w in info.weights
    }
    for mean, std in sorted(normalizations):
        if mean:
            lines.append(Text(f"normalize: mean {list(mean)}, std {list(std)}", style="dim"))
    for w in info.weights:
        lines.append(_unbroken(f"{w.name} recipe: {w.recipe}"))
        if w.license:
            lines.append(_unbroken(f"{w.name} license: {w.license}"))
    return lines


def info_table(info: ModelInfo, surface: Surface | None = None) -> Display:
    """``cvzoo info``: the card, then every weight set with its metrics and preprocessing."""
    width = surface.width if surface else None
    parts: list[RenderableType] = [_heading(info)]
    if info.idea:
        parts += [Text(""), Text(info.idea)]
    facts = []
    if info.paper:
        p = info.paper
        facts.append(("Paper", f"{p.title}. {p.authors}, {p.year}."))
    facts += [
        ("Size", f"{human_count(info.params)} params, {human_float(info.gmacs)} GMACs (DEFAULT weights)"),
        ("Categories", str(info.num_categories) if info.num_categories else "-"),
    ]
    fit = fit_columns(info.weights, non_empty(info.weights, WEIGHT_SET_COLUMNS), width)
    sets = records_table(info.weights, fit.columns, caption_justify="center")
    parts += [Text(""), facts_table(facts)]
    if info.paper:
        parts.append(_unbroken(info.paper.arxiv))
    parts += [Text(""), sets, *_notes(info)]
    note = fit.note(width)
    return Display(Group(*parts), [note] if note else [])


INFO: View[ModelInfo] = View(table=info_table)
