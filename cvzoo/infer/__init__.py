"""Images (and clips) in, typed results per task out, as torchvision's reference use of each model.

:func:`run` takes a model with real weights and the inputs, and yields one
:class:`~cvzoo.infer.results.Result` per input in input order, streaming, so that any number
of inputs takes the memory of one batch. Each task has its module: :mod:`.classify`
(classification, quantized, a user's model), :mod:`.detect` (boxes, masks, keypoints),
:mod:`.segment` (a class per pixel), :mod:`.video` (clips), :mod:`.flow` (RAFT). Every one uses
the weights' own ``transforms()`` and categories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from cvzoo.catalog import Task
from cvzoo.errors import UsageError
from cvzoo.images import ImageSource
from cvzoo.infer.results import Canvas, Prediction, Result
from cvzoo.registry import BuiltModel, WeightsKind
from cvzoo.runtime import Compile, Precision, Prepared, check_precision, choose_device, prepare

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "Options", "Preprocess", "Result", "check_task", "prepared", "run", "target_device", "weights_note"
]  # fmt: skip


class Preprocess(str, Enum):
    """How a user's own model's inputs are prepared (a zoo model always uses its weights')."""

    imagenet = "imagenet"  # resize, centre crop to --input-size, ImageNet mean and std
    none = "none"  # pixels as floats in [0, 1], resized to --input-size if given


class Work(NamedTuple):
    """One run of ``infer``, as each task's module takes it (``run(work)``)."""

    built: BuiltModel  # the registry's model: its task, weights' transforms and categories
    ready: Prepared  # the same model with real weights, ready to run (device, layout, precision)
    sources: Sequence[ImageSource]
    options: Options
    on_image: Callable[[int], None] | None  # called with the number of inputs finished


@dataclass(frozen=True)
class Options:
    """What ``cvzoo infer`` was asked for, beyond the model and the inputs."""

    top_k: int | None = None  # classes per input (default 5); detections per input (default all)
    threshold: float = 0.5  # detections scoring less are left out
    mask_threshold: float = 0.5  # a mask pixel is in where its probability is at least this
    batch_size: int = 16
    precision: Precision = Precision.fp32
    labels: list[str] | None = None  # --labels: names for the model's outputs
    preprocess: Preprocess = Preprocess.imagenet
    input_size: list[int] | None = None  # [H, W] for a user's model
    pictures: bool = False  # keep what pictures are drawn from (--out)
    compile: Compile = Compile.never  # torch.compile the classifier (the CLI's default is auto)


def kind(built: BuiltModel) -> Task:
    """The task ``infer`` runs ``built`` as: a user's own model is a classifier."""
    if built.task is None or built.task is Task.quantized:
        return Task.classification
    return built.task


def check_task(built: BuiltModel, options: Options) -> None:
    """Refuse, before any weights are fetched, what infer cannot do with this model."""
    check_precision(options.precision, built.task is Task.quantized)
    if options.top_k is not None and options.top_k < 1:
        raise UsageError(f"--top-k must be 1 or more, not {options.top_k}")
    if options.batch_size < 1:
        raise UsageError(f"--batch-size must be 1 or more, not {options.batch_size}")
    for name, value in (("--threshold", options.threshold), ("--mask-threshold", options.mask_threshold)):
        if not 0 <= value <= 1:
            raise UsageError(f"{name} must be between 0 and 1, not {value}")
    if built.entry is None and options.preprocess is Preprocess.imagenet and not options.input_size:
        raise UsageError(f"{built.name}: give --input-size (the crop), or --preprocess none")


def sources_for(built: BuiltModel, inputs: list[str], recursive: bool) -> list[ImageSource]:
    """The inputs as the model's task takes them: a video model takes each folder as one clip.

    Raises:
        UsageError: for an input that doesn't exist or a folder with nothing in it.
    """
    from cvzoo import clips, images

    if kind(built) is Task.video:
        return clips.gather_clips(inputs)
    if kind(built) is Task.optical_flow:
        sources = [s for item in inputs for s in _images_or_clip(item, recursive)]
        clip_like = (*clips.VIDEO_EXTENSIONS, ".gif")  # one input with frames of its own
        if len(sources) < 2 and not any(s.path and s.path.suffix.lower() in clip_like for s in sources):
            raise UsageError("optical flow needs two frames: give two or more images, or a video")
        return sources
    return images.gather(inputs, recursive)


def _images_or_clip(item: str, recursive: bool) -> list[ImageSource]:
    """A video file stays one input (its frames pair up); anything else expands to images."""
    from pathlib import Path

    from cvzoo import clips, images

    if Path(item).suffix.lower() in clips.VIDEO_EXTENSIONS and Path(item).is_file():
        return [ImageSource(name=item, path=Path(item))]
    return images.gather([item], recursive)


def target_device(built: BuiltModel, requested: str | None) -> torch.device:
    """Where ``built`` runs: ``--device``, else the best available; quantized models on the CPU."""
    return choose_device(requested, built.task is Task.quantized, built.name)


def prepared(built: BuiltModel, model: nn.Module, precision: Precision, device: Any) -> Prepared:
    """``model`` (``built`` with real weights, on ``device``) ready to run as every engine runs it.

    The one policy of :func:`cvzoo.runtime.prepare` for the model's task: the layout its task
    gains from, ``precision`` through autocast, int8 models as they are.

    Raises:
        UsageError: for a precision other than fp32 with an int8 model.
    """
    import torch

    int8 = built.task is Task.quantized
    return prepare(model, torch.device(device), precision, int8=int8, task=built.task)


def with_compile_decided(built: BuiltModel, options: Options, inputs: int, device: Any) -> Options:
    """``options`` with ``compile`` made ``always`` or ``never`` for this run (``auto`` decided).

    Only classifiers compile (not int8 ones): the other tasks take images of varying sizes.

    Raises:
        UsageError: ``--compile always`` where torch can't compile (a CPU without a C++ compiler).
    """
    from dataclasses import replace

    from cvzoo import runtime

    if kind(built) is not Task.classification or built.task is Task.quantized:
        return replace(options, compile=Compile.never)
    key = runtime.compile_key(built.name, device, options.precision, options.batch_size)
    chosen = runtime.compile_pays(options.compile, inputs, key)
    return replace(options, compile=Compile.always if chosen else Compile.never)


def weights_note(built: BuiltModel) -> str | None:
    """A warning worth printing: random weights predict nothing meaningful."""
    if built.weights is not None and built.weights.kind is WeightsKind.random:
        return "--weights none: the model is randomly initialised, so its predictions are noise"
    if built.entry is None and built.weights is None:
        return f"{built.name} without --weights has small random weights: its predictions are noise"
    return None


def run(
    built: BuiltModel,
    model: nn.Module,
    sources: Sequence[ImageSource],
    options: Options,
    device: Any = "cpu",
    on_image: Callable[[int], None] | None = None,
) -> Iterator[tuple[Result, Canvas | None]]:
    """Each input's result (and, with ``options.pictures``, what to draw it from), in input order.

    Args:
        built: the registry's model, for its task, weights' transforms and categories.
        model: the same model with real weights, on ``device``; it is prepared here (:func:`prepared`).
        on_image: called with the number of inputs finished, for a progress display.
    """
    import warnings

    from cvzoo.infer import classify, detect, flow, segment, video

    runners = {
        Task.classification: classify.run,
        Task.detection: detect.run,
        Task.segmentation: segment.run,
        Task.video: video.run,
        Task.optical_flow: flow.run,
    }
    ready = prepared(built, model, options.precision, device)
    with warnings.catch_warnings():  # one filter for this thread and the decoding threads alike
        warnings.simplefilter("ignore")  # PIL's and torch's notices are not the user's concern
        yield from runners[kind(built)](Work(built, ready, sources, options, on_image))


def ranked(probabilities: Any, k: int, names: list[str]) -> list[Prediction]:
    """The ``k`` most probable classes of a 1-D tensor of probabilities, best first."""
    values, indices = probabilities.topk(min(k, probabilities.shape[0]))
    return [
        Prediction(j, names[j], round(p, 6)) for p, j in zip(values.tolist(), indices.tolist(), strict=True)
    ]


def weights_of(built: BuiltModel) -> Any:
    """The torchvision weights enum member whose transforms and categories apply, or None."""
    if built.weight_set is None:
        return None
    from torchvision.models import get_model_weights

    return get_model_weights(built.name)[built.weight_set.name]


def class_count(built: BuiltModel, weights: Any) -> int:
    """How many classes a detector or segmenter tells apart: a fine-tuned head's, or its weights'."""
    if built.fit is not None and built.fit.num_classes is not None:
        return built.fit.num_classes
    return len(weights.meta["categories"])


def class_names(built: BuiltModel, count: int, options: Options) -> list[str]:
    """Names for ``count`` outputs: ``--labels``, else the weights' categories, else the indices.

    Raises:
        UsageError: for ``--labels`` whose number differs from the model's outputs.
    """
    if options.labels is not None:
        if len(options.labels) != count:
            raise UsageError(f"--labels has {len(options.labels)} names but the model gives {count} outputs")
        return options.labels
    weights = weights_of(built)
    names = list(weights.meta.get("categories") or []) if weights is not None else []
    return names if len(names) == count else [str(i) for i in range(count)]
