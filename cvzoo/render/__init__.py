"""Typed results in, things to show out: rich tables and trees, pictures, JSON, CSV and Markdown.

Nothing here computes a number and nothing here prints. Each view module turns one kind of
result into what a person reads (a rich renderable) and, where a command offers them, CSV or
Markdown; JSON is always derived from the typed result itself (:mod:`cvzoo.render.data`).
The CLI picks a view, calls :func:`output` with the user's ``--format`` and writes what comes
back.

- :mod:`~cvzoo.render.numbers`: every number, size and shape as text
- :mod:`~cvzoo.render.tables`: the one table builder (columns, fitting, trees, Markdown)
- :mod:`~cvzoo.render.data`: JSON and CSV from dataclasses
- views: :mod:`~cvzoo.render.zoo` (list), :mod:`~cvzoo.render.layers` (summary, params,
  flops), :mod:`~cvzoo.render.card` (info), :mod:`~cvzoo.render.predictions` (infer),
  :mod:`~cvzoo.render.speed` (bench, compare), :mod:`~cvzoo.render.chart` (plot),
  :mod:`~cvzoo.render.graph` (graph: DOT, Mermaid, JSON, and through :mod:`~cvzoo.render.diagram`,
  :mod:`~cvzoo.render.layout`, :mod:`~cvzoo.render.paint` and :mod:`~cvzoo.render.page` its SVG,
  PNG and HTML)
- :mod:`~cvzoo.render.progress`: progress bars on stderr
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from rich.console import RenderableType

from cvzoo.render.data import json_line, to_json, to_jsonable

R = TypeVar("R")


class ListFormat(str, Enum):
    """``cvzoo list --format``."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class TableJsonCsv(str, Enum):
    """``--format`` of bench and compare."""

    table = "table"
    json = "json"
    csv = "csv"


class InferFormat(str, Enum):
    """``cvzoo infer --format``: JSON Lines streams a result per input as it is made."""

    table = "table"
    json = "json"
    csv = "csv"
    jsonl = "jsonl"


class TableJson(str, Enum):
    """``--format`` of summary, params, flops and info."""

    table = "table"
    json = "json"


class GraphFormat(str, Enum):
    """``cvzoo graph --format``: pictures (svg, png), a page (html), text (dot, mermaid, json)."""

    svg = "svg"
    png = "png"
    html = "html"
    dot = "dot"
    mermaid = "mermaid"
    json = "json"


@dataclass(frozen=True)
class Surface:
    """Where a table is shown: how wide it may be, and whether colour shows.

    ``width`` None means no limit: output piped or redirected is never cut to a terminal's width.
    """

    width: int | None = None
    color: bool = False


@dataclass(frozen=True)
class Display:
    """A table for stdout, and notes about it (what was hidden, caveats) for stderr."""

    body: RenderableType
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class View(Generic[R]):
    """How one kind of result is shown in each format its command offers."""

    table: Callable[[R, Surface], Display]
    csv: Callable[[R], str] | None = None
    markdown: Callable[[R], str] | None = None
    json: Callable[[R], Any] | None = None  # the JSON data, if not the result's own fields


def output(result: R, fmt: Enum, view: View[R], surface: Surface | None = None) -> Display | str:
    """``result`` in format ``fmt``: a :class:`Display` for tables, text for everything else."""
    kind = fmt.value
    if kind == "json":
        return to_json(view.json(result) if view.json else result)
    if kind == "jsonl":  # a line of compact JSON per record
        data = to_jsonable(view.json(result) if view.json else result)
        return "".join(json_line(record) for record in (data if isinstance(data, list) else [data]))
    if kind == "csv" and view.csv:
        return view.csv(result)
    if kind == "markdown" and view.markdown:
        return view.markdown(result)
    if kind == "table":
        return view.table(result, surface or Surface())
    raise ValueError(f"the view offers no {kind} output")  # a format enum naming more than its view
