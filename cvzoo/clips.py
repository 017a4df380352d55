"""Clips people have: video files, folders of frames and animated GIFs, read as frames.

Video files are decoded with PyAV (the optional ``video`` extra, whose wheels bundle FFmpeg:
torchvision has no video decoder of its own); folders of frames and GIFs need nothing more.
Frames come out as uint8 tensors ``[T, 3, H, W]``. A clip that can't be read is a
:class:`~cvzoo.errors.BadImage` naming why, never an exception that stops the other inputs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvzoo.errors import BadImage, UsageError, first_line
from cvzoo.images import EXTENSIONS, ImageSource, decode, gather, read_bytes

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
INSTALL_VIDEO = (
    "reading video files needs PyAV: pip install 'cvzoo[video]' (or use a folder of frames or a GIF)"
)


@dataclass(frozen=True)
class Sampling:
    """How a model's weights expect clips: their frame rate, length, and clips per video."""

    frame_rate: float | None  # frames per second to resample a video file to (None: as it is)
    clip_len: int
    clips: int


def gather_clips(inputs: list[str]) -> list[ImageSource]:
    """The command line's inputs as clips: a folder is one clip of its frames, not many images.

    Raises:
        UsageError: for an input that doesn't exist or a folder without images.
    """
    sources = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if not any(p.suffix.lower() in EXTENSIONS for p in path.iterdir()):
                raise UsageError(f"no frames in folder '{item}'; give image files of the clip's frames")
            sources.append(ImageSource(name=item, path=path))
        else:
            sources += gather([item])
    return sources


def read_frames(
    source: ImageSource, sampling: Sampling | None = None, shrink: Callable[[Any], Any] | None = None
) -> Any:
    """All frames of ``source``, resampled to ``sampling.frame_rate`` for a video file.

    ``shrink`` is applied to each frame as it is decoded, so that a long video in high
    resolution is held at the size the model takes it, not at its own.

    Raises:
        BadImage: for a clip that can't be read (or PyAV missing for a video file).
    """
    import torch

    frames = [(shrink or _as_is)(frame) for frame in iter_frames(source, sampling)]
    if not frames:
        raise BadImage("no frames in the clip")
    sizes = {tuple(f.shape) for f in frames}
    if len(sizes) > 1:
        raise BadImage(f"frames of different sizes ({', '.join('x'.join(map(str, s[1:])) for s in sizes)})")
    return torch.stack(frames)


def iter_frames(source: ImageSource, sampling: Sampling | None = None) -> Iterator[Any]:
    """The frames of ``source`` one by one, as decoded (uint8 ``[3, H, W]`` each): nothing held.

    Raises:
        BadImage: for a clip that can't be read, when the frames reach it.
    """
    if source.path is not None and source.path.is_dir():
        for path in _frames_in(source.path):
            yield _tensor(decode(read_bytes(ImageSource(str(path), path=path))))
        return
    data = read_bytes(source)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        yield from _gif_frames(data)
    elif _is_video(source, data):
        yield from _video_frames(data, sampling.frame_rate if sampling else None)
    else:
        yield _tensor(decode(data))  # a single image: a clip of one frame


def _as_is(frame: Any) -> Any:
    return frame


def clip_starts(frames: int, sampling: Sampling) -> tuple[list[int], bool]:
    """Where each clip starts: ``sampling.clips`` evenly spread; and whether frames must repeat."""
    if frames < sampling.clip_len:
        return [0], True
    last = frames - sampling.clip_len
    count = min(sampling.clips, last + 1)
    starts = sorted({round(last * i / (count - 1)) for i in range(count)} if count > 1 else {0})
    return starts, False


def _frames_in(folder: Path) -> list[Path]:
    from cvzoo.catalog import natural_key

    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS),
        key=lambda p: natural_key(p.name),
    )


def _tensor(image: Any) -> Any:
    from torchvision.transforms.functional import pil_to_tensor

    return pil_to_tensor(image)


def _gif_frames(data: bytes) -> Iterator[Any]:
    from PIL import Image, ImageSequence

    from cvzoo.images import to_rgb

    with Image.open(io.BytesIO(data)) as gif:
        for frame in ImageSequence.Iterator(gif):
            yield _tensor(to_rgb(frame.copy()))


def _is_video(source: ImageSource, data: bytes) -> bool:
    suffix = Path(source.path or source.url or source.name).suffix.lower()
    return suffix in VIDEO_EXTENSIONS or data[4:8] in (b"ftyp", b"moov") or data[:4] == b"\x1aE\xdf\xa3"


def _video_frames(data: bytes, frame_rate: float | None) -> Iterator[Any]:
    """Decoded frames; with ``frame_rate``, resampled to it as torchvision's ``VideoClips`` does.

    Frame k of the resampled clip is frame floor(k * fps / frame_rate) of the video: every
    other frame from 30 down to 15 fps, each frame twice from 7.5 up to 15.
    """
    import math

    import torch

    try:
        import av
    except ImportError:
        raise BadImage(INSTALL_VIDEO) from None
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0) or None
            step = fps / frame_rate if fps and frame_rate else 1.0
            k = 0
            for i, frame in enumerate(container.decode(stream)):
                if math.floor(k * step) > i:
                    continue  # not on the resampled grid: decoded, and passed over
                picture = torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)
                while math.floor(k * step) == i:
                    yield picture
                    k += 1
    except IndexError:
        raise BadImage("cannot decode the video: the file has no video stream") from None
    except av.error.FFmpegError as exc:
        raise BadImage(f"cannot decode the video: {exc.strerror or first_line(exc)}") from None
    except ValueError as exc:
        raise BadImage(f"cannot decode the video: {first_line(exc)}") from None


def repeated(frames: Any, length: int) -> Any:
    """``frames`` looped to ``length`` frames (a clip shorter than the weights expect)."""
    reps = -(-length // frames.shape[0])
    return frames.repeat(reps, 1, 1, 1)[:length]


def pick(frames: Any, starts: Sequence[int], length: int) -> Any:
    """The clips of ``length`` frames starting at ``starts``: a tensor ``[clips, T, 3, H, W]``."""
    import torch

    return torch.stack([frames[s : s + length] for s in starts])
