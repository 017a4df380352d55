"""bench and compare: timing rows that add up, failures that stay local, and the side-by-side view."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from cvzoo import bench
from cvzoo.cli import app
from cvzoo.errors import UsageError
from cvzoo.registry import build

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_bench_rows_are_consistent(zoo):
    rows = bench.bench_model(
        build("squeezenet1_1", catalog=zoo), torch.device("cpu"), [1, 2], warmup=1, iters=3
    )
    assert [r.batch_size for r in rows] == [1, 2]
    for r in rows:
        assert r.status == "ok" and r.iterations == 3
        assert 0 < r.latency_ms.p50 <= r.latency_ms.p90 <= r.latency_ms.p99
        assert r.throughput == pytest.approx(r.batch_size * 1000 / r.latency_ms.mean)
        macs = zoo.get("squeezenet1_1").default.gmacs * r.batch_size
        assert r.gmacs_per_s == pytest.approx(macs * 1000 / r.latency_ms.mean, rel=1e-3)
        assert r.peak_memory_bytes > 0 and r.memory_kind == "process peak RSS"


def test_bench_agrees_with_a_plain_timing_loop(zoo):
    """cvzoo's timing and a hand-written loop over the same model agree within noise."""
    import time

    from torchvision.models import get_model

    model = get_model("squeezenet1_1", weights=None).eval()
    x = torch.rand(4, 3, 224, 224)
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    plain_ms = sorted(times)[2] * 1000
    row = bench.bench_model(
        build("squeezenet1_1", catalog=zoo), torch.device("cpu"), [4], channels_last=False, warmup=1, iters=5
    )[0]
    assert 0.33 < row.latency_ms.p50 / plain_ms < 3  # same order: no hidden work, nothing skipped


def test_a_failing_batch_size_is_reported_and_the_others_run(zoo, monkeypatch):
    real_time = bench._time

    def fail_on_big(ready, example, warmup, iters, macs, batch, common, on_step):
        if batch == 64:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_time(ready, example, warmup, iters, macs, batch, common, on_step)

    monkeypatch.setattr(bench, "_time", fail_on_big)
    rows = bench.bench_model(
        build("squeezenet1_1", catalog=zoo), torch.device("cpu"), [1, 64, 2], warmup=0, iters=1
    )
    assert [(r.batch_size, r.status) for r in rows] == [(1, "ok"), (64, "oom"), (2, "ok")]
    assert rows[1].error == "out of memory" and rows[1].latency_ms is None


def test_parse_batch_sizes():
    assert bench.parse_batch_sizes("1,8,32") == [1, 8, 32]
    for bad in ("", "a", "0", "1,-2"):
        with pytest.raises(UsageError):
            bench.parse_batch_sizes(bad)


def test_percentiles():
    assert bench._percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert bench._percentile([1.0, 2.0, 3.0, 4.0, 5.0], 90) == pytest.approx(4.6)
    assert bench._percentile([7.0], 99) == 7.0


def test_bench_cli_json(warm_cache):
    result = run(
        "bench",
        "squeezenet1_1",
        "mobilenet_v3_small",
        "-b",
        "1,2",
        "--iters",
        "2",
        "--warmup",
        "1",
        "-f",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["model"], r["batch_size"]) for r in rows] == [
        ("squeezenet1_1", 1),
        ("squeezenet1_1", 2),
        ("mobilenet_v3_small", 1),
        ("mobilenet_v3_small", 2),
    ]
    for r in rows:
        assert {"model", "device", "precision", "batch_size", "latency_ms", "throughput"} <= set(r)
        assert set(r["latency_ms"]) == {"p50", "p90", "p99", "mean"}
        assert r["device"] == "cpu" and r["precision"] == "fp32"
    table = run("bench", "squeezenet1_1", "-b", "1", "--iters", "1", "--warmup", "0").stdout
    assert "p50 ms" in table and "img/s" in table and "squeezenet1_1" in table


def test_bench_other_tasks(warm_cache):
    result = run("bench", "r3d_18", "-b", "1", "--iters", "1", "--warmup", "0", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert "latency_p50_ms" in header and row.startswith("r3d_18,cpu,fp32,1,")


def test_bench_usage_errors(warm_cache):
    assert run("bench", "resnt18").exit_code == 2
    assert run("bench", "squeezenet1_1", "-b", "x").exit_code == 2


# --- compare -------------------------------------------------------------------------------------


def test_compare_json(warm_cache):
    rows = json.loads(run("compare", "resnet50", "efficientnet_b0", "vit_b_16", "-f", "json").stdout)
    assert [r["name"] for r in rows] == ["resnet50", "efficientnet_b0", "vit_b_16"]
    for r in rows:
        published = warm_cache.get(r["name"]).default
        assert r["params"] == published.params and r["gmacs"] == published.gmacs
        assert r["acc1"] == published.acc1 and r["file_size_mib"] == published.file_size_mib
    assert rows[0]["family"] == "ResNet" and rows[0]["year"] == 2015
    assert rows[0]["latency_ms"] is None


def test_compare_table_marks_the_best(warm_cache):
    from cvzoo.compare import compare_rows
    from cvzoo.render.speed import compare_table

    table = compare_table(compare_rows(warm_cache, ["resnet50", "efficientnet_b0"]))
    cells = {column.header: column._cells for column in table.columns}
    bold = {header: [c.style == "bold green" for c in column] for header, column in cells.items()}
    assert bold["Params"] == [False, True]  # efficientnet_b0 is smaller
    assert bold["Acc@1"] == [True, False]  # resnet50 (V2 weights) is more accurate
    assert bold["GMACs"] == [False, True]
    assert not any(bold["Model"])


def test_compare_with_bench(warm_cache):
    rows = json.loads(run("compare", "squeezenet1_1", "mobilenet_v3_small", "--bench", "-f", "json").stdout)
    assert all(r["latency_ms"] > 0 and r["throughput"] > 0 for r in rows)


def test_compare_unknown_model(warm_cache):
    result = run("compare", "resnet50", "resnet5")
    assert result.exit_code == 2 and "did you mean" in result.stderr


def test_bench_a_user_model_and_csv_with_a_failed_row_first(warm_cache, tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(
        "import torch\nfrom torch import nn\n\n"
        "class Broken(nn.Module):\n"
        "    def forward(self, x):\n"
        "        raise RuntimeError('boom')\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, 8, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.conv(x)\n"
    )
    args = ["bench", f"{path}:Broken", f"{path}:Net", "-i", "16", "-b", "1", "--iters", "1", "--warmup", "0"]
    result = run(*args, "-f", "csv")
    assert result.exit_code == 1  # one model failed
    lines = result.stdout.splitlines()
    assert "latency_p50_ms" in lines[0] and ",error," in lines[1] and ",ok," in lines[2]
    assert "give --input-size" in run("bench", f"{path}:Net").stderr


def test_compare_needs_two_models(warm_cache):
    assert run("compare", "resnet50").exit_code == 2
