"""The one table builder: columns of records, fitted to the terminal, as rich tables or Markdown.

Every table cvzoo prints is a :class:`Column` list over a sequence of records: plain (no
borders), bold headers, two spaces between columns. Text is always literal (never rich
markup), so a model name or a path with brackets prints as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right"]
Overflow = Literal["fold", "ellipsis", "crop"]


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, its cell text, its alignment, and when to drop it.

    Args:
        cell: the record's text (or a styled ``Text``).
        drop: the order in which columns go when the terminal is too narrow (highest first);
            0 never goes.
        wrap: whether long cells may wrap onto more lines (names and labels); numbers never do.
        overflow: what happens to a cell too long for its column.
        best: ``min`` or ``max``: the record whose ``value`` is best is shown in bold green.
        value: the raw value that ``best`` compares (None where a record has none).
    """

    header: str
    cell: Callable[[Any], str | Text]
    justify: Justify = "right"
    drop: int = 0
    wrap: bool = False
    overflow: Overflow = "fold"
    best: Callable[..., Any] | None = None
    value: Callable[[Any], Any] | None = None


def new_table(**options: Any) -> Table:
    """An empty table in cvzoo's style; ``options`` override it (``show_header=False``...)."""
    style: dict[str, Any] = {"box": None, "pad_edge": False, "padding": (0, 2, 0, 0), "header_style": "bold"}
    return Table(**{**style, **options})


def records_table(
    rows: Sequence[Any], columns: Sequence[Column], caption: str | None = None, **options: Any
) -> Table:
    """A table with a line per record; cells of a column with ``best`` are highlighted."""
    table = new_table(**{"caption_justify": "left", **options})
    for col in columns:
        table.add_column(col.header, justify=col.justify, no_wrap=not col.wrap, overflow=col.overflow)
    best = {i: _best(rows, col) for i, col in enumerate(columns) if col.best and len(rows) > 1}
    for row in rows:
        cells = []
        for i, col in enumerate(columns):
            text = col.cell(row)
            text = text if isinstance(text, Text) else Text(text)
            if i in best and best[i] is not None and col.value and col.value(row) == best[i]:
                text.style = "bold green"
            cells.append(text)
        table.add_row(*cells)
    table.caption = caption
    return table


def _best(rows: Sequence[Any], col: Column) -> Any:
    assert col.best is not None and col.value is not None
    values = [col.value(r) for r in rows if col.value(r) is not None]
    return col.best(values) if values else None


def fit_columns(rows: Sequence[Any], columns: Sequence[Column], width: int | None) -> list[Column]:
    """The columns that fit in ``width`` characters, dropping by each column's ``drop`` order."""
    shown = list(columns)
    if width is None:
        return shown
    widths = {c.header: max([len(c.header)] + [len(str(c.cell(r))) for r in rows]) for c in columns}
    while sum(widths[c.header] for c in shown) + 2 * (len(shown) - 1) > width:
        candidates = [c for c in shown if c.drop]
        if not candidates:
            break
        shown.remove(max(candidates, key=lambda c: c.drop))
    return shown


def non_empty(rows: Sequence[Any], columns: Sequence[Column]) -> list[Column]:
    """The columns with a value in at least one record (not '-' throughout)."""
    return [c for c in columns if any(str(c.cell(r)) != "-" for r in rows)]


def facts_table(facts: Sequence[tuple[str, str]]) -> Table:
    """Key-value lines without a header: the key in bold, the value folding when long."""
    table = new_table(show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in facts:
        table.add_row(Text(key), Text(value))
    return table


def markdown_table(rows: Sequence[Any], columns: Sequence[Column]) -> str:
    """A GitHub-flavoured Markdown table of the records."""
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join("---:" if c.justify == "right" else "---" for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(str(c.cell(r)).replace("|", "\\|") for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def tree_prefixes(depths: Sequence[int]) -> list[str]:
    """Tree guides ('├─ ', '│  └─ ') for rows in pre-order, given each row's depth."""
    prefixes = []
    for i, depth in enumerate(depths):
        parts = []
        for level in range(1, depth + 1):
            last = _is_last(depths, i, level)
            if level == depth:
                parts.append("└─ " if last else "├─ ")
            else:
                parts.append("   " if last else "│  ")
        prefixes.append("".join(parts))
    return prefixes


def _is_last(depths: Sequence[int], i: int, level: int) -> bool:
    """Whether row i's ancestor at ``level`` (or row i itself) has no later sibling."""
    for later in depths[i + 1 :]:
        if later < level:
            return True
        if later == level:
            return False
    return True
