"""Latency and throughput: each model timed on synthetic input, on the chosen device.

Random weights unless asked otherwise, so nothing downloads; the input has the weights' own
size. Every timed iteration is synchronised with the device. A batch size that runs out of
memory is reported as such and the others still run.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cvzoo import stats
from cvzoo.catalog import Catalog, CompareRow, Task
from cvzoo.errors import UsageError, first_line
from cvzoo.infer import Precision, choose_device, fold_batchnorm
from cvzoo.registry import (
    BuiltModel,
    WeightsKind,
    build,
    build_initialised,
    detect_device,
    load_pretrained,
    materialize,
)

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Latency:
    p50: float  # milliseconds per batch
    p90: float
    p99: float
    mean: float


@dataclass(frozen=True)
class BenchRow:
    """One model at one batch size: how fast, how much memory, or why it failed."""

    model: str
    device: str
    precision: str
    batch_size: int
    channels_last: bool
    compiled: bool
    status: str  # "ok", "oom" (out of memory) or "error"
    latency_ms: Latency | None = None
    throughput: float | None = None  # images (or clips, or image pairs) per second
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None  # "cuda allocator peak" or "process peak RSS"
    gmacs_per_s: float | None = None  # counted MACs of one batch x batches per second
    iterations: int = 0
    error: str | None = None


def parse_batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or any(s < 1 for s in sizes):
        raise UsageError(f"bad --batch-size '{text}'; give positive integers, e.g. 1,8,32")
    return sizes


def quantized_note(built: BuiltModel, pretrained: bool) -> str | None:
    """What a user should know before a quantized model is timed."""
    if built.task is Task.quantized and not pretrained:
        return f"{built.name} is timed in float form; --weights loads the int8 model (CPU only)"
    return None


def bench_model(
    built: BuiltModel,
    device: torch.device | str | None,
    batch_sizes: Sequence[int],
    precision: Precision = Precision.fp32,
    channels_last: bool = True,
    compile: bool = False,
    warmup: int = 3,
    iters: int = 10,
    pretrained: bool = False,
    input_size: Sequence[int] | None = None,
    on_step: Callable[[], None] | None = None,
) -> list[BenchRow]:
    """Time ``built`` at each batch size; one row per batch size, in order.

    Args:
        device: where to run (``--device``); None for the best available. A loaded int8
            model runs on the CPU, in its own memory layout.
        pretrained: load the chosen weights (may download); else the builder's random
            initialisation of the same architecture, which times the same.
        input_size: ``--input-size`` as parsed (needed for a user's own model); the batch
            dimension is replaced by each batch size.
    """
    import torch

    if warmup < 0 or iters < 1:
        raise UsageError("--warmup must be 0 or more and --iters 1 or more")
    base = stats.input_shape(built, input_size)  # checked once, before anything is built
    int8 = built.task is Task.quantized and pretrained
    device = (
        choose_device(built, str(device) if device else None)
        if int8
        else detect_device(device and str(device))
    )
    channels_last = channels_last and not int8
    if pretrained and built.weights is not None and built.weights.kind is not WeightsKind.random:
        model = load_pretrained(built, device)
    elif built.entry is not None:
        random_init = built.weights is not None and built.weights.kind is WeightsKind.random
        model = build_initialised(built.entry, None if random_init else built.weight_set).to(device)
    else:
        model = materialize(built.model, device)  # a user's model: small random weights
    model.eval()
    video = built.task is not None and built.task.value == "video"
    memory_format = torch.channels_last_3d if video else torch.channels_last
    if channels_last:
        try:
            model = fold_batchnorm(model).to(memory_format=memory_format)
        except RuntimeError:  # a model mixing 4-D and 5-D weights: leave its layout alone
            channels_last = False
    if compile:
        model = torch.compile(model)
    autocast = _autocast(device, precision)
    rows = []
    for batch in batch_sizes:
        common = {
            "model": built.name,
            "device": str(device),
            "precision": precision.value,
            "batch_size": batch,
            "channels_last": channels_last,
            "compiled": compile,
        }
        try:
            shape = stats.input_shape(built, [batch, *base[1:]])
            inputs = stats.example_inputs(built.task, shape, device)
            if (
                channels_last
                and len(shape) == 4
                and built.task is not None
                and built.task.value != "detection"
            ):
                inputs = tuple(x.contiguous(memory_format=torch.channels_last) for x in inputs)
            macs = stats.collect(built, shape).macs
            rows.append(_time(model, inputs, device, autocast, warmup, iters, macs, batch, common, on_step))
        except Exception as exc:  # one batch size failing must not stop the others
            if _is_oom(exc):
                rows.append(BenchRow(**common, status="oom", error="out of memory"))
            else:
                rows.append(BenchRow(**common, status="error", error=first_line(exc)))
            if on_step:
                for _ in range(warmup + iters):
                    on_step()
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return rows


def with_speed(
    rows: Sequence[CompareRow],
    catalog: Catalog,
    device: str | None = None,
    batch_size: int = 1,
    on_step: Callable[[], None] | None = None,
) -> list[CompareRow]:
    """``compare --bench``: each row with its measured p50 latency and throughput."""
    timed_rows = []
    for row in rows:
        timed = bench_model(build(row.name, catalog=catalog), device, [batch_size], on_step=on_step)[0]
        if timed.status == "ok" and timed.latency_ms is not None:
            row = replace(row, latency_ms=timed.latency_ms.p50, throughput=timed.throughput)
        timed_rows.append(row)
    return timed_rows


def _time(
    model: Any,
    inputs: tuple[Any, ...],
    device: torch.device,
    autocast: Any,
    warmup: int,
    iters: int,
    macs: int,
    batch: int,
    common: dict[str, Any],
    on_step: Callable[[], None] | None,
) -> BenchRow:
    import torch

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device.type == "mps":
            torch.mps.synchronize()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    latencies = []
    with torch.inference_mode(), autocast, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(warmup + iters):
            sync()
            start = time.perf_counter()
            model(*inputs)
            sync()
            if i >= warmup:
                latencies.append((time.perf_counter() - start) * 1000)
            if on_step:
                on_step()
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device), "cuda allocator peak"
    else:
        peak, kind = _peak_rss(), "process peak RSS"
    mean = statistics.fmean(latencies)
    return BenchRow(
        **common,
        status="ok",
        latency_ms=Latency(
            p50=_percentile(latencies, 50),
            p90=_percentile(latencies, 90),
            p99=_percentile(latencies, 99),
            mean=mean,
        ),
        throughput=batch * 1000 / mean,
        peak_memory_bytes=peak,
        memory_kind=kind,
        gmacs_per_s=macs / 1e9 * 1000 / mean,
        iterations=iters,
    )


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, as numpy's default computes it."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _autocast(device: torch.device, precision: Precision) -> Any:
    import torch

    if precision is Precision.fp32:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision is Precision.bf16 else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)) or "out of memory" in str(exc).lower()
