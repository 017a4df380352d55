"""``cvzoo bench`` and ``cvzoo compare``: speed per model and batch size, and models side by side."""

from __future__ import annotations

from collections.abc import Sequence

from cvzoo.bench import BenchRow
from cvzoo.compare import CompareRow
from cvzoo.render import Display, Surface, View
from cvzoo.render.data import to_csv, to_jsonable
from cvzoo.render.numbers import fixed, human_bytes
from cvzoo.render.tables import Column, fit_columns, marked, non_empty, records_table
from cvzoo.render.zoo import figure_columns, metric_as_accuracy

BENCH_COLUMNS = [
    Column("Model", lambda r: r.model, "left", wrap=True),
    Column("Batch", lambda r: str(r.batch_size)),
    Column("p50 ms", lambda r: fixed(r.latency_ms.p50, 2) if r.latency_ms else "-"),
    Column("p90 ms", lambda r: fixed(r.latency_ms.p90, 2) if r.latency_ms else "-"),
    Column("p99 ms", lambda r: fixed(r.latency_ms.p99, 2) if r.latency_ms else "-"),
    Column("img/s", lambda r: fixed(r.throughput, 1) if r.throughput else "-"),
    Column("GMAC/s", lambda r: fixed(r.gmacs_per_s, 0) if r.gmacs_per_s else "-"),
    Column("Peak mem", lambda r: human_bytes(r.peak_memory_bytes) if r.peak_memory_bytes else "-"),
    Column("Status", lambda r: r.status if not r.error else f"{r.status}: {r.error}", "left"),
]


def bench_table(rows: Sequence[BenchRow], surface: Surface | None = None) -> Display:
    """A row per model and batch size; the caption says how they ran."""
    caption = None
    if rows:
        first = rows[0]
        flags = [first.device, first.precision]
        flags += ["channels_last"] if first.channels_last else []
        flags += ["torch.compile"] if first.compiled else []
        kinds = {r.memory_kind for r in rows if r.memory_kind}
        caption = " · ".join(flags) + (f"\npeak mem: {', '.join(sorted(kinds))}" if kinds else "")
        if any(r.latency_ms and r.latency_ms.p99 is None for r in rows):
            caption += "\np99 needs --iters 100 or more"
    return Display(records_table(rows, non_empty(rows, BENCH_COLUMNS), caption))


def bench_csv(rows: Sequence[BenchRow]) -> str:
    """One line per row, the latency percentiles flattened into ``latency_<p>_ms`` columns."""
    flat = []
    for r in rows:
        record = to_jsonable(r)
        latency = record.pop("latency_ms") or {}
        flat.append({**record, **{f"latency_{k}_ms": v for k, v in latency.items()}})
    return to_csv(flat)


COMPARE_COLUMNS = [
    Column("Model", lambda r: r.name, "left", wrap=True),
    Column("Family", lambda r: r.family or "-", "left", drop=2, wrap=True, breaks=" "),
    Column("Year", lambda r: str(r.year) if r.year else "-", drop=7),
    *figure_columns(side_by_side=True),
    Column("p50 ms", lambda r: fixed(r.latency_ms, 2), best=min, value=lambda r: r.latency_ms),
    Column("img/s", lambda r: fixed(r.throughput, 1), best=max, value=lambda r: r.throughput),
]


def compare_table(rows: Sequence[CompareRow], surface: Surface | None = None) -> Display:
    """Side by side, the best value of each column marked: bold green, or ``*`` without colour."""
    surface = surface or Surface()
    columns = metric_as_accuracy(non_empty(rows, COMPARE_COLUMNS))
    caption = "best of each column in bold green"
    if not surface.color:
        columns, caption = marked(rows, columns, "*"), "* best of each column"
    fit = fit_columns(rows, columns, surface.width)
    table = records_table(rows, fit.columns, caption if len(rows) > 1 else None)
    note = fit.note(surface.width)
    return Display(table, [note] if note else [])


BENCH: View[Sequence[BenchRow]] = View(table=bench_table, csv=bench_csv)
COMPARE: View[Sequence[CompareRow]] = View(table=compare_table, csv=to_csv)
