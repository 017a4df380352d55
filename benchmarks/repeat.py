"""Repeats: `cvzoo summary/params/flops` for a model counted before, against its first count.

The anchor is what answering needs without a cache: the first count, which imports torch and
torchvision and builds the model on meta, and a bare `import torchvision` (the least any
torch-based tool pays). Each command is a fresh process with its own empty cache folder; the
first run is timed with `--no-cache`, the repeats are the median of N.
Run: python benchmarks/repeat.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from _common import PYTHON, machine, median, time_command

COMMANDS = [
    ("summary", "resnet152"),
    ("params", "resnet152"),
    ("flops", "resnet152"),
    ("summary", "vit_h_14"),
]


def run(runs: int = 9) -> str:
    with tempfile.TemporaryDirectory() as cache:
        env = {"CVZOO_CACHE_DIR": cache}
        anchor = median(time_command([PYTHON, "-c", "import torchvision"], runs))
        lines = [
            "## Repeats: a model counted before answers without torch",
            "",
            f"`python benchmarks/repeat.py --runs {runs}`: wall time of each command as a fresh process;"
            f" the first count with `--no-cache`, repeats the median of {runs} runs. A bare"
            f" `python -c 'import torchvision'` takes {anchor:.2f} s here.",
            "",
            "| command | first count, s | repeat, s | repeat vs first | repeat vs import torchvision |",
            "|---|---:|---:|---:|---:|",
        ]
        for command, model in COMMANDS:
            argv = [PYTHON, "-m", "cvzoo", command, model]
            first = median(time_command([*argv, "--no-cache"], 1, env=env))
            again = median(time_command(argv, runs, env=env))
            lines.append(
                f"| `cvzoo {command} {model}` | {first:.2f} | {again:.3f} | {again / first:.3f}x"
                f" | {again / anchor:.3f}x |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    os.environ.pop("COLUMNS", None)
    print(f"Machine: {machine()}\n")
    print(run(args.runs))
