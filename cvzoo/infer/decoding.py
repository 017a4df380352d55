"""Inputs decoded ahead of the model: threads read and preprocess while the model computes.

At most a bounded number of decoded inputs wait, so memory stays flat for any number of
images; an input that can't be read becomes an error of its own, never an exception that stops
the others.
"""

from __future__ import annotations

import collections
import concurrent.futures
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cvzoo.errors import BadImage, first_line
from cvzoo.images import ImageSource, decode, read_bytes

AHEAD = 32  # decoded inputs waiting at most
MAX_PIXELS = 64 * 2**20  # what an image may grow to when its short side is resized: a sliver is refused


@dataclass
class Decoded:
    """One input, decoded: its preprocessed tensor (and the picture as seen), or its error."""

    index: int
    tensor: Any = None  # what the model takes, or None when the input failed
    picture: Any = None  # uint8 tensor [3, H, W] of the image as decoded, when pictures are wanted
    error: str | None = None
    warning: str | None = None


def decoded(
    sources: Sequence[ImageSource], transform: Callable[[Any], Any], keep_picture: bool = False
) -> Iterator[Decoded]:
    """Each source decoded and preprocessed in input order, two threads ahead of the caller."""
    transform = _bounded(transform)

    def load(i: int) -> Decoded:
        notes: list[str] = []
        try:
            image = decode(read_bytes(sources[i]), notes)
            picture = _as_tensor(image) if keep_picture else None
            return Decoded(i, transform(image), picture, warning="; ".join(notes) or None)
        except BadImage as exc:
            return Decoded(i, error=str(exc))
        except Exception as exc:  # a transform failing on an odd image must not stop the others
            return Decoded(i, error=f"cannot preprocess: {first_line(exc)}")

    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="cvzoo-decode") as pool:
        pending: collections.deque[concurrent.futures.Future[Decoded]] = collections.deque()
        for i in range(len(sources)):
            pending.append(pool.submit(load, i))
            if len(pending) >= AHEAD:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _bounded(transform: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``transform``, refusing an image so thin that resizing its short side would make it huge.

    The weights' presets resize the short side (to 256, or 520 for segmentation): a 4000x3
    sliver would become 341,000x256 pixels before any crop (and 1.3 million x 520 for a
    segmenter, which runs out of memory).
    """
    resize = getattr(transform, "resize_size", None)
    side = resize[0] if isinstance(resize, (list, tuple)) and len(resize) == 1 else None
    if side is None:
        return transform

    def bounded(image: Any) -> Any:
        width, height = image.size
        if min(width, height) > 0 and width * height * (side / min(width, height)) ** 2 > MAX_PIXELS:
            raise BadImage(f"a {width}x{height} image is too thin to resize to a short side of {side}")
        return transform(image)

    return bounded


def _as_tensor(image: Any) -> Any:
    from torchvision.transforms.functional import pil_to_tensor

    return pil_to_tensor(image)
