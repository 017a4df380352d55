"""Start-up: warm `cvzoo list` and `cvzoo --help` against a bare `import torchvision`.

A user who wants the zoo's table would otherwise write a script that imports torchvision;
the anchor is that import alone. Run: python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse

from _common import PYTHON, machine, median, time_command

CASES = {
    "python -c 'import torchvision' (anchor)": [PYTHON, "-c", "import torchvision"],
    "cvzoo list": [PYTHON, "-m", "cvzoo", "list"],
    "cvzoo --help": [PYTHON, "-m", "cvzoo", "--help"],
    "cvzoo list vit --format json": [PYTHON, "-m", "cvzoo", "list", "vit", "--format", "json"],
}


def run(runs: int = 7) -> str:
    # The first cvzoo run warms the catalogue cache: what is measured is every run after it.
    timings = {label: median(time_command(argv, runs)) for label, argv in CASES.items()}
    anchor = next(iter(timings.values()))
    lines = [
        "## Start-up (warm cache)",
        "",
        f"`python benchmarks/startup.py --runs {runs}`: median wall time of {runs} runs,"
        " each a fresh process.",
        "",
        "| command | seconds | vs import torchvision |",
        "|---|---:|---:|",
    ]
    for label, seconds in timings.items():
        lines.append(f"| `{label}` | {seconds:.3f} | {seconds / anchor:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs))
