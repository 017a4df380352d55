"""info, plot and completion: learning the zoo from the catalogue, without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import zoo_catalog
from typer.testing import CliRunner

from cvzoo import plot
from cvzoo.catalog import Task
from cvzoo.cli import app
from cvzoo.errors import CvzooError, UsageError
from cvzoo.render.chart import write_plot

runner = CliRunner()
ALL_MODELS = sorted(zoo_catalog().models)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_info_for_every_model(warm_cache, name):
    result = runner.invoke(app, ["info", name, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    entry = warm_cache.get(name)
    assert {"name", "family", "year", "paper", "idea", "weights"} <= set(data)
    assert data["name"] == name and data["task"] == entry.task.value
    assert data["family"] and data["idea"] and 1989 <= data["year"] <= 2026
    assert data["paper"]["arxiv"].startswith("https://arxiv.org/abs/")
    assert [w["name"] for w in data["weights"]] == [w.name for w in entry.weights]
    assert [w["name"] for w in data["weights"] if w["is_default"]] == [entry.default.name]
    for w, published in zip(data["weights"], entry.weights, strict=True):
        assert w["params"] == published.params and w["gmacs"] == published.gmacs
        assert w["recipe"] == published.recipe and w["transforms"]["class"]


def test_info_table_teaches(warm_cache):
    text = runner.invoke(app, ["info", "resnet50"]).stdout
    assert "ResNet (2015)" in text and "milestone" in text
    assert "Deep Residual Learning for Image Recognition" in text and "arxiv.org/abs/1512.03385" in text
    assert "IMAGENET1K_V2 *" in text and "resize 232 bilinear, crop 224" in text
    assert "mean [0.485, 0.456, 0.406]" in text


def test_info_unknown_model(warm_cache):
    result = runner.invoke(app, ["info", "alexnett"])
    assert result.exit_code == 2 and "did you mean 'alexnet'" in result.stderr


# --- plot ----------------------------------------------------------------------------------------


def test_pareto_front_and_milestones(zoo):
    points = plot.plot_points(zoo)
    assert len(points) == len(zoo.select(task=Task.classification))
    xs = [p.x for p in points]
    assert xs == sorted(xs)
    front = [p for p in points if p.pareto]
    for p in points:  # nothing off the front is both cheaper-or-equal and more accurate than a front point
        if not p.pareto:
            assert any(f.x <= p.x and f.y >= p.y for f in front)
    assert [f.y for f in front] == sorted(f.y for f in front)
    milestones = {p.name for p in points if p.milestone}
    assert {
        "alexnet",
        "vgg16",
        "googlenet",
        "inception_v3",
        "resnet50",
        "densenet121",
        "efficientnet_b0",
    } <= milestones
    assert "vit_b_16" not in milestones


def test_plot_axes(zoo):
    by_params = {
        p.name: p for p in plot.plot_points(zoo, ["resnet*"], x=plot.XAxis.params, y=plot.YAxis.acc5)
    }
    assert by_params["resnet50"].x == pytest.approx(25.557032) and by_params["resnet50"].y == 95.434
    video = plot.plot_points(zoo, task=Task.video)
    assert {p.name for p in video} == {e.name for e in zoo.select(task=Task.video)}
    with pytest.raises(CvzooError, match="no detection model"):
        plot.plot_points(zoo, task=Task.detection)


def test_plot_writes_a_real_png_replacing_the_old_file(warm_cache, tmp_path):
    out = tmp_path / "zoo.png"
    out.write_bytes(b"old")
    result = runner.invoke(app, ["plot", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert os.listdir(tmp_path) == ["zoo.png"]  # no temporary file left
    svg = tmp_path / "zoo.svg"
    runner.invoke(app, ["plot", "vgg", "resnet", "--out", str(svg), "--x", "params"])
    assert "<svg" in svg.read_text()[:500] and "resnet50" in svg.read_text()


def test_a_failed_plot_leaves_the_existing_file_whole(zoo, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "zoo.png"
    out.write_bytes(b"the user's picture")

    def explode(self, *args, **kwargs):
        with open(args[0], "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", explode)
    with pytest.raises(CvzooError, match="cannot write .*disk full"):
        write_plot(plot.plot_points(zoo), out, plot.XAxis.gmacs, plot.YAxis.acc1, "t")
    assert out.read_bytes() == b"the user's picture"
    assert os.listdir(tmp_path) == ["zoo.png"]


def test_plot_without_matplotlib_says_how_to_install(zoo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(CvzooError, match=r"pip install 'cvzoo\[plot\]'"):
        write_plot(plot.plot_points(zoo), tmp_path / "z.png", plot.XAxis.gmacs, plot.YAxis.acc1, "t")


@pytest.mark.parametrize("out", ["zoo.txt", "missing-dir/zoo.png", "."])
def test_plot_bad_out_is_a_usage_error(warm_cache, tmp_path, out):
    result = runner.invoke(app, ["plot", "--out", str(tmp_path / out)])
    assert result.exit_code == 2 and "--out" in result.stderr


# --- completion ----------------------------------------------------------------------------------


def _complete(words: str, cword: int) -> subprocess.CompletedProcess:
    """Ask cvzoo for completions the way bash does, in a fresh process, reporting torch's import."""
    probe = (
        "import runpy, sys\n"
        "try:\n    runpy.run_module('cvzoo', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH_IMPORTED=%s' % ('torch' in sys.modules))\n"
    )
    env = {**os.environ, "_CVZOO_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)


def test_completing_model_names_offers_the_resnets_without_torch(warm_cache):
    proc = _complete("cvzoo summary resn", 2)
    offered = proc.stdout.split()
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} <= set(offered)
    assert all(name.startswith("resn") for name in offered)
    assert "TORCH_IMPORTED=False" in proc.stderr


def test_completing_weights_and_subcommands(warm_cache):
    assert _complete("cvzoo summary resnet50 --weights IM", 4).stdout.split() == [
        "IMAGENET1K_V1",
        "IMAGENET1K_V2",
    ]
    assert "summary" in _complete("cvzoo su", 1).stdout.split()
    assert "info" in _complete("cvzoo i", 1).stdout.split()


def test_info_imports_no_torch(warm_cache):
    probe = (
        "import runpy, sys\nsys.argv = ['cvzoo', 'info', 'resnet50', '-f', 'json']\n"
        "try:\n    runpy.run_module('cvzoo', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH_IMPORTED=%s' % ('torch' in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert json.loads(proc.stdout)["family"] == "resnet"
    assert "TORCH_IMPORTED=False" in proc.stderr


def test_usage_error_type():
    assert UsageError.exit_code == 2
