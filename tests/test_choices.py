"""Every member of every closed choice the CLI offers is accepted: help and completion never
offer something that is then refused.

The commands and their choices are read from the click command the app builds, so that a new
command, format or enum member is walked here without anyone adding it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from conftest import TASK_PACKAGES, plant_weights
from PIL import Image
from typer.testing import CliRunner

from cvzoo.catalog import SortKey, Task
from cvzoo.cli import app
from cvzoo.cli.trying import Engine, RayFormat
from cvzoo.infer import Preprocess
from cvzoo.plot import XAxis, YAxis
from cvzoo.render import GraphFormat, InferFormat, ListFormat, TableJson, TableJsonCsv
from cvzoo.runtime import Compile, Precision

runner = CliRunner()
# click as typer builds it (typer 0.26-0.28 vendor their own click: no `import click` here)
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def choice_param(command: str, name: str):
    return next((p for p in COMMANDS[command].params if p.name == name), None)


def choices(command: str, name: str) -> list[str]:
    param = choice_param(command, name)
    assert param is not None and getattr(param.type, "choices", None), f"{command} --{name}"
    return list(param.type.choices)


def one_clean_error(stderr: str) -> str:
    """The single ``error: ...`` line a user mistake gets, with no traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


# --- the choices themselves -----------------------------------------------------------------------

# Every closed choice of the CLI: (parameter name) -> the enum it must offer, member for member.
ENUMS = {
    "task": Task,
    "sort": SortKey,
    "precision": Precision,
    "x": XAxis,
    "y": YAxis,
    "preprocess": Preprocess,
    "engine": Engine,
    "ray_format": RayFormat,
    "compile_": Compile,
}
FORMATS = {ListFormat, TableJson, TableJsonCsv, GraphFormat, InferFormat}
CHOICE_PARAMS = [
    (command, p.name)
    for command, cmd in COMMANDS.items()
    for p in cmd.params
    if getattr(p.type, "choices", None)  # a closed choice (click's Choice or typer's own)
]


@pytest.mark.parametrize(("command", "name"), CHOICE_PARAMS, ids=[f"{c}--{n}" for c, n in CHOICE_PARAMS])
def test_every_choice_is_an_enum_walked_here(command, name):
    offered = choices(command, name)
    if name == "fmt":
        assert any(offered == [m.value for m in enum] for enum in FORMATS), offered
    else:
        assert name in ENUMS, f"cvzoo {command} --{name} is a new closed choice: walk its members here"
        assert offered == [m.value for m in ENUMS[name]]


@pytest.mark.parametrize(("command", "name"), CHOICE_PARAMS, ids=[f"{c}--{n}" for c, n in CHOICE_PARAMS])
def test_help_and_completion_offer_every_choice(command, name):
    param = choice_param(command, name)
    assert param is not None
    ctx = COMMANDS[command].make_context(command, [], resilient_parsing=True)
    completed = [item.value for item in param.shell_complete(ctx, "")]
    assert completed == choices(command, name)
    help_text = run(command, "--help").stdout
    listed = "|".join(choices(command, name))
    assert f"<{listed}>" in help_text or f"[{listed}]" in help_text, help_text  # typer's two styles


# --- shared fixtures: an image, and planted weights ----------------------------------------------


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("images") / "photo.jpg"
    Image.radial_gradient("L").convert("RGB").resize((96, 72)).save(path, quality=90)
    return path


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory) -> Path:
    """A TORCH_HOME with random weights planted for squeezenet1_1 and quantized_resnet18, once."""
    home = tmp_path_factory.mktemp("planted-torch-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(home))
        plant_weights("squeezenet1_1")
        plant_weights("quantized_resnet18")
    return home


@pytest.fixture
def planted(weights_home, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(weights_home))


# --- every --format of every command --------------------------------------------------------------


def cheap_invocation(command: str, image: Path) -> list[str] | None:
    """Arguments that make ``command`` do its job quickly, offline; None for an unknown command."""
    return {
        "list": ["alexnet"],
        "summary": ["resnet18", "-d", "1"],
        "params": ["resnet18", "-d", "1"],
        "flops": ["resnet18", "-d", "1"],
        "graph": ["resnet18", "-d", "1"],
        "info": ["resnet18"],
        "compare": ["resnet18", "alexnet"],
        "bench": ["squeezenet1_1", "-b", "1", "--iters", "1", "--warmup", "0"],
        "infer": ["squeezenet1_1", str(image)],
    }.get(command)


FORMAT_CASES = [
    (command, fmt)
    for command in COMMANDS
    if choice_param(command, "fmt") is not None
    for fmt in choices(command, "fmt")
]


@pytest.mark.parametrize(("command", "fmt"), FORMAT_CASES, ids=[f"{c}-{f}" for c, f in FORMAT_CASES])
def test_every_format_of_every_command(warm_cache, planted, image, command, fmt):
    args = cheap_invocation(command, image)
    if args is None:
        pytest.fail(f"cvzoo {command} has a --format but no cheap invocation in this test: add one")
    result = run(command, *args, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert out.strip(), "no output"
    if fmt == "json":
        assert json.loads(out)
    elif fmt == "jsonl":  # a JSON document per line
        assert all(json.loads(line) for line in out.splitlines())
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert len(rows) >= 2 and all(len(r) == len(rows[0]) for r in rows), out
    elif fmt == "markdown":
        assert out.startswith("| ")
    elif fmt == "table":
        assert not out.lstrip().startswith(("[", "{", "| "))
    elif fmt in ("svg", "html", "dot", "mermaid"):  # graph's text formats, on stdout without --out
        head = {"svg": "<svg", "html": "<!DOCTYPE html>", "dot": "digraph", "mermaid": "flowchart"}[fmt]
        assert out.startswith(head), out[:200]
    elif fmt == "png":  # bytes, to a pipe
        assert result.stdout_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        pytest.fail(f"format {fmt} is new: say here what its output must look like")


# --- list --task -----------------------------------------------------------------------------------


def torchvision_names(task: Task) -> set[str]:
    """The models of ``task`` by torchvision's own account: its sub-package's list_models."""
    from torchvision import models

    assert set(TASK_PACKAGES) == set(Task), "a new Task: name its torchvision sub-package in conftest"
    names = {t: set(models.list_models(module=m)) for t, m in TASK_PACKAGES.items()}
    if task is Task.classification:
        return names[task] - set().union(*(v for t, v in names.items() if t is not task))
    return names[task]


@pytest.mark.parametrize("task", list(Task), ids=[t.value for t in Task])
def test_list_every_task(warm_cache, task):
    result = run("list", "--task", task.value, "-f", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["task"] for r in rows} == {task.value}
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)) and set(names) == torchvision_names(task)


def test_the_tasks_cover_torchvision(warm_cache):
    from torchvision.models import list_models

    assert set().union(*(torchvision_names(t) for t in Task)) == set(list_models())


# --- plot --task, --x, --y -------------------------------------------------------------------------


def publishes_accuracy(task: Task) -> bool:
    """Whether any model of ``task`` publishes a top-1 accuracy for its DEFAULT weights (torchvision)."""
    from torchvision.models import get_model_weights

    return any(
        "acc@1" in metrics
        for name in torchvision_names(task)
        for metrics in get_model_weights(name).DEFAULT.meta.get("_metrics", {}).values()
    )


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("task", list(Task), ids=[t.value for t in Task])
def test_plot_every_task(warm_cache, tmp_path, task):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "p.png"
    result = run("plot", "--task", task.value, "--out", str(out))
    if publishes_accuracy(task):  # classification, quantized and video
        assert result.exit_code == 0, result.stderr
        assert_png(out)
        assert [p.name for p in folder.iterdir()] == ["p.png"]
    else:  # detection, segmentation and optical flow publish no top-1 accuracy
        assert result.exit_code == 1
        line = one_clean_error(result.stderr)
        assert task.value in line
        assert list(folder.iterdir()) == []


def test_plot_tasks_that_publish_accuracy():
    plottable = {t for t in Task if publishes_accuracy(t)}
    assert plottable == {Task.classification, Task.quantized, Task.video}


AXES = [(x, y) for x in XAxis for y in YAxis]


@pytest.mark.parametrize(("x", "y"), AXES, ids=[f"{x.value}-{y.value}" for x, y in AXES])
def test_plot_every_axis_pair(warm_cache, tmp_path, x, y):
    out = tmp_path / "p.png"
    result = run("plot", "--x", x.value, "--y", y.value, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert_png(out)
    assert "Traceback" not in result.stderr


# --- --precision -----------------------------------------------------------------------------------


DTYPES = {Precision.fp32: "float32", Precision.bf16: "bfloat16", Precision.fp16: "float16"}


def names_of(dtypes) -> set[str]:
    return {str(d).removeprefix("torch.") for d in dtypes}


def cpu_computes_in(precision: Precision) -> bool:
    """Whether this torch runs a convolution under CPU autocast in ``precision``."""
    import torch

    if precision is Precision.fp32:
        return True
    dtype = torch.bfloat16 if precision is Precision.bf16 else torch.float16
    try:
        with torch.autocast(device_type="cpu", dtype=dtype):
            torch.nn.functional.conv2d(torch.rand(1, 3, 8, 8), torch.rand(4, 3, 3, 3))
    except Exception:
        return False
    return True


@pytest.mark.parametrize("precision", list(Precision), ids=[p.value for p in Precision])
def test_bench_every_precision(warm_cache, precision, compute_dtypes):
    result = run(
        "bench",
        "squeezenet1_1",
        "-b",
        "1",
        "--iters",
        "1",
        "--warmup",
        "0",
        "--precision",
        precision.value,
        "--device",
        "cpu",
        "-f",
        "json",
    )
    assert "Traceback" not in result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["precision"], row["device"], row["batch_size"]) == (precision.value, "cpu", 1)
    if cpu_computes_in(precision):
        assert result.exit_code == 0, result.stderr
        assert row["status"] == "ok" and row["error"] is None
        assert names_of(compute_dtypes) == {DTYPES[precision]}  # timed in it, not only labelled so
        assert row["latency_ms"]["p50"] > 0 and row["throughput"] > 0
    else:
        assert result.exit_code == 1
        assert row["status"] == "error" and row["error"] and "\n" not in row["error"]
        assert row["latency_ms"] is None


@pytest.mark.parametrize("precision", list(Precision), ids=[p.value for p in Precision])
def test_infer_every_precision(warm_cache, planted, image, precision, compute_dtypes):
    result = run(
        "infer", "squeezenet1_1", str(image), "--precision", precision.value, "--device", "cpu", "-f", "json"
    )
    assert "Traceback" not in result.stderr
    if cpu_computes_in(precision):
        assert result.exit_code == 0, result.stderr
        assert names_of(compute_dtypes) == {DTYPES[precision]}  # the model really computed in it
        (answer,) = json.loads(result.stdout)
        assert answer["image"].endswith("photo.jpg") and "error" not in answer
        probabilities = [p["probability"] for p in answer["predictions"]]
        assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
    else:
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ")


@pytest.mark.parametrize("precision", list(Precision), ids=[p.value for p in Precision])
def test_quantized_infer_takes_fp32_only(warm_cache, planted, image, precision):
    result = run("infer", "quantized_resnet18", str(image), "--precision", precision.value, "-f", "json")
    if precision is Precision.fp32:
        assert result.exit_code == 0, result.stderr
        (answer,) = json.loads(result.stdout)
        assert len(answer["predictions"]) == 5
    else:
        assert result.exit_code == 2
        assert result.stdout == ""
        line = one_clean_error(result.stderr)
        assert line == "error: quantized models compute in int8; leave --precision at fp32"


@pytest.mark.parametrize("how", list(Preprocess), ids=lambda p: p.value)
def test_every_preprocess_runs_a_users_model(warm_cache, tmp_path, how):
    net = tmp_path / "net.py"
    net.write_text(
        "from torch import nn\n\n"
        "def net():\n"
        "    pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), pool, nn.Linear(4, 3))\n"
    )
    Image.new("RGB", (50, 40), "orange").save(tmp_path / "a.png")
    result = run(
        "infer", f"{net}:net", str(tmp_path / "a.png"), "--preprocess", how.value, "-i", "32", "-f", "json"
    )
    assert result.exit_code == 0, result.stderr
    assert [p["index"] for p in json.loads(result.stdout)[0]["predictions"]] != []
