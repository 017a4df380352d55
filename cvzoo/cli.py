"""The command line: parse options, call the core, emit the result in the chosen format.

Data goes to stdout, everything else (progress, warnings, errors) to stderr. A CvzooError
becomes one line on stderr and its exit code (1 failure, 2 usage); ``--debug`` shows the
traceback. Torch is imported only by the commands that build a model, never for ``list``,
``info``, completion or ``--help``: the core and render modules are imported inside the
commands that need them.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from cvzoo import __version__, catalog
from cvzoo.catalog import SortKey, Task
from cvzoo.errors import CvzooError
from cvzoo.plot import XAxis, YAxis
from cvzoo.render import ListFormat, TableJson, TableJsonCsv, View, output
from cvzoo.runtime import Precision

out = Console(soft_wrap=False)
err = Console(stderr=True)


class _State:
    debug = False


state = _State()


def say(kind: str, message: str, style: str = "bold red") -> None:
    """One line on stderr: ``kind: message``, the message printed literally (never as markup)."""
    line = Text(f"{kind}: ", style=style) if kind else Text()
    line.append(message)
    err.print(line, highlight=False, soft_wrap=True)


class _Group(TyperGroup):
    """Turns cvzoo's own errors into one line and an exit code, at the boundary."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CvzooError as exc:
            if state.debug:
                raise
            say("error", str(exc))
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="cvzoo",
    help="Look inside computer-vision models and try them: the torchvision zoo, one command away.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cvzoo {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    state.debug = debug or bool(os.environ.get("CVZOO_DEBUG"))


def _emit(result: Any, fmt: Enum, view: View[Any]) -> None:
    """Write ``result`` to stdout in format ``fmt``."""
    shown = output(result, fmt, view, width=out.width)
    if isinstance(shown, str):
        sys.stdout.write(shown)
        sys.stdout.flush()
    else:
        out.print(shown)


def _load_catalog() -> catalog.Catalog:
    return catalog.load_catalog(
        on_build=lambda: err.status("Indexing torchvision's zoo (once per torchvision version)...")
    )


# --- completion (reads only the cache: no torch) ----------------------------------------------


def complete_model(incomplete: str) -> list[str]:
    """Model names starting with what has been typed, from the cached catalogue."""
    cached = catalog.cached_catalog()
    if cached is None:
        return []
    return [n for n in cached.names() if n.startswith(incomplete.lower())]


def complete_weights(ctx: typer.Context, incomplete: str) -> list[str]:
    """``--weights`` values for the MODEL already typed: its sets, DEFAULT and none."""
    cached = catalog.cached_catalog()
    # While completing, Typer leaves the already-typed MODEL in ctx.args rather than ctx.params.
    model = (ctx.params or {}).get("model") or next(iter(ctx.args or []), "")
    entry = cached.models.get(model.lower()) if cached else None
    choices = ["DEFAULT", "none"] + ([w.name for w in entry.weights] if entry else [])
    return [c for c in choices if c.lower().startswith(incomplete.lower())]


# --- options shared by several commands -----------------------------------------------------------

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A torchvision model (resnet50) or your own: path/to/file.py:Name.",
        autocompletion=complete_model,
        show_default=False,
        metavar="MODEL",
    ),
]
ModelsArg = Annotated[
    list[str], typer.Argument(help="Models to time.", autocompletion=complete_model, metavar="MODEL...")
]
WeightsOpt = Annotated[
    str,
    typer.Option(
        "--weights",
        "-w",
        help="DEFAULT, a weight set's name (IMAGENET1K_V1), or none.",
        autocompletion=complete_weights,
    ),
]
InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input-size", "-i", help="S, H,W or N,C,H,W (N,C,T,H,W for video). Default: the weights' size."
    ),
]
DepthOpt = Annotated[
    int, typer.Option("--depth", "-d", min=0, help="Fold modules deeper than this (root = 0).")
]
KwargOpt = Annotated[
    list[str] | None,
    typer.Option("--kwarg", "-k", help="key=value for the model's constructor; repeatable."),
]
CollapseOpt = Annotated[
    bool, typer.Option("--collapse/--no-collapse", help="Fold runs of identical sibling blocks into one row.")
]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")]
PrecisionOpt = Annotated[Precision, typer.Option("--precision", help="Number format.")]
TableJsonOpt = Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")]
TableJsonCsvOpt = Annotated[TableJsonCsv, typer.Option("--format", "-f", help="Output format.")]


# --- the zoo ---------------------------------------------------------------------------------------


@app.command("list")
def list_(
    patterns: Annotated[
        list[str] | None,
        typer.Argument(
            help="Globs or substrings to match model names (resnet*, vit).",
            show_default=False,
            metavar="[PATTERN]...",
        ),
    ] = None,
    task: Annotated[Task | None, typer.Option("--task", "-t", help="Only models of this task.")] = None,
    sort: Annotated[SortKey, typer.Option("--sort", "-s", help="Order rows by this column.")] = SortKey.name,
    desc: Annotated[bool, typer.Option("--desc", help="Largest first.")] = False,
    all_weights: Annotated[
        bool, typer.Option("--all-weights", "-a", help="A row per weight set, not just DEFAULT.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Show at most N rows.", min=0)] = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """The zoo with its published size, cost and accuracy."""
    from cvzoo.render import zoo

    rows = catalog.list_rows(_load_catalog(), patterns or (), task, sort, desc, all_weights, limit)
    _emit(rows, fmt, zoo.view(all_weights))


# --- looking inside a model ---------------------------------------------------------------------


def _count(
    model: str, weights: str, input_size: str | None, kwargs: list[str] | None, macs: bool = True
) -> Any:
    from cvzoo import inputs, reports, usermodel

    requested = inputs.parse_input_size(input_size) if input_size else None
    parsed = usermodel.parse_kwargs(kwargs or [])
    return reports.count(model, weights, requested, parsed, count_macs=macs, catalog=_load_catalog)


@app.command()
def summary(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 2,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """The layer tree with output shapes, parameters and MACs, and the totals."""
    from cvzoo import reports
    from cvzoo.render.layers import SUMMARY

    _emit(reports.summary(_count(model, weights, input_size, kwarg), depth, collapse), fmt, SUMMARY)


@app.command()
def params(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    depth: DepthOpt = 1,
    by_type: Annotated[
        bool, typer.Option("--by-type", help="Break down by layer type (Conv2d, Linear...).")
    ] = False,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """Parameters: total, trainable, buffers, memory, and where they are."""
    from cvzoo import reports
    from cvzoo.render.layers import params_view

    counted = _count(model, weights, None, kwarg, macs=False)
    _emit(reports.params(counted, depth, collapse), fmt, params_view(by_type))


@app.command()
def flops(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 1,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """MACs and FLOPs (= 2 x MACs), in total, per module and per operator."""
    from cvzoo import reports
    from cvzoo.render.layers import FLOPS

    _emit(reports.flops(_count(model, weights, input_size, kwarg), depth, collapse), fmt, FLOPS)


# --- trying a model ------------------------------------------------------------------------------


@app.command()
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
    built = registry.build(model, weights, catalog=_load_catalog)
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
    _emit(results, fmt, PREDICTIONS)
    failed = [r for r in results if r.error]
    if failed:
        for r in failed:
            say("error", f"{r.image}: {r.error}")
        say("", f"{len(failed)} of {len(results)} inputs failed")
        raise typer.Exit(1)


# --- speed ---------------------------------------------------------------------------------------


@app.command()
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
    builds = [registry.build(m, weights or "DEFAULT", catalog=_load_catalog) for m in models]
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
    _emit(rows, fmt, BENCH)
    if any(r.status != "ok" for r in rows):
        raise typer.Exit(1)


@app.command()
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
    zoo = _load_catalog()
    rows = comparison.compare_rows(zoo, models)
    if with_bench:
        with progress.step_bar(err, "timing", len(rows) * 13) as on_step:  # 3 warm-up + 10 timed each
            rows = comparison.with_speed(rows, zoo, device, batch_size, on_step)
    _emit(rows, fmt, COMPARE)


# --- learning the zoo ----------------------------------------------------------------------------


@app.command()
def info(
    model: Annotated[
        str, typer.Argument(help="A torchvision model.", autocompletion=complete_model, metavar="MODEL")
    ],
    fmt: TableJsonOpt = TableJson.table,
) -> None:
    """The model card: family, idea, paper, and every weight set with its metrics."""
    from cvzoo.cards import model_info
    from cvzoo.render.card import INFO

    _emit(model_info(_load_catalog(), model), fmt, INFO)


@app.command()
def plot(
    patterns: Annotated[
        list[str] | None, typer.Argument(help="Globs or substrings of model names.", metavar="[PATTERN]...")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The picture to write: .png, .svg or .pdf.")
    ] = Path("zoo.png"),
    x: Annotated[XAxis, typer.Option("--x", help="Cost on the (log) x axis.")] = XAxis.gmacs,
    y: Annotated[YAxis, typer.Option("--y", help="Accuracy on the y axis.")] = YAxis.acc1,
    task: Annotated[
        Task,
        typer.Option("--task", "-t", help="Which models: classification, or video (they publish accuracy)."),
    ] = Task.classification,
) -> None:
    """Published accuracy against cost, the Pareto front drawn and the milestones marked."""
    from cvzoo.plot import plot_points
    from cvzoo.render.chart import write_plot

    points = plot_points(_load_catalog(), patterns or (), task, x, y)
    title = f"torchvision {task.value} models: {y.value} against {x.value} (DEFAULT weights)"
    write_plot(points, out, x, y, title)
    say("", f"wrote {out} ({len(points)} models, {sum(p.pareto for p in points)} on the Pareto front)")


def main() -> None:
    """The ``cvzoo`` console script."""
    try:
        app(prog_name="cvzoo")
    except BrokenPipeError:  # `cvzoo list | head`: the reader has gone, which is no error
        sys.stderr.close()
        os._exit(0)
