"""Golden files for what people read: params, flops, info, compare and a masked bench table.

Each output is produced through the CLI at 100 columns and compared with tests/golden/<name>
(``--update-golden`` rewrites them). Each test also checks a fact or two against torchvision
itself, so that a golden taken of a wrong output cannot pass unnoticed.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from typer.testing import CliRunner

from cvzoo.cli import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def meta(model: str) -> dict:
    """torchvision's own metadata of ``model``'s DEFAULT weights (read from torchvision, not cvzoo)."""
    from torchvision.models import get_model_weights

    return get_model_weights(model).DEFAULT.meta


def fact(text: str, key: str) -> str:
    """The value of a ``Key  value`` line of a facts block."""
    match = re.search(rf"^{re.escape(key)} +(.+?) *$", text, re.MULTILINE)
    assert match, f"no '{key}' line in:\n{text}"
    return match.group(1)


def integer(text: str) -> int:
    """The first integer with thousands separators in ``text``: '25,557,032 (25.6M)' -> 25557032."""
    match = re.match(r"[\d,]+", text)
    assert match, text
    return int(match.group().replace(",", ""))


def tree_rows(text: str, header: str) -> dict[str, tuple[str, str]]:
    """The rows of the table under ``header``: module name (tree guides removed) -> (type, value)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        name, kind, value = re.split(r" {2,}", re.sub(r"^[│├└─ ]+", "", line).strip())
        rows[name] = (kind, value)
    return rows


def assert_fits(text: str, width: int = 100) -> None:
    """Every line fits, but for a line ending in a URL: those are never broken, whatever the width."""
    lines = [line for line in text.splitlines() if not re.search(r"https://\S+$", line)]
    assert all(len(line) <= width for line in lines), "a line is wider than the terminal"


# --- params -------------------------------------------------------------------------------------


def test_params_resnet50(warm_cache, golden):
    text = run("params", "resnet50")
    assert_fits(text)
    golden("params_resnet50_w100.txt", text)
    published = meta("resnet50")["num_params"]
    assert integer(fact(text, "Total")) == published == integer(fact(text, "Trainable"))
    assert fact(text, "Non-trainable") == "0"
    rows = tree_rows(text, "Module")
    children = [v for name, (_, v) in rows.items() if name != "resnet50" and v != "-"]
    assert sum(integer(v) for v in children) == integer(rows["resnet50"][1]) == published
    assert rows["fc"] == ("Linear", f"{2048 * 1000 + 1000:,}")


def test_params_resnet50_by_type(warm_cache, golden):
    import torch
    from torchvision.models import resnet50

    text = run("params", "resnet50", "--by-type")
    assert_fits(text)
    golden("params_resnet50_by_type_w100.txt", text)
    rows = tree_rows(text, "Layer type")
    with torch.device("meta"):
        model = resnet50()
    by_type: dict[str, int] = {}
    for module in model.modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            by_type[type(module).__name__] = by_type.get(type(module).__name__, 0) + own
    assert {k: integer(v) for k, (v, _) in rows.items()} == by_type
    assert sum(by_type.values()) == meta("resnet50")["num_params"]
    assert rows["Conv2d"][1] == f"{100 * by_type['Conv2d'] / sum(by_type.values()):.1f}%"


def test_params_vit_b_16_depth_2(warm_cache, golden):
    text = run("params", "vit_b_16", "--depth", "2")
    assert_fits(text)
    golden("params_vit_b_16_depth2_w100.txt", text)
    published = meta("vit_b_16")["num_params"]
    assert integer(fact(text, "Total")) == published
    assert fact(text, "Buffers") == "0 elements (0 B)"
    rows = tree_rows(text, "Module")
    assert "layers" in rows and "head" in rows  # depth 2 shows grandchildren, by their own names
    # the root's own parameter has a row of its own, so the children add up to the whole
    assert rows["class_token"] == ("Parameter", "768")
    assert sum(integer(rows[n][1]) for n in ("class_token", "conv_proj", "encoder", "heads")) == published


# --- flops --------------------------------------------------------------------------------------


def _check_macs(text: str, model: str) -> int:
    macs = integer(fact(text, "MACs"))
    flops = fact(text, "FLOPs")
    # torchvision publishes GMACs (as "_ops", with three decimals); a FLOP is half a multiply-add
    assert macs / 1e9 == pytest.approx(meta(model)["_ops"], abs=5e-4)
    assert integer(flops) / 2e9 == pytest.approx(meta(model)["_ops"], abs=5e-4)
    assert integer(flops) == 2 * macs and flops.endswith("= 2 x MACs")  # the line says what it shows
    return macs


def test_flops_resnet50(warm_cache, golden):
    text = run("flops", "resnet50")
    assert_fits(text)
    golden("flops_resnet50_w100.txt", text)
    _check_macs(text, "resnet50")
    assert fact(text, "Input") == "1x3x224x224"
    # fc: 2048 x 1000 multiply-accumulates per image
    assert tree_rows(text, "Module")["fc"] == ("Linear", f"{2048 * 1000:,}")


def test_flops_vit_b_16(warm_cache, golden):
    text = run("flops", "vit_b_16")
    assert_fits(text)
    golden("flops_vit_b_16_w100.txt", text)
    _check_macs(text, "vit_b_16")
    # the patch embedding: a 16x16 stride-16 conv, 3 -> 768 channels, over 14 x 14 positions
    assert tree_rows(text, "Module")["conv_proj"] == ("Conv2d", f"{16 * 16 * 3 * 768 * 14 * 14:,}")


def test_flops_convnext_tiny_depth_2(warm_cache, golden):
    text = run("flops", "convnext_tiny", "--depth", "2")
    assert_fits(text)
    golden("flops_convnext_tiny_depth2_w100.txt", text)
    _check_macs(text, "convnext_tiny")
    import json

    modules = json.loads(run("flops", "convnext_tiny", "--depth", "2", "-f", "json"))["modules"]
    assert [m["name"] for m in modules if m["name"].startswith("features.")] == [
        f"features.{i}" for i in range(8)
    ]
    assert next(m for m in modules if m["name"] == "classifier.2")["macs"] == 768 * 1000
    assert re.search(r"└─ 2 +Linear +768,000$", text, re.MULTILINE)  # the table shows it by its own name


# --- info ---------------------------------------------------------------------------------------


def weight_set_rows(text: str) -> list[dict[str, str]]:
    """The weight-set table of ``cvzoo info``: a dict per row, keyed by the column headers."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Weights "))
    end = lines.index("* DEFAULT", start)
    header, *rows = (re.split(r" {2,}", line.strip()) for line in lines[start:end])
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize("model", ["resnet50", "vit_h_14", "fasterrcnn_resnet50_fpn", "raft_large"])
def test_info(warm_cache, golden, model):
    from torchvision.models import get_model_weights

    text = run("info", model)
    assert_fits(text)
    golden(f"info_{model}_w100.txt", text)
    m = meta(model)
    assert fact(text, "Categories") == (str(len(m["categories"])) if m.get("categories") else "-")
    enum = get_model_weights(model)
    rows = weight_set_rows(text)
    # every weight set, in torchvision's order, the DEFAULT one starred
    assert [r["Weights"] for r in rows] == [w.name + (" *" if w == enum.DEFAULT else "") for w in enum]
    for cells, weights in zip(rows, enum, strict=True):
        first = next(iter(weights.meta["_metrics"].values()))
        if "acc@1" in first:
            assert cells["Acc@1"] == f"{first['acc@1']:.2f}" and cells["Acc@5"] == f"{first['acc@5']:.2f}"
        else:
            metric, value = next(iter(first.items()))
            assert cells["Metric"].startswith(f"{metric} ") and float(cells["Metric"].split()[1]) == value
        assert cells["MiB"] == f"{weights.meta['_file_size']:,.1f}"
        crop = getattr(weights.transforms(), "crop_size", None)
        if crop:
            assert cells["Input"] == str(crop[0])


# --- compare ------------------------------------------------------------------------------------


def test_compare_table(warm_cache, golden):
    models = ["resnet50", "efficientnet_b0", "vit_b_16", "convnext_tiny"]
    text = run("compare", *models)
    assert_fits(text)
    golden("compare_4_models_w100.txt", text)
    lines = text.splitlines()
    header = re.split(r" {2,}", lines[0].strip())
    rows = [dict(zip(header, re.split(r" {2,}", line.strip()), strict=True)) for line in lines[1:5]]
    assert [r["Model"] for r in rows] == models
    for row, model in zip(rows, models, strict=True):
        metrics = meta(model)["_metrics"]["ImageNet-1K"]
        assert row["Acc@1"].rstrip("*") == f"{metrics['acc@1']:.2f}"
        assert row["Acc@5"].rstrip("*") == f"{metrics['acc@5']:.2f}"
    best = max(models, key=lambda m: meta(m)["_metrics"]["ImageNet-1K"]["acc@1"])
    assert [r["Model"] for r in rows if r["Acc@1"].endswith("*")] == [best]  # marked without colour


def test_compare_csv(warm_cache, golden):
    text = run("compare", "resnet50", "efficientnet_b0", "-f", "csv")
    golden("compare_csv.txt", text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["resnet50", "efficientnet_b0"]
    for row in rows:
        m = meta(row["name"])
        assert int(row["params"]) == m["num_params"]
        assert float(row["gmacs"]) == m["_ops"]
        assert float(row["acc1"]) == m["_metrics"]["ImageNet-1K"]["acc@1"]
        assert row["latency_ms"] == row["throughput"] == ""  # no --bench, no speed


# --- bench, masked ------------------------------------------------------------------------------


class _Clock:
    """A perf_counter that advances 25 ms per batch size's call pair: timings a golden can hold."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.0125
        return self.now


def test_bench_table(warm_cache, golden, monkeypatch):
    """The bench table with a clock and a memory probe that read the same on every machine."""
    from types import SimpleNamespace

    from cvzoo import bench

    clock = _Clock()
    monkeypatch.setattr(bench, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    monkeypatch.setattr(bench._Memory, "added", lambda self, device: (48 * 2**20, bench.MEMORY_KINDS[1]))
    models = ["squeezenet1_1", "mobilenet_v3_small"]
    text = run("bench", *models, "-b", "1,2", "--iters", "10", "--warmup", "1", "--device", "cpu")
    assert_fits(text)
    golden("bench_w100.txt", text)
    rows = [re.split(r" {2,}", line.strip()) for line in text.splitlines()[1:5]]
    assert [(r[0], r[1], r[-1]) for r in rows] == [(m, b, "ok") for m in models for b in ("1", "2")]
    for model, batch, p50, _p90, images, gmacs_per_s, memory, _status in rows:
        assert float(p50) == pytest.approx(12.5)  # one tick of the clock per call: 12.5 ms per batch
        assert float(images) == pytest.approx(int(batch) / 0.0125)
        # GMAC/s is torchvision's published cost of a batch over its latency, counted independently
        assert float(gmacs_per_s) == pytest.approx(meta(model)["_ops"] * int(batch) / 0.0125, abs=1)
        assert memory == "48.0 MiB"
