"""Counting: parameters and MACs equal torchvision's published table; the tree folds and collapses."""

from __future__ import annotations

import pytest
from conftest import zoo_catalog

from cvzoo import stats
from cvzoo.catalog import Task
from cvzoo.errors import BuildError
from cvzoo.registry import build

CATALOG = zoo_catalog()
CLASSIFIERS = [
    (e.name, w.name)
    for e in CATALOG.models.values()
    if e.task in (Task.classification, Task.quantized)
    for w in e.weights
]


@pytest.mark.parametrize(("name", "weights"), CLASSIFIERS, ids=[f"{n}.{w}" for n, w in CLASSIFIERS])
def test_counted_macs_equal_published_gmacs(zoo, name, weights):
    result = stats.collect(build(name, weights, catalog=zoo))
    published = zoo.get(name).weight_set(weights)
    assert round(result.macs / 1e9, 3) == published.gmacs
    assert result.input_size == [1, 3, *published.input_size]


@pytest.mark.parametrize(
    "name", ["deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "r3d_18", "s3d", "raft_small"]
)
def test_other_tasks_reproduce_published_gmacs_at_their_default_input(zoo, name):
    result = stats.collect(build(name, catalog=zoo))
    assert round(result.macs / 1e9, 3) == zoo.get(name).default.gmacs


def test_detection_runs_and_matches_published_gmacs(zoo):
    result = stats.collect(build("ssdlite320_mobilenet_v3_large", catalog=zoo))
    assert round(result.macs / 1e9, 3) == zoo.get("ssdlite320_mobilenet_v3_large").default.gmacs
    assert result.total_params == zoo.get("ssdlite320_mobilenet_v3_large").default.params
    assert any("detection" in n for n in result.notes)


def test_per_module_numbers_add_up(zoo):
    result = stats.collect(build("resnet18", catalog=zoo))
    root = result.root
    assert root.params == result.total_params == 11_689_512
    assert sum(c.params for c in root.children) == root.params
    assert sum(c.macs for c in root.children) == root.macs == result.macs
    conv1 = next(c for c in root.children if c.name == "conv1")
    assert conv1.output_shape == [1, 64, 112, 112]
    assert conv1.macs == 64 * 3 * 7 * 7 * 112 * 112  # out channels x kernel volume x output pixels
    assert (
        result.by_type["Conv2d"] + result.by_type["BatchNorm2d"] + result.by_type["Linear"]
        == result.total_params
    )


def test_attention_is_counted(zoo):
    result = stats.collect(build("vit_b_16", catalog=zoo))
    assert round(result.macs / 1e9, 3) == 17.564  # torchinfo's estimate is 0.173 G
    assert "bmm" in result.macs_by_op or "_scaled_dot_product_efficient_attention" in str(result.macs_by_op)


def test_collapse_folds_identical_blocks(zoo):
    result = stats.collect(build("resnet152", catalog=zoo))
    layer3 = next(c for c in stats.collapse(result.root).children if c.name == "layer3")
    assert [(c.name, c.type, c.count) for c in layer3.children] == [
        ("layer3.0", "Bottleneck", 1),
        ("layer3.1-35", "Bottleneck", 35),
    ]
    assert sum(c.params for c in layer3.children) == layer3.params
    uncollapsed = next(c for c in result.root.children if c.name == "layer3")
    assert len(uncollapsed.children) == 36


def test_depth_folds_deeper_modules(zoo):
    root = stats.collect(build("resnet18", catalog=zoo)).root
    assert {r.depth for r in stats.flatten(root, 1)} == {0, 1}
    assert stats.flatten(root, 0) == [root]
    assert max(r.depth for r in stats.flatten(root, None)) == 4  # layer2.0.downsample.0


def test_params_only_needs_no_forward_pass(zoo):
    result = stats.collect(build("vit_h_14", catalog=zoo), count_macs=False)
    assert result.total_params == zoo.get("vit_h_14").default.params
    assert result.macs == 0 and result.input_size == []


def test_batch_and_size_are_honoured(zoo):
    result = stats.collect(build("resnet18", catalog=zoo), [4, 3, 112, 112])
    assert result.input_size == [4, 3, 112, 112]
    single = stats.collect(build("resnet18", catalog=zoo), [112, 112])
    assert result.macs == 4 * single.macs


def test_a_model_that_cannot_run_is_a_clean_error(zoo):
    with pytest.raises(BuildError, match="could not run on input 1,3,256,256: Wrong image height"):
        stats.collect(build("vit_b_16", catalog=zoo), [256, 256])  # a ViT takes exactly its image size


# --- a user's own model ------------------------------------------------------------------------
