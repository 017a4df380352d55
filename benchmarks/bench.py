"""bench: `cvzoo bench` against a plain timing loop over the same model, in one run.

The anchor is the loop a user would write: build the model, warm it up, time a few calls
with time.perf_counter under inference_mode. Both time resnet50 and efficientnet_b0 with random
weights at batch 1 and 8 on the CPU; they must agree within noise once cvzoo's default
optimisations (channels-last, BatchNorm folded) are turned off, and the default shows what those
buy. Run: python benchmarks/bench.py [--iters 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess

from _common import PYTHON, machine

MODELS = ["resnet50", "efficientnet_b0"]
BATCHES = [1, 8]

PLAIN = """\
import json, statistics, sys, time, torch
from torchvision.models import get_model
name, warmup, iters = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
batches = [int(b) for b in sys.argv[2].split(",")]
model = get_model(name, weights=None).eval()
size = {"resnet50": 224, "efficientnet_b0": 224}[name]
out = {}
with torch.inference_mode():
    for batch in batches:
        x = torch.rand(batch, 3, size, size)
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(iters):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1000)
        out[batch] = statistics.median(times)
print(json.dumps(out))
"""


def cvzoo_p50(name: str, iters: int, warmup: int, channels_last: bool) -> dict[int, float]:
    flag = "--channels-last" if channels_last else "--no-channels-last"
    argv = [PYTHON, "-m", "cvzoo", "bench", name, "-b", ",".join(map(str, BATCHES)), "--iters", str(iters)]
    argv += ["--warmup", str(warmup), flag, "--device", "cpu", "--format", "json"]
    rows = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    return {r["batch_size"]: r["latency_ms"]["p50"] for r in rows}


def run(iters: int = 10, warmup: int = 3) -> str:
    lines = [
        "## bench: cvzoo against a plain timing loop (CPU)",
        "",
        f"`python benchmarks/bench.py --iters {iters}`: median latency of {iters} timed calls after"
        f" {warmup} warm-up calls, random weights, 224x224 input, on this machine's CPU.",
        "",
        "| model | batch | plain loop, ms | cvzoo --no-channels-last, ms | ratio | cvzoo default, ms"
        " | speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in MODELS:
        plain_argv = [PYTHON, "-c", PLAIN, name, ",".join(map(str, BATCHES)), str(warmup), str(iters)]
        plain = {
            int(k): v
            for k, v in json.loads(
                subprocess.run(plain_argv, capture_output=True, text=True, check=True).stdout
            ).items()
        }
        same = cvzoo_p50(name, iters, warmup, channels_last=False)
        fast = cvzoo_p50(name, iters, warmup, channels_last=True)
        for batch in BATCHES:
            lines.append(
                f"| {name} | {batch} | {plain[batch]:.1f} | {same[batch]:.1f}"
                f" | {same[batch] / plain[batch]:.2f} | {fast[batch]:.1f}"
                f" | {plain[batch] / fast[batch]:.2f}x |"
            )
    lines += [
        "",
        "GPU figures (resnet50, efficientnet_b0 and vit_b_16 at batch 256, bf16, channels_last, eager and"
        " `--compile`) need a GPU machine: none was lent to the session that wrote this, so they are"
        " not here yet. Run `cvzoo bench resnet50 efficientnet_b0 vit_b_16 -b 256 --precision bf16"
        " --device cuda [--compile]` on one and add them.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.iters))
