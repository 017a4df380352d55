"""A user's own model (file.py:Name): imported, built on meta, counted; their errors reported as file:line."""

from __future__ import annotations

import pytest

from cvzoo import stats
from cvzoo.errors import UsageError, UserCodeError
from cvzoo.registry import build
from cvzoo.reports import flops
from cvzoo.usermodel import parse_kwargs

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
        self.tied = nn.Linear(width, num_classes, bias=False)
        self.tied.weight = self.head.weight  # a parameter shared by two modules must count once
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x))).flatten(1)
        return self.head(x) + self.tied(x)


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
    built = build(f"{model_file}:{symbol}", kwargs=parse_kwargs(["width=32", "blocks=2"]))
    result = stats.collect(built, [1, 3, 32, 32])
    width = 32
    block = 2 * (width * width * 9) + 2 * (2 * width)
    expected = (3 * width * 9 + width) + 2 * block + (width * 10 + 10)
    assert result.total_params == expected
    conv_macs = 32 * 32 * (3 * width * 9 + 4 * width * width * 9)
    assert result.macs == conv_macs + 2 * width * 10  # the shared weight is used twice
    blocks = next(c for c in stats.collapse(result.root).children if c.name == "blocks")
    assert [(c.name, c.count) for c in blocks.children] == [("blocks.0-1", 2)]


def test_user_model_instance(model_file):
    result = stats.collect(build(f"{model_file}:instance", kwargs={}), [16, 16])
    assert result.total_params == (3 * 8 * 9 + 8) + 2 * (8 * 8 * 9) + 2 * 16 + (8 * 10 + 10)


def test_user_model_needs_an_input_size(model_file):
    with pytest.raises(UsageError, match="give --input-size"):
        stats.collect(build(f"{model_file}:TinyResNet", kwargs={}))


def test_errors_in_user_code_name_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    lines = ["from torch import nn", "", "", "class Net(nn.Module):", "    def __init__(self):"]
    lines += ["        super().__init__()", "        raise ValueError('no good')", ""]
    path.write_text("\n".join(lines))
    with pytest.raises(UserCodeError, match=rf"{path}:7: ValueError: no good"):
        build(f"{path}:Net", kwargs={})
    path.write_text("x = (\n")
    with pytest.raises(UserCodeError, match=rf"{path}:1: SyntaxError"):
        build(f"{path}:Net", kwargs={})


def test_user_model_lookup_errors(model_file, tmp_path):
    with pytest.raises(UsageError, match="has no 'Nope'; it defines Block, TinyResNet, instance"):
        build(f"{model_file}:Nope", kwargs={})
    with pytest.raises(UsageError, match="not found"):
        build(f"{tmp_path}/missing.py:Net", kwargs={})
    with pytest.raises(UsageError, match="--kwarg: .* unexpected keyword argument 'depth'"):  # exit 2
        build(f"{model_file}:TinyResNet", kwargs={"depth": 3})


def test_parse_kwargs():
    assert parse_kwargs(["a=1", "b=[1, 2]", "c=None", "d='x'", "e=True", "f= 2.5"]) == {
        "a": 1,
        "b": [1, 2],
        "c": None,
        "d": "x",
        "e": True,
        "f": 2.5,
    }
    with pytest.raises(UsageError, match="key=value"):
        parse_kwargs(["oops"])


@pytest.mark.parametrize("value", ["gelu", "nn.ReLU()", "[1, 2", "__import__('os')", "1 +"])
def test_a_kwarg_that_is_not_a_literal_is_a_usage_error_naming_key_and_value(value):
    with pytest.raises(UsageError) as info:
        parse_kwargs([f"act={value}"])
    message = str(info.value)
    assert message.startswith("--kwarg act: ") and repr(value) in message and "quote a string" in message


def test_flops_of_a_stack_counted_by_hand(tmp_path):
    """FLOPs in the flops report are twice the MACs a person counts for a conv + linear stack."""
    path = tmp_path / "stack.py"
    path.write_text(
        "from torch import nn\n\n"
        "def stack():\n"
        "    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, bias=False), nn.ReLU(),\n"
        "                         nn.Conv2d(16, 32, 1), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))\n"
    )
    report = flops(stats.collect(build(f"{path}:stack"), [1, 3, 15, 15]), depth=1)
    # conv 3x3 stride 2 on 15x15 gives 7x7: 16 filters of 3*3*3 weights at 49 positions; then a 1x1
    # conv of 16 -> 32 channels at 49 positions; then 32*7*7 inputs to each of 10 outputs.
    by_hand = 16 * 27 * 49 + 32 * 16 * 49 + 32 * 7 * 7 * 10
    assert report.macs == by_hand and report.flops == 2 * by_hand
    assert [m.macs for m in report.modules[1:]] == [16 * 27 * 49, 0, 32 * 16 * 49, 0, 32 * 7 * 7 * 10]
    assert [m.flops for m in report.modules] == [2 * by_hand] + [2 * m.macs for m in report.modules[1:]]


def test_the_readme_example_model_counts_as_a_person_would():
    """examples/mynet.py:TinyNet, which the README tries: parameters and MACs counted by hand."""
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "mynet.py"
    result = stats.collect(build(f"{example}:TinyNet", kwargs={"width": 64}), [32, 32])
    w, pixels = 64, 32 * 32
    stem = 3 * w * 9 + 2 * w  # conv without bias, BatchNorm's weight and bias
    block = 2 * (w * w * 9) + 2 * (2 * w)
    head = w * 10 + 10
    assert result.total_params == stem + 2 * block + head
    assert result.macs == pixels * (3 * w * 9) + 2 * 2 * pixels * (w * w * 9) + w * 10
