"""bench and compare: timing rows that add up, failures that stay local, and the side-by-side view."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run
from torchvision.models import get_model, get_model_weights

from cvzoo import bench
from cvzoo.errors import UsageError
from cvzoo.registry import build


def test_bench_rows_agree_with_the_wall_clock_and_the_published_cost(zoo):
    import time

    started = time.perf_counter()
    rows = bench.bench_model(
        build("squeezenet1_1", catalog=zoo), torch.device("cpu"), [1, 2], warmup=1, iters=3
    )
    elapsed = time.perf_counter() - started
    assert [r.batch_size for r in rows] == [1, 2]
    for r in rows:
        assert r.status == "ok" and r.iterations == 3
        assert r.latency_ms.p50 > 0 and r.latency_ms.p90 is None and r.latency_ms.p99 is None  # too few
        # the work per image implied by two measured rates is torchvision's published cost
        published = get_model_weights("squeezenet1_1").DEFAULT.meta["_ops"]
        assert r.gmacs_per_s / r.throughput == pytest.approx(published, rel=1e-3)
        assert r.memory_kind == "RSS added by model and batch"
        # at least the weights (independently: an eager build's parameter bytes), far below the process
        weights = sum(p.numel() * p.element_size() for p in get_model("squeezenet1_1").parameters())
        assert weights <= r.peak_memory_bytes < 400 * 2**20
    # the images timed at the reported rates take no longer than the whole call did
    assert sum(r.iterations * r.batch_size / r.throughput for r in rows) < elapsed


def test_bench_times_exactly_the_calls_it_reports(zoo, monkeypatch):
    """Each batch size: the warm-up calls, then one call per timed iteration, on a batch of that size."""
    calls: list[int] = []
    real_prepare = bench.prepare

    def counting(model, *args, **kwargs):
        ready = real_prepare(model, *args, **kwargs)
        ready.model.register_forward_pre_hook(lambda module, inputs: calls.append(inputs[0].shape[0]))
        return ready

    monkeypatch.setattr(bench, "prepare", counting)
    rows = bench.bench_model(
        build("squeezenet1_1", catalog=zoo),
        torch.device("cpu"),
        [1, 3],
        channels_last=False,
        warmup=2,
        iters=5,
    )
    assert [r.batch_size for r in rows] == [1, 3]
    assert calls.count(3) == 2 + 5  # nothing skipped, no hidden work
    assert calls.count(1) >= 2 + 5  # (batch 1 may also warm the runtime up once)


def test_a_failing_batch_size_is_reported_and_the_others_run(zoo, monkeypatch):
    real_time = bench._time

    def fail_on_big(ready, example, warmup, iters, macs, batch, common, on_step, memory):
        if batch == 64:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real_time(ready, example, warmup, iters, macs, batch, common, on_step, memory)

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


@pytest.mark.parametrize("n", [1, 2, 7, 10, 101])
def test_percentiles_match_numpy(n):
    values = list(np.random.default_rng(n).exponential(10.0, n))
    for q in (50, 90, 99):
        assert bench._percentile(values, q) == pytest.approx(np.percentile(values, q))


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


@pytest.mark.parametrize(("iters", "shown"), [(9, set()), (10, {"p90"}), (100, {"p90", "p99"})])
def test_a_percentile_is_shown_only_from_enough_samples(zoo, tmp_path, iters, shown):
    path = tmp_path / "tiny.py"
    path.write_text("from torch import nn\n\ndef tiny():\n    return nn.Conv2d(3, 4, 3)\n")
    row = bench.bench_model(build(f"{path}:tiny"), "cpu", [1], warmup=0, iters=iters, input_size=[8, 8])[0]
    present = {k for k in ("p90", "p99") if getattr(row.latency_ms, k) is not None}
    assert present == shown
    assert row.latency_ms.p50 <= (row.latency_ms.p90 or row.latency_ms.p50) <= (row.latency_ms.p99 or 1e9)
