"""Trying a model: ``infer`` on the user's images or clips, for every task, pictures out."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cvzoo.cli.app import emit, err, load_catalog, say
from cvzoo.cli.options import DeviceOpt, InputOpt, ModelArg, PrecisionOpt, WeightsOpt
from cvzoo.infer import Options, Preprocess
from cvzoo.render import InferFormat
from cvzoo.runtime import Compile, Precision

if TYPE_CHECKING:
    import torch

    from cvzoo.infer.results import Result
    from cvzoo.registry import BuiltModel


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


class Engine(str, Enum):
    """Where ``infer`` runs: this machine, or a Ray cluster."""

    local = "local"
    ray = "ray"


class RayFormat(str, Enum):
    """The files ``--engine ray`` writes under ``--out``."""

    parquet = "parquet"
    jsonl = "jsonl"


EngineOpt = Annotated[Engine, typer.Option("--engine", help="local, or ray for a Ray cluster (cvzoo[ray]).")]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="Join this Ray cluster ($RAY_ADDRESS); default: start a local one."),
]
RayFormatOpt = Annotated[RayFormat, typer.Option("--ray-format", help="The files --engine ray writes.")]
RayWorkersOpt = Annotated[
    int | None,
    typer.Option("--ray-workers", min=1, help="Model actors (default: a GPU each, or half the CPUs)."),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="--engine ray: skip images already in --out.")]
CompileOpt = Annotated[
    Compile,
    typer.Option(
        "--compile", help="torch.compile the classifier: auto for 2,000+ inputs (500+ once cached)."
    ),
]
InferFormatOpt = Annotated[InferFormat, typer.Option("--format", "-f", help="Output format.")]


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
    compile_: CompileOpt = Compile.auto,
    engine: EngineOpt = Engine.local,
    ray_address: RayAddressOpt = None,
    ray_format: RayFormatOpt = RayFormat.parquet,
    ray_workers: RayWorkersOpt = None,
    resume: ResumeOpt = False,
    fmt: InferFormatOpt = InferFormat.table,
) -> None:
    """What a model sees in your images or clips: classes, boxes, masks, keypoints, flow."""
    from cvzoo import infer as inference
    from cvzoo import inputs as shapes
    from cvzoo import registry
    from cvzoo.infer.labels import read_labels
    from cvzoo.render import pictures, progress
    from cvzoo.weights import cached_weights_path

    size = shapes.parse_input_size(input_size)[-2:] if input_size else None
    options = Options(
        top_k, threshold, mask_threshold, batch_size, precision,
        read_labels(labels) if labels else None, preprocess, size, pictures=out is not None,
        compile=compile_,
    )  # fmt: skip
    if engine is Engine.ray:
        _on_ray(model, weights, inputs, options, out, ray_format, resume, ray_address, ray_workers, fmt)
        return
    built = registry.build(model, weights, catalog=load_catalog)
    inference.check_task(built, options)
    sources = inference.sources_for(built, inputs, recursive)
    target = inference.target_device(built, device)
    options = _decided(built, options, len(sources), target)
    fetching = built.pretrained and not cached_weights_path(built.pretrained).is_file()
    label = f"downloading {built.pretrained.qualname}" if built.pretrained else ""
    with progress.download_bar(err, label, needed=bool(fetching)) as on_download:
        loaded = registry.load(built, target, on_download)
    with progress.step_bar(err, "inputs", len(sources), minimum=8) as on_image:
        found = inference.run(built, loaded, sources, options, target, on_image)
        _report(_emitted(pictures.written(found, out, sources) if out else (r for r, _ in found), fmt))


def _decided(built: BuiltModel, options: Options, inputs: int, target: torch.device) -> Options:
    """Say what is worth knowing before the run (random weights, emulated bf16, compiling)."""
    from cvzoo import infer as inference
    from cvzoo import runtime

    for note in (inference.weights_note(built), runtime.precision_note(target, options.precision)):
        if note:
            say("warning", note, style="yellow")
    options = inference.with_compile_decided(built, options, inputs, target)
    if options.compile is Compile.always:
        first = "about 20 s the first time, seconds after"
        say("note", f"compiling {built.name} for this machine first ({first})", style="cyan")
    return options


class _Tally:
    """What the CLI must say once the results are out: the warnings and the failures."""

    def __init__(self) -> None:
        self.count = 0
        self.warned: list[Result] = []
        self.warnings = 0
        self.failed: list[Result] = []

    def add(self, result: Result) -> None:
        self.count += 1
        if result.warning:
            self.warnings += 1
            if len(self.warned) < 3:
                self.warned.append(result)
        if result.error:
            self.failed.append(result)


def _emitted(results: Iterable[Result], fmt: InferFormat) -> _Tally:
    """Write the results in ``fmt``: JSON Lines one by one as they come, the rest all at once."""
    from cvzoo.render.data import json_line
    from cvzoo.render.predictions import PREDICTIONS, predictions_json

    tally = _Tally()
    if fmt is InferFormat.jsonl:  # streamed: any number of inputs, the memory of one batch
        for result in results:
            tally.add(result)
            sys.stdout.write(json_line(predictions_json([result])[0]))
            sys.stdout.flush()
        return tally
    kept = list(results)
    for result in kept:
        tally.add(result)
    emit(kept, fmt, PREDICTIONS)
    return tally


def _report(tally: _Tally) -> None:
    """One line for what was passed over, one per failed input; exit 1 if any failed."""
    if tally.warned:  # one line, however many inputs: the JSON carries each input's own
        more = f" and {tally.warnings - 3} more" if tally.warnings > 3 else ""
        names = ", ".join(r.image for r in tally.warned)
        say("warning", f"{tally.warned[0].warning}: {names}{more}", style="yellow")
    if tally.failed:
        for r in tally.failed:
            say("error", f"{r.image}: {r.error}")
        say("", f"{len(tally.failed)} of {tally.count} inputs failed")
        raise typer.Exit(1)


def _on_ray(
    model: str,
    weights: str,
    inputs: list[str],
    options: Options,
    out: Path | None,
    ray_format: RayFormat,
    resume: bool,
    address: str | None,
    workers: int | None,
    fmt: InferFormat,
) -> None:
    """``--engine ray``: the job on a Ray cluster, its rows written under ``--out``; a summary printed."""
    from cvzoo.errors import UsageError
    from cvzoo.infer import on_ray
    from cvzoo.render import progress
    from cvzoo.render.predictions import RAY

    if out is None:
        raise UsageError("--engine ray writes its results to files: give --out DIR")
    if len(inputs) != 1:
        raise UsageError(
            "--engine ray takes one source: a folder, a glob, or a URI such as s3://bucket/images"
        )
    job = on_ray.Job(model, weights, options.top_k or 5, options.batch_size, options.precision.value)
    with progress.download_bar(err, f"downloading the weights of {model}") as on_download:
        outcome = on_ray.run(job, inputs[0], out, ray_format.value, resume, address, workers, on_download)
    emit(outcome, fmt, RAY)
    if outcome.failed:
        say("", f"{outcome.failed} of {outcome.written} images failed: their rows in {out} say why")
        raise typer.Exit(1)
