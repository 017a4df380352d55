"""Semantic segmentation: a class for every pixel, reported as each present class's share.

Exactly torchvision's reference use: the weights' ``transforms()`` (resize, normalise), the
model's ``out``, and the most probable class per pixel at the size the model saw. For the
picture, the class map is scaled back to the original image (nearest neighbour).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cvzoo.catalog import Task
from cvzoo.errors import first_line
from cvzoo.infer import Work, class_count, class_names, weights_of
from cvzoo.infer.decoding import Decoded, decoded
from cvzoo.infer.results import BACKGROUND, Canvas, Result, Segment
from cvzoo.runtime import Prepared


def run(work: Work) -> Iterator[tuple[Result, Canvas | None]]:
    """The classes present in each image and their shares, in input order.

    Images are run one at a time: resized to a side of 520 they keep their own aspect ratios,
    so they could not be stacked into one batch.
    """
    built, ready, sources, options, on_image = work
    import torch

    weights = weights_of(built)
    names = class_names(built, class_count(built, weights), options)  # --labels checked before any image
    background = 0 if weights.meta["categories"][0] == BACKGROUND else None
    for done, d in enumerate(decoded(sources, weights.transforms(), options.pictures), 1):
        name = sources[d.index].name
        out, error = _segment(ready, d)
        if out is None:
            yield Result(image=name, task=Task.segmentation.value, error=error), None
        else:
            classes = out.argmax(0)
            counts = torch.bincount(classes.flatten(), minlength=out.shape[0])
            present = [int(i) for i in torch.argsort(counts, descending=True, stable=True) if counts[i] > 0]
            total = classes.numel()
            segments = [Segment(i, names[i], round(int(counts[i]) / total, 6)) for i in present]
            result = Result(name, Task.segmentation.value, segments=segments, warning=d.warning)
            yield result, _canvas(d.picture, classes, background) if options.pictures else None
        if on_image:
            on_image(done)


def _segment(ready: Prepared, d: Decoded) -> tuple[Any, str | None]:
    """The model's class scores ``[classes, H, W]`` for one image, or why there are none."""
    import torch

    if d.error is not None:
        return None, d.error
    try:
        with torch.inference_mode(), ready.autocast():
            return ready.model(d.tensor.unsqueeze(0).to(ready.device))["out"][0].float().cpu(), None
    except Exception as exc:  # an image the model can't take fails alone
        return None, f"cannot segment: {first_line(exc)}"


def _canvas(picture: Any, classes: Any, background: int | None) -> Canvas:
    """The class map at the picture's own size, for drawing (``background``: the class left unpainted)."""
    import torch

    resized = torch.nn.functional.interpolate(
        classes[None, None].float(), size=picture.shape[-2:], mode="nearest"
    )
    return Canvas(picture, classes=resized[0, 0].long(), extra={"background": background})
