"""Classification: each image's top-k classes (zoo classifiers, quantized ones, a user's model).

Images go through the weights' own ``transforms()`` (a user's model: ``--preprocess``), are
batched, and run with BatchNorm folded and channels-last memory (float rounding aside, the same
numbers as the model as built; see :func:`cvzoo.infer.prepared`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cvzoo import runtime
from cvzoo.catalog import Task
from cvzoo.errors import BuildError, CvzooError, UserCodeError, first_line
from cvzoo.infer import Options, Preprocess, Work, class_names, ranked, weights_of
from cvzoo.infer.decoding import batches, decoded
from cvzoo.infer.results import Canvas, Prediction, Result
from cvzoo.inputs import format_shape
from cvzoo.registry import BuiltModel
from cvzoo.runtime import Prepared
from cvzoo.usermodel import USER_MODEL, in_user_code

DEFAULT_TOP_K = 5
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])  # mean, std


def transform_for(built: BuiltModel, options: Options) -> Callable[[Any], Any]:
    """The weights' own preprocessing; for a user's model, what ``--preprocess`` names."""
    weights = weights_of(built)
    if weights is not None:
        preset: Callable[[Any], Any] = weights.transforms()
        return preset
    from torchvision.transforms import functional as F
    from torchvision.transforms._presets import ImageClassification

    size = options.input_size
    if options.preprocess is Preprocess.imagenet:
        assert size is not None
        if size[0] == size[1]:  # torchvision's own ImageNet preset: resize to 256/224 of the crop
            square: Callable[[Any], Any] = ImageClassification(
                crop_size=size[0], resize_size=round(size[0] * 256 / 224)
            )
            return square
        from torchvision import transforms as T

        resize = [round(s * 256 / 224) for s in size]
        steps = [T.Resize(resize), T.CenterCrop(size), T.ToTensor(), T.Normalize(*IMAGENET)]
        composed: Callable[[Any], Any] = T.Compose(steps)
        return composed

    def as_floats(image: Any) -> Any:
        tensor = F.convert_image_dtype(F.pil_to_tensor(image))
        return F.resize(tensor, size, antialias=True) if size else tensor

    return as_floats


def _scores(built: BuiltModel, ready: Prepared, x: Any) -> Any:
    """The model's class scores ``[N, classes]`` for the batch ``x``; what goes wrong, in one line.

    Raises:
        UserCodeError: when a user's own model fails (its file and line) or gives no such tensor.
        BuildError: when a zoo model fails on the batch.
    """
    import torch

    try:
        with torch.inference_mode(), ready.autocast():
            scores = ready.model(x)
    except CvzooError:
        raise
    except Exception as exc:
        if built.entry is None:  # the user's code: where in their file
            match = USER_MODEL.match(built.name)
            assert match is not None
            raise UserCodeError(in_user_code(Path(match["path"]).expanduser(), exc)) from exc
        raise BuildError(
            f"{built.name} failed on a batch of {format_shape(x.shape)}: {first_line(exc)}"
        ) from exc
    if not isinstance(scores, torch.Tensor):
        raise UserCodeError(
            f"{built.name} returned a {type(scores).__name__}; infer takes a tensor [N, classes]"
        )
    if scores.dim() != 2:
        shape = format_shape(scores.shape)
        raise UserCodeError(f"{built.name} returned a tensor of {shape}; infer takes one of [N, classes]")
    return scores


def run(work: Work) -> Iterator[tuple[Result, Canvas | None]]:
    """Top-k classes for each image, in input order."""
    built, ready, sources, options, on_image = work
    import torch

    compiling = options.compile is runtime.Compile.always and built.task is not Task.quantized
    if compiling:
        ready.model = runtime.compiled(ready.model)
    names: list[str] | None = None
    top_k = options.top_k or DEFAULT_TOP_K
    task = Task.classification.value
    done = 0
    inputs = decoded(sources, transform_for(built, options), options.pictures)
    for batch in batches(inputs, options.batch_size):
        good = [d for d in batch if d.error is None]
        found: dict[int, list[Prediction]] = {}
        if good:
            x = torch.stack([d.tensor for d in good])
            if compiling and len(good) < options.batch_size:  # one shape: no second compilation
                x = torch.cat([x, x.new_zeros(options.batch_size - len(good), *x.shape[1:])])
            logits = _scores(built, ready, ready.layout(x.to(ready.device)))[: len(good)]
            if compiling and done == 0:
                runtime.remember_compiled(
                    runtime.compile_key(built.name, ready.device, options.precision, options.batch_size)
                )
            probabilities = torch.softmax(logits.float(), dim=1).cpu()
            names = names or class_names(built, probabilities.shape[1], options)
            found = {d.index: ranked(p, top_k, names) for d, p in zip(good, probabilities, strict=True)}
        for d in batch:
            name = sources[d.index].name
            if d.error is not None:
                yield Result(image=name, task=task, error=d.error), None
            else:
                result = Result(name, task, predictions=found[d.index], warning=d.warning)
                yield result, Canvas(d.picture) if options.pictures else None
        done += len(batch)
        if on_image:
            on_image(done)
