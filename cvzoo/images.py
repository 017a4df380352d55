"""The images people actually have: finding them, reading them, and saying why one can't be read.

Inputs may be files, directories, globs, ``-`` (standard input) or http(s) URLs. Every
image becomes 8-bit RGB the way a viewer shows it: EXIF orientation applied, transparency
laid on white, palette, grayscale, CMYK and 16-bit images converted. A bad image is an
:class:`ImageSource` with an error, never an exception that stops the others.
"""

from __future__ import annotations

import glob
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import natural_key
from cvzoo.errors import BadImage, UsageError

if TYPE_CHECKING:
    from PIL import Image

EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MAX_DOWNLOAD = 64 << 20  # bytes: an image URL that sends more is refused
MAX_PIXELS = 89_478_485  # PIL's own default: a larger image is treated as a decompression bomb


@dataclass(frozen=True)
class ImageSource:
    """One input, as the user named it (``name``) and where to read it from."""

    name: str
    path: Path | None = None  # a local file
    url: str | None = None  # an http(s) URL
    data: bytes | None = None  # bytes already read (standard input)


def gather(inputs: list[str], recursive: bool = False) -> list[ImageSource]:
    """Expand the command line's inputs, in order: directories and globs become their images.

    Raises:
        UsageError: for a path that doesn't exist or a directory/glob with no image in it.
    """
    sources: list[ImageSource] = []
    stdin_used = False
    for item in inputs:
        if item == "-":
            if stdin_used:
                raise UsageError("'-' (standard input) can be given once")
            stdin_used = True
            sources.append(ImageSource(name="-", data=sys.stdin.buffer.read()))
        elif item.startswith(("http://", "https://")):
            sources.append(ImageSource(name=item, url=item))
        elif Path(item).is_dir():
            found = _images_in(Path(item), recursive)
            if not found:
                hint = "" if recursive else " (add --recursive to look in subfolders)"
                raise UsageError(f"no images in directory '{item}'{hint}")
            sources += [ImageSource(name=str(p), path=p) for p in found]
        elif Path(item).exists():
            sources.append(ImageSource(name=item, path=Path(item)))
        elif glob.has_magic(item):
            matches = sorted(
                (Path(p) for p in glob.glob(item, recursive=recursive) if Path(p).is_file()), key=_natural
            )
            if not matches:
                raise UsageError(f"no file matches '{item}'")
            sources += [ImageSource(name=str(p), path=p) for p in matches]
        else:
            raise UsageError(
                f"input '{item}' does not exist; give image files, directories, globs, URLs or -"
            )
    return sources


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        (p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in EXTENSIONS), key=_natural
    )


def _natural(path: Path) -> list[Any]:
    """Paths in the order people number files: cat2.jpg before cat10.jpg (as ``cvzoo list`` orders names)."""
    return natural_key(str(path))


def read_bytes(source: ImageSource, timeout: float = 30) -> bytes:
    """The encoded image: from memory, from disk, or downloaded."""
    if source.data is not None:
        return source.data
    if source.path is not None:
        try:
            return source.path.read_bytes()
        except OSError as exc:
            raise BadImage(f"cannot read file: {exc.strerror or exc}") from None
    import urllib.error
    import urllib.request

    assert source.url is not None
    try:
        request = urllib.request.Request(source.url, headers={"User-Agent": "cvzoo"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as exc:
        raise BadImage(f"download failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BadImage(f"download failed: {getattr(exc, 'reason', exc)}") from None
    if len(data) > MAX_DOWNLOAD:
        raise BadImage(f"download is larger than {MAX_DOWNLOAD >> 20} MiB")
    return data


def decode(data: bytes, notes: list[str] | None = None) -> Image.Image:
    """An 8-bit RGB image as a viewer would show it, or BadImage saying why not.

    A damaged part that the picture does not need (corrupt EXIF data) is passed over: the image
    is returned as stored, and ``notes`` gets a line saying what was ignored. PIL's warnings are
    the caller's to silence (``infer`` does, once, for all its decoding threads).
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise BadImage("empty file")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise BadImage(
                f"{image.width}x{image.height} pixels is over the {MAX_PIXELS:,}-pixel limit"
                " (a decompression bomb?)"
            )
        image.seek(0)  # GIF, WebP, TIFF: the first frame
        image.load()
        return to_rgb(_upright(image, notes))
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not an image PIL can read (JPEG, PNG, WebP, BMP, GIF, TIFF...)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImage(f"refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"corrupt or truncated image: {exc}") from None


def _upright(image: Image.Image, notes: list[str] | None) -> Image.Image:
    """The image turned as its EXIF orientation says; as stored if the EXIF data is damaged."""
    from PIL import ImageOps

    damaged = "damaged EXIF data: orientation not applied"
    try:
        raw = image.info.get("exif") or b""
        if len(raw) > 14 and not image.getexif():  # a block beyond its header, yet no tag readable
            if notes is not None:
                notes.append(damaged)
            return image
        return ImageOps.exif_transpose(image)
    except Exception:  # damaged EXIF: PIL raises a variety of errors parsing it
        if notes is not None:
            notes.append(damaged)
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without losing what the picture shows."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and 32-bit grayscale: scale the full range to 8 bits (a plain convert clips).
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L").convert(
            "RGB"
        )
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "RGB" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return image
