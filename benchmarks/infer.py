"""Inference: `cvzoo infer` on a folder of JPEGs against the hand-written loop, in one run.

The anchor is what a user would otherwise write: PIL, the weights' transforms, one image at a
time, fp32. Both run resnet50 with the same (randomly initialised) weights planted in a
temporary TORCH_HOME, on the same 96 JPEGs of 500x375, each as a fresh process.
Run: python benchmarks/infer.py [--images 96] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PYTHON, machine, median

MODEL = "resnet50"

HAND_WRITTEN = """\
import sys, time, torch
from pathlib import Path
from PIL import Image
from torchvision.models import get_model, get_model_weights
weights = get_model_weights(sys.argv[1]).DEFAULT
model = get_model(sys.argv[1], weights=weights).eval()
preprocess = weights.transforms()
start = time.perf_counter()
with torch.no_grad():
    for path in sorted(Path(sys.argv[2]).glob("*.jpg")):
        x = preprocess(Image.open(path).convert("RGB")).unsqueeze(0)
        probabilities = torch.softmax(model(x), dim=1)
        top = probabilities.topk(5)
print(time.perf_counter() - start)
"""

PLANT = """\
import sys, torch
from pathlib import Path
from torchvision.models import get_model, get_model_weights
weights = get_model_weights(sys.argv[1]).DEFAULT
path = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
path.parent.mkdir(parents=True, exist_ok=True)
torch.save(get_model(sys.argv[1], weights=None).state_dict(), path)
"""


def make_images(folder: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize((500, 375), Image.BICUBIC).save(folder / f"img{i:03d}.jpg", quality=90)


def wall(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-2000:]}")
    return seconds, proc.stdout


def run(runs: int = 1, count: int = 96) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        make_images(folder, count)
        env = {**os.environ, "TORCH_HOME": str(Path(tmp) / "torch")}
        subprocess.run([PYTHON, "-c", PLANT, MODEL], env=env, check=True)
        subprocess.run([PYTHON, "-m", "cvzoo", "list"], env=env, capture_output=True, check=True)
        cvzoo = [PYTHON, "-m", "cvzoo", "infer", MODEL, str(folder), "--format", "json"]
        cases = {
            "hand-written loop (PIL, transforms, batch 1, fp32)": [
                PYTHON,
                "-c",
                HAND_WRITTEN,
                MODEL,
                str(folder),
            ],
            "cvzoo infer (default: batch 16, BatchNorm folded, channels_last, fp32)": cvzoo,
            "cvzoo infer --precision bf16": [*cvzoo, "--precision", "bf16"],
        }
        # The same commands on the first 16 images: the difference is the time of the other
        # images alone, start-up and model load cancelling out (the steady-state throughput).
        few = Path(tmp) / "few"
        few.mkdir()
        for path in sorted(folder.glob("*.jpg"))[:16]:
            (few / path.name).symlink_to(path)
        rows = []
        for label, argv in cases.items():
            full = median([wall(argv, env)[0] for _ in range(runs)])
            short = median(
                [wall([a if a != str(folder) else str(few) for a in argv], env)[0] for _ in range(runs)]
            )
            rows.append((label, full, (count - 16) / max(full - short, 1e-9)))
    anchor = rows[0][1]
    lines = [
        "## infer: cvzoo against the hand-written loop",
        "",
        f"`python benchmarks/infer.py --images {count} --runs {runs}`: {MODEL}, {count} JPEGs of 500x375,"
        " wall time of each whole command (start-up, model load, decode, inference), median of"
        f" {runs} run(s).",
        "",
        "| command | whole command, s | speed-up | steady images/s | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    anchor_rate = rows[0][2]
    for label, seconds, rate in rows:
        lines.append(
            f"| {label} | {seconds:.1f} | {anchor / seconds:.2f}x | {rate:.1f} | {rate / anchor_rate:.2f}x |"
        )
    lines.append("")
    lines.append(
        f"Steady images/s: ({count} - 16) images over the difference between a run on all {count} and a"
        " run on the first 16, so that start-up (about as long for both: importing torch and"
        " torchvision) and model loading cancel out."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs, args.images))
