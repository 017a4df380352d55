"""Every view fits the terminal it is in, and piped output is whole: golden files at 60, 80, 120.

A terminal's width reaches cvzoo as COLUMNS here (CliRunner is not a terminal); without it,
output is a pipe and is never cut. Each golden holds stdout and, after a marker, stderr (where
the note on hidden columns goes).
"""

from __future__ import annotations

import re

import pytest
from conftest import run
from torchvision.models import get_model_weights

WIDTHS = (60, 80, 120)
COURSE = ["alexnet", "vgg19", "resnet152", "densenet201", "inception_v3", "efficientnet_b0"]
TREE_HEADERS = ("Module", "Type", "Shape", "Params", "MACs")


def at_width(monkeypatch, width: int | None, *args: str):
    if width is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", str(width))
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    return result


def both(result) -> str:
    return result.stdout + (f"--- stderr\n{result.stderr}" if result.stderr else "")


def headers(text: str) -> list[str]:
    first = text.splitlines()[0]
    return [h for h in re.split(r" {2,}", first.strip())]


def assert_nothing_cut(text: str, width: int | None) -> None:
    assert "…" not in text, "a value was cut short"
    if width is not None:
        assert all(len(line) <= width for line in text.splitlines()), "a line is wider than the terminal"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(
    "args", [(m,) for m in COURSE] + [("vit_b_16", "-d", "3")], ids=lambda a: "-".join(a)
)
def test_summary_at_every_width(warm_cache, golden, monkeypatch, args, width):
    result = at_width(monkeypatch, width, "summary", *args)
    golden(f"widths/summary_{'_'.join(args).replace('-', '')}_w{width}.txt", both(result))
    assert_nothing_cut(result.stdout, width)
    shown = headers(result.stdout)
    if width >= 80:  # the promise: at 80 columns every column of the tree is there
        assert shown[0] == "Module" and shown[1] == "Type" and shown[2] in ("Output shape", "Shape")
        assert shown[3:] == ["Params", "MACs"] and result.stderr == ""
    else:  # what gave way is said on stderr, in the documented order (Type first)
        hidden = [
            h
            for h in ("Type", "Output shape")
            if h not in shown and not (h == "Output shape" and "Shape" in shown)
        ]
        if hidden:
            assert result.stderr.startswith(f"note: {', '.join(hidden)} hidden to fit {width} columns")
    total = get_model_weights(args[0]).DEFAULT.meta["num_params"]
    assert f"{total:,}" in result.stdout  # the totals below the tree keep every digit


def test_module_names_are_their_own_and_json_keeps_the_path(warm_cache, monkeypatch):
    text = at_width(monkeypatch, 120, "summary", "vit_b_16", "-d", "3").stdout
    assert "encoder_layer_0-11 ×12" in text and "encoder.layers" not in text
    data = __import__("json").loads(run("summary", "vit_b_16", "-d", "3", "-f", "json").stdout)
    names = [layer["name"] for layer in data["layers"]]
    assert "encoder.layers.encoder_layer_0-11" in names and "encoder.pos_embedding" in names


def test_piped_output_is_whole(warm_cache, monkeypatch):
    """No terminal and no COLUMNS: every column, however wide, and notes only on stderr."""
    wide = at_width(monkeypatch, None, "list")
    assert headers(wide.stdout) == [
        "Model",
        "Task",
        "Params",
        "GMACs",
        "Acc@1",
        "Acc@5",
        "Metric",
        "MiB",
        "Input",
    ]
    assert wide.stderr == ""
    assert max(len(line) for line in wide.stdout.splitlines()) > 80
    tree = at_width(monkeypatch, None, "summary", "inception_v3")
    assert "Output shape" in tree.stdout and "[1, 2048, 8, 8]" in tree.stdout and tree.stderr == ""
    assert_nothing_cut(tree.stdout, None)
    narrow = at_width(monkeypatch, 80, "list")
    assert "hidden to fit 80 columns" in narrow.stderr and "hidden" not in narrow.stdout


@pytest.mark.parametrize("width", WIDTHS)
def test_list_compare_and_info_at_every_width(warm_cache, golden, monkeypatch, width):
    for name, args in [
        ("list", ("list", "resnet*", "vgg1?", "vit_b*", "mask*", "--sort", "acc1", "--desc")),
        ("compare", ("compare", "resnet50", "efficientnet_b0", "vit_b_16", "convnext_tiny", "swin_t")),
        ("info_resnet50", ("info", "resnet50")),
        ("info_vit_h_14", ("info", "vit_h_14")),
    ]:
        result = at_width(monkeypatch, width, *args)
        golden(f"widths/{name}_w{width}.txt", both(result))
        lines = result.stdout.splitlines()
        urls = [line for line in lines if "https://" in line]
        # URLs are never broken: each is whole on its line (even where that line is wider than the terminal)
        for line in urls:
            assert re.search(r"https://\S+$", line.rstrip()), line
        assert_nothing_cut("\n".join(line for line in lines if line not in urls), width)
    at_100 = at_width(monkeypatch, 100, "list").stdout
    assert "Metric" in headers(at_100) and "Acc@5" in headers(at_100)  # 100 columns hold more than 80


@pytest.mark.parametrize("no_color", [True, False], ids=["NO_COLOR", "colour"])
def test_a_terminal_without_colour_marks_the_best_in_the_text(monkeypatch, no_color):
    """NO_COLOR in a terminal: the best of each column is starred, as in a pipe, not bold alone."""
    import importlib

    from rich.console import Console

    app = importlib.import_module("cvzoo.cli.app")  # the module (the package's ``app`` is the Typer app)
    terminal = Console(force_terminal=True, color_system="standard", no_color=no_color, width=100)
    monkeypatch.setattr(app, "out", terminal)
    assert app.surface().color is not no_color
