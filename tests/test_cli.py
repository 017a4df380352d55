"""The command line: formats, exit codes, streams, and no torch for metadata."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cvzoo import __version__
from cvzoo.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"cvzoo {__version__}"


def test_list_json_holds_the_whole_zoo_with_torchvision_numbers(warm_cache):
    result = run("list", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 121
    by_name = {r["name"]: r for r in rows}
    for name, entry in warm_cache.models.items():
        row = by_name[name]
        assert row["weights"] == entry.default.name
        assert row["params"] == entry.default.params and isinstance(row["params"], int)
        assert row["gmacs"] == entry.default.gmacs
        assert row["task"] == entry.task.value
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
    assert "hidden to fit the terminal" in result.stdout
    golden("list_detection_w60.txt", result.stdout)


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
        runner.invoke(app, ["--debug", "list", "resnet19"], catch_exceptions=False)


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


@pytest.mark.parametrize("args", [("list",), ("--help",), ("list", "--help"), ("list", "vit", "-f", "json")])
def test_metadata_commands_never_import_torch_once_the_cache_is_warm(warm_cache, args):
    proc = _run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert "TORCH_IMPORTED=False" in proc.stderr


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
