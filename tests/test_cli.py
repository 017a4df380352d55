"""The command line: formats, exit codes, streams, and no torch for metadata."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import run
from torchvision.models import get_model, get_model_weights, list_models

from cvzoo import __version__


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"cvzoo {__version__}"


def test_list_json_holds_the_whole_zoo_with_torchvision_numbers(warm_cache):
    result = run("list", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 121
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == set(list_models())
    for name, row in by_name.items():
        default = get_model_weights(name).DEFAULT  # torchvision's own table, not cvzoo's copy
        assert row["weights"] == default.name
        assert row["params"] == default.meta["num_params"] and isinstance(row["params"], int)
        assert row["gmacs"] == default.meta["_ops"]
        assert row["file_size_mib"] == default.meta["_file_size"]
    assert {"name", "task", "weights", "params", "gmacs", "metrics", "file_size_mib", "input_size"} <= set(
        rows[0]
    )
    assert by_name["resnet50"]["metrics"] == {"ImageNet-1K": {"acc@1": 80.858, "acc@5": 95.434}}


def test_list_table_golden(warm_cache, golden):
    result = run("list", "resnet*", "vgg1?", "vit_b*", "--sort", "acc1", "--desc")
    assert result.exit_code == 0
    golden("list_w100.txt", result.stdout)


def test_list_table_narrow_terminal_drops_columns_and_says_so(warm_cache, monkeypatch, golden):
    monkeypatch.setenv("COLUMNS", "60")
    result = run("list", "--task", "detection", "--all-weights")
    assert result.exit_code == 0
    assert all(len(line) <= 60 for line in result.stdout.splitlines())
    assert "hidden to fit 60 columns" in result.stderr and "hidden" not in result.stdout
    golden("list_detection_w60.txt", result.stdout + "--- stderr\n" + result.stderr)


def test_list_all_weights_marks_default(warm_cache):
    rows = json.loads(run("list", "resnet50", "--all-weights", "-f", "json").stdout)
    resnet50 = [r for r in rows if r["name"] == "resnet50"]
    assert [(r["weights"], r["default"]) for r in resnet50] == [
        ("IMAGENET1K_V1", False),
        ("IMAGENET1K_V2", True),
    ]
    table = run("list", "resnet50", "--all-weights").stdout
    assert "IMAGENET1K_V2 *" in table and "* DEFAULT" in table


def test_list_csv_has_the_json_columns(warm_cache):
    result = run("list", "resnet1*", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == ["resnet18", "resnet101", "resnet152"]
    js = json.loads(run("list", "resnet1*", "-f", "json").stdout)
    assert list(rows[0]) == list(js[0])
    assert rows[0]["input_size"] == "224x224" and int(rows[0]["params"]) == js[0]["params"]


def test_list_markdown(warm_cache):
    lines = run("list", "alexnet", "-f", "markdown").stdout.splitlines()
    assert lines[0].startswith("| Model |") and lines[1].startswith("|---|")
    assert lines[2].startswith("| alexnet | classification | 61.1M |")


def test_list_sort_limit_and_task(warm_cache):
    rows = json.loads(
        run("list", "-t", "classification", "-s", "params", "--desc", "-n", "2", "-f", "json").stdout
    )
    assert [r["name"] for r in rows] == ["regnet_y_128gf", "vit_h_14"]


def test_unknown_sort_key_is_a_usage_error_listing_the_valid_ones(warm_cache):
    result = run("list", "--sort", "speed")
    assert result.exit_code == 2
    for key in ("name", "params", "gmacs", "acc1", "acc5", "size"):
        assert key in result.stderr


def test_pattern_matching_nothing_exits_1_with_suggestion(warm_cache):
    result = run("list", "resnet19")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "resnet19" in lines[0] and "resnet18" in lines[0]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(warm_cache):
    from cvzoo.catalog import NoMatch

    with pytest.raises(NoMatch):
        run("--debug", "list", "resnet19")


def test_plain_output_has_no_escape_codes(warm_cache):
    assert "\x1b[" not in run("list", "vit").stdout


def _run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run cvzoo in a fresh interpreter and report whether torch got imported."""
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['cvzoo', *{list(args)!r}]\n"
        "try:\n    runpy.run_module('cvzoo', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        "sys.stderr.write('TORCH_IMPORTED=%s\\n' % ('torch' in sys.modules))\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("--help",),
        ("list", "--help"),
        ("list", "vit", "-f", "json"),
        ("info", "resnet50", "-f", "json"),
    ],
)
def test_metadata_commands_never_import_torch_once_the_cache_is_warm(warm_cache, args):
    proc = _run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "TORCH_IMPORTED=False" in proc.stderr


# --- completion ----------------------------------------------------------------------------------


def _complete(words: str, cword: int) -> subprocess.CompletedProcess:
    """Ask cvzoo for completions the way bash does, in a fresh process, reporting torch's import."""
    probe = (
        "import runpy, sys\n"
        "try:\n    runpy.run_module('cvzoo', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH_IMPORTED=%s' % ('torch' in sys.modules))\n"
    )
    env = {**os.environ, "_CVZOO_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)


def test_completing_model_names_offers_the_resnets_without_torch(warm_cache):
    proc = _complete("cvzoo summary resn", 2)
    offered = proc.stdout.split()
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} <= set(offered)
    assert all(name.startswith("resn") for name in offered)
    assert "TORCH_IMPORTED=False" in proc.stderr


def test_completing_weights_and_subcommands(warm_cache):
    assert _complete("cvzoo summary resnet50 --weights IM", 4).stdout.split() == [
        "IMAGENET1K_V1",
        "IMAGENET1K_V2",
    ]
    assert "summary" in _complete("cvzoo su", 1).stdout.split()
    assert "info" in _complete("cvzoo i", 1).stdout.split()


def test_cold_cache_builds_once_then_stays_torch_free(tmp_path):
    env = {"CVZOO_CACHE_DIR": str(tmp_path)}
    first = _run_cli("list", "alexnet", "-f", "json", env_extra=env)
    assert first.returncode == 0 and "TORCH_IMPORTED=True" in first.stderr
    assert json.loads(first.stdout)[0]["name"] == "alexnet"
    second = _run_cli("list", "alexnet", "-f", "json", env_extra=env)
    assert "TORCH_IMPORTED=False" in second.stderr and second.stdout == first.stdout


def test_python_dash_m_and_broken_pipe(warm_cache):
    proc = subprocess.run(
        f"{sys.executable} -m cvzoo list -f csv | head -n 2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.splitlines()[0].startswith("name,task,weights")
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# --- summary, params, flops ---------------------------------------------------------------------


def test_summary_json_schema(warm_cache):
    result = run("summary", "resnet50", "--format", "json", "--depth", "1")
    data = json.loads(result.stdout)
    assert {
        "model",
        "weights",
        "input_size",
        "layers",
        "total_params",
        "trainable_params",
        "macs",
        "flops",
    } <= set(data)
    assert data["model"] == "resnet50" and data["weights"] == "IMAGENET1K_V2"
    assert data["input_size"] == [1, 3, 224, 224]
    published = get_model_weights("resnet50").DEFAULT.meta
    assert data["total_params"] == published["num_params"]
    assert (
        round(data["macs"] / 1e9, 3) == published["_ops"]
        and round(data["flops"] / 2e9, 3) == published["_ops"]
    )
    assert data["layers"][0] == {
        "name": "",
        "type": "ResNet",
        "depth": 0,
        "count": 1,
        "output_shape": [1, 1000],
        "params": data["total_params"],
        "macs": data["macs"],
        "note": None,
    }
    assert {layer["depth"] for layer in data["layers"]} == {0, 1}


def test_summary_weights_and_collapse_options(warm_cache):
    swag = json.loads(run("summary", "vit_b_16", "-w", "IMAGENET1K_SWAG_E2E_V1", "-f", "json").stdout)
    assert swag["input_size"] == [1, 3, 384, 384] and swag["weights"] == "IMAGENET1K_SWAG_E2E_V1"
    folded = json.loads(run("summary", "resnet152", "-f", "json").stdout)
    full = json.loads(run("summary", "resnet152", "--no-collapse", "-f", "json").stdout)
    assert len(full["layers"]) > len(folded["layers"])
    assert any(layer["name"] == "layer3.1-35" and layer["count"] == 35 for layer in folded["layers"])


@pytest.mark.parametrize(
    "name",
    [
        "ssdlite320_mobilenet_v3_large",
        "lraspp_mobilenet_v3_large",
        "r2plus1d_18",
        "raft_small",
        "quantized_resnet18",
    ],
)
def test_a_model_of_every_task_summarizes(warm_cache, name):
    result = run("summary", name, "-f", "json", "-d", "1")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert round(data["macs"] / 1e9, 3) == get_model_weights(name).DEFAULT.meta["_ops"]
    assert data["task"] == warm_cache.get(name).task.value


def test_params_command(warm_cache):
    data = json.loads(run("params", "resnet50", "-f", "json").stdout)
    model = get_model("resnet50", weights=None)  # an eager build, counted independently
    assert data["total"] == get_model_weights("resnet50").DEFAULT.meta["num_params"]
    assert data["non_trainable"] == 0 and data["trainable"] == data["total"]
    assert data["buffers"] == sum(b.numel() for b in model.buffers())
    measured = {
        "fp32": sum(p.numel() * p.element_size() for p in model.parameters()),
        "bf16": sum(p.numel() * p.element_size() for p in model.to(torch.bfloat16).parameters()),
        "int8": sum(p.to(torch.int8).numel() * p.to(torch.int8).element_size() for p in model.parameters()),
    }
    assert data["memory_bytes"] == measured
    assert sum(m["params"] for m in data["modules"] if m["depth"] == 1) == data["total"]
    assert set(data["by_type"]) == {"Conv2d", "BatchNorm2d", "Linear"}
    table = run("params", "resnet50", "--by-type").stdout
    assert "Conv2d" in table and "Share" in table


def test_flops_command(warm_cache):
    data = json.loads(run("flops", "convnext_tiny", "-f", "json").stdout)
    assert round(data["macs"] / 1e9, 3) == get_model_weights("convnext_tiny").DEFAULT.meta["_ops"]
    assert data["input_size"] == [1, 3, 224, 224]
    assert sum(m["macs"] for m in data["modules"] if m["depth"] == 1) == data["macs"]
    assert sum(data["by_operator"].values()) == data["macs"]
    table = run("flops", "vit_b_16", "-i", "224").stdout
    assert "MACs" in table and "FLOPs" in table and "17.56 G" in table


def test_user_model_on_the_command_line(warm_cache, tmp_path):
    path = tmp_path / "net.py"
    path.write_text(
        "from torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self, width=4):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(3, width, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.conv(x)\n"
    )
    data = json.loads(run("summary", f"{path}:Net", "-k", "width=8", "-i", "10", "-f", "json").stdout)
    assert data["total_params"] == 8 * 3 * 9 + 8
    assert data["macs"] == 8 * 3 * 9 * 8 * 8
    missing = run("summary", f"{path}:Net")
    assert missing.exit_code == 2 and "--input-size" in missing.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("summary", "resnt50"), 2, "did you mean 'resnet50'"),
        (("summary", "resnet50", "-w", "COCO_V1"), 2, "no weights 'COCO_V1'"),
        (("summary", "inception_v3", "-i", "64"), 2, "at least 75x75"),
        (("summary", "resnet50", "-i", "abc"), 2, "bad --input-size 'abc'"),
        (("summary", "vit_b_16", "-i", "256"), 1, "could not run on input 1,3,256,256"),
        (("summary", "resnet50", "-f", "csv"), 2, "'csv' is not one of 'table', 'json'"),
        (("summary", "missing.py:Net", "-i", "8"), 2, "model file 'missing.py' not found"),
        (("summary", "resnet18", "-k", "foo=1"), 2, "unexpected keyword argument 'foo'"),
        (("summary", "resnet18", "-i", "1,1,224,224"), 2, "3-channel (RGB) input"),
    ],
)
def test_inspection_errors_are_one_line_with_the_right_code(warm_cache, args, code, needle):
    result = run(*args)
    assert result.exit_code == code
    assert needle in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
