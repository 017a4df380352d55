"""Graph: `cvzoo graph` of the two largest models against a bare `import torchvision`.

`cvzoo graph` builds the model on meta and traces it once (hooks and a dispatch mode beside the
FLOP counter), then lays the graph out and draws it in pure Python. The floor is the import every
torch tool pays; the goal is to stay within 1.5 s of it. Each format is its own fresh process:
JSON (tracing and folding only), SVG (plus layout and drawing) and HTML (plus the insides of every
block, each laid out). Run: python benchmarks/graph.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import tempfile

from _common import PYTHON, machine, median, time_command

MODELS = ["vit_h_14", "regnet_y_128gf"]
FORMATS = ["json", "svg", "html"]
GOAL_S = 1.5


def run(runs: int = 5) -> str:
    anchor = median(time_command([PYTHON, "-c", "import torchvision"], runs))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for model in MODELS:
            for fmt in FORMATS:
                out = os.path.join(folder, f"{model}.{fmt}")
                seconds = median(time_command([PYTHON, "-m", "cvzoo", "graph", model, "--out", out], runs))
                over = seconds - anchor
                mark = "yes" if over <= GOAL_S else "no"
                rows.append(
                    f"| `cvzoo graph {model} -o {model}.{fmt}` | {seconds:.2f} | {over:+.2f} | {mark} |"
                )
    lines = [
        "## graph: the dataflow graph of the largest models",
        "",
        f"`python benchmarks/graph.py --runs {runs}`: median wall time of {runs} runs of each command as a"
        f" fresh process (after one untimed run), against a bare `python -c 'import torchvision'`"
        f" ({anchor:.2f} s here); the goal is to stay within {GOAL_S} s of it.",
        "",
        f"| command | seconds | over import torchvision, s | within {GOAL_S} s |",
        "|---|---:|---:|:---:|",
        *rows,
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs))
