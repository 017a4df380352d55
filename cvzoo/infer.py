"""Images in, predictions out: pretrained classification with exactly torchvision's preprocessing.

Decoding runs in background threads while the model computes; images go through the weights'
own ``transforms()`` and are batched. An image that can't be read gets an error of its own
and the others still get their predictions.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.errors import UsageError
from cvzoo.images import BadImage, ImageSource, decode, read_bytes
from cvzoo.registry import BuiltModel, WeightsKind

if TYPE_CHECKING:
    import torch
    from torch import nn


class Precision(str, Enum):
    """The number format inference computes in."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


@dataclass(frozen=True)
class Prediction:
    index: int  # the class index in the model's output
    label: str  # the weights' category name
    probability: float  # softmax over all classes


@dataclass(frozen=True)
class ImageResult:
    """One input's top-k, or why it has none."""

    image: str
    predictions: list[Prediction] | None = None
    error: str | None = None


def check_task(built: BuiltModel, precision: Precision = Precision.fp32) -> None:
    """Refuse, before any weights are fetched, what infer cannot do with this model."""
    if built.task is Task.quantized and precision is not Precision.fp32:
        raise UsageError("quantized models compute in int8; leave --precision at fp32")
    if built.task not in (Task.classification, Task.quantized):
        kind = built.task.value if built.task else "custom"
        raise UsageError(
            f"infer handles classification models; {built.name} is a {kind} model"
            " (try resnet50, efficientnet_b0 or vit_b_16)"
        )


def choose_device(built: BuiltModel, requested: str | None) -> torch.device:
    """The device to run on: ``--device``, else the best available; quantized models run on the CPU."""
    from cvzoo.registry import detect_device

    if built.task is Task.quantized:
        if requested and detect_device(requested).type != "cpu":
            raise UsageError(f"{built.name} is quantized and runs on the CPU; leave out --device or use cpu")
        return detect_device("cpu")
    return detect_device(requested)


def categories(built: BuiltModel, num_outputs: int) -> list[str]:
    """Class names for ``num_outputs`` logits: the weights' categories, else the indices."""
    from torchvision.models import get_model_weights

    assert built.weight_set is not None
    names = get_model_weights(built.name)[built.weight_set.name].meta.get("categories") or []
    return list(names) if len(names) == num_outputs else [str(i) for i in range(num_outputs)]


def predict(
    built: BuiltModel,
    model: nn.Module,
    sources: Sequence[ImageSource],
    top_k: int = 5,
    batch_size: int = 16,
    precision: Precision = Precision.fp32,
    device: Any = "cpu",
    on_image: Callable[[int], None] | None = None,
) -> list[ImageResult]:
    """Top-``top_k`` classes for every source, in input order.

    Args:
        built: the registry's model, for its weights' transforms and categories.
        model: the same model with real weights, on ``device``, in eval mode.
        on_image: called with the number of images finished, for a progress display.
    """
    import torch

    if top_k < 1:
        raise UsageError(f"--top-k must be 1 or more, not {top_k}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be 1 or more, not {batch_size}")
    assert built.weight_set is not None
    from torchvision.models import get_model_weights

    transform = get_model_weights(built.name)[built.weight_set.name].transforms()
    device = torch.device(device)
    quantized = built.task is Task.quantized
    channels_last = not quantized  # measured faster for convolutions on CPU and GPU; harmless otherwise
    if channels_last:
        model = fold_batchnorm(model).to(memory_format=torch.channels_last)
    autocast = _autocast(device, precision, quantized)

    results: dict[int, ImageResult] = {}
    labels: list[str] | None = None
    done = 0
    for batch in _batches(_decoded(sources, transform), batch_size):
        good = [(i, t) for i, t, _ in batch if t is not None]
        for i, _, error in batch:
            if error is not None:
                results[i] = ImageResult(image=sources[i].name, error=error)
        if good:
            x = torch.stack([t for _, t in good]).to(device)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), autocast, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's deprecation notices are not the user's concern
                logits = model(x)
            probabilities = torch.softmax(logits.float(), dim=1).cpu()
            labels = labels or categories(built, probabilities.shape[1])
            k = min(top_k, probabilities.shape[1])
            values, indices = probabilities.topk(k, dim=1)
            for (i, _), vals, idxs in zip(good, values.tolist(), indices.tolist(), strict=True):
                predictions = [Prediction(j, labels[j], p) for p, j in zip(vals, idxs, strict=True)]
                results[i] = ImageResult(image=sources[i].name, predictions=predictions)
        done += len(batch)
        if on_image:
            on_image(done)
    return [results[i] for i in range(len(sources))]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """The model with each BatchNorm folded into the convolution before it, if it can be traced.

    In eval mode a BatchNorm is a fixed affine map, so folding it changes no prediction beyond
    float rounding and saves a pass over every activation. Models that torch.fx cannot trace
    (data-dependent control flow) are returned as they are.
    """
    from torch.fx.experimental.optimization import fuse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fuse(model)
    except Exception:  # untraceable: run the model unchanged
        return model


def _autocast(device: torch.device, precision: Precision, quantized: bool) -> Any:
    import torch

    if precision is Precision.fp32:
        return contextlib.nullcontext()
    if quantized:
        raise UsageError("quantized models compute in int8; leave --precision at fp32")
    dtype = torch.bfloat16 if precision is Precision.bf16 else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _decoded(sources: Sequence[ImageSource], transform: Any) -> Iterator[tuple[int, Any, str | None]]:
    """(index, tensor or None, error or None) for each source, decoded ahead in two threads."""

    def load(i: int) -> tuple[int, Any, str | None]:
        try:
            return i, transform(decode(read_bytes(sources[i]))), None
        except BadImage as exc:
            return i, None, str(exc)
        except Exception as exc:  # a transform failing on an odd image must not stop the others
            return i, None, f"cannot preprocess: {exc}"

    ahead = 32  # decoded images waiting at most: bounded memory for any number of inputs
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="cvzoo-decode") as pool:
        pending: collections.deque = collections.deque()
        for i in range(len(sources)):
            pending.append(pool.submit(load, i))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def precision_note(device: Any, precision: Precision) -> str | None:
    """A warning worth printing: bf16 on a CPU without bf16 instructions is emulated, and slow."""
    import torch

    if precision is Precision.bf16 and torch.device(device).type == "cpu":
        try:
            native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        except AttributeError:  # a torch without these probes: say nothing
            return None
        if not native:
            return (
                "this CPU has no bf16 instructions (AVX512-BF16 or AMX): bf16 is emulated, slower than fp32"
            )
    return None


def weights_note(built: BuiltModel) -> str | None:
    """A warning worth printing: random weights predict nothing meaningful."""
    if built.weights is not None and built.weights.kind is WeightsKind.random:
        return "--weights none: the model is randomly initialised, so its predictions are noise"
    return None
