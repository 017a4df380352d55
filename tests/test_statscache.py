"""Counts kept on disk: a repeat answers exactly as a fresh count would, without importing torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cvzoo import reports, stats, statscache

MODELS = [
    ("resnet18", "DEFAULT", None, {}),
    ("inception_v3", "DEFAULT", None, {}),  # AuxLogits does not run: rows without a shape
    ("vit_b_16", "IMAGENET1K_SWAG_E2E_V1", None, {}),  # parameters held by modules: rows of their own
    ("fasterrcnn_mobilenet_v3_large_320_fpn", "DEFAULT", None, {}),  # runs on the CPU, outputs dicts
    ("r3d_18", "DEFAULT", [1, 3, 8, 112, 112], {}),
    ("raft_small", "DEFAULT", None, {}),
    ("quantized_resnet18", "DEFAULT", None, {}),
    ("resnet18", "none", [2, 3, 64, 64], {"num_classes": 10}),
]


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(("model", "weights", "size", "kwargs"), MODELS, ids=lambda v: str(v)[:40])
def test_a_recalled_count_equals_a_fresh_one_in_every_field(
    warm_cache, own_cache, model, weights, size, kwargs
):
    fresh = reports.count(model, weights, size, kwargs, catalog=warm_cache, use_cache=False)
    entry = statscache.key(model, weights, size, kwargs, True)
    recalled = statscache.read(entry)
    assert recalled is not None and recalled == fresh  # the dataclasses, every field, the whole tree
    for shape in (reports.summary, reports.params, reports.flops):
        assert shape(recalled, depth=9, fold=False) == shape(fresh, depth=9, fold=False)


def test_parameters_alone_are_kept_apart_from_a_full_count(warm_cache, own_cache):
    full = reports.count("resnet18", catalog=warm_cache)
    params_only = reports.count("resnet18", count_macs=False, catalog=warm_cache)
    assert full.macs > 0 and params_only.macs == 0 and params_only.total_params == full.total_params


def test_what_changes_the_key(tmp_path):
    base = statscache.key("resnet18", "DEFAULT", None, {}, True)
    assert base == statscache.key("ResNet18", "DEFAULT", None, {}, True)  # names are case-insensitive
    others = [
        statscache.key("resnet34", "DEFAULT", None, {}, True),
        statscache.key("resnet18", "IMAGENET1K_V1", None, {}, True),
        statscache.key("resnet18", "DEFAULT", [1, 3, 128, 128], {}, True),
        statscache.key("resnet18", "DEFAULT", None, {"num_classes": 10}, True),
        statscache.key("resnet18", "DEFAULT", None, {}, False),
    ]
    assert len({base, *others}) == 6


def test_a_user_model_is_keyed_by_its_content_and_its_neighbours(tmp_path):
    (tmp_path / "blocks.py").write_text("WIDTH = 4\n")
    model = tmp_path / "net.py"
    model.write_text(
        "from blocks import WIDTH\nfrom torch import nn\n\ndef net():\n    return nn.Conv2d(3, WIDTH, 3)\n"
    )
    first = statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True)
    assert first == statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True)
    (tmp_path / "blocks.py").write_text("WIDTH = 8\n")  # the neighbour it imports changed
    second = statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True)
    model.write_text(model.read_text() + "# edited\n")
    third = statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True)
    assert len({first, second, third}) == 3
    assert statscache.key(f"{tmp_path}/missing.py:net", "DEFAULT", [8, 8], {}, True) is None


@pytest.mark.parametrize(
    "statement",
    ["from pkg.conf import WIDTH", "from pkg import conf", "import pkg.conf", "from pkg.sub import WIDTH"],
)
def test_a_user_model_is_keyed_by_the_submodules_it_imports_too(tmp_path, statement):
    """Modules inside packages of the model's folder, reached directly or through relative imports."""
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "conf.py").write_text("WIDTH = 4\n")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("from ..conf import WIDTH\n")
    model = tmp_path / "net.py"
    model.write_text(f"{statement}\nfrom torch import nn\n")
    first = statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True)
    (tmp_path / "pkg" / "conf.py").write_text("WIDTH = 8\n")
    assert statscache.key(f"{model}:net", "DEFAULT", [8, 8], {}, True) != first


def test_a_user_model_that_is_a_link_to_another_folder_is_keyed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "net.py").write_text("from torch import nn\n")
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "net.py").symlink_to(tmp_path / "real" / "net.py")
    assert statscache.key(f"{tmp_path / 'here' / 'net.py'}:net", "DEFAULT", [8, 8], {}, True) is not None


def test_a_checkpoint_is_keyed_by_the_file_it_names_now(warm_cache, own_cache, tmp_path, monkeypatch):
    """The same --weights text in two folders, or a file replaced in place, is counted afresh."""
    import torch
    from torchvision.models import resnet18

    for folder, classes in (("a", 10), ("b", 5)):
        (tmp_path / folder).mkdir()
        torch.save(resnet18(num_classes=classes).state_dict(), tmp_path / folder / "ckpt.pth")
    counts = []
    for folder in ("a", "b", "a"):
        monkeypatch.chdir(tmp_path / folder)
        counted = reports.count("resnet18", "ckpt.pth", count_macs=False, catalog=warm_cache)
        counts.append(counted.total_params)
    head = 512 * 1000 + 1000
    assert counts == [11_689_512 - head + 512 * 10 + 10, 11_689_512 - head + 512 * 5 + 5] + counts[:1]
    torch.save(resnet18(num_classes=3).state_dict(), tmp_path / "a" / "ckpt.pth")
    os.utime(tmp_path / "a" / "ckpt.pth", ns=(1, 1))  # a replaced file, even with an odd time
    replaced = reports.count("resnet18", "ckpt.pth", count_macs=False, catalog=warm_cache).total_params
    assert replaced == 11_689_512 - head + 512 * 3 + 3


def test_a_changed_user_model_is_counted_again(warm_cache, own_cache, tmp_path):
    model = tmp_path / "net.py"
    model.write_text("from torch import nn\n\ndef net():\n    return nn.Conv2d(3, 4, 3)\n")
    assert reports.count(f"{model}:net", requested_input=[8, 8]).total_params == 4 * 27 + 4
    model.write_text("from torch import nn\n\ndef net():\n    return nn.Conv2d(3, 6, 3)\n")
    assert reports.count(f"{model}:net", requested_input=[8, 8]).total_params == 6 * 27 + 6


@pytest.mark.parametrize("damage", ["", "{", '{"model": 1}', "[]", '{"root": {"name": 3}}'])
def test_a_damaged_entry_is_counted_again_and_replaced(warm_cache, own_cache, monkeypatch, damage):
    fresh = reports.count("resnet18", catalog=warm_cache)
    path = statscache.path_for(statscache.key("resnet18", "DEFAULT", None, {}, True))
    path.write_text(damage)
    counted = []
    real = stats.collect
    monkeypatch.setattr(stats, "collect", lambda *a, **k: counted.append(1) or real(*a, **k))
    assert reports.count("resnet18", catalog=warm_cache) == fresh and counted == [1]
    assert statscache.read(path.stem) == fresh  # whole again


def test_an_entry_edited_by_hand_is_counted_again(warm_cache, own_cache):
    fresh = reports.count("resnet18", catalog=warm_cache)
    path = statscache.path_for(statscache.key("resnet18", "DEFAULT", None, {}, True))
    kept = json.loads(path.read_text())
    path.write_text(json.dumps({**kept, "document": {**kept["document"], "total_params": "x"}}))
    assert reports.count("resnet18", catalog=warm_cache) == fresh


def test_no_cache_counts_again(warm_cache, own_cache, monkeypatch):
    reports.count("resnet18", catalog=warm_cache)
    counted = []
    real = stats.collect
    monkeypatch.setattr(stats, "collect", lambda *a, **k: counted.append(1) or real(*a, **k))
    reports.count("resnet18", catalog=warm_cache)
    assert counted == []
    reports.count("resnet18", catalog=warm_cache, use_cache=False)
    assert counted == [1]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['cvzoo', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('cvzoo', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        "sys.stderr.write('TORCH_IMPORTED=%s\\n' % ('torch' in sys.modules))\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, **env}, timeout=300
    )


@pytest.mark.parametrize("command", ["summary", "params", "flops"])
def test_a_repeat_imports_no_torch_and_says_the_same(warm_cache, tmp_path, command):
    env = {"CVZOO_CACHE_DIR": str(os.environ["CVZOO_CACHE_DIR"]), "COLUMNS": "100"}
    args = (command, "resnet152", "-f", "json") if command != "params" else (command, "resnet152")
    first = _cli(*args, "--no-cache", env=env)
    assert first.returncode == 0, first.stderr
    assert "TORCH_IMPORTED=True" in first.stderr
    again = _cli(*args, env=env)
    assert again.returncode == 0 and "TORCH_IMPORTED=False" in again.stderr
    assert again.stdout == first.stdout


def test_concurrent_counts_leave_a_whole_entry(warm_cache, tmp_path):
    env = {**os.environ, "CVZOO_CACHE_DIR": os.environ["CVZOO_CACHE_DIR"]}
    argv = [sys.executable, "-m", "cvzoo", "summary", "squeezenet1_1", "--no-cache", "-f", "json"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(3)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs) and len(set(outputs)) == 1
    entry = statscache.read(statscache.key("squeezenet1_1", "DEFAULT", None, {}, True))
    assert entry is not None and json.loads(outputs[0])["total_params"] == entry.total_params
