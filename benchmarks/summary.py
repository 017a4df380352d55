"""Summary: `cvzoo summary` of two huge models against torchinfo on an eagerly built model.

`cvzoo summary` builds the model on the meta device and counts MACs with FlopCounterMode; the
anchor is what a user would otherwise write: build the model with torchvision (no weights, but
every parameter allocated and initialised) and call `torchinfo.summary` on a real CPU tensor.
Both use the architecture and input size of the DEFAULT weights. The floor is a bare
`import torchvision`. Every measurement is a fresh process, timed with its peak RSS.
Run: python benchmarks/summary.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

from _common import PYTHON, machine, median

# name -> (torchvision builder kwargs, input side) matching the DEFAULT weights.
MODELS: dict[str, tuple[dict[str, int], int]] = {
    "vit_h_14": ({"image_size": 518}, 518),  # DEFAULT = IMAGENET1K_SWAG_E2E_V1, 518x518
    "regnet_y_128gf": ({}, 384),  # DEFAULT = IMAGENET1K_SWAG_E2E_V1, 384x384
}

TORCHINFO_SCRIPT = """\
import sys, torch, torchvision, torchinfo
name, cfg, size = sys.argv[1], eval(sys.argv[2]), int(sys.argv[3])
m = torchvision.models.get_model(name, weights=None, **cfg)
# torchinfo.summary runs its forward pass under torch.no_grad() itself; mode="eval" sets eval().
s = torchinfo.summary(m, input_size=(1, 3, size, size), device="cpu", verbose=0, mode="eval")
print(s.total_mult_adds)
"""

# Fallback when /usr/bin/time is missing: a wrapper whose only child is the command, so its
# RUSAGE_CHILDREN peak is that command's own.
WRAPPER = """\
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[2:], check=True)
seconds = time.perf_counter() - start
kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(sys.argv[1], "w").write(f"{seconds} {kib}")
"""

GNU_TIME = "/usr/bin/time" if shutil.which("/usr/bin/time") else None

# A torchinfo run slower than this is not repeated.
SLOW_S = 20.0


def measure(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv`` once in a fresh process: wall seconds, peak RSS in KiB, and its stdout."""
    fd, report = tempfile.mkstemp(suffix=".txt")
    os.close(fd)
    try:
        if GNU_TIME:
            start = time.perf_counter()
            done = subprocess.run(
                [GNU_TIME, "-f", "%e %M", "-o", report, *argv], capture_output=True, text=True
            )
            seconds = time.perf_counter() - start
        else:
            done = subprocess.run([PYTHON, "-c", WRAPPER, report, *argv], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{argv} failed ({done.returncode}):\n{done.stderr[-2000:]}")
        with open(report) as f:
            fields = f.read().split()
        if not GNU_TIME:
            seconds = float(fields[0])
        kib = int(fields[-1])
    finally:
        os.unlink(report)
    return seconds, kib, done.stdout


def repeat(argv: list[str], runs: int) -> tuple[float, int]:
    """Median seconds and the highest peak RSS (KiB) over ``runs`` runs."""
    results = [measure(argv)[:2] for _ in range(runs)]
    return median([s for s, _ in results]), max(k for _, k in results)


def published_gmacs(name: str) -> float:
    import torchvision

    return float(torchvision.models.get_model_weights(name).DEFAULT.meta["_ops"])


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def run(runs: int = 3) -> str:
    # Warm the catalogue cache and the file cache before anything is timed.
    subprocess.run([PYTHON, "-m", "cvzoo", "list"], capture_output=True, check=True)
    floor_argv = [PYTHON, "-c", "import torchvision"]
    measure(floor_argv)
    floor_s, floor_kib = repeat(floor_argv, runs)

    rows = [f"| (any) | `import torchvision` alone | {floor_s:.2f} | {mib(floor_kib)} | - | |"]
    over_floor = []
    torchinfo_runs = {}
    for name, (cfg, size) in MODELS.items():
        # The JSON run gives cvzoo's MACs and is the untimed warm-up of the timed runs.
        # --no-cache: a first count every time (a repeat answers from the cache: benchmarks/repeat.py)
        _, _, out = measure([PYTHON, "-m", "cvzoo", "summary", name, "--no-cache", "--format", "json"])
        cvzoo_gmacs = json.loads(out)["macs"] / 1e9
        cvzoo_s, cvzoo_kib = repeat([PYTHON, "-m", "cvzoo", "summary", name, "--no-cache"], runs)

        ti_argv = [PYTHON, "-c", TORCHINFO_SCRIPT, name, repr(cfg), str(size)]
        ti_results = []
        while len(ti_results) < runs:
            seconds, kib, out = measure(ti_argv)
            ti_results.append((seconds, kib))
            if seconds > SLOW_S:
                break
        torchinfo_runs[name] = len(ti_results)
        ti_s = median([s for s, _ in ti_results])
        ti_kib = max(k for _, k in ti_results)
        ti_gmacs = int(out.split()[-1]) / 1e9

        rows.append(
            f"| {name} | cvzoo summary --no-cache | {cvzoo_s:.2f} | {mib(cvzoo_kib)} | {cvzoo_gmacs:.3f}"
            f" | {cvzoo_s / ti_s:.2f}x |"
        )
        rows.append(
            f"| {name} | torchinfo, eager build ({size}x{size}) | {ti_s:.2f} | {mib(ti_kib)}"
            f" | {ti_gmacs:.3f} | 1.00x |"
        )
        over_floor.append(f"{cvzoo_s - floor_s:+.2f} s ({name})")

    ti_note = ", ".join(f"{n} {r}" for n, r in torchinfo_runs.items())
    published = ", ".join(f"{n} {published_gmacs(n)}" for n in MODELS)
    lines = [
        "## summary: cvzoo against torchinfo on an eagerly built model",
        "",
        f"`python benchmarks/summary.py --runs {runs}`: each command is a fresh process, timed by wall"
        f" clock with its peak RSS from {'`/usr/bin/time`' if GNU_TIME else 'getrusage'}; seconds are"
        f" the median of {runs} runs after one untimed warm-up (cvzoo's catalogue cache warm), peak"
        f" RSS the highest of them; torchinfo builds the model with `torchvision.models.get_model("
        f"weights=None)` at the DEFAULT weights' architecture and input and calls `torchinfo.summary("
        f"mode='eval')` on a CPU tensor (no_grad is torchinfo's own), and is not repeated once a run"
        f" takes over {SLOW_S:.0f} s (runs taken: {ti_note}).",
        "",
        "| model | tool | seconds | peak RSS | GMACs reported | vs torchinfo (time) |",
        "|---|---|---:|---:|---:|---:|",
        *rows,
        "",
        f"Published GMACs: {published}. cvzoo summary minus bare import: {', '.join(over_floor)}."
        " torchinfo counts a non-convolution layer's MACs as batch x parameters, so it misses the"
        " per-token work of every Linear and all of attention's matmuls (far under for ViT).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs))
