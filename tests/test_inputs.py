"""Inputs: --input-size parsed, and each task's input shape checked against what its weights accept."""

from __future__ import annotations

import pytest

from cvzoo import inputs, stats
from cvzoo.errors import UsageError
from cvzoo.registry import build


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


def test_video_takes_a_clip(zoo):
    result = stats.collect(build("r3d_18", catalog=zoo))
    assert result.input_size == [1, 3, 16, 112, 112]
    with pytest.raises(UsageError, match="N,C,T,H,W"):
        stats.collect(build("r3d_18", catalog=zoo), [1, 3, 112, 112])
