"""Weights: torchvision's cache, checkpoints read without running code, and clear failures."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from conftest import plant_weights, run
from torchvision.models import get_model, get_model_weights


def test_offline_miss_names_the_file_url_and_folder(warm_cache, photos):
    result = run("infer", "resnet18", str(photos[0]))
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert get_model_weights("resnet18").DEFAULT.url in line
    assert str(Path(torch.hub.get_dir()) / "checkpoints") in line
    assert result.stdout == ""


def test_a_hostile_checkpoint_is_refused_and_its_code_never_runs(warm_cache, photos, tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    checkpoint = tmp_path / "evil.pth"
    torch.save({"state_dict": Exploit()}, checkpoint)  # pickling records the call; loading would make it
    legacy = tmp_path / "evil-legacy.pth"
    legacy.write_bytes(pickle.dumps({"state_dict": Exploit()}))  # not torch's zip format
    result = run("infer", "resnet18", str(photos[0]), "--weights", str(checkpoint))
    assert result.exit_code == 1
    assert "refused to load" in result.stderr and "Traceback" not in result.stderr
    result = run("infer", "resnet18", str(photos[0]), "--weights", str(legacy))
    assert result.exit_code == 1 and "refused to load" in result.stderr
    assert not marker.exists()


def test_a_checkpoint_for_another_architecture_is_explained(warm_cache, photos, tmp_path):
    checkpoint = tmp_path / "other.pth"
    torch.save({"model": get_model("squeezenet1_1", weights=None).state_dict()}, checkpoint)
    result = run("infer", "mobilenet_v3_small", str(photos[0]), "--weights", str(checkpoint))
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith(f"error: '{checkpoint}' does not fit mobilenet_v3_small: ")
    assert "missing" in line and "unexpected" in line and len(line.splitlines()) == 1


def test_a_local_checkpoint_predicts(warm_cache, photos, tmp_path):
    planted = plant_weights("mobilenet_v3_small")
    checkpoint = tmp_path / "mine.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in torch.load(planted).items()}}, checkpoint)
    from_cache = run("infer", "mobilenet_v3_small", str(photos[0]), "-f", "json").stdout
    from_checkpoint = run(
        "infer", "mobilenet_v3_small", str(photos[0]), "-w", str(checkpoint), "-f", "json"
    ).stdout
    assert json.loads(from_checkpoint) == json.loads(from_cache)


def test_safetensors_checkpoint(warm_cache, photos, tmp_path):
    from safetensors.torch import save_file

    planted = plant_weights("mobilenet_v3_small")
    checkpoint = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in torch.load(planted).items()}, str(checkpoint))
    result = run("infer", "mobilenet_v3_small", str(photos[0]), "-w", str(checkpoint), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)[0]["predictions"]) == 5


def test_a_broken_cached_file_is_an_error_not_a_traceback(warm_cache, photos):
    path = plant_weights("squeezenet1_1")
    path.write_bytes(b"garbage")
    result = run("infer", "squeezenet1_1", str(photos[0]))
    assert result.exit_code == 1 and "Traceback" not in result.stderr and str(path) in result.stderr


def test_an_empty_checkpoint_is_a_one_line_error(warm_cache, photos, tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    result = run("infer", "squeezenet1_1", str(photos[0]), "--weights", str(empty))
    assert (
        result.exit_code == 1
        and "cannot read checkpoint" in result.stderr
        and "Traceback" not in result.stderr
    )


def test_a_half_precision_checkpoint_predicts(warm_cache, photos, tmp_path):
    planted = plant_weights("squeezenet1_1")
    half = tmp_path / "half.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in torch.load(planted).items()}, half)
    result = run("infer", "squeezenet1_1", str(photos[0]), "--weights", str(half), "-f", "json", "-k", "3")
    assert result.exit_code == 0, result.stderr
    full = json.loads(run("infer", "squeezenet1_1", str(photos[0]), "-f", "json", "-k", "3").stdout)
    halved = json.loads(result.stdout)
    assert [p["index"] for p in halved[0]["predictions"]] == [p["index"] for p in full[0]["predictions"]]
