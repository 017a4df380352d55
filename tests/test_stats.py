"""Counting: parameters and MACs equal torchvision's published table; the tree folds and collapses."""

from __future__ import annotations

import pytest
from conftest import zoo_catalog

from cvzoo import inputs, stats
from cvzoo.catalog import Task
from cvzoo.errors import BuildError, UsageError, UserCodeError
from cvzoo.registry import build
from cvzoo.usermodel import parse_kwargs


def build_user_model(spec, kwargs):
    return build(spec, kwargs=kwargs)


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("224", [224, 224]),
        ("320,240", [320, 240]),
        ("8,3,224,224", [8, 3, 224, 224]),
        ("2x3x8x112x112", [2, 3, 8, 112, 112]),
    ],
)
def test_parse_input_size(text, expected):
    assert inputs.parse_input_size(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1,2,3", "0", "-5"])
def test_parse_input_size_rejects(text):
    with pytest.raises(UsageError, match="--input-size"):
        inputs.parse_input_size(text)


def test_input_too_small_names_the_minimum(zoo):
    with pytest.raises(UsageError, match="at least 75x75"):
        stats.collect(build("inception_v3", catalog=zoo), [64, 64])


def test_batch_and_size_are_honoured(zoo):
    result = stats.collect(build("resnet18", catalog=zoo), [4, 3, 112, 112])
    assert result.input_size == [4, 3, 112, 112]
    single = stats.collect(build("resnet18", catalog=zoo), [112, 112])
    assert result.macs == 4 * single.macs


def test_video_takes_a_clip(zoo):
    result = stats.collect(build("r3d_18", catalog=zoo))
    assert result.input_size == [1, 3, 16, 112, 112]
    with pytest.raises(UsageError, match="N,C,T,H,W"):
        stats.collect(build("r3d_18", catalog=zoo), [1, 3, 112, 112])


def test_a_model_that_cannot_run_is_a_clean_error(zoo):
    with pytest.raises(BuildError, match="could not run on input 1,3,256,256: Wrong image height"):
        stats.collect(build("vit_b_16", catalog=zoo), [256, 256])  # a ViT takes exactly its image size


# --- a user's own model ------------------------------------------------------------------------

RESIDUAL = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class TinyResNet(nn.Module):
    def __init__(self, width=16, blocks=3, num_classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(blocks)])
        self.head = nn.Linear(width, num_classes)
        self.head.weight = self.head.weight  # a tied parameter must still count once
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.head(x)


def make_tiny(**kwargs):
    return TinyResNet(**kwargs)


instance = TinyResNet(width=8, blocks=1)
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(RESIDUAL)
    return path


@pytest.mark.parametrize("symbol", ["TinyResNet", "make_tiny"])
def test_user_model_class_or_function(model_file, symbol):
    built = build_user_model(f"{model_file}:{symbol}", parse_kwargs(["width=32", "blocks=2"]))
    result = stats.collect(built, [1, 3, 32, 32])
    width = 32
    block = 2 * (width * width * 9) + 2 * (2 * width)
    expected = (3 * width * 9 + width) + 2 * block + (width * 10 + 10)
    assert result.total_params == expected
    conv_macs = 32 * 32 * (3 * width * 9 + 4 * width * width * 9)
    assert result.macs == conv_macs + width * 10
    blocks = next(c for c in stats.collapse(result.root).children if c.name == "blocks")
    assert [(c.name, c.count) for c in blocks.children] == [("blocks.0-1", 2)]


def test_user_model_instance(model_file):
    result = stats.collect(build_user_model(f"{model_file}:instance", {}), [16, 16])
    assert result.total_params == (3 * 8 * 9 + 8) + 2 * (8 * 8 * 9) + 2 * 16 + (8 * 10 + 10)


def test_user_model_needs_an_input_size(model_file):
    with pytest.raises(UsageError, match="give --input-size"):
        stats.collect(build_user_model(f"{model_file}:TinyResNet", {}))


def test_errors_in_user_code_name_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    lines = ["from torch import nn", "", "", "class Net(nn.Module):", "    def __init__(self):"]
    lines += ["        super().__init__()", "        raise ValueError('no good')", ""]
    path.write_text("\n".join(lines))
    with pytest.raises(UserCodeError, match=rf"{path}:7: ValueError: no good"):
        build_user_model(f"{path}:Net", {})
    path.write_text("x = (\n")
    with pytest.raises(UserCodeError, match=rf"{path}:1: SyntaxError"):
        build_user_model(f"{path}:Net", {})


def test_user_model_lookup_errors(model_file, tmp_path):
    with pytest.raises(UsageError, match="has no 'Nope'; it defines Block, TinyResNet, instance"):
        build_user_model(f"{model_file}:Nope", {})
    with pytest.raises(UsageError, match="not found"):
        build_user_model(f"{tmp_path}/missing.py:Net", {})
    with pytest.raises(UserCodeError, match="unexpected keyword argument 'depth'"):
        build_user_model(f"{model_file}:TinyResNet", {"depth": 3})


def test_parse_kwargs():
    assert parse_kwargs(["a=1", "b=[1, 2]", "c=gelu", "d='x'", "e=True"]) == {
        "a": 1,
        "b": [1, 2],
        "c": "gelu",
        "d": "x",
        "e": True,
    }
    with pytest.raises(UsageError, match="key=value"):
        parse_kwargs(["oops"])
