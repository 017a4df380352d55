"""Trying a model: ``infer`` on the user's images, with pretrained weights."""

from __future__ import annotations

from typing import Annotated

import typer

from cvzoo.cli.app import emit, err, load_catalog, say
from cvzoo.cli.options import DeviceOpt, ModelArg, PrecisionOpt, TableJsonCsvOpt, WeightsOpt
from cvzoo.render import TableJsonCsv
from cvzoo.runtime import Precision


def infer(
    model: ModelArg,
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Image files, directories, globs, http(s) URLs, or - for stdin.", metavar="INPUT..."
        ),
    ],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="How many classes per image.")] = 5,
    weights: WeightsOpt = "DEFAULT",
    device: DeviceOpt = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Images per forward pass.")
    ] = 16,
    precision: PrecisionOpt = Precision.fp32,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")
    ] = False,
    fmt: TableJsonCsvOpt = TableJsonCsv.table,
) -> None:
    """Top-k ImageNet classes for your images, with pretrained weights."""
    from cvzoo import images, registry, runtime
    from cvzoo import infer as inference
    from cvzoo.render import progress
    from cvzoo.render.predictions import PREDICTIONS
    from cvzoo.weights import cached_weights_path

    sources = images.gather(inputs, recursive)
    built = registry.build(model, weights, catalog=load_catalog)
    inference.check_task(built, precision)
    target = inference.target_device(built, device)
    for note in (inference.weights_note(built), runtime.precision_note(target, precision)):
        if note:
            say("warning", note, style="yellow")
    fetching = built.pretrained and not cached_weights_path(built.pretrained).is_file()
    label = f"downloading {built.pretrained.qualname}" if built.pretrained else ""
    with progress.download_bar(err, label, needed=bool(fetching)) as on_download:
        loaded = registry.load(built, target, on_download)
    with progress.step_bar(err, "images", len(sources), minimum=8) as on_image:
        results = inference.predict(built, loaded, sources, top_k, batch_size, precision, target, on_image)
    emit(results, fmt, PREDICTIONS)
    warned = [r for r in results if r.warning]
    if warned:  # one line, however many images: the JSON carries each image's own
        names = ", ".join(r.image for r in warned[:3]) + (
            f" and {len(warned) - 3} more" if len(warned) > 3 else ""
        )
        say("warning", f"{warned[0].warning}: {names}", style="yellow")
    failed = [r for r in results if r.error]
    if failed:
        for r in failed:
            say("error", f"{r.image}: {r.error}")
        say("", f"{len(failed)} of {len(results)} inputs failed")
        raise typer.Exit(1)
