"""``cvzoo summary FILE`` for a checkpoint: its tensors grouped by module, and what it fits."""

from __future__ import annotations

from collections import defaultdict

from rich.console import Group
from rich.text import Text

from cvzoo.checkpoints import CheckpointReport, Tensor
from cvzoo.render import Display, Surface, View
from cvzoo.render.numbers import human_bytes, human_count
from cvzoo.render.tables import Column, facts_table, fit_columns, records_table


def groups(tensors: list[Tensor], depth: int) -> list[tuple[str, int, int, str, str]]:
    """Tensors gathered by the first ``depth`` parts of their names, in file order.

    Each group: (name, tensors, values, dtypes, shape of a lone tensor or '-').
    """
    gathered: dict[str, list[Tensor]] = defaultdict(list)
    for t in tensors:
        gathered[".".join(t.name.split(".")[:depth]) if depth else "(all)"].append(t)
    rows = []
    for name, members in gathered.items():
        kinds = ", ".join(sorted({t.dtype for t in members}))
        shape = "x".join(map(str, members[0].shape)) if len(members) == 1 else "-"
        rows.append((name, len(members), sum(t.count for t in members), kinds, shape))
    return rows


def checkpoint_table(report: CheckpointReport, surface: Surface, depth: int = 2) -> Display:
    """The facts, what the file fits, then its tensors grouped to ``depth``."""
    fits = "; ".join(report.fits) if report.fits else "no architecture of the zoo"
    facts = [
        ("File", report.file),
        ("Size", human_bytes(report.file_size_bytes)),
        ("Tensors", f"{len(report.tensors):,}"),
        ("Values", f"{report.total_values:,} ({human_count(report.total_values)})"),
        ("Parameters", f"{report.parameters:,} (without BatchNorm statistics)"),
        ("Dtypes", ", ".join(f"{k} {human_count(v)}" for k, v in report.dtypes.items())),
        ("Fits", fits),
    ]
    rows = groups(report.tensors, depth)
    columns = [
        Column("Tensors", lambda r: r[0], "left", wrap=True),
        Column("Count", lambda r: f"{r[1]:,}", drop=2),
        Column("Shape", lambda r: r[4], "left", drop=1),
        Column("Values", lambda r: f"{r[2]:,}", compact=lambda r: human_count(r[2])),
        Column("Dtype", lambda r: r[3], "left", drop=3),
    ]
    fit = fit_columns(rows, columns, surface.width)
    note = fit.note(surface.width)
    body = Group(facts_table(facts), Text(""), records_table(rows, fit.columns))
    return Display(body, [note] if note else [])


def checkpoint_view(depth: int) -> View[CheckpointReport]:
    """The checkpoint view, its tensors grouped to ``depth`` parts of their names."""
    return View(table=lambda report, surface: checkpoint_table(report, surface, depth))
