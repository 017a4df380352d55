"""Helpers for the benchmark scripts: timing child processes and describing the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata

# The CPU features that decide how fast a model runs here: bf16 is native with these, emulated without.
FLAGS_THAT_MATTER = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    """The flags of FLAGS_THAT_MATTER this CPU has (from /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line.split(":", 1)[1].split() for line in f if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    return [flag for flag in FLAGS_THAT_MATTER if flag in flags]


def machine() -> str:
    """One line naming the machine the figures came from, with the CPU flags that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("torch", "torchvision", "typer", "rich"))
    flags = " ".join(cpu_flags()) or "none of " + " ".join(FLAGS_THAT_MATTER)
    return f"{cpu}, {os.cpu_count()} cores (flags: {flags}), Python {platform.python_version()}, {versions}"


def time_command(argv: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall-clock seconds of ``argv`` per run, after one untimed run to warm the file cache."""
    env = {**os.environ, **(env or {})}
    subprocess.run(argv, capture_output=True, env=env, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


PYTHON = sys.executable
