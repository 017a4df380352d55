"""Pictures of what ``infer`` found: the input annotated, one PNG per input (``--out DIR``).

Boxes, masks, keypoint skeletons and flow colours are drawn with torchvision's own utilities
(``draw_bounding_boxes``, ``draw_segmentation_masks``, ``draw_keypoints``, ``flow_to_image``);
text (labels, top-k, legends) with PIL's scalable default font, sized to the picture. Files are
written atomically, named after their inputs, and never over an input.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cvzoo.files import replacing
from cvzoo.infer.results import BACKGROUND, Canvas, Result

# Which COCO keypoints a skeleton joins (by their index in the 17 named keypoints).
SKELETON = [
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
]  # fmt: skip


def colour(index: int) -> tuple[int, int, int]:
    """A colour for class ``index``: hues a golden angle apart, so neighbours differ.

    The golden angle brings a hue back close every fifth class, so the brightness steps through
    three levels as well: classes 0 and 5 differ in light if not in hue.
    """
    value = (0.95, 0.75, 0.55)[index % 3]
    r, g, b = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.75, value)
    return round(255 * r), round(255 * g), round(255 * b)


def draw(result: Result, canvas: Canvas) -> Any:
    """The picture of ``result``: a PIL image."""
    if result.flow is not None:
        return _flow(result, canvas)
    if result.segments is not None:
        return _segments(result, canvas)
    if result.detections is not None:
        return _detections(result, canvas)
    if canvas.extra and "frames" in canvas.extra:
        return _text(_strip(canvas.extra["frames"]), _ranking(result))
    return _text(_pil(canvas.image), _ranking(result))


def _pil(tensor: Any) -> Any:
    from torchvision.transforms.functional import to_pil_image

    return to_pil_image(tensor)


def _font(height: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(12, height // 24))


def _ranking(result: Result) -> list[str]:
    return [f"{p.label}  {100 * p.probability:.1f}%" for p in result.predictions or []]


def _text(image: Any, lines: list[str]) -> Any:
    """The picture with ``lines`` written on a white band below it (the picture itself untouched)."""
    from PIL import Image, ImageDraw

    image = image.convert("RGB")
    font = _font(max(image.height, 320))
    step = font.size + 4
    probe = ImageDraw.Draw(image)
    width = max([image.width, *(int(probe.textlength(line, font=font)) + 12 for line in lines)])
    out = Image.new("RGB", (width, image.height + step * len(lines) + 8), "white")
    out.paste(image, (0, 0))
    draw = ImageDraw.Draw(out)
    for n, line in enumerate(lines):
        draw.text((6, image.height + 4 + n * step), line, fill=(0, 0, 0), font=font)
    return out


def _strip(frames: Any) -> Any:
    """Up to four frames of a clip, evenly spread, side by side."""
    import torch

    count = min(4, frames.shape[0])
    picked = [frames[round(i * (frames.shape[0] - 1) / max(count - 1, 1))] for i in range(count)]
    return _pil(torch.cat(picked, dim=2))


def _detections(result: Result, canvas: Canvas) -> Any:
    import torch
    from torchvision.utils import draw_bounding_boxes, draw_keypoints, draw_segmentation_masks

    found = result.detections or []
    image = canvas.image
    if not found:
        return _text(_pil(image), ["nothing over the threshold"])
    colours = [colour(d.index) for d in found]
    if canvas.masks is not None and len(canvas.masks):
        image = draw_segmentation_masks(image, canvas.masks, alpha=0.45, colors=colours)
    width = max(2, image.shape[-1] // 300)
    image = draw_bounding_boxes(image, torch.tensor([d.box for d in found]), colors=colours, width=width)
    if any(d.keypoints for d in found):
        points = torch.tensor([[[k.x, k.y] for k in d.keypoints or []] for d in found])
        seen = torch.tensor([[k.score > 0 for k in d.keypoints or []] for d in found])
        image = draw_keypoints(
            image,
            points,
            connectivity=SKELETON,
            colors="yellow",
            radius=width + 1,
            width=width,
            visibility=seen,
        )
    return _labels(_pil(image), found, colours)


def _labels(image: Any, found: Iterable[Any], colours: list[tuple[int, int, int]]) -> Any:
    """Each box's label and score on a filled tab above its top-left corner, inside the picture.

    The best-scoring detections are drawn last, so that where tabs overlap theirs can be read.
    """
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    font = _font(image.height)
    for d, fill in reversed(list(zip(found, colours, strict=False))):
        text = f"{d.label} {d.score:.2f}"
        wide, tall = draw.textlength(text, font=font) + 6, font.size + 4
        x = max(0.0, min(d.box[0], image.width - wide))  # a box at the right edge: its tab still shows
        y = d.box[1] - tall if d.box[1] >= tall else d.box[1]  # no room above: just inside the box
        draw.rectangle((x, y, x + wide, y + tall), fill=fill)
        draw.text((x + 3, y + 2), text, fill=_ink(fill), font=font)
    return image


def _ink(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black text on a light fill, white on a dark one (by the fill's luma)."""
    r, g, b = fill
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def _segments(result: Result, canvas: Canvas) -> Any:
    """The class map blended over the picture, and a legend of the classes present."""
    import torch
    from PIL import Image, ImageDraw
    from torchvision.utils import draw_segmentation_masks

    present = result.segments or []
    background = (canvas.extra or {}).get("background")  # its index, whatever --labels calls it
    painted = [s for s in present if s.index != background]  # the background is left as it is
    image = canvas.image
    if painted:
        masks = torch.stack([canvas.classes == s.index for s in painted])
        image = draw_segmentation_masks(image, masks, alpha=0.55, colors=[colour(s.index) for s in painted])
    blended = _pil(image)
    font = _font(blended.height)
    step = font.size + 6
    lines = [f"{'background' if s.label == BACKGROUND else s.label}  {_share(s.share)}" for s in present]
    probe = ImageDraw.Draw(blended)
    panel = int(max(probe.textlength(line, font=font) for line in lines)) + step + 16
    out = Image.new("RGB", (blended.width + panel, max(blended.height, step * len(lines) + 8)), "white")
    out.paste(blended, (0, 0))
    draw = ImageDraw.Draw(out)
    for n, (s, line) in enumerate(zip(present, lines, strict=True)):
        top = 4 + n * step
        swatch = (blended.width + 6, top, blended.width + 6 + font.size, top + font.size)
        if s.index == background:  # not painted: an empty swatch
            draw.rectangle(swatch, outline=(120, 120, 120), width=1)
        else:
            draw.rectangle(swatch, fill=colour(s.index))
        draw.text((blended.width + 12 + font.size, top), line, fill=(0, 0, 0), font=font)
    return out


def _share(share: float) -> str:
    """A class's share of the picture: ``62.5%``, or ``<0.1%`` for a few pixels."""
    return f"{100 * share:.1f}%" if share >= 0.0005 else "<0.1%"


def _flow(result: Result, canvas: Canvas) -> Any:
    """The flow in torchvision's colours, and below it a key: the colour of each direction, the speeds."""
    from PIL import Image, ImageDraw
    from torchvision.utils import flow_to_image

    picture = _pil(flow_to_image(canvas.field))
    font = _font(max(picture.height, 320))
    wheel = _wheel(max(48, 3 * font.size))
    flow = result.flow
    assert flow is not None
    lines = [
        f"mean {flow.mean_magnitude:.2f} px, max {flow.max_magnitude:.2f} px",
        "hue: the direction; strength: the distance (to the max)",
    ]
    probe = ImageDraw.Draw(picture)
    text = max(int(probe.textlength(line, font=font)) for line in lines)
    band = max(wheel.height, 2 * (font.size + 4)) + 8
    out = Image.new("RGB", (max(picture.width, wheel.width + text + 24), picture.height + band), "white")
    out.paste(picture, (0, 0))
    out.paste(wheel, (6, picture.height + 4))
    draw = ImageDraw.Draw(out)
    for n, line in enumerate(lines):
        draw.text(
            (wheel.width + 14, picture.height + 6 + n * (font.size + 4)), line, fill=(0, 0, 0), font=font
        )
    return out


def _wheel(size: int) -> Any:
    """A disc coloured as ``flow_to_image`` colours a motion towards each point from the centre."""
    import torch
    from torchvision.utils import flow_to_image

    axis = torch.linspace(-1, 1, size)
    v, u = torch.meshgrid(axis, axis, indexing="ij")
    field = torch.stack([u, v])
    field[:, u**2 + v**2 > 1] = 0  # outside the disc: no motion, white
    return _pil(flow_to_image(field))


def picture_path(out_dir: Path, result: Result, taken: set[Path], inputs: set[Path]) -> Path:
    """A new file in ``out_dir`` named after the input: ``dog.detection.png``, ``a-to-b.flow.png``.

    A name already used in this run, or an input's own path, gets ``-2``, ``-3``... instead.
    """
    stem = _stem(result.image)
    if result.next:
        stem = f"{stem}-to-{_stem(result.next)}"
    kind = {"optical_flow": "flow", "segmentation": "segments"}.get(result.task, result.task)
    path, n = out_dir / f"{stem}.{kind}.png", 1
    while path in taken or path.resolve() in inputs:
        n += 1
        path = out_dir / f"{stem}-{n}.{kind}.png"
    taken.add(path)
    return path


def _stem(name: str) -> str:
    """A file name's stem for an input: ``dog``, ``clip-3`` for frame 3 of a video, ``stdin``."""
    base, mark, frame = name.rpartition("#")
    if not (mark and frame.isdigit()):  # a '#' of the file's own name ("run#2/a.png") is kept
        base, frame = name, ""
    stem = "stdin" if base == "-" else Path(base).stem or "input"
    return f"{stem}-{frame}" if frame else stem


def written(
    found: Iterable[tuple[Result, Canvas | None]], out_dir: Path, sources: Iterable[Any]
) -> Iterable[Result]:
    """Each result, with the picture drawn of it written to ``out_dir`` and named in ``output``.

    Raises:
        UsageError: for an ``out_dir`` that is a file or can't be made.
    """
    from dataclasses import replace

    from cvzoo.errors import CvzooError, UsageError

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out '{out_dir}' is a file; name a folder for the pictures")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out '{out_dir}': cannot make the folder ({exc.strerror or exc})") from None
    inputs = {s.path.resolve() for s in sources if getattr(s, "path", None) is not None}
    taken: set[Path] = set()
    for result, canvas in found:
        if canvas is None:
            yield result
            continue
        path = picture_path(out_dir, result, taken, inputs)
        try:
            save(draw(result, canvas), path)
        except OSError as exc:
            raise CvzooError(f"cannot write '{path}': {exc.strerror or exc}") from None
        yield replace(result, output=str(path))


def save(image: Any, path: Path) -> None:
    """Write ``image`` as a PNG at ``path``, atomically (the old file stays whole on failure)."""
    with replacing(path) as temporary:
        image.save(temporary, format="PNG")
