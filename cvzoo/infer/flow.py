"""Optical flow (RAFT): how far each pixel moved between two frames, in the frames' pixels.

Inputs are taken as a sequence: each image after the first is paired with the one before it,
and a video's consecutive frames pair with each other. As torchvision's optical-flow reference
evaluates: the weights' ``transforms()`` (pixels to [-1, 1]), both frames padded by repeating
their edges to a multiple of 8 (RAFT's need; split evenly between the sides, as for Sintel),
the model's last flow estimate, and the padding cut off again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.clips import iter_frames
from cvzoo.errors import BadImage, first_line
from cvzoo.images import ImageSource
from cvzoo.infer import Options, Work, weights_of
from cvzoo.infer.results import Canvas, Flow, Result

if TYPE_CHECKING:
    from cvzoo.runtime import Prepared

Frame = tuple[str, Any, "str | None"]  # (name, uint8 tensor [3, H, W] or None, error)


def run(work: Work) -> Iterator[tuple[Result, Canvas | None]]:
    """The flow between each pair of consecutive frames, in order."""
    built, ready, sources, options, on_image = work
    least = built.weight_set.min_size if built.weight_set else [1, 1]
    transform = weights_of(built).transforms()
    task = Task.optical_flow.value
    previous: Frame | None = None
    paired = False  # whether ``previous`` was the second frame of a pair already
    for done, frame in enumerate(_frames(sources), 1):
        name, _, error = frame
        if error is not None:  # an input that can't be read is an error of its own; no pair spans it
            if previous is not None and not paired:
                yield _alone(previous)
            yield Result(name, task, error=error), None
            previous = None
        else:
            if previous is not None:
                yield _pair(ready, transform, previous, frame, options, least)
            paired = previous is not None
            previous = frame
        if on_image:
            on_image(done)
    if previous is not None and not paired:  # a video of one frame, or an image between bad ones
        yield _alone(previous)


def _alone(frame: Frame) -> tuple[Result, None]:
    """A frame with no neighbour to pair with: an error of its own."""
    error = "optical flow needs two frames in a row; this one has no neighbour"
    return Result(frame[0], Task.optical_flow.value, error=error), None


def _frames(sources: Sequence[ImageSource]) -> Iterator[Frame]:
    """Every frame of the inputs in order: an image is one frame, a video or GIF its frames.

    Frames are decoded as they are needed, so a long video is never held whole.
    """
    for source in sources:
        try:
            frames = iter_frames(source)
            first, second = next(frames, None), next(frames, None)
            if first is None:
                raise BadImage("no frames in the clip")
            if second is None:  # an image, or a clip of one frame
                yield source.name, first, None
                continue
            for i, frame in enumerate(itertools.chain([first, second], frames)):
                yield f"{source.name}#{i}", frame, None
        except BadImage as exc:
            yield source.name, None, str(exc)


def _pair(
    ready: Prepared, transform: Any, first: Frame, second: Frame, options: Options, least: list[int]
) -> Any:
    task = Task.optical_flow.value
    (name, a, _), (next_name, b, _) = first, second
    if a.shape != b.shape:
        sizes = f"{a.shape[2]}x{a.shape[1]} and {b.shape[2]}x{b.shape[1]}"
        return Result(name, task, next=next_name, error=f"the two frames differ in size ({sizes})"), None
    if a.shape[1] < least[0] or a.shape[2] < least[1]:
        small = f"{a.shape[2]}x{a.shape[1]}, smaller than the {least[1]}x{least[0]} the model needs"
        return Result(name, task, next=next_name, error=f"the frames are {small}"), None
    try:
        field = estimate(ready, transform, a, b)
    except Exception as exc:  # a pair the model can't take must not stop the others
        return Result(name, task, next=next_name, error=f"cannot estimate the flow: {first_line(exc)}"), None
    magnitude = field.norm(dim=0)
    flow = Flow(list(field.shape[1:]), round(float(magnitude.mean()), 6), round(float(magnitude.max()), 6))
    return Result(name, task, flow=flow, next=next_name), Canvas(a, field=field) if options.pictures else None


def estimate(ready: Prepared, transform: Any, a: Any, b: Any) -> Any:
    """The flow field ``[2, H, W]`` from frame ``a`` to frame ``b`` (uint8 ``[3, H, W]`` each)."""
    import torch

    x, y = transform(a.unsqueeze(0), b.unsqueeze(0))
    pads = _padding(*x.shape[-2:])
    x, y = (torch.nn.functional.pad(t, pads, mode="replicate") for t in (x, y))
    with torch.inference_mode(), ready.autocast():
        field = ready.model(x.to(ready.device), y.to(ready.device))[-1][0].float().cpu()
    left, right, top, bottom = pads
    return field[:, top : field.shape[1] - bottom, left : field.shape[2] - right]


def _padding(height: int, width: int) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) that bring a frame to a multiple of 8, split evenly."""
    tall, wide = -height % 8, -width % 8
    return wide // 2, wide - wide // 2, tall // 2, tall - tall // 2
