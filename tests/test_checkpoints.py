"""``cvzoo summary FILE``: a checkpoint's tensors, and the zoo architecture its shapes fit."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run
from torchvision.models import get_model

# summary FILE indexes every zoo architecture once per cache: these tests share one worker's
pytestmark = pytest.mark.xdist_group("architectures")


def test_a_fine_tuned_resnet18_is_recognised_with_its_number_of_classes(warm_cache, tmp_path):
    model = get_model("resnet18", num_classes=10)
    state = model.state_dict()
    torch.save(state, tmp_path / "finetuned.pt")
    result = run("summary", str(tmp_path / "finetuned.pt"), "-f", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["fits"] == ["resnet18, num_classes=10"]
    assert [t["name"] for t in report["tensors"]] == list(state)
    assert report["parameters"] == sum(p.numel() for p in model.parameters())
    assert report["total_values"] == sum(v.numel() for v in state.values())
    table = run("params", str(tmp_path / "finetuned.pt"))
    assert table.exit_code == 0 and "resnet18, num_classes=10" in table.stdout


def test_a_wrapped_checkpoint_of_a_mobilenet_fits_it(warm_cache, tmp_path):
    state = get_model("mobilenet_v3_small").state_dict()
    torch.save(
        {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "ckpt.pth"
    )
    report = json.loads(run("summary", str(tmp_path / "ckpt.pth"), "-f", "json").stdout)
    assert len(report["fits"]) == 1 and report["fits"][0].startswith("mobilenet_v3_small")


def test_a_file_that_fits_no_architecture_says_so(warm_cache, tmp_path):
    torch.save({"encoder.weight": torch.zeros(4, 3), "encoder.bias": torch.zeros(4)}, tmp_path / "odd.pt")
    result = run("summary", str(tmp_path / "odd.pt"))
    assert result.exit_code == 0
    assert "no architecture of the zoo" in result.stdout and "encoder" in result.stdout


def test_a_checkpoint_that_needs_code_to_load_is_refused(warm_cache, tmp_path):
    import argparse

    hyperparameters = argparse.Namespace(lr=0.1)  # as training scripts save them: a class to unpickle
    torch.save({"state_dict": {"w": torch.zeros(2)}, "args": hyperparameters}, tmp_path / "pickled.pt")
    result = run("summary", str(tmp_path / "pickled.pt"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pickled.pt" in lines[0] and "Traceback" not in result.stderr
