"""What ``infer`` finds in an input, per task: typed records whose fields are the JSON schema.

Every input gets one :class:`Result`: its name, the task, the task's findings (only the field of
its task is set), the picture written for it (``--out``), or why it has none. Numbers are
rounded to what their source carries: probabilities and scores to 6 decimals (float32), box and
keypoint coordinates to 4 (pixels), shares to 6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BACKGROUND = "__background__"  # torchvision's name for class 0 of detection and segmentation sets


@dataclass(frozen=True)
class Prediction:
    """One class of an image's (or a clip's) top-k."""

    index: int  # the class index in the model's output
    label: str  # the category name (the weights', --labels', or the index)
    probability: float  # softmax over all classes


@dataclass(frozen=True)
class Keypoint:
    """One named keypoint of a detected person."""

    name: str  # e.g. "left_wrist"
    x: float  # pixels in the original image
    y: float
    score: float  # the model's keypoint score (a logit; higher is surer)


@dataclass(frozen=True)
class Mask:
    """An instance's mask: run lengths over the image, row by row, starting with a run of 0s."""

    size: list[int]  # [H, W] of the original image
    runs: list[int]  # alternating lengths of 0s and 1s, summing to H * W
    pixels: int  # how many pixels are 1


@dataclass(frozen=True)
class Detection:
    """One object found: its class, how sure, where (and its mask or keypoints, by model)."""

    index: int
    label: str
    score: float
    box: list[float]  # [x1, y1, x2, y2] in the original image's pixels
    mask: Mask | None = None  # Mask R-CNN
    keypoints: list[Keypoint] | None = None  # Keypoint R-CNN


@dataclass(frozen=True)
class Segment:
    """A class present in a semantic segmentation, and its share of the image's pixels."""

    index: int
    label: str
    share: float  # 0 to 1


@dataclass(frozen=True)
class Flow:
    """Optical flow between two frames: how far pixels moved, in pixels of the original frames."""

    size: list[int]  # [H, W]
    mean_magnitude: float
    max_magnitude: float


@dataclass(frozen=True)
class Result:
    """One input: what was found in it, the picture drawn of it, or why there is nothing."""

    image: str  # the input as given (for optical flow, the first frame of the pair)
    task: str
    predictions: list[Prediction] | None = None  # classification, video
    detections: list[Detection] | None = None  # detection, instance segmentation, keypoints
    segments: list[Segment] | None = None  # semantic segmentation
    flow: Flow | None = None  # optical flow
    next: str | None = None  # optical flow: the second frame of the pair
    output: str | None = None  # the picture written for it (--out)
    error: str | None = None
    warning: str | None = None  # something passed over on the way (damaged EXIF data)


@dataclass
class Canvas:
    """What a picture of a result is drawn from: the input as seen, and the task's arrays.

    Kept only when pictures are asked for (``--out``); not part of any JSON.
    """

    image: Any  # uint8 tensor [3, H, W] (for flow: the first frame)
    masks: Any = None  # bool tensor [N, H, W] of the detections shown (Mask R-CNN)
    classes: Any = None  # int tensor [H, W] of class indices (semantic segmentation)
    field: Any = None  # float tensor [2, H, W] (optical flow)
    extra: dict[str, Any] | None = None


def rle(mask: Any) -> Mask:
    """``mask`` (a bool tensor [H, W]) as run lengths, row by row, starting with 0s."""
    import torch

    flat = mask.flatten().to(torch.int8)
    change = torch.nonzero(flat[1:] != flat[:-1]).flatten() + 1
    bounds = [0, *change.tolist(), flat.numel()]
    runs = [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if flat.numel() and flat[0]:
        runs = [0, *runs]
    return Mask(size=list(mask.shape), runs=runs, pixels=int(flat.sum()))
