"""What a model takes as input: the shape for each task, and example tensors of that shape.

A classifier takes ``N,3,H,W`` at its weights' crop size; a video model ``N,3,T,H,W`` clips;
a detection model a list of ``3,H,W`` images; RAFT two frames. ``--input-size`` may override
the size, and is checked against what the weights accept before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.errors import UsageError

if TYPE_CHECKING:
    from cvzoo.registry import BuiltModel

# Sizes used where the weights' transforms name none; they are the sizes torchvision's published
# GMACs are measured at (checked by the tests): detection models resize every image to 800 on
# their own, RAFT's figures are for 512x512 frames, video clips are 16 frames long.
DETECTION_SIZE = (800, 800)
FLOW_SIZE = (512, 512)
VIDEO_FRAMES = 16


def parse_input_size(text: str) -> list[int]:
    """'224' -> [224, 224]; '320,240' -> [320, 240]; '8,3,224,224' -> as given (4 or 5 numbers)."""
    try:
        dims = [int(part) for part in re.split(r"[,x× ]+", text.strip()) if part]
    except ValueError:
        dims = []
    if len(dims) not in (1, 2, 4, 5) or any(d <= 0 for d in dims):
        raise UsageError(
            f"bad --input-size '{text}'; give S, H,W or N,C,H,W (e.g. 224, 320,240, 8,3,224,224)"
        )
    return dims * 2 if len(dims) == 1 else dims


def input_shape(built: BuiltModel, requested: Sequence[int] | None = None) -> list[int]:
    """The full input shape: N,C,H,W (N,C,T,H,W for video), from the request or the weights."""
    task, w, name = built.task, built.weight_set, built.name
    if requested and len(requested) in (4, 5):
        shape = list(requested)
    elif w is None:  # a user's model: nothing says what it takes
        if not requested:
            raise UsageError(f"{name}: give --input-size (e.g. 224, 320,240 or 1,3,224,224)")
        shape = [1, 3, *requested]
    else:
        if requested:
            hw = list(requested)
        elif w.input_size:
            hw = list(w.input_size)
        else:
            hw = list(FLOW_SIZE if task is Task.optical_flow else DETECTION_SIZE)
        shape = [1, 3, max(w.min_frames or 1, VIDEO_FRAMES), *hw] if task is Task.video else [1, 3, *hw]
    if w is None:
        return shape
    if shape[1] != 3:
        raise UsageError(
            f"{name} takes 3-channel (RGB) input; --input-size {format_shape(shape)} has {shape[1]}"
        )
    want = 5 if task is Task.video else 4
    if len(shape) != want:
        layout = "N,C,T,H,W" if task is Task.video else "N,C,H,W"
        raise UsageError(
            f"{name} takes {layout} input; --input-size {format_shape(shape)} has {len(shape)} numbers"
        )
    min_h, min_w = w.min_size
    if shape[-2] < min_h or shape[-1] < min_w:
        raise UsageError(
            f"{name} needs inputs of at least {min_h}x{min_w}; --input-size {format_shape(shape)} is smaller"
        )
    if task is Task.video and w.min_frames and shape[2] < w.min_frames:
        raise UsageError(f"{name} needs clips of at least {w.min_frames} frames, not {shape[2]}")
    return shape


def format_shape(shape: Sequence[int]) -> str:
    """[1, 3, 224, 224] -> '1,3,224,224', as --input-size takes it."""
    return ",".join(str(d) for d in shape)


def example_inputs(task: Task | None, shape: Sequence[int], device: Any) -> tuple[Any, ...]:
    """Arguments for one forward pass: a batch, a list of images, or two frames, as the task wants."""
    import torch

    if task is Task.detection:
        return ([torch.rand(*shape[1:], device=device) for _ in range(shape[0])],)
    if task is Task.optical_flow:
        return (torch.rand(*shape, device=device), torch.rand(*shape, device=device))
    return (torch.rand(*shape, device=device),)
