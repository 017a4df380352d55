"""Run every benchmark and rewrite benchmarks/RESULTS.md with their figures.

Run: python benchmarks/run.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench  # noqa: E402
import graph  # noqa: E402
import infer  # noqa: E402
import infer_memory  # noqa: E402
import ray_engine  # noqa: E402
import receptive_field  # noqa: E402
import repeat  # noqa: E402
import startup  # noqa: E402
import summary  # noqa: E402
from _common import machine  # noqa: E402

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Fewer repetitions, for a smoke run.")
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    sections = [
        startup.run(runs),
        repeat.run(runs),
        summary.run(min(runs, 3)),
        receptive_field.run(min(runs, 3)),
        graph.run(min(runs, 5)),
        infer.run(1 if args.quick else 3),
        infer_memory.run(),
        ray_engine.run(),
        bench.run(),
    ]
    out = HERE / "RESULTS.md"
    text = "\n".join(
        [
            "# Benchmark results",
            "",
            "Rewritten by `python benchmarks/run.py`; each section says how to rerun it alone.",
            "",
            f"- Machine: {machine()}",
            f"- Date: {datetime.date.today().isoformat()}",
            "",
            *sections,
            *_kept(out),
        ]
    )
    fd, tmp = tempfile.mkstemp(dir=HERE, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(text)


KEPT = "## Other machines"  # figures from machines other than this one: kept as they are


def _kept(results: Path) -> list[str]:
    """The section of the old results that a run on this machine can't redo, kept whole."""
    try:
        old = results.read_text(encoding="utf-8")
    except OSError:
        return []
    start = old.find(KEPT)
    return [old[start:].rstrip() + "\n"] if start >= 0 else []


if __name__ == "__main__":
    main()
