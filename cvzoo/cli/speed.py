"""Speed: ``bench`` (latency, throughput, memory) and ``compare`` (models side by side)."""

from __future__ import annotations

from typing import Annotated

import typer

from cvzoo.cli.app import emit, err, load_catalog, say
from cvzoo.cli.options import DeviceOpt, InputOpt, ModelsArg, PrecisionOpt, TableJsonCsvOpt, complete_model
from cvzoo.render import TableJsonCsv
from cvzoo.runtime import Precision


def bench(
    models: ModelsArg,
    batch_size: Annotated[
        str, typer.Option("--batch-size", "-b", help="Comma-separated batch sizes.")
    ] = "1,8,32",
    device: DeviceOpt = None,
    precision: PrecisionOpt = Precision.fp32,
    channels_last: Annotated[
        bool,
        typer.Option("--channels-last/--no-channels-last", help="Channels-last memory, BatchNorm folded."),
    ] = True,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model first.")] = False,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed iterations first.")] = 3,
    iters: Annotated[int, typer.Option("--iters", min=1, help="Timed iterations per batch size.")] = 10,
    weights: Annotated[
        str | None,
        typer.Option("--weights", "-w", help="Load these weights (may download); default: random init."),
    ] = None,
    input_size: InputOpt = None,
    fmt: TableJsonCsvOpt = TableJsonCsv.table,
) -> None:
    """Latency, throughput and peak memory on synthetic input, per batch size."""
    from cvzoo import bench as benchmark
    from cvzoo import inputs, registry
    from cvzoo.render import progress
    from cvzoo.render.speed import BENCH

    sizes = benchmark.parse_batch_sizes(batch_size)
    requested = inputs.parse_input_size(input_size) if input_size else None
    builds = [registry.build(m, weights or "DEFAULT", catalog=load_catalog) for m in models]
    pretrained = weights is not None
    for built in builds:
        note = benchmark.quantized_note(built, pretrained)
        if note:
            say("note", note, style="")
    rows = []
    with progress.step_bar(err, "timing", len(builds) * len(sizes) * (warmup + iters)) as on_step:
        for built in builds:
            rows += benchmark.bench_model(
                built,
                device,
                sizes,
                precision,
                channels_last,
                compile,
                warmup,
                iters,
                pretrained=pretrained,
                input_size=requested,
                on_step=on_step,
            )
    emit(rows, fmt, BENCH)
    if any(r.status != "ok" for r in rows):
        raise typer.Exit(1)


def compare(
    models: Annotated[
        list[str],
        typer.Argument(help="Two or more models.", autocompletion=complete_model, metavar="MODEL..."),
    ],
    with_bench: Annotated[bool, typer.Option("--bench", help="Add measured latency and throughput.")] = False,
    device: Annotated[
        str | None, typer.Option("--device", help="For --bench: cpu, cuda, cuda:N or mps.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="For --bench.")] = 1,
    fmt: TableJsonCsvOpt = TableJsonCsv.table,
) -> None:
    """Models side by side: size, cost, published accuracy, and speed with --bench."""
    from cvzoo import compare as comparison
    from cvzoo.render import progress
    from cvzoo.render.speed import COMPARE

    if len(models) < 2:
        raise typer.BadParameter("give two or more models to compare", param_hint="'MODEL...'")
    zoo = load_catalog()
    rows = comparison.compare_rows(zoo, models)
    if with_bench:
        with progress.step_bar(err, "timing", comparison.timing_steps(rows)) as on_step:
            rows = comparison.with_speed(rows, zoo, device, batch_size, on_step)
    emit(rows, fmt, COMPARE)
