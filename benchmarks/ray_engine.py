"""The Ray engine against the local one, on the same folder on this machine: what Ray costs.

`cvzoo infer resnet50 DIR --engine ray --out OUT` (a local Ray cluster started for the run, as a
laptop user gets it) against `cvzoo infer resnet50 DIR --format jsonl`, each a fresh process,
with the same planted weights, in fp32. Steady rates come from a run on all the images and a run
on the first 16, as in benchmarks/infer.py; the rest of each command's time is its fixed cost
(start-up, and for Ray, starting the cluster and its workers).
Run: python benchmarks/ray_engine.py [--images 240]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import PYTHON, machine
from infer import PLANT, first, make_images, wall

MODEL = "resnet50"


def run(count: int = 240) -> str:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "## infer --engine ray\n\nNot measured: Ray is not installed (pip install 'cvzoo[ray]').\n"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root / "all", count)
        few = first(root / "few", root / "all", 16)
        env = {**os.environ, "TORCH_HOME": str(root / "torch"), "CVZOO_CACHE_DIR": str(root / "cache")}
        env.pop("RAY_ADDRESS", None)
        subprocess.run([PYTHON, "-c", PLANT, MODEL], env=env, check=True)
        base = [PYTHON, "-m", "cvzoo", "infer", MODEL]
        local = [*base, "FOLDER", "-f", "jsonl", "--compile", "never"]
        ray = [*base, "FOLDER", "--engine", "ray", "--out", str(root / "out"), "-f", "json"]

        def timed(argv: list[str], folder: Path) -> float:
            shutil.rmtree(root / "out", ignore_errors=True)
            return wall([a if a != "FOLDER" else str(folder) for a in argv], env)

        rows = []
        for label, argv in (("local engine (--format jsonl)", local), ("--engine ray (local cluster)", ray)):
            timed(argv, few)  # warm the file cache and Ray's first start
            full, short = timed(argv, root / "all"), timed(argv, few)
            rate = (count - 16) / max(full - short, 1e-9)
            rows.append((label, full, rate, full - count / rate))
    workers = max(1, (os.cpu_count() or 2) // 2)
    lines = [
        "## infer --engine ray: its cost on one machine",
        "",
        f"`python benchmarks/ray_engine.py --images {count}`: {MODEL} in fp32 on {count} JPEGs of 500x375,"
        " each command a fresh process. Steady: images per second once running, from runs on all the"
        " images and on the first 16; fixed: the rest of the command's time.",
        "",
        f"| engine | whole command on {count}, s | steady images/s | fixed cost, s |",
        "|---|---:|---:|---:|",
    ]
    for label, full, rate, fixed in rows:
        lines.append(f"| {label} | {full:.1f} | {rate:.1f} | {fixed:.1f} |")
    per_worker = rows[1][2] / workers
    lines += [
        "",
        f"Ray ran {workers} model actor(s) here (half the CPUs; the other half decodes), each with one"
        f" thread: {per_worker:.1f} images/s per actor, against {rows[0][2]:.1f} for the local engine,"
        " whose model uses every core.",
        "",
        "Projection, not a measurement (no cluster or GPU was lent to this project): Ray Data scales"
        " the actor pool across nodes, so N CPU actors like these would classify about"
        f" {per_worker:.0f}·N images/s, as long as storage keeps up and a CPU is left for decoding per"
        " 100 or so images/s (decoding and the weights' transforms take about 2.5 ms of one core per"
        " 500x375 JPEG here). On GPU workers the model is no longer the bound: timm's published"
        " resnet50 figure is 6,356 images/s in fp16 on one RTX 5090, which would take about 16 cores"
        " of PIL decoding per GPU; with the usual 8-12 cores per GPU, N GPU workers would give about"
        " 3,000-5,000·N images/s, bound by decoding, not by the GPU. The fixed cost above (starting"
        " the cluster and loading the model once per actor) is paid once per job.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=240)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print(run(args.images))
