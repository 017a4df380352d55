"""The code keeps its shape: short functions, modules of one job, and an architecture page that is true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
MODULES = sorted(p for p in (ROOT / "cvzoo").rglob("*.py"))
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 450
EXCUSE = "# long:"  # a comment in the first lines of a function or module that says why it is longer


def _excused(lines: list[str], start: int) -> bool:
    return any(EXCUSE in line for line in lines[start : start + 5])


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_and_modules_are_short(path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if not _excused(lines, 0):
        assert len(lines) <= MAX_MODULE_LINES, f"{path.name} has {len(lines)} lines; split it by job"
    long = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and not _excused(lines, node.lineno - 1):
                long.append(f"{node.name} ({length} lines)")
    assert not long, f"{path.name}: {', '.join(long)} longer than {MAX_FUNCTION_LINES} lines"


def test_the_architecture_page_names_every_module_and_only_those():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| `([\w/]+\.py)` \|", page, flags=re.MULTILINE))
    present = {str(p.relative_to(ROOT / "cvzoo")) for p in MODULES} - {"__init__.py", "__main__.py"}
    assert named == present, (
        f"missing from the page: {present - named}; gone from the code: {named - present}"
    )
