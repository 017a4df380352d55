"""How graph pictures look: fonts and text widths, colours by kind of module, and node labels.

Shared by the pictures (:mod:`cvzoo.render.diagram`) and the text views (:mod:`cvzoo.render.graph`),
so that a node reads the same in SVG, PNG, HTML, DOT and Mermaid.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from cvzoo.graph import Node
from cvzoo.render.numbers import compact_macs, human_count

FONT = "'Helvetica Neue', Helvetica, Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
NAME_SIZE = 12.0
DETAIL_SIZE = 10.5
INK = "#1e293b"
MUTED = "#64748b"
EDGE = "#94a3b8"

# (fill, stroke) by the kind of module, matched on its type's name
KINDS: list[tuple[tuple[str, ...], tuple[str, str]]] = [
    (("Conv",), ("#dbeafe", "#3b82f6")),
    (("Norm",), ("#f1f5f9", "#94a3b8")),
    (
        ("ReLU", "GELU", "SiLU", "Sigmoid", "Hardswish", "Hardsigmoid", "Tanh", "Mish", "Softmax", "ELU"),
        ("#fef9c3", "#ca8a04"),
    ),
    (("Pool",), ("#ede9fe", "#8b5cf6")),
    (("Linear",), ("#ffedd5", "#f97316")),
    (("Attention",), ("#fce7f3", "#db2777")),
    (("Dropout", "Identity", "Flatten", "StochasticDepth"), ("#f8fafc", "#cbd5e1")),
]
BLOCK = ("#ccfbf1", "#0d9488")  # anything else: a block of its own (Bottleneck, InceptionA...)
INPUT = ("#e2e8f0", "#475569")
# Wiring operations: (mark, colour)
MARKS = {"add": ("+", "#ea580c"), "sub": ("−", "#ea580c"), "mul": ("×", "#9333ea"), "div": ("÷", "#9333ea")}
PILLS = {"cat": "#16a34a", "stack": "#16a34a", "bmm": "#db2777", "mm": "#db2777", "matmul": "#db2777"}
PILLS |= {"addmm": "#db2777", "baddbmm": "#db2777", "einsum": "#db2777"}
OTHER_OP = "#475569"


def _dejavu(bold: bool) -> str | None:
    """DejaVu Sans from matplotlib's data (the ``plot`` extra), found without importing matplotlib."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / f"DejaVuSans{'-Bold' if bold else ''}.ttf"
        if path.is_file():
            return str(path)
    return None


@functools.cache
def font(size: float, bold: bool = False) -> tuple[Any, bool]:
    """A font to measure and paint text with, and whether it is a full one (DejaVu Sans).

    DejaVu Sans, where matplotlib brings it, has every sign used here and a bold face; otherwise
    Pillow's own font (no bold; ``×`` and ``−`` are painted as ``x`` and ``-``). None without Pillow.
    """
    try:
        from PIL import ImageFont
    except ImportError:
        return None, False
    path = _dejavu(bold)
    try:
        if path is not None:
            return ImageFont.truetype(path, size=size), True
        return ImageFont.load_default(size=size), False
    except (OSError, TypeError, AttributeError):  # a Pillow without FreeType
        return None, False


def text_width(text: str, size: float, bold: bool = False) -> float:
    """How wide ``text`` is at ``size`` px, with room for a viewer's font being wider."""
    measured, full = font(size, bold)
    width = measured.getlength(text) if measured is not None else 0.62 * size * len(text)
    return width * (1.04 if full else 1.12 if bold else 1.08)


def short_name(node: Node, scope: str) -> str:
    """A node's name inside its frame: ``conv1`` for ``layer1.0.conv1`` in ``layer1.0``."""
    if node.op == "input":
        return node.name
    inside = node.group.split(":")[0] if node.group else scope
    name = node.name
    if inside and name.startswith(inside + "."):
        name = name[len(inside) + 1 :]
    return name or node.name


def _shape_text(shape: Any) -> str:
    """A shape without the batch dimension: [1, 64, 56, 56] -> '64×56×56'."""
    if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
        return "×".join(str(d) for d in shape[1:]) or str(shape[0])
    if isinstance(shape, list) and shape:
        return _shape_text(shape[0]) + (f" (+{len(shape) - 1})" if len(shape) > 1 else "")
    if isinstance(shape, dict) and shape:
        return f"{len(shape)} outputs"
    return ""


def kernel(config: str) -> str:
    """A convolution's or pooling's window from its settings: '3×3', '7×7 /2', '3×3 dw'."""
    size = re.search(r"kernel_size=\(?(\d+)(?:, (\d+))?", config)
    if size is None:
        return ""
    text = f"{size.group(1)}×{size.group(2) or size.group(1)}"
    stride = re.search(r"stride=\(?(\d+)", config)
    if stride and stride.group(1) != "1":
        text += f" /{stride.group(1)}"
    groups = re.search(r"groups=(\d+)", config)
    if groups and config.split(",")[0].strip() == groups.group(1):
        text += " dw"
    return text


def type_text(node: Node) -> str:
    """A box's type, with the window of a convolution or pooling (VGG's idea is its 3×3s)."""
    window = kernel(node.config)
    return f"{node.type} {window}" if window else node.type


def details(node: Node) -> str:
    """The second line of a box: shape, parameters, MACs (those it has)."""
    parts = [_shape_text(node.output_shape)]
    if node.params:
        parts.append(f"{human_count(node.params)} params")
    if node.macs:
        parts.append(f"{compact_macs(node.macs)} MACs")
    return " · ".join(p for p in parts if p)


def colours(node: Node) -> tuple[str, str]:
    """(fill, stroke) for a node."""
    if node.op == "input":
        return INPUT
    for names, pair in KINDS:
        if any(n in node.type for n in names):
            return pair
    return BLOCK


def op_colour(op: str | None) -> str:
    """The colour of a wiring operation, and of the edges into it."""
    if op in MARKS:
        return MARKS[op][1]
    return PILLS.get(op or "", OTHER_OP)
