"""The README's usage lines stay true: every option they show exists, and every option is shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from cvzoo.cli import app

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
COMMANDS = typer.main.get_command(app).commands


def code_blocks() -> list[str]:
    blocks, current = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def usage_flags() -> dict[str, set[str]]:
    """The --flags each command's usage lines (not the $ examples) in the README show."""
    flags: dict[str, set[str]] = {}
    for block in code_blocks():
        current = None
        for line in block.splitlines():
            match = re.match(r"cvzoo (\w+)\b", line)
            if match and match.group(1) in COMMANDS:
                current = match.group(1)
            elif not line.startswith(" "):
                current = None
            if current:
                flags.setdefault(current, set()).update(re.findall(r"--[a-z][a-z0-9-]*", line))
    return flags


def command_options(name: str) -> list[set[str]]:
    """Each option of the command as the set of its long spellings (--x and --no-x together)."""
    options = []
    for param in COMMANDS[name].params:
        spellings = {o for o in [*param.opts, *param.secondary_opts] if o.startswith("--") and o != "--help"}
        if spellings:
            options.append(spellings)
    return options


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_readme_usage_matches_the_command(name):
    shown = usage_flags()
    assert name in shown, f"the README has no usage line for 'cvzoo {name}'"
    options = command_options(name)
    real = set().union(*options) if options else set()
    assert shown[name] <= real, f"README shows options 'cvzoo {name}' does not have: {shown[name] - real}"
    missing = [sorted(o)[0] for o in options if not o & shown[name]]
    assert not missing, f"README's usage of 'cvzoo {name}' leaves out {missing}"


def test_readme_opens_with_the_two_commands():
    first_block = code_blocks()[0].splitlines()
    assert first_block[0].startswith("pip install -e . && cvzoo ")
    assert first_block[1] == "pip install -e '.[dev]' && python -m pytest -q"
