"""Models side by side: their published figures, their family, and their measured speed.

The published side comes from the catalogue and the cards and needs no torch; ``--bench``
adds each model's latency and throughput on this machine, measured by :mod:`cvzoo.bench`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from cvzoo.cards import family_card
from cvzoo.catalog import Catalog, Figures
from cvzoo.schema import FLATTEN


@dataclass(frozen=True)
class CompareRow:
    """One model in ``cvzoo compare``: its DEFAULT weights' figures, and its speed if measured."""

    name: str
    task: str
    family: str | None
    year: int | None
    figures: Figures = field(metadata=FLATTEN)
    latency_ms: float | None = None  # p50 of one batch, with --bench
    throughput: float | None = None  # images per second, with --bench


def compare_rows(catalog: Catalog, names: Iterable[str]) -> list[CompareRow]:
    """The models side by side, in the order given; an unknown name raises UnknownModel."""
    rows = []
    for name in names:
        entry = catalog.get(name)
        card = family_card(entry.name)
        family, year = (card.title, card.year) if card else (None, None)
        rows.append(CompareRow(entry.name, entry.task.value, family, year, Figures.of(entry.default)))
    return rows


def timing_steps(rows: Sequence[CompareRow]) -> int:
    """How many model calls :func:`with_speed` makes (its ``on_step`` count), for a progress bar."""
    from cvzoo.bench import ITERS, WARMUP

    return len(rows) * (WARMUP + ITERS)


def with_speed(
    rows: Sequence[CompareRow],
    catalog: Catalog,
    device: str | None = None,
    batch_size: int = 1,
    on_step: Callable[[], None] | None = None,
) -> list[CompareRow]:
    """``compare --bench``: each row with its measured p50 latency and throughput.

    Each model is timed as ``cvzoo bench`` times it (random weights, the default settings);
    a model that fails to run keeps its published figures and no speed.
    """
    from cvzoo.bench import bench_model
    from cvzoo.registry import build

    timed_rows = []
    for row in rows:
        timed = bench_model(build(row.name, catalog=catalog), device, [batch_size], on_step=on_step)[0]
        if timed.status == "ok" and timed.latency_ms is not None:
            row = replace(row, latency_ms=timed.latency_ms.p50, throughput=timed.throughput)
        timed_rows.append(row)
    return timed_rows
