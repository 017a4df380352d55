"""The command line: parse options, call the core, hand the result to the renderer.

Data goes to stdout, everything else (progress, errors) to stderr. A CvzooError becomes
one line on stderr and its exit code (1 failure, 2 usage); ``--debug`` shows the traceback.
Torch is imported only by the commands that build a model, never for ``list`` or ``--help``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from cvzoo import __version__, catalog, render
from cvzoo.catalog import SortKey, Task
from cvzoo.errors import CvzooError
from cvzoo.infer import Precision
from cvzoo.plot import XAxis, YAxis
from cvzoo.render import OutputFormat


class _State:
    debug = False


state = _State()
out = Console(soft_wrap=False)
err = Console(stderr=True)


class _Group(TyperGroup):
    """Turns cvzoo's own errors into one line and an exit code, at the boundary."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CvzooError as exc:
            if state.debug:
                raise
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
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


# --- completion (reads only the cache: no torch) ----------------------------------------------


def complete_model(incomplete: str) -> list[str]:
    cached = catalog.cached_catalog()
    if cached is None:
        return []
    return [n for n in cached.names() if n.startswith(incomplete.lower())]


def complete_weights(ctx: typer.Context, incomplete: str) -> list[str]:
    cached = catalog.cached_catalog()
    # While completing, Typer leaves the already-typed MODEL in ctx.args rather than ctx.params.
    model = (ctx.params or {}).get("model") or next(iter(ctx.args or []), "")
    entry = cached.models.get(model.lower()) if cached else None
    choices = ["DEFAULT", "none"] + ([w.name for w in entry.weights] if entry else [])
    return [c for c in choices if c.lower().startswith(incomplete.lower())]


def _load_catalog() -> catalog.Catalog:
    return catalog.load_catalog(
        on_build=lambda: err.status("Indexing torchvision's zoo (once per torchvision version)...")
    )


# --- commands ----------------------------------------------------------------------------------


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
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """The zoo with its published size, cost and accuracy."""
    rows = catalog.list_rows(_load_catalog(), patterns or (), task, sort, desc, all_weights, limit)
    if fmt is OutputFormat.table:
        out.print(render.zoo_table(rows, all_weights, width=out.width))
    elif fmt is OutputFormat.markdown:
        _write(render.zoo_markdown(rows, all_weights))
    elif fmt is OutputFormat.json:
        _write(render.to_json(rows))
    else:
        _write(render.to_csv(rows))


# --- looking inside a model ---------------------------------------------------------------------

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A torchvision model (resnet50) or your own: path/to/file.py:Name.",
        autocompletion=complete_model,
        show_default=False,
        metavar="MODEL",
    ),
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
InspectFormat = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format: table or json.")]


def _inspect(
    model: str,
    weights: str,
    input_size: str | None,
    kwargs: list[str] | None,
    depth: int,
    collapse: bool,
    count_macs: bool = True,
) -> tuple[Any, list[Any]]:
    """Build and count ``model``; the stats and the rows to show at ``depth``."""
    from cvzoo import registry, stats

    built = registry.build(model, weights, catalog=_load_catalog, kwargs=registry.parse_kwargs(kwargs or []))
    requested = stats.parse_input_size(input_size) if input_size else None
    result = stats.collect(built, requested, count_macs=count_macs)
    return result, stats.flatten(stats.collapse(result.root) if collapse else result.root, depth)


def _only(fmt: OutputFormat, *allowed: OutputFormat) -> None:
    if fmt not in allowed:
        choices = " or ".join(f.value for f in allowed)
        raise typer.BadParameter(f"'{fmt.value}' is not offered here; use {choices}", param_hint="'--format'")


TABLE_OR_JSON = (OutputFormat.table, OutputFormat.json)
TABLE_JSON_CSV = (OutputFormat.table, OutputFormat.json, OutputFormat.csv)


@app.command()
def summary(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 2,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    fmt: InspectFormat = OutputFormat.table,
) -> None:
    """The layer tree with output shapes, parameters and MACs, and the totals."""
    _only(fmt, *TABLE_OR_JSON)
    result, rows = _inspect(model, weights, input_size, kwarg, depth, collapse)
    if fmt is OutputFormat.json:
        _write(render.to_json(render.summary_json(result, rows)))
    else:
        out.print(render.summary_view(result, rows))


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
    fmt: InspectFormat = OutputFormat.table,
) -> None:
    """Parameters: total, trainable, buffers, memory, and where they are."""
    _only(fmt, *TABLE_OR_JSON)
    result, rows = _inspect(model, weights, None, kwarg, depth, collapse, count_macs=False)
    if fmt is OutputFormat.json:
        _write(render.to_json(render.params_json(result, rows)))
    else:
        out.print(render.params_view(result, rows, by_type))


@app.command()
def flops(
    model: ModelArg,
    weights: WeightsOpt = "DEFAULT",
    input_size: InputOpt = None,
    depth: DepthOpt = 1,
    collapse: CollapseOpt = True,
    kwarg: KwargOpt = None,
    fmt: InspectFormat = OutputFormat.table,
) -> None:
    """MACs and FLOPs (= 2 x MACs), in total, per module and per operator."""
    _only(fmt, *TABLE_OR_JSON)
    result, rows = _inspect(model, weights, input_size, kwarg, depth, collapse)
    if fmt is OutputFormat.json:
        _write(render.to_json(render.flops_json(result, rows)))
    else:
        out.print(render.flops_view(result, rows))


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
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Images per forward pass.")
    ] = 16,
    precision: Annotated[Precision, typer.Option("--precision", help="Number format.")] = Precision.fp32,
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Descend into subdirectories.")
    ] = False,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """Top-k ImageNet classes for your images, with pretrained weights."""
    from cvzoo import images, registry
    from cvzoo import infer as inference

    _only(fmt, *TABLE_JSON_CSV)
    sources = images.gather(inputs, recursive)
    built = registry.build(model, weights, catalog=_load_catalog)
    inference.check_task(built, precision)
    target = inference.choose_device(built, device)
    for note in (inference.weights_note(built), inference.precision_note(target, precision)):
        if note:
            err.print(f"[yellow]warning:[/] {note}", highlight=False)
    with _download_progress(built) as on_download:
        loaded = registry.load_pretrained(built, target, on_download)
    with _image_progress(len(sources)) as on_image:
        results = inference.predict(built, loaded, sources, top_k, batch_size, precision, target, on_image)
    if fmt is OutputFormat.json:
        _write(render.to_json(render.predictions_json(results)))
    elif fmt is OutputFormat.csv:
        _write(render.predictions_csv(results))
    else:
        out.print(render.predictions_view(results))
    failed = [r for r in results if r.error]
    if failed:
        for r in failed:
            err.print(f"[bold red]error:[/] {r.image}: {r.error}", highlight=False, soft_wrap=True)
        err.print(f"{len(failed)} of {len(results)} inputs failed", highlight=False)
        raise typer.Exit(1)


@contextlib.contextmanager
def _download_progress(built: Any) -> Iterator[Any]:
    """A download bar on stderr if the weights must be fetched; yields the update callback."""
    from cvzoo import registry

    pretrained = built.pretrained
    if pretrained is None or registry.cached_weights_path(pretrained).is_file() or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    columns = (
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"downloading {pretrained.qualname}", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


@contextlib.contextmanager
def _image_progress(total: int) -> Iterator[Any]:
    """A progress bar on stderr for more than a handful of images; yields the update callback."""
    if total <= 8 or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "images", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as p:
        task = p.add_task("images", total=total)
        yield lambda done: p.update(task, completed=done)


# --- speed ---------------------------------------------------------------------------------------


@app.command()
def bench(
    models: Annotated[
        list[str], typer.Argument(help="Models to time.", autocompletion=complete_model, metavar="MODEL...")
    ],
    batch_size: Annotated[
        str, typer.Option("--batch-size", "-b", help="Comma-separated batch sizes.")
    ] = "1,8,32",
    device: Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:N or mps.")] = None,
    precision: Annotated[Precision, typer.Option("--precision", help="Number format.")] = Precision.fp32,
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
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """Latency, throughput and peak memory on synthetic input, per batch size."""
    from cvzoo import bench as benchmark
    from cvzoo import registry, stats

    _only(fmt, *TABLE_JSON_CSV)
    sizes = benchmark.parse_batch_sizes(batch_size)
    requested = stats.parse_input_size(input_size) if input_size else None
    builds = [registry.build(m, weights or "DEFAULT", catalog=_load_catalog) for m in models]
    pretrained = weights is not None
    for built in builds:
        note = benchmark.quantized_note(built, pretrained)
        if note:
            err.print(f"note: {note}", highlight=False)
    rows = []
    with _step_progress(len(builds) * len(sizes) * (warmup + iters), "timing") as on_step:
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
    if fmt is OutputFormat.json:
        _write(render.to_json(rows))
    elif fmt is OutputFormat.csv:
        _write(render.bench_csv(rows))
    else:
        out.print(render.bench_table(rows))
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
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, json or csv.")
    ] = OutputFormat.table,
) -> None:
    """Models side by side: size, cost, published accuracy, and speed with --bench."""
    _only(fmt, *TABLE_JSON_CSV)
    if len(models) < 2:
        raise typer.BadParameter("give two or more models to compare", param_hint="'MODEL...'")
    zoo = _load_catalog()
    rows = catalog.compare_rows(zoo, models)
    if with_bench:
        from cvzoo import bench as benchmark

        with _step_progress(len(rows) * 13, "timing") as on_step:  # 3 warm-up + 10 timed calls each
            rows = benchmark.with_speed(rows, zoo, device, batch_size, on_step)
    if fmt is OutputFormat.json:
        _write(render.to_json(rows))
    elif fmt is OutputFormat.csv:
        _write(render.to_csv(rows))
    else:
        out.print(render.compare_table(rows))


@contextlib.contextmanager
def _step_progress(total: int, label: str) -> Iterator[Any]:
    """A progress bar on stderr, in a terminal; yields the per-step callback."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        label, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as p:
        task = p.add_task(label, total=total)
        yield lambda: p.advance(task)


# --- learning the zoo ----------------------------------------------------------------------------


@app.command()
def info(
    model: Annotated[
        str, typer.Argument(help="A torchvision model.", autocompletion=complete_model, metavar="MODEL")
    ],
    fmt: InspectFormat = OutputFormat.table,
) -> None:
    """The model card: family, idea, paper, and every weight set with its metrics."""
    _only(fmt, *TABLE_OR_JSON)
    result = catalog.model_info(_load_catalog(), model)
    if fmt is OutputFormat.json:
        _write(render.to_json(result))
    else:
        out.print(render.info_view(result))


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
    from cvzoo import plot as plotting

    points = plotting.plot_points(_load_catalog(), patterns or (), task, x, y)
    title = f"torchvision {task.value} models: {y.value} against {x.value} (DEFAULT weights)"
    plotting.write_plot(points, out, x, y, title)
    err.print(f"wrote {out} ({len(points)} models, {sum(p.pareto for p in points)} on the Pareto front)")


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def main() -> None:
    """The ``cvzoo`` console script."""
    try:
        app(prog_name="cvzoo")
    except BrokenPipeError:  # `cvzoo list | head`: the reader has gone, which is no error
        sys.stderr.close()
        os._exit(0)
