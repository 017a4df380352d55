"""compare: models side by side, the best of each column marked, speed with --bench."""

from __future__ import annotations

import json

from conftest import run
from torchvision.models import get_model_weights


def test_compare_json(warm_cache):
    rows = json.loads(run("compare", "resnet50", "efficientnet_b0", "vit_b_16", "-f", "json").stdout)
    assert [r["name"] for r in rows] == ["resnet50", "efficientnet_b0", "vit_b_16"]
    for r in rows:
        meta = get_model_weights(r["name"]).DEFAULT.meta  # torchvision's own table
        assert r["params"] == meta["num_params"] and r["gmacs"] == meta["_ops"]
        assert r["acc1"] == meta["_metrics"]["ImageNet-1K"]["acc@1"]
        assert r["file_size_mib"] == meta["_file_size"] and r["num_categories"] == len(meta["categories"])
    assert rows[0]["family"] == "ResNet" and rows[0]["year"] == 2015
    assert rows[0]["latency_ms"] is None


def test_compare_table_marks_the_best(warm_cache):
    from cvzoo.compare import compare_rows
    from cvzoo.render import Surface
    from cvzoo.render.speed import compare_table

    rows = compare_rows(warm_cache, ["resnet50", "efficientnet_b0"])
    for color in (True, False):
        table = compare_table(rows, Surface(width=None, color=color)).body
        cells = {column.header: column._cells for column in table.columns}
        bold = {header: [c.style == "bold green" for c in column] for header, column in cells.items()}
        assert bold["Params"] == [False, True]  # efficientnet_b0 is smaller
        assert bold["Acc@1"] == [True, False]  # resnet50 (V2 weights) is more accurate
        assert bold["GMACs"] == [False, True]
        assert not any(bold["Model"])
        # without colour the best is marked in the text itself, and the caption says how
        starred = [c.plain.endswith("*") for c in cells["Params"]]
        assert starred == ([False, False] if color else [False, True])
        assert table.caption == ("best of each column in bold green" if color else "* best of each column")


def test_compare_with_bench(warm_cache):
    rows = json.loads(run("compare", "squeezenet1_1", "mobilenet_v3_small", "--bench", "-f", "json").stdout)
    assert all(r["latency_ms"] > 0 and r["throughput"] > 0 for r in rows)


def test_compare_unknown_model(warm_cache):
    result = run("compare", "resnet50", "resnet5")
    assert result.exit_code == 2 and "did you mean" in result.stderr


def test_compare_needs_two_models(warm_cache):
    assert run("compare", "resnet50").exit_code == 2
