"""Memory of `cvzoo infer` over many images: JSON Lines keeps it flat.

Peak resident memory of `cvzoo infer mobilenet_v3_small DIR --format jsonl` on 10,000 small
JPEGs against the same on 100: decoding runs a bounded number of images ahead and each result
is written as soon as its batch is done, so the larger run should need no more memory. The
same 10,000 with `--format json` (every result kept to write one array) is shown beside them.
Each command runs as a fresh process; its peak is the kernel's account (ru_maxrss).
Run: python benchmarks/infer_memory.py [--images 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import PYTHON, machine
from infer import PLANT, first, make_images

MODEL = "mobilenet_v3_small"

MEASURE = """\
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
if done.returncode:
    sys.exit(done.stderr[-2000:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Peak resident MiB of ``argv`` (a fresh process) and its wall seconds."""
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", MEASURE, *argv], env=env, capture_output=True, text=True, check=True)
    return int(done.stdout) / 1024, time.perf_counter() - start


def run(count: int = 10_000) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root / "all", count, size=(96, 72))
        hundred = first(root / "hundred", root / "all", 100)
        env = {**os.environ, "TORCH_HOME": str(root / "torch"), "CVZOO_CACHE_DIR": str(root / "cache")}
        subprocess.run([PYTHON, "-c", PLANT, MODEL], env=env, check=True)
        cvzoo = [PYTHON, "-m", "cvzoo", "infer", MODEL, "--compile", "never"]
        peak([*cvzoo, str(hundred), "-f", "jsonl"], env)  # builds the catalogue once, as a first command does
        rows = [
            ("100 images, --format jsonl", *peak([*cvzoo, str(hundred), "-f", "jsonl"], env)),
            (f"{count:,} images, --format jsonl", *peak([*cvzoo, str(root / "all"), "-f", "jsonl"], env)),
            (f"{count:,} images, --format json", *peak([*cvzoo, str(root / "all"), "-f", "json"], env)),
        ]
    anchor = rows[0][1]
    lines = [
        "## infer: memory over many images",
        "",
        f"`python benchmarks/infer_memory.py --images {count}`: {MODEL}, JPEGs of 96x72, peak resident"
        " memory of each command as a fresh process (the kernel's ru_maxrss).",
        "",
        "| command | peak MiB | against 100 images | wall s |",
        "|---|---:|---:|---:|",
    ]
    for label, mib, seconds in rows:
        lines.append(f"| {label} | {mib:.0f} | {mib / anchor:.2f}x | {seconds:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.images))
