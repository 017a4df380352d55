"""Inference: `cvzoo infer` on a folder of JPEGs against the hand-written loop, in one run.

The anchor is what a user would otherwise write: PIL, the weights' transforms, one image at a
time, fp32. Every case runs resnet50 with the same (randomly initialised) weights planted in a
temporary TORCH_HOME, each as a fresh process, on JPEGs of 500x375:

- steady state: images per second once the model is loaded, from a run on all the images and a
  run on the first 16 (the difference is the time of the other images alone);
- the whole command on 96 images, start-up and model load included, as a user times it.

`--compile always` is timed with torch's compile cache warm (one untimed run first); the first
compilation's time is measured apart, with an empty cache. With ``--runs N`` the cases take turns,
N rounds of each, so that a machine whose speed drifts slows them all alike.
Run: python benchmarks/infer.py [--images 480] [--runs 1]
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
with torch.no_grad():
    for path in sorted(Path(sys.argv[2]).glob("*.jpg")):
        x = preprocess(Image.open(path).convert("RGB")).unsqueeze(0)
        probabilities = torch.softmax(model(x), dim=1)
        top = probabilities.topk(5)
        print(path, top.indices.tolist())
"""

# The model alone, as cvzoo prepares it (BatchNorm folded, channels_last, batch 16), on random input:
# what the hardware allows before any image is decoded, the ceiling of the steady rates above.
MODEL_ALONE = """\
import sys, time, torch, contextlib
from torch.fx.experimental.optimization import fuse
from torchvision.models import get_model
model = fuse(get_model(sys.argv[1]).eval()).to(memory_format=torch.channels_last)
x = torch.rand(16, 3, 224, 224).contiguous(memory_format=torch.channels_last)
bf16 = lambda: torch.autocast("cpu", torch.bfloat16)
for name, context in (("fp32", contextlib.nullcontext), ("bf16", bf16)):
    with torch.inference_mode(), context():
        model(x)
        start = time.perf_counter()
        for _ in range(8):
            model(x)
        print(name, 8 * 16 / (time.perf_counter() - start))
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


def make_images(folder: Path, count: int, size: tuple[int, int] = (500, 375)) -> None:
    """``count`` smooth random JPEGs (photo-like to the codec), different per index."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        Image.fromarray(small).resize(size, Image.BICUBIC).save(folder / f"img{i:05d}.jpg", quality=90)


def first(folder: Path, source: Path, count: int) -> Path:
    """A folder of links to the first ``count`` images of ``source``."""
    folder.mkdir()
    for path in sorted(source.glob("*.jpg"))[:count]:
        (folder / path.name).symlink_to(path)
    return folder


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr[-2000:]}")
    return seconds


def run(runs: int = 1, count: int = 480) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root / "all", count)
        few, whole = first(root / "few", root / "all", 16), first(root / "whole", root / "all", 96)
        env = {**os.environ, "TORCH_HOME": str(root / "torch"), "CVZOO_CACHE_DIR": str(root / "cache")}
        subprocess.run([PYTHON, "-c", PLANT, MODEL], env=env, check=True)
        cvzoo = [PYTHON, "-m", "cvzoo", "infer", MODEL, "FOLDER", "--format", "jsonl", "--compile", "never"]
        cases = {
            "hand-written loop (PIL, transforms, batch 1, fp32)": [
                PYTHON,
                "-c",
                HAND_WRITTEN,
                MODEL,
                "FOLDER",
            ],
            "cvzoo infer (default: batch 16, BatchNorm folded, channels_last, fp32)": cvzoo,
            "cvzoo infer --batch-size 8": [*cvzoo, "--batch-size", "8"],
            "cvzoo infer --precision bf16": [*cvzoo, "--precision", "bf16"],
            "cvzoo infer --precision bf16 --compile always": [*cvzoo[:-1], "always", "--precision", "bf16"],
        }
        compiling = cases["cvzoo infer --precision bf16 --compile always"]
        first_compile = wall([a if a != "FOLDER" else str(few) for a in compiling], env)
        # Rounds, each case in turn: a machine whose speed drifts (a shared VM) slows every case
        # alike, rather than whichever ran last.
        times: dict[str, dict[str, list[float]]] = {label: {} for label in cases}
        for _ in range(runs):
            for label, argv in cases.items():
                for key, folder in (("full", root / "all"), ("short", few), ("small", whole)):
                    argv_here = [a if a != "FOLDER" else str(folder) for a in argv]
                    times[label].setdefault(key, []).append(wall(argv_here, env))
        rows = []
        for label, measured in times.items():
            full, short, small = (median(measured[k]) for k in ("full", "short", "small"))
            rows.append((label, small, (count - 16) / max(full - short, 1e-9)))
        warm_compile = wall([a if a != "FOLDER" else str(few) for a in compiling], env)
        alone = subprocess.run(
            [PYTHON, "-c", MODEL_ALONE, MODEL], env=env, capture_output=True, text=True, check=True
        )
        ceiling = dict(line.split() for line in alone.stdout.splitlines())
        plain = wall([a if a != "FOLDER" else str(few) for a in cases["cvzoo infer --precision bf16"]], env)
    anchor_seconds, anchor_rate = rows[0][1], rows[0][2]
    lines = [
        "## infer: cvzoo against the hand-written loop",
        "",
        f"`python benchmarks/infer.py --images {count} --runs {runs}`: {MODEL}, JPEGs of 500x375, each"
        f" command a fresh process, median of {runs} run(s), the cases taking turns. Steady: images per"
        f" second once the model is loaded, ({count} - 16) images over the difference between a run on"
        f" all {count} and a run on the first 16. Whole command: wall time on 96 images, start-up and"
        " model load included.",
        "",
        "| command | steady images/s | speed-up | whole command on 96, s | speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, seconds, rate in rows:
        speedups = f"{rate / anchor_rate:.2f}x | {seconds:.1f} | {anchor_seconds / seconds:.2f}x"
        lines.append(f"| {label} | {rate:.1f} | {speedups} |")
    lines += [
        "",
        f"`--compile always` on 16 images: {first_compile:.1f} s with an empty compile cache,"
        f" {warm_compile:.1f} s with it warm, against {plain:.1f} s without compiling (bf16). The"
        " compiled rows above are timed warm.",
        "",
        f"The model alone as cvzoo runs it (BatchNorm folded, channels_last, batch 16, random input, no"
        f" image decoded): fp32 {float(ceiling['fp32']):.1f} images/s"
        f" ({float(ceiling['fp32']) / anchor_rate:.2f}x the hand loop's steady rate), bf16"
        f" {float(ceiling['bf16']):.1f} ({float(ceiling['bf16']) / anchor_rate:.2f}x): the ceiling of"
        " the eager rows, since decoding shares the same cores.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=480)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.runs, args.images))
