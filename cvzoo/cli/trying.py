"""Trying a model: ``infer`` on the user's images or clips, for every task, pictures out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cvzoo.cli.app import emit, err, load_catalog, say
from cvzoo.cli.options import DeviceOpt, InputOpt, ModelArg, PrecisionOpt, TableJsonCsvOpt, WeightsOpt
from cvzoo.infer import Options, Preprocess
from cvzoo.render import TableJsonCsv
from cvzoo.runtime import Precision

if TYPE_CHECKING:
    from cvzoo.infer.results import Result


InputsArg = Annotated[
    list[str],
    typer.Argument(help="Images, videos, folders, globs, http(s) URLs, or - for stdin.", metavar="INPUT..."),
]
TopKOpt = Annotated[
    int | None,
    typer.Option("--top-k", "-k", min=1, help="Classes per input (default 5); detections (default all)."),
]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", min=0, max=1, help="Detections scoring less are left out.")
]
MaskThresholdOpt = Annotated[
    float, typer.Option("--mask-threshold", min=0, max=1, help="Mask R-CNN: a pixel's probability to be in.")
]
LabelsOpt = Annotated[
    Path | None, typer.Option("--labels", help="Class names: a text file (one per line) or JSON.")
]
PreprocessOpt = Annotated[
    Preprocess, typer.Option("--preprocess", help="For your own model (file.py:Name): imagenet or none.")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write an annotated picture per input here.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Inputs per forward pass.")]
RecursiveOpt = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")]


def infer(
    model: ModelArg,
    inputs: InputsArg,
    top_k: TopKOpt = None,
    threshold: ThresholdOpt = 0.5,
    mask_threshold: MaskThresholdOpt = 0.5,
    weights: WeightsOpt = "DEFAULT",
    labels: LabelsOpt = None,
    preprocess: PreprocessOpt = Preprocess.imagenet,
    input_size: InputOpt = None,
    out: OutOpt = None,
    device: DeviceOpt = None,
    batch_size: BatchOpt = 16,
    precision: PrecisionOpt = Precision.fp32,
    recursive: RecursiveOpt = False,
    fmt: TableJsonCsvOpt = TableJsonCsv.table,
) -> None:
    """What a model sees in your images or clips: classes, boxes, masks, keypoints, flow."""
    from cvzoo import infer as inference
    from cvzoo import inputs as shapes
    from cvzoo import registry, runtime
    from cvzoo.infer.labels import read_labels
    from cvzoo.render import pictures, progress
    from cvzoo.render.predictions import PREDICTIONS
    from cvzoo.weights import cached_weights_path

    size = shapes.parse_input_size(input_size)[-2:] if input_size else None
    options = Options(
        top_k, threshold, mask_threshold, batch_size, precision,
        read_labels(labels) if labels else None, preprocess, size, pictures=out is not None,
    )  # fmt: skip
    built = registry.build(model, weights, catalog=load_catalog)
    inference.check_task(built, options)
    sources = inference.sources_for(built, inputs, recursive)
    target = inference.target_device(built, device)
    for note in (inference.weights_note(built), runtime.precision_note(target, precision)):
        if note:
            say("warning", note, style="yellow")
    fetching = built.pretrained and not cached_weights_path(built.pretrained).is_file()
    label = f"downloading {built.pretrained.qualname}" if built.pretrained else ""
    with progress.download_bar(err, label, needed=bool(fetching)) as on_download:
        loaded = registry.load(built, target, on_download)
    with progress.step_bar(err, "inputs", len(sources), minimum=8) as on_image:
        found = inference.run(built, loaded, sources, options, target, on_image)
        results = list(pictures.written(found, out, sources) if out else (r for r, _ in found))
    emit(results, fmt, PREDICTIONS)
    _report(results)


def _report(results: list[Result]) -> None:
    """One line for what was passed over, one per failed input; exit 1 if any failed."""
    warned = [r for r in results if r.warning]
    if warned:  # one line, however many inputs: the JSON carries each input's own
        more = f" and {len(warned) - 3} more" if len(warned) > 3 else ""
        say("warning", f"{warned[0].warning}: {', '.join(r.image for r in warned[:3])}{more}", style="yellow")
    failed = [r for r in results if r.error]
    if failed:
        for r in failed:
            say("error", f"{r.image}: {r.error}")
        say("", f"{len(failed)} of {len(results)} inputs failed")
        raise typer.Exit(1)
