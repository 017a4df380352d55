"""A graph as a picture: boxes, wiring marks and edges placed by :mod:`cvzoo.render.layout`.

:func:`scene` turns a :class:`~cvzoo.graph.Graph` into a :class:`Scene`, a flat list of shapes in
pixels (rectangles, circles, text, curves) that :mod:`cvzoo.render.paint` writes as SVG or paints
as PNG, so both look the same. What it shows, and why:

- a module is a box: its own name in bold and its type, then its output shape (without the batch
  dimension, the same for every node), parameters and MACs, compact; colour says its kind
  (convolution, normalisation, activation, pooling, linear, attention, a block of its own);
- a run of identical blocks is a stack of boxes with a dark ``×N`` badge;
- a wiring operation is small: a circle with ``+``, ``×``, ``−``, ``÷``, or a pill naming it
  (``cat``, ``bmm``, ``max_pool2d``); the edges into it take its colour, so a residual's two
  inputs, a concatenation's many and a gate's two stand out at a glance;
- an open module is a dashed frame, named at its top left, around its insides;
- the title says the model, its weights and input, its parameters and MACs, and how it was cut.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from cvzoo.graph import Graph, Node
from cvzoo.render.layout import Box, Layout, layout
from cvzoo.render.numbers import compact_macs, human_count
from cvzoo.render.style import (
    DETAIL_SIZE,
    EDGE,
    INK,
    INPUT,
    MARKS,
    MUTED,
    NAME_SIZE,
    PILLS,
    colours,
    details,
    op_colour,
    short_name,
    text_width,
    type_text,
)

MARGIN = 24.0
TITLE_HEIGHT = 44.0
STACK = 6.0  # how far the cards behind a folded run stick out


@dataclass(frozen=True)
class Shape:
    """Something to draw; ``node`` tags the shapes of one node (SVG groups them for the HTML view)."""

    kind: str  # "rect", "circle", "text", "curve"
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0  # a rect's width, a circle's radius
    height: float = 0.0
    fill: str = "none"
    stroke: str = "none"
    line: float = 1.0
    radius: float = 0.0  # a rect's rounded corners
    dash: bool = False
    text: str = ""
    size: float = NAME_SIZE
    bold: bool = False
    anchor: str = "middle"  # text: "start", "middle", "end"
    points: tuple[tuple[float, float], ...] = ()  # a curve's points (it passes through each, vertically)
    arrow: bool = False
    node: str | None = None


@dataclass
class Scene:
    """A picture: its size and shapes, and what each node shows (for tooltips)."""

    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    title: str = ""


def _size(node: Node, scope: str, inputs: int) -> tuple[float, float]:
    if node.op in MARKS:
        return 24.0, 24.0
    if node.op not in (None, "input"):  # a pill, wide enough to take many inputs side by side
        return max(text_width(node.op or "", DETAIL_SIZE, True) + 18.0, 16.0 * inputs), 20.0
    name = short_name(node, scope) + (f" ×{node.repeat}" if node.repeat > 1 else "")
    first = text_width(name, NAME_SIZE, True) + text_width(f"  {type_text(node)}", DETAIL_SIZE)
    second = text_width(details(node), DETAIL_SIZE)
    if node.repeat > 1:  # room for the stack of cards behind it
        return max(first, second, 60.0) + 20.0 + STACK, 38.0 + STACK
    return max(first, second, 60.0) + 20.0, 38.0


def scene(result: Graph, aspect: float = 1.6, openable: bool = False) -> Scene:
    """Lay out ``result`` and turn it into shapes (``openable``: mark blocks that open, for HTML)."""
    chains = _group_chains(result)
    inputs = Counter(e.target for e in result.edges)
    boxes = []
    for node in result.nodes:
        width, height = _size(node, result.scope, inputs[node.id])
        boxes.append(Box(node.id, width, height, chains.get(node.group, ())))
    ends = {o: result.nodes[[n.id for n in result.nodes].index(o)] for o in result.outputs}
    edges = [(e.source, e.target) for e in result.edges]
    if ends:
        boxes.append(Box("out:", text_width("output", DETAIL_SIZE, True) + 18.0, 20.0))
        edges += [(o, "out:") for o in ends]
    placed = layout(boxes, edges, aspect)
    top = TITLE_HEIGHT + MARGIN
    out = Scene(
        placed.width + 2 * MARGIN, placed.height + top + MARGIN, nodes={n.id: n for n in result.nodes}
    )
    out.title = result.title
    out.shapes.extend(_title(result, out.width))
    out.shapes.extend(_frames(result, placed, MARGIN, top))
    out.shapes.extend(_edges(result, placed, MARGIN, top))
    for node in result.nodes:
        out.shapes.extend(_node(node, placed, MARGIN, top, result.scope))
        if openable and node.id in result.insides:
            out.shapes.extend(_opens(node, placed, MARGIN, top))
    if ends:
        out.shapes.extend(_output(placed, MARGIN, top))
    out.width = max(out.width, _title_width(result) + 2 * MARGIN)
    return out


def _group_chains(result: Graph) -> dict[str | None, tuple[str, ...]]:
    parents = {g.id: g.parent for g in result.groups}
    chains: dict[str | None, tuple[str, ...]] = {None: ()}
    for group in result.groups:
        chain: list[str] = []
        current: str | None = group.id
        while current is not None:
            chain.insert(0, current)
            current = parents.get(current)
        chains[group.id] = tuple(chain)
    return chains


def _headline(result: Graph) -> tuple[str, str]:
    size = "×".join(str(d) for d in result.input_size)
    first = f"{result.title} · {human_count(result.params)} params · {compact_macs(result.macs)} MACs"
    how = "opened to fit a screen" if result.depth is None else f"--depth {result.depth}"
    folded = "; ×N: N identical blocks folded" if result.collapse else ""
    second = f"weights {result.weights} · input {size} · {how}{folded} · shapes without the batch dimension"
    return first, second


def _title_width(result: Graph) -> float:
    first, second = _headline(result)
    return max(text_width(first, 15.0, True), text_width(second, DETAIL_SIZE))


def _title(result: Graph, width: float) -> list[Shape]:
    first, second = _headline(result)
    return [
        Shape("text", MARGIN, MARGIN + 8, text=first, size=15.0, bold=True, anchor="start", fill=INK),
        Shape("text", MARGIN, MARGIN + 26, text=second, size=DETAIL_SIZE, anchor="start", fill=MUTED),
    ]


def _frames(result: Graph, placed: Layout, dx: float, dy: float) -> list[Shape]:
    shapes = []
    for group in result.groups:
        for i, (x0, y0, x1, y1) in enumerate(placed.frames.get(group.id, [])):
            shapes.append(
                Shape(
                    "rect",
                    x0 + dx,
                    y0 + dy,
                    x1 - x0,
                    y1 - y0,
                    fill="none",
                    stroke="#94a3b8",
                    radius=8,
                    dash=True,
                )
            )
            if i == 0:
                parent = next((g for g in result.groups if g.id == group.parent), None)
                label = group.name
                if parent and label.startswith(parent.name + "."):
                    label = label[len(parent.name) + 1 :]
                shapes.append(
                    Shape(
                        "text",
                        x0 + dx + 7,
                        y0 + dy + 12,
                        text=f"{label} · {group.type}",
                        size=DETAIL_SIZE,
                        anchor="start",
                        fill=MUTED,
                    )
                )
    return shapes


def _edges(result: Graph, placed: Layout, dx: float, dy: float) -> list[Shape]:
    ops = {n.id: n.op for n in result.nodes}
    shapes = []
    for _, target, points in placed.routes:
        op = ops.get(target)
        wiring = op in MARKS or op in PILLS
        colour = op_colour(op) if wiring else EDGE
        moved = tuple((x + dx, y + dy) for x, y in points)
        shapes.append(Shape("curve", points=moved, stroke=colour, line=1.6 if wiring else 1.2, arrow=True))
    return shapes


def _node(node: Node, placed: Layout, dx: float, dy: float, scope: str) -> list[Shape]:
    box = placed.boxes[node.id]
    x, y = box.x + dx, box.y + dy
    if node.op in MARKS:  # a circle with its sign
        mark, colour = MARKS[node.op]
        return [
            Shape("circle", x, y, box.width / 2, fill="#ffffff", stroke=colour, line=2.0, node=node.id),
            Shape("text", x, y + 5.5, text=mark, size=17.0, bold=True, fill=colour, node=node.id),
        ]
    left, top = x - box.width / 2, y - box.height / 2
    if node.op not in (None, "input"):  # a pill with its name
        colour = op_colour(node.op)
        pill = Shape("rect", left, top, box.width, box.height, "#ffffff", colour, 1.6, box.height / 2)
        name = Shape("text", x, y + 4, text=node.op or "", size=DETAIL_SIZE, bold=True, fill=colour)
        return [replace(pill, node=node.id), replace(name, node=node.id)]
    return [replace(s, node=node.id) for s in _box(node, left, top, box.width, box.height, scope)]


def _box(node: Node, left: float, top: float, width: float, height: float, scope: str) -> list[Shape]:
    """A module's box: name and type, then shape and numbers; a stack with a badge for a folded run."""
    fill, stroke = colours(node)
    shapes = []
    if node.repeat > 1:  # a stack of cards behind the box
        width, height, top = width - STACK, height - STACK, top + STACK
        for offset in (STACK, STACK / 2):
            shapes.append(Shape("rect", left + offset, top - offset, width, height, fill, stroke, radius=6))
    shapes.append(Shape("rect", left, top, width, height, fill, stroke, 1.4, radius=6))
    name = short_name(node, scope)
    after = left + 9 + text_width(name, NAME_SIZE, True) + 5
    shapes += [
        Shape("text", left + 9, top + 15, text=name, size=NAME_SIZE, bold=True, anchor="start", fill=INK),
        Shape("text", after, top + 15, text=type_text(node), size=DETAIL_SIZE, anchor="start", fill=MUTED),
        Shape("text", left + 9, top + 30, text=details(node), size=DETAIL_SIZE, anchor="start", fill=INK),
    ]
    if node.repeat > 1:
        badge = f"×{node.repeat}"
        size = text_width(badge, DETAIL_SIZE, True) + 10
        right = left + width - 6
        shapes += [
            Shape("rect", right - size, top + height - 10, size, 16, fill=INK, radius=8),
            Shape(
                "text",
                right - size / 2,
                top + height + 2,
                text=badge,
                size=DETAIL_SIZE,
                bold=True,
                fill="#ffffff",
            ),
        ]
    return shapes


def _opens(node: Node, placed: Layout, dx: float, dy: float) -> list[Shape]:
    """A ⊕ at a block's top left: it opens onto its insides."""
    box = placed.boxes[node.id]
    x, y = box.x + dx - box.width / 2, box.y + dy - box.height / 2 + (STACK if node.repeat > 1 else 0.0)
    return [
        Shape("circle", x, y, 7.0, fill="#0d9488", stroke="#ffffff", line=1.5, node=node.id),
        Shape("text", x, y + 4.0, text="+", size=12.0, bold=True, fill="#ffffff", node=node.id),
    ]


def _output(placed: Layout, dx: float, dy: float) -> list[Shape]:
    box = placed.boxes["out:"]
    x, y = box.x + dx, box.y + dy
    return [
        Shape(
            "rect",
            x - box.width / 2,
            y - box.height / 2,
            box.width,
            box.height,
            fill="#ffffff",
            stroke=INPUT[1],
            radius=box.height / 2,
        ),
        Shape("text", x, y + 4, text="output", size=DETAIL_SIZE, bold=True, fill=INPUT[1]),
    ]
