"""plot: the accuracy-against-cost points, their Pareto front, and the picture written safely."""

from __future__ import annotations

import os
import sys

import pytest
from conftest import run

from cvzoo import plot
from cvzoo.catalog import Task
from cvzoo.errors import CvzooError
from cvzoo.render.chart import write_plot


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
    with pytest.raises(CvzooError, match="none of the 12 detection models publishes acc1"):
        plot.plot_points(zoo, task=Task.detection)


def test_plot_writes_a_real_png_replacing_the_old_file(warm_cache, tmp_path):
    out = tmp_path / "zoo.png"
    out.write_bytes(b"old")
    result = run("plot", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert os.listdir(tmp_path) == ["zoo.png"]  # no temporary file left
    svg = tmp_path / "zoo.svg"
    run("plot", "vgg", "resnet", "--out", str(svg), "--x", "params")
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
        write_plot(plot.plot_points(zoo), out, plot.XAxis.gmacs, plot.YAxis.acc1, Task.classification)
    assert out.read_bytes() == b"the user's picture"
    assert os.listdir(tmp_path) == ["zoo.png"]


def test_plot_without_matplotlib_says_how_to_install(zoo, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(CvzooError, match=r"pip install 'cvzoo\[plot\]'"):
        write_plot(
            plot.plot_points(zoo), tmp_path / "z.png", plot.XAxis.gmacs, plot.YAxis.acc1, Task.classification
        )


@pytest.mark.parametrize("out", ["zoo.txt", "missing-dir/zoo.png", "."])
def test_plot_bad_out_is_a_usage_error(warm_cache, tmp_path, out):
    result = run("plot", "--out", str(tmp_path / out))
    assert result.exit_code == 2 and "--out" in result.stderr


def test_labels_are_placed_where_they_overlap_nothing(zoo, tmp_path):
    """Every label of the crowded 1-40 GMACs cluster sits clear of the others and of every dot."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from cvzoo.render import chart

    points = plot.plot_points(zoo)
    fig, ax = plt.subplots(figsize=(12, 7.5), dpi=120)
    chart._draw(ax, points)
    fig.tight_layout()
    chart._place_labels(fig, ax, points)
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text()]
    assert sorted(t.get_text() for t in labels) == sorted(p.name for p in points)  # every point named
    boxes = [t.get_window_extent(renderer) for t in labels]
    overlapping = [
        (labels[i].get_text(), labels[j].get_text())
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]
    assert overlapping == []
    plt.close(fig)


def test_the_picture_explains_itself_and_respects_the_umask(warm_cache, tmp_path):
    out = tmp_path / "zoo.svg"
    old = os.umask(0o027)
    try:
        result = run("plot", "--out", str(out))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600
    svg = out.read_text()
    assert "top-1 accuracy against compute" in svg and "acc1 against gmacs" not in svg
    assert "bold name: a milestone, or no model is cheaper and as accurate" in svg
    assert "own input size (224 to 600 px)" in svg
    out.chmod(0o604)  # an existing file keeps its own permissions when replaced
    assert run("plot", "--out", str(out)).exit_code == 0 and out.stat().st_mode & 0o777 == 0o604
