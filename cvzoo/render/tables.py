"""The one table builder: columns of records, fitted to the terminal, as rich tables or Markdown.

Every table cvzoo prints is a :class:`Column` list over a sequence of records: plain (no
borders), bold headers, two spaces between columns. Text is always literal (never rich
markup), so a model name or a path with brackets prints as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

Justify = Literal["left", "right"]
Overflow = Literal["fold", "ellipsis", "crop"]


@dataclass(frozen=True)
class Column:
    """A column of a table: its header, its cell text, its alignment, and how it gives way.

    Args:
        cell: the record's text (or a styled ``Text``).
        compact: a shorter text for when the terminal is narrow (``115.6M`` for ``115,607,808``).
        squeeze: the order in which columns switch to their compact text (1 first).
        drop: the order in which columns are hidden when even that is too wide (highest
            first); 0 never goes.
        wrap: whether long cells may wrap onto more lines (names, labels); numbers never do.
        breaks: where a wrapping cell may break (", " between metrics); without it, anywhere.
        overflow: what happens to a cell too long for its column.
        best: ``min`` or ``max``: the record whose ``value`` is best is marked.
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
    compact: Callable[[Any], str | Text] | None = None
    compact_header: str | None = None  # a shorter header to go with the compact text
    squeeze: int = 1
    breaks: str | None = None
    max_width: int | None = None  # set by :func:`fit_columns` on a column that must wrap to fit


def new_table(**options: Any) -> Table:
    """An empty table in cvzoo's style; ``options`` override it (``show_header=False``...)."""
    style: dict[str, Any] = {"box": None, "pad_edge": False, "padding": (0, 2, 0, 0), "header_style": "bold"}
    return Table(**{**style, **options})


def records_table(
    rows: Sequence[Any],
    columns: Sequence[Column],
    caption: str | None = None,
    **options: Any,
) -> Table:
    """A table with a line per record; the best cell of a column with ``best`` is bold green."""
    table = new_table(**{"caption_justify": "left", **options})
    for col in columns:
        table.add_column(
            col.header,
            justify=col.justify,
            no_wrap=not col.wrap,
            overflow=col.overflow,
            max_width=col.max_width,
        )
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


def marked(rows: Sequence[Any], columns: Sequence[Column], mark: str) -> list[Column]:
    """The columns with ``mark`` after each best cell, for where colour does not show."""

    def with_mark(col: Column) -> Column:
        best = _best(rows, col)

        def cell(row: Any) -> str | Text:
            text = col.cell(row)
            return f"{text}{mark}" if col.value and col.value(row) == best else text

        return replace(col, cell=cell, compact=None)

    return [with_mark(c) if c.best and len(rows) > 1 else c for c in columns]


def _best(rows: Sequence[Any], col: Column) -> Any:
    assert col.best is not None and col.value is not None
    values = [col.value(r) for r in rows if col.value(r) is not None]
    return col.best(values) if values else None


@dataclass(frozen=True)
class Fit:
    """The columns that fit a width: some in their compact form, some hidden."""

    columns: list[Column]
    hidden: list[str]  # headers of the columns left out
    compacted: list[str]  # headers of the columns shown in their compact form

    def note(self, width: int | None) -> str | None:
        """The line that says what was hidden, for stderr; None when nothing was."""
        if not self.hidden:
            return None
        return (
            f"{', '.join(self.hidden)} hidden to fit {width} columns: widen the terminal,"
            " or pipe the output (or use --format json) for every column"
        )


def fit_columns(rows: Sequence[Any], columns: Sequence[Column], width: int | None) -> Fit:
    """The columns that fit in ``width`` characters (None: no limit), giving way in order.

    First each column with a compact form switches to it (numbers with units, shapes without
    brackets), in ``squeeze`` order; then columns are hidden, highest ``drop`` first; then any
    hidden column that fits again is put back. Wrapping columns count at their longest
    unbreakable piece; nothing else is ever cut.
    """
    if width is None:
        return Fit(list(columns), [], [])

    def too_wide(cols: Sequence[tuple[int, Column]]) -> bool:
        return sum(_width(rows, c) for _, c in cols) + 2 * (len(cols) - 1) > width

    shown, compacted = list(enumerate(columns)), []
    for rank in sorted({c.squeeze for c in columns if c.compact}):
        if not too_wide(shown):
            break
        for n, (i, c) in enumerate(shown):
            if c.compact and c.squeeze == rank:
                shown[n] = (i, replace(c, cell=c.compact, compact=None, header=c.compact_header or c.header))
                compacted.append(c.header)
    hidden: list[tuple[int, Column]] = []
    while too_wide(shown) and any(c.drop for _, c in shown):
        victim = max((pair for pair in shown if pair[1].drop), key=lambda pair: pair[1].drop)
        shown.remove(victim)
        hidden.append(victim)
    for pair in sorted(hidden, key=lambda pair: pair[1].drop):  # a later drop may have made room
        trial = sorted([*shown, pair], key=lambda p: p[0])
        if not too_wide(trial):
            shown = trial
            hidden.remove(pair)
    names = [columns[i].header for i, _ in sorted(hidden, key=lambda p: p[0])]
    return Fit(_share_out(rows, [c for _, c in shown], width), names, compacted)


def _share_out(rows: Sequence[Any], columns: list[Column], width: int) -> list[Column]:
    """Columns that wrap between pieces get the room the others leave, and no more.

    Left to itself, rich would narrow every wrapping column in proportion, folding a model's
    name mid-word to give a list of metrics room it does not need.
    """
    breaking = [i for i, c in enumerate(columns) if c.wrap and c.breaks]
    natural = [max([len(c.header)] + [len(str(c.cell(r))) for r in rows]) for c in columns]
    gaps = 2 * (len(columns) - 1)
    if not breaking or sum(natural) + gaps <= width:
        return columns
    room = width - gaps - sum(w for i, w in enumerate(natural) if i not in breaking)
    share = max(room // len(breaking), 1)
    return [
        replace(c, max_width=max(share, _width(rows, c))) if i in breaking else c
        for i, c in enumerate(columns)
    ]


def _width(rows: Sequence[Any], col: Column) -> int:
    """The width ``col`` needs: its longest cell, or for a wrapping one its longest unbreakable piece."""
    widths = [len(col.header)]
    for row in rows:
        text = str(col.cell(row))
        if col.wrap and col.breaks:
            widths += [len(piece) + len(col.breaks.rstrip()) for piece in text.split(col.breaks)]
        else:
            widths.append(len(text))
    return max(widths)


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
