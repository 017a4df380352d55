"""No input breaks the output: user text printed literally, closed pipes, bad kwargs, damaged
images, and 'nothing matched' messages that name what the user gave."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import photo, plant_weights, run
from PIL import Image

MARKUP = "[bold red]x[/]"  # text that rich would swallow as markup, or choke on


def one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- text from the user is printed as it is ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("summary", MARKUP), 2, f"unknown model '{MARKUP}'"),
        (("info", MARKUP), 2, f"unknown model '{MARKUP}'"),
        (("list", MARKUP), 1, f"no model matches '{MARKUP}'"),
        (("plot", MARKUP, "--out", "x.png"), 1, f"no model matches '{MARKUP}'"),
        (("compare", "resnet18", MARKUP), 2, f"unknown model '{MARKUP}'"),
        (("bench", MARKUP), 2, f"unknown model '{MARKUP}'"),
        (("summary", f"{MARKUP}.py:Net", "-i", "8"), 2, f"model file '{MARKUP}.py' not found"),
        (("summary", "resnet18", "-w", "[bold]"), 2, "no weights '[bold]'"),
        (("summary", "resnet18", "-w", MARKUP), 2, f"checkpoint '{MARKUP}' does not exist"),
        (
            ("summary", "resnet18", "-w", f"/nowhere/{MARKUP}.pth"),
            2,
            f"'/nowhere/{MARKUP}.pth' does not exist",
        ),
        (("infer", "resnet18", f"{MARKUP}.jpg"), 2, f"no file matches '{MARKUP}.jpg'"),
        (("infer", "resnet18", "[bold].jpg"), 2, "no file matches '[bold].jpg'"),
        (("summary", "resnet18", "-k", f"act={MARKUP}"), 2, repr(MARKUP)),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else str(v),
)
def test_user_text_is_printed_literally(warm_cache, tmp_path, monkeypatch, args, code, needle):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(run(*args), code)
    assert needle in line


def test_an_image_with_a_markup_name_reports_literally(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    bad = tmp_path / "[bold red]x[red].jpg"  # a name rich would read as markup
    bad.write_text("not an image")
    good = tmp_path / "good.jpg"
    photo(1).save(good)
    result = run("infer", "squeezenet1_1", str(bad), str(good))
    assert result.exit_code == 1
    assert f"error: {bad}: not an image PIL can read" in result.stderr
    assert str(bad) in result.stdout and str(good) in result.stdout  # the table names it as given


# --- a closed pipe ends quietly -----------------------------------------------------------------


def _into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run cvzoo with its stdout a pipe nobody reads any more (as `| head` leaves it)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "cvzoo", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("--version",),
        ("list", "--help"),
        *[("list", "-f", f) for f in ("table", "json", "csv", "markdown")],
        *[("info", "resnet50", "-f", f) for f in ("table", "json")],
        *[("compare", "resnet50", "alexnet", "-f", f) for f in ("table", "json", "csv")],
        *[(c, "resnet18", "-f", f) for c in ("summary", "params", "flops") for f in ("table", "json")],
        ("bench", "squeezenet1_1", "-b", "1", "--iters", "1", "--warmup", "0"),
        *[("infer", "squeezenet1_1", "{photo}", "-f", f) for f in ("table", "json", "csv")],
    ],
    ids=lambda a: " ".join(a),
)
def test_a_closed_pipe_ends_quietly_with_status_141(warm_cache, tmp_path, args):
    if "{photo}" in args:
        plant_weights("squeezenet1_1")
        photo(0).save(tmp_path / "p.jpg")
        args = tuple(str(tmp_path / "p.jpg") if a == "{photo}" else a for a in args)
    result = _into_closed_pipe(*args)
    assert result.returncode == 141, result.stderr  # 128 + SIGPIPE, as `yes | head` leaves yes
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "stdout", "reason"),
    [
        (("list",), "/dev/full", "No space left on device"),
        (("summary", "resnet18", "-f", "json"), "/dev/full", "No space left on device"),
        (("list", "-f", "json"), None, "Bad file descriptor"),  # the shell closed it: `>&-`
        (("--help",), "/dev/full", "No space left on device"),  # written while parsing
        (("--help",), None, "Bad file descriptor"),
    ],
    ids=[
        "list into a full disk",
        "summary json into a full disk",
        "list with stdout closed",
        "help into a full disk",
        "help with stdout closed",
    ],
)
def test_output_that_cannot_be_written_is_one_line_and_status_1(warm_cache, args, stdout, reason):
    if stdout is not None and not os.path.exists(stdout):
        pytest.skip(f"{stdout} is not on this system")
    env = {**os.environ, "CVZOO_CACHE_DIR": os.environ["CVZOO_CACHE_DIR"]}
    with open(stdout, "w") if stdout else open(os.devnull) as target:
        argv = [sys.executable, "-m", "cvzoo", *args]
        opened = {"stdout": target} if stdout else {"stdout": subprocess.DEVNULL}
        if stdout is None:  # start it with descriptor 1 closed
            argv = ["sh", "-c", '"$@" >&-', "sh", *argv]
        result = subprocess.run(argv, stderr=subprocess.PIPE, text=True, env=env, timeout=300, **opened)
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"error: cannot write the output: {reason}\n"


def test_a_users_model_that_fails_or_gives_no_scores_is_one_line(warm_cache, tmp_path):
    net = tmp_path / "net.py"
    net.write_text(
        "from torch import nn\n\n"
        "class Fails(nn.Module):\n"
        "    def forward(self, x):\n"
        "        raise ValueError('boom')\n\n"
        "class Dict(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.head = nn.Linear(3, 2)\n\n"
        "    def forward(self, x):\n"
        "        return {'out': self.head(x.mean((2, 3)))}\n"
    )
    photo(0, (40, 30)).save(tmp_path / "p.jpg")
    for name, error in (
        ("Fails", f"error: {net}:5: ValueError: boom"),
        ("Dict", f"error: {net}:Dict returned a dict; infer takes a tensor [N, classes]"),
    ):
        result = run("infer", f"{net}:{name}", str(tmp_path / "p.jpg"), "-i", "8")
        assert result.exit_code == 1 and "Traceback" not in result.stderr
        warning = (
            f"warning: {net}:{name} without --weights has small random weights: its predictions are noise"
        )
        assert result.stderr.splitlines() == [warning, error]


# --- --kwarg values are Python literals ---------------------------------------------------------


def test_a_kwarg_that_is_not_a_literal_is_a_usage_error_for_zoo_and_user_models(warm_cache, tmp_path):
    line = one_error_line(run("summary", "resnet18", "-w", "none", "-k", "num_classes=ten"), 2)
    assert line.startswith("error: --kwarg num_classes: 'ten' is not a Python literal")
    model = tmp_path / "net.py"
    model.write_text("from torch import nn\n\ndef net(act='relu'):\n    return nn.Conv2d(3, 4, 3)\n")
    line = one_error_line(run("summary", f"{model}:net", "-i", "8", "-k", "act=gelu"), 2)
    assert "--kwarg act: 'gelu' is not a Python literal" in line and "act='gelu'" in line
    ok = run("summary", f"{model}:net", "-i", "8", "-k", "act='gelu'", "-f", "json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["total_params"] == 4 * 27 + 4


# --- images with a damaged part that the picture doesn't need ------------------------------------


def _damaged_exif_jpeg() -> bytes:
    """A JPEG whose EXIF block says 'rotate' but whose tags are garbage beyond the header."""
    image = Image.fromarray(np.random.default_rng(3).integers(0, 255, (60, 80, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate
    exif[0x010F] = "Camera"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    start = data.find(b"Exif\x00\x00") + 14  # past its header: the tag directory
    data[start : start + 20] = b"\xff" * 20
    return bytes(data)


def test_an_image_with_damaged_exif_is_predicted_with_one_clean_warning(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    damaged = tmp_path / "damaged.jpg"
    damaged.write_bytes(_damaged_exif_jpeg())
    good = tmp_path / "good.jpg"
    photo(2).save(good)
    result = run("infer", "squeezenet1_1", str(damaged), str(good), "-f", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert all("predictions" in r for r in rows)
    assert rows[0]["warning"] == "damaged EXIF data: orientation not applied" and "warning" not in rows[1]
    assert result.stderr == f"warning: damaged EXIF data: orientation not applied: {damaged}\n"


def test_library_warnings_never_reach_stderr(warm_cache, tmp_path):
    plant_weights("squeezenet1_1")
    palette = tmp_path / "palette.png"  # PIL warns about palette images with transparency
    image = photo(4).convert("P")
    image.info["transparency"] = b"\x00" * 256
    image.save(palette, transparency=b"\x00" * 256)
    result = run("infer", "squeezenet1_1", str(palette), "-f", "json")
    assert result.exit_code == 0 and result.stderr == ""


# --- "nothing matched" names what was given -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("list", "resnet19", "vgg3"), "no model matches 'resnet19' 'vgg3'; did you mean"),
        (("list", "-t", "video", "resnet*"), "no model matches 'resnet*' among video models"),
        (("plot", "resnet19", "--out", "p.png"), "no model matches 'resnet19' among classification models"),
        (
            ("plot", "-t", "detection", "fasterrcnn*", "--out", "p.png"),
            "matching 'fasterrcnn*' publishes acc1",
        ),
        (("infer", "resnet18", "nothing-*.jpg"), "no file matches 'nothing-*.jpg'"),
    ],
)
def test_nothing_matched_names_the_pattern(warm_cache, tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code in (1, 2) and needle in one_error_line(result, result.exit_code)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize(
    "args",
    [("list", "resnet18", "zzz", "-f", "json"), ("plot", "resnet18", "zzz", "--out", "p.png")],
    ids=["list", "plot"],
)
def test_a_pattern_that_matched_nothing_beside_others_is_named(warm_cache, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("note: no model matches 'zzz'")


def test_a_kwarg_the_constructor_does_not_take_is_a_usage_error_for_zoo_and_user_models(warm_cache):
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "mynet.py"
    zoo = one_error_line(run("summary", "resnet18", "-w", "none", "-k", "nope=3"), 2)
    mine = one_error_line(run("summary", f"{example}:TinyNet", "-i", "32", "-k", "nope=3"), 2)
    assert "nope" in zoo and "nope" in mine and mine.startswith("error: --kwarg: ")
