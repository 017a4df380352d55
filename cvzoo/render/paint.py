"""A :class:`~cvzoo.render.diagram.Scene` written as SVG text or painted as PNG, with no program.

SVG is written by hand (it is text); every node's shapes are one ``<g class="node">`` with a
``<title>`` (a tooltip in any viewer) and ``data-`` attributes the HTML view reads. PNG is painted
with Pillow, which torchvision already installs: at twice the size, then scaled down, so that
lines and text are smooth. Curves pass vertically through each of their points (cubic Béziers
with vertical tangents), in both.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from cvzoo.render.diagram import Scene, Shape
from cvzoo.render.style import FONT, details

Point = tuple[float, float]


def _segments(points: tuple[Point, ...]) -> Iterator[tuple[Point, Point, Point, Point]]:
    """Cubic Bézier pieces through ``points``, leaving and entering each one vertically."""
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        bend = (y1 - y0) / 2
        yield (x0, y0), (x0, y0 + bend), (x1, y1 - bend), (x1, y1)


def _arrow(points: tuple[Point, ...], size: float = 6.0) -> list[Point]:
    """A small head at the end of a curve, pointing the way it arrives."""
    y0, (x1, y1) = points[-2][1], points[-1]
    down = 1.0 if y1 >= y0 else -1.0
    return [(x1, y1), (x1 - size / 2, y1 - down * size), (x1 + size / 2, y1 - down * size)]


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


# --- SVG -----------------------------------------------------------------------------------------


def svg(
    picture: Scene, attributes: Callable[[str], dict[str, str]] | None = None, element_id: str = ""
) -> str:
    """``picture`` as a standalone SVG document (``attributes`` adds data to each node's group)."""
    width, height = _num(picture.width), _num(picture.height)
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
    head += f'viewBox="0 0 {width} {height}" font-family="{FONT}"'
    head += f' id="{element_id}">' if element_id else ">"
    lines = [
        head,
        f"<title>{escape(picture.title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    current: str | None = None
    for shape in picture.shapes:
        if shape.node != current:
            if current is not None:
                lines.append("</g>")
            if shape.node is not None:
                lines.append(_open_node(picture, shape.node, attributes))
            current = shape.node
        lines.append(_svg_shape(shape))
    if current is not None:
        lines.append("</g>")
    lines.append("</svg>")
    return "\n".join(lines) + "\n"


def _open_node(picture: Scene, node_id: str, attributes: Callable[[str], dict[str, str]] | None) -> str:
    node = picture.nodes[node_id]
    extra = attributes(node_id) if attributes else {}
    attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in {"data-id": node_id, **extra}.items())
    tip = (
        f"{node.name} ({node.type})" + (f" ×{node.repeat}" if node.repeat > 1 else "") + f"\n{details(node)}"
    )
    return f'<g class="node" {attrs}><title>{escape(tip)}</title>'


def _svg_shape(shape: Shape) -> str:
    if shape.kind == "rect":
        dash = ' stroke-dasharray="5 4"' if shape.dash else ""
        return (
            f'<rect x="{_num(shape.x)}" y="{_num(shape.y)}" width="{_num(shape.width)}" '
            f'height="{_num(shape.height)}" rx="{_num(shape.radius)}" fill="{shape.fill}" '
            f'stroke="{shape.stroke}" stroke-width="{_num(shape.line)}"{dash}/>'
        )
    if shape.kind == "circle":
        return (
            f'<circle cx="{_num(shape.x)}" cy="{_num(shape.y)}" r="{_num(shape.width)}" fill="{shape.fill}" '
            f'stroke="{shape.stroke}" stroke-width="{_num(shape.line)}"/>'
        )
    if shape.kind == "text":
        weight = ' font-weight="bold"' if shape.bold else ""
        return (
            f'<text x="{_num(shape.x)}" y="{_num(shape.y)}" font-size="{_num(shape.size)}" '
            f'text-anchor="{shape.anchor}" fill="{shape.fill}"{weight}>{escape(shape.text)}</text>'
        )
    path = f"M{_num(shape.points[0][0])},{_num(shape.points[0][1])}"
    for _, c1, c2, end in _segments(shape.points):
        path += " C" + " ".join(f"{_num(x)},{_num(y)}" for x, y in (c1, c2, end))
    out = f'<path d="{path}" fill="none" stroke="{shape.stroke}" stroke-width="{_num(shape.line)}"/>'
    if shape.arrow:
        head = " ".join(f"{_num(x)},{_num(y)}" for x, y in _arrow(shape.points))
        out += f'<polygon points="{head}" fill="{shape.stroke}"/>'
    return out


# --- PNG -----------------------------------------------------------------------------------------

PLAIN = str.maketrans({"×": "x", "−": "-", "÷": "/", "–": "-"})  # for a font without these signs
SCALE = 2  # painted at twice the size, then scaled down: smooth edges without an antialiasing painter


def png(picture: Scene, zoom: float = 1.0) -> bytes:
    """``picture`` painted as PNG bytes, ``zoom`` times its size in pixels."""
    from PIL import Image, ImageDraw

    final = (max(1, math.ceil(picture.width * zoom)), max(1, math.ceil(picture.height * zoom)))
    image = Image.new("RGB", (final[0] * SCALE, final[1] * SCALE), "#ffffff")
    draw = ImageDraw.Draw(image)
    for shape in picture.shapes:
        _paint(draw, shape, zoom * SCALE)
    image = image.resize(final, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _paint(draw: Any, shape: Shape, k: float) -> None:
    from cvzoo.render.style import font

    if shape.kind == "rect":
        box = (shape.x * k, shape.y * k, (shape.x + shape.width) * k, (shape.y + shape.height) * k)
        fill = None if shape.fill == "none" else shape.fill
        outline = None if shape.stroke == "none" else shape.stroke
        if shape.dash:
            _dashed_rect(draw, box, shape.radius * k, outline or "#94a3b8", max(1, round(shape.line * k)))
        else:
            draw.rounded_rectangle(
                box, radius=shape.radius * k, fill=fill, outline=outline, width=max(1, round(shape.line * k))
            )
    elif shape.kind == "circle":
        r = shape.width * k
        draw.ellipse(
            (shape.x * k - r, shape.y * k - r, shape.x * k + r, shape.y * k + r),
            fill=shape.fill,
            outline=shape.stroke,
            width=max(1, round(shape.line * k)),
        )
    elif shape.kind == "text":
        face, full = font(shape.size * k, shape.bold)
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
        stroke = max(1, round(k / 2)) if shape.bold and not full else 0
        text = shape.text if full else shape.text.translate(PLAIN)
        draw.text(
            (shape.x * k, shape.y * k),
            text,
            fill=shape.fill,
            font=face,
            anchor=anchor,
            stroke_width=stroke,
            stroke_fill=shape.fill,
        )
    else:
        points: list[Point] = [shape.points[0]]
        for p0, c1, c2, p1 in _segments(shape.points):
            points.extend(_bezier(p0, c1, c2, p1))
        draw.line(
            [(x * k, y * k) for x, y in points],
            fill=shape.stroke,
            width=max(1, round(shape.line * k)),
            joint="curve",
        )
        if shape.arrow:
            draw.polygon([(x * k, y * k) for x, y in _arrow(shape.points)], fill=shape.stroke)


def _bezier(p0: Point, c1: Point, c2: Point, p1: Point, steps: int = 12) -> list[Point]:
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        out.append(
            (
                u**3 * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * p1[0],
                u**3 * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * p1[1],
            )
        )
    return out


def _dashed_rect(
    draw: Any, box: tuple[float, float, float, float], radius: float, colour: str, width: int
) -> None:
    x0, y0, x1, y1 = box
    dash, gap = 5.0 * width, 4.0 * width
    for a, b in (
        ((x0 + radius, y0), (x1 - radius, y0)),
        ((x0 + radius, y1), (x1 - radius, y1)),
        ((x0, y0 + radius), (x0, y1 - radius)),
        ((x1, y0 + radius), (x1, y1 - radius)),
    ):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        steps = int(length // (dash + gap)) + 1
        for i in range(steps):
            s = i * (dash + gap) / max(length, 1e-9)
            e = min(1.0, (i * (dash + gap) + dash) / max(length, 1e-9))
            if s >= 1:
                break
            draw.line(
                [
                    (a[0] + (b[0] - a[0]) * s, a[1] + (b[1] - a[1]) * s),
                    (a[0] + (b[0] - a[0]) * e, a[1] + (b[1] - a[1]) * e),
                ],
                fill=colour,
                width=width,
            )
    for cx, cy, start in (
        (x0 + radius, y0 + radius, 180),
        (x1 - radius, y0 + radius, 270),
        (x1 - radius, y1 - radius, 0),
        (x0 + radius, y1 - radius, 90),
    ):
        draw.arc(
            (cx - radius, cy - radius, cx + radius, cy + radius), start, start + 90, fill=colour, width=width
        )
