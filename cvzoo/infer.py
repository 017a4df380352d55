"""Images in, predictions out: pretrained classification with exactly torchvision's preprocessing.

Decoding runs in background threads while the model computes; images go through the weights'
own ``transforms()`` and are batched. An image that can't be read gets an error of its own
and the others still get their predictions.
"""

from __future__ import annotations

import collections
import concurrent.futures
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.errors import BadImage, UsageError, first_line
from cvzoo.images import ImageSource, decode, read_bytes
from cvzoo.registry import BuiltModel, WeightsKind
from cvzoo.runtime import Precision, check_precision, choose_device, prepare

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Prediction:
    """One class of an image's top-k."""

    index: int  # the class index in the model's output
    label: str  # the weights' category name
    probability: float  # softmax over all classes, to 6 decimals (float32 carries no more)


@dataclass(frozen=True)
class ImageResult:
    """One input's top-k, or why it has none."""

    image: str
    predictions: list[Prediction] | None = None
    error: str | None = None
    warning: str | None = None  # something ignored on the way (damaged EXIF data)


def check_task(built: BuiltModel, precision: Precision = Precision.fp32) -> None:
    """Refuse, before any weights are fetched, what infer cannot do with this model."""
    check_precision(precision, built.task is Task.quantized)
    if built.task not in (Task.classification, Task.quantized):
        kind = built.task.value if built.task else "custom"
        raise UsageError(
            f"infer handles classification models; {built.name} is a {kind} model"
            " (try resnet50, efficientnet_b0 or vit_b_16)"
        )


def target_device(built: BuiltModel, requested: str | None) -> torch.device:
    """Where ``built`` runs: ``--device``, else the best available; quantized models on the CPU."""
    return choose_device(requested, built.task is Task.quantized, built.name)


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
    ready = prepare(model, torch.device(device), precision, int8=built.task is Task.quantized)

    results: dict[int, ImageResult] = {}
    labels: list[str] | None = None
    done = 0
    with warnings.catch_warnings():  # one filter for this thread and the decoding threads alike
        warnings.simplefilter("ignore")  # PIL's and torch's notices are not the user's concern
        for batch in _batches(_decoded(sources, transform), batch_size):
            good = [(i, t, note) for i, t, _, note in batch if t is not None]
            for i, _, error, _ in batch:
                if error is not None:
                    results[i] = ImageResult(image=sources[i].name, error=error)
            if good:
                x = ready.layout(torch.stack([t for _, t, _ in good]).to(ready.device))
                with torch.inference_mode(), ready.autocast():
                    logits = ready.model(x)
                probabilities = torch.softmax(logits.float(), dim=1).cpu()
                labels = labels or categories(built, probabilities.shape[1])
                values, indices = probabilities.topk(min(top_k, probabilities.shape[1]), dim=1)
                for (i, _, note), vals, idxs in zip(good, values.tolist(), indices.tolist(), strict=True):
                    top = [Prediction(j, labels[j], round(p, 6)) for p, j in zip(vals, idxs, strict=True)]
                    results[i] = ImageResult(image=sources[i].name, predictions=top, warning=note)
            done += len(batch)
            if on_image:
                on_image(done)
    return [results[i] for i in range(len(sources))]


Decoded = tuple[int, Any, "str | None", "str | None"]  # (index, tensor or None, error, warning)


def _decoded(sources: Sequence[ImageSource], transform: Any) -> Iterator[Decoded]:
    """(index, tensor or None, error, warning) for each source, decoded ahead in two threads."""

    def load(i: int) -> Decoded:
        notes: list[str] = []
        try:
            tensor = transform(decode(read_bytes(sources[i]), notes))
            return i, tensor, None, "; ".join(notes) or None
        except BadImage as exc:
            return i, None, str(exc), None
        except Exception as exc:  # a transform failing on an odd image must not stop the others
            return i, None, f"cannot preprocess: {first_line(exc)}", None

    ahead = 32  # decoded images waiting at most: bounded memory for any number of inputs
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="cvzoo-decode") as pool:
        pending: collections.deque[concurrent.futures.Future[Decoded]] = collections.deque()
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


def weights_note(built: BuiltModel) -> str | None:
    """A warning worth printing: random weights predict nothing meaningful."""
    if built.weights is not None and built.weights.kind is WeightsKind.random:
        return "--weights none: the model is randomly initialised, so its predictions are noise"
    return None
