"""Receptive fields: `cvzoo summary --receptive-field` of the two largest models, against a bare import.

The fields are followed through the same forward pass on meta that counts the MACs (a
``TorchDispatchMode`` with a rule per aten operator), so the cost over a plain count is that of
the rules. The anchor is a bare `import torchvision`, the least any torch-based tool pays; the
goal is to stay within 1.5 s of it. Each command is a fresh process with `--no-cache` (a first
count every time), timed by wall clock with its peak RSS; seconds are the median of N runs after
one untimed warm-up (cvzoo's catalogue cache warm), peak RSS the highest.
Run: python benchmarks/receptive_field.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess

from _common import PYTHON, machine
from summary import GNU_TIME, MODELS, measure, mib, repeat

GOAL_S = 1.5  # over a bare import of torchvision


def fields_found(name: str) -> str:
    """How many of the model's modules have a field, and the last one's size and stride."""
    flags = ["--receptive-field", "--no-cache", "--depth", "9", "--no-collapse", "--format", "json"]
    argv = [PYTHON, "-m", "cvzoo", "summary", name, *flags]
    _, _, out = measure(argv)
    layers = json.loads(out)["layers"]
    found = [layer for layer in layers if layer["receptive_field"]]
    last = found[-1]
    size, stride = "x".join(map(str, last["receptive_field"])), "x".join(map(str, last["rf_stride"]))
    where = f"the last, `{last['name']}`, sees {size} at stride {stride}"
    return f"{name}: {len(found)} of {len(layers)} rows (every module, unfolded) have a field; {where}"


def run(runs: int = 3) -> str:
    subprocess.run([PYTHON, "-m", "cvzoo", "list"], capture_output=True, check=True)  # warm the catalogue
    floor_argv = [PYTHON, "-c", "import torchvision"]
    measure(floor_argv)
    floor_s, floor_kib = repeat(floor_argv, runs)
    rows = [f"| (any) | `import torchvision` alone | {floor_s:.2f} | {mib(floor_kib)} | | |"]
    facts = []
    for name in MODELS:
        facts.append(fields_found(name))  # also the untimed warm-up
        plain = [PYTHON, "-m", "cvzoo", "summary", name, "--no-cache"]
        plain_s, plain_kib = repeat(plain, runs)
        fields_s, fields_kib = repeat([*plain, "--receptive-field"], runs)
        over = plain_s - floor_s
        rows.append(f"| {name} | `summary --no-cache` | {plain_s:.2f} | {mib(plain_kib)} | {over:+.2f} | |")
        rows.append(
            f"| {name} | `summary --receptive-field --no-cache` | {fields_s:.2f} | {mib(fields_kib)}"
            f" | {fields_s - floor_s:+.2f} | {fields_s - plain_s:+.2f} |"
        )
    lines = [
        "## summary --receptive-field: following every layer's field on meta",
        "",
        f"`python benchmarks/receptive_field.py --runs {runs}`: each command a fresh process with"
        f" `--no-cache`, timed by wall clock with its peak RSS from"
        f" {'`/usr/bin/time`' if GNU_TIME else 'getrusage'}; seconds are the median of {runs} runs"
        f" after one untimed warm-up. Goal: within {GOAL_S} s of a bare import.",
        "",
        "| model | command | seconds | peak RSS | minus bare import, s | minus plain summary, s |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Layers with a field (the rest are global: attention, global pooling and what follows):",
        "",
        *[f"- {fact}" for fact in facts],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs))
