"""Latency and throughput: each model timed on synthetic input, on the chosen device.

Random weights unless asked otherwise, so nothing downloads; the input has the weights' own
size. Every timed iteration is synchronised with the device. A batch size that runs out of
memory is reported as such and the others still run.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvzoo import inputs, registry, stats
from cvzoo.catalog import Task
from cvzoo.errors import UsageError, first_line
from cvzoo.registry import BuiltModel, WeightsKind
from cvzoo.runtime import Precision, Prepared, choose_device, compiled, prepare

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Latency:
    """Milliseconds per batch: percentiles and mean of the timed iterations."""

    p50: float  # milliseconds per batch
    p90: float | None  # None from fewer than 10 timed iterations: it would be the slowest one
    p99: float | None  # None from fewer than 100
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
    peak_memory_bytes: int | None = None  # what the model and this batch add at their peak
    memory_kind: str | None = None  # how it was measured: MEMORY_KINDS
    gmacs_per_s: float | None = None  # counted MACs of one batch x batches per second
    iterations: int = 0
    error: str | None = None


# How peak memory is measured: on CUDA, the allocator's peak (weights, activations, workspace); on
# the CPU, the process's peak resident memory during the batch above what it was before the model
# was loaded (Linux: VmHWM, reset per batch). Elsewhere it is not measured.
MEMORY_KINDS = ("cuda allocator peak", "RSS added by model and batch")
WARMUP, ITERS = 3, 10  # calls before timing, and timed calls, unless asked otherwise
PERCENTILE_SAMPLES = {90: 10, 99: 100}  # timed iterations a percentile needs before it is shown


def parse_batch_sizes(text: str) -> list[int]:
    """'1,8,32' -> [1, 8, 32].

    Raises:
        UsageError: for anything but positive integers.
    """
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
    warmup: int = WARMUP,
    iters: int = ITERS,
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
    if warmup < 0 or iters < 1:
        raise UsageError("--warmup must be 0 or more and --iters 1 or more")
    base = inputs.input_shape(built, input_size)  # checked once, before anything is built
    memory = _Memory()  # what the process holds before the model is loaded
    ready = _ready(built, device, precision, channels_last, compile, pretrained)
    rows = []
    for batch in batch_sizes:
        common: dict[str, Any] = {
            "model": built.name,
            "device": str(ready.device),
            "precision": precision.value,
            "batch_size": batch,
            "channels_last": ready.channels_last,
            "compiled": compile,
        }
        try:
            shape = inputs.input_shape(built, [batch, *base[1:]])
            example = tuple(map(ready.layout, inputs.example_inputs(built.task, shape, ready.device)))
            macs = stats.collect(built, shape).macs
            rows.append(_time(ready, example, warmup, iters, macs, batch, common, on_step, memory))
        except Exception as exc:  # one batch size failing must not stop the others
            if _is_oom(exc):
                rows.append(BenchRow(**common, status="oom", error="out of memory"))
            else:
                rows.append(BenchRow(**common, status="error", error=first_line(exc)))
            if on_step:
                for _ in range(warmup + iters):
                    on_step()
        finally:
            if ready.device.type == "cuda":
                import torch

                torch.cuda.empty_cache()
    return rows


def _ready(
    built: BuiltModel,
    device: torch.device | str | None,
    precision: Precision,
    channels_last: bool,
    compile: bool,
    pretrained: bool,
) -> Prepared:
    """The model to time, with real tensors, prepared as ``cvzoo infer`` runs it."""
    int8 = built.task is Task.quantized and pretrained
    target = choose_device(str(device) if device else None, int8, built.name)
    weights_chosen = built.weights is not None and built.weights.kind is not WeightsKind.random
    model = registry.load(built, target, random_init=not (pretrained and weights_chosen))
    ready = prepare(model, target, precision, channels_last, int8, task=built.task)
    if compile:
        ready.model = compiled(ready.model)
    return ready


def _time(
    ready: Prepared,
    example: tuple[Any, ...],
    warmup: int,
    iters: int,
    macs: int,
    batch: int,
    common: dict[str, Any],
    on_step: Callable[[], None] | None,
    memory: _Memory,
) -> BenchRow:
    import torch

    device = ready.device

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device.type == "mps":
            torch.mps.synchronize()

    memory.reset(device)
    latencies = []
    with torch.inference_mode(), ready.autocast(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(warmup + iters):
            sync()
            start = time.perf_counter()
            ready.model(*example)
            sync()
            if i >= warmup:
                latencies.append((time.perf_counter() - start) * 1000)
            if on_step:
                on_step()
    peak, kind = memory.added(device)
    mean = statistics.fmean(latencies)
    return BenchRow(
        **common,
        status="ok",
        latency_ms=Latency(
            p50=_percentile(latencies, 50),
            p90=_percentile(latencies, 90) if iters >= PERCENTILE_SAMPLES[90] else None,
            p99=_percentile(latencies, 99) if iters >= PERCENTILE_SAMPLES[99] else None,
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


class _Memory:
    """Peak memory per batch size, above what the process held before the model was loaded."""

    def __init__(self) -> None:
        import torch

        # Start torch's CPU runtime first (thread pool, oneDNN), which would otherwise be counted
        # as the first model's memory, and return what earlier models freed to the system.
        weight = torch.rand(8, 3, 3, 3).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            torch.nn.functional.conv2d(
                torch.rand(1, 3, 16, 16).contiguous(memory_format=torch.channels_last), weight
            )
        _give_back_freed_memory()
        self.baseline = _status_kib("VmRSS")
        self.resettable = False

    def reset(self, device: torch.device) -> None:
        """Start a new peak: the allocator's on CUDA, the process's resident peak on Linux."""
        import torch

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            return
        try:  # "5" resets the peak resident set size (VmHWM) to the current one (Linux 4.0+)
            with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
                refs.write("5")
            self.resettable = True
        except OSError:
            self.resettable = False

    def added(self, device: torch.device) -> tuple[int | None, str | None]:
        """Bytes at the peak since :meth:`reset`, and how they were measured; (None, None) if not."""
        import torch

        if device.type == "cuda":
            return torch.cuda.max_memory_allocated(device), MEMORY_KINDS[0]
        peak = _status_kib("VmHWM")
        if not self.resettable or peak is None or self.baseline is None:
            return None, None
        return max(peak - self.baseline, 0) * 1024, MEMORY_KINDS[1]


def _give_back_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc's malloc_trim), where there is one.

    Resident memory counts freed-but-kept heap pages, so without this a model loaded after
    another would seem to add little: it reuses what the first one freed.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the figure may then read low for later models
        pass


def _status_kib(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status, in KiB (None where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _is_oom(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)) or "out of memory" in str(exc).lower()
