"""Video classification: top-k Kinetics-400 classes for each clip, sampled as the weights expect.

As torchvision's video reference evaluates: a video file is resampled to the weights' frame
rate, ``clips_per_video`` clips of ``clip_len`` frames are taken evenly spread over it, each
goes through the weights' ``transforms()``, and the clips' softmax probabilities are averaged.
The three numbers are the ones torchvision documents with each weight set (r3d_18: 15 fps, 5
clips of 16 frames). A clip shorter than ``clip_len`` is looped, and a warning says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.clips import Sampling, clip_starts, pick, read_frames, repeated
from cvzoo.errors import BadImage, first_line
from cvzoo.infer import Work, class_names, ranked, weights_of
from cvzoo.infer.results import Canvas, Result
from cvzoo.registry import BuiltModel

if TYPE_CHECKING:
    from cvzoo.runtime import Prepared

DEFAULT_TOP_K = 5


def sampling(built: BuiltModel) -> Sampling:
    """The clip sampling the weights were evaluated with, read from torchvision's own notes."""
    docs = built.weight_set.docs if built.weight_set else ""

    def number(key: str, default: float) -> float:
        found = re.search(rf"{key}=([\d.]+)", docs)
        return float(found.group(1)) if found else default

    return Sampling(number("frame_rate", 15), int(number("clip_len", 16)), int(number("clips_per_video", 1)))


def run(work: Work) -> Iterator[tuple[Result, Canvas | None]]:
    """Top-k classes for each clip, in input order."""
    built, ready, sources, options, on_image = work
    weights = weights_of(built)
    how = sampling(built)
    transform = weights.transforms()
    names: list[str] | None = None
    task = Task.video.value
    for done, source in enumerate(sources, 1):
        try:
            frames = read_frames(source, how, _shrink(transform))
            probabilities, looped = _classify(ready, transform, frames, how)
        except BadImage as exc:
            yield Result(image=source.name, task=task, error=str(exc)), None
        except Exception as exc:  # a clip the model can't take must not stop the others
            yield Result(image=source.name, task=task, error=f"cannot classify: {first_line(exc)}"), None
        else:
            names = names or class_names(built, probabilities.shape[0], options)
            top = ranked(probabilities, options.top_k or DEFAULT_TOP_K, names)
            note = None
            if looped:
                count = frames.shape[0]
                note = f"the clip has {count} frame{'s' * (count != 1)}, fewer than {how.clip_len}: looped"
            canvas = Canvas(frames[0], extra={"frames": frames}) if options.pictures else None
            yield Result(source.name, task, predictions=top, warning=note), canvas
        if on_image:
            on_image(done)


def _shrink(transform: Any) -> Any:
    """Each frame resized as the weights' ``transforms()`` will resize it, when that makes it smaller.

    The preset resizes every frame on its own (uint8, without antialiasing) before anything else,
    so doing it as frames are decoded changes no number and holds a long video at the model's size.
    """
    from torchvision.transforms import functional as F

    size = getattr(transform, "resize_size", None)
    if not size:
        return None

    def shrink(frame: Any) -> Any:
        height, width = frame.shape[-2:]
        larger = min(height, width) > size[0] if len(size) == 1 else height * width > size[0] * size[1]
        if not larger:
            return frame  # small already: kept as it is (the picture shows it so)
        return F.resize(frame, size, interpolation=transform.interpolation, antialias=False)

    return shrink


def _classify(ready: Prepared, transform: Any, frames: Any, how: Sampling) -> tuple[Any, bool]:
    """The clips' averaged softmax probabilities, and whether the clip had to be looped."""
    import torch

    starts, looped = clip_starts(frames.shape[0], how)
    source = repeated(frames, how.clip_len) if looped else frames
    clips = transform(pick(source, starts, how.clip_len))  # [clips, T, 3, H, W] -> [clips, 3, T, h, w]
    with torch.inference_mode(), ready.autocast():
        logits = ready.model(ready.layout(clips.to(ready.device)))
    return torch.softmax(logits.float(), dim=1).mean(0).cpu(), looped
