"""A layered drawing of a directed acyclic graph, in pure Python: no Graphviz, no dependency.

The classic Sugiyama steps, sized for model graphs (tens to a few hundred nodes):

1. *layers*: each node one layer below its lowest input (longest path); a node with no input
   sits just above its first consumer;
2. *lanes*: an edge that skips layers runs down a lane of waypoints, one lane per source (the
   edges a node sends far share it, as a bus: DenseNet's quadratic fan-out stays linear);
3. *order*: barycentre sweeps down and up, keeping the order with the fewest crossings, with
   the members of each group (an open module) kept side by side so its frame can enclose them;
4. *places*: each layer's nodes pulled toward their neighbours' mean (lanes weigh more, so
   skips run straight), without overlaps: an isotonic regression solved by pool-adjacent-violators;
5. *columns*: a tall, narrow drawing is cut where a single node's output crosses, and the pieces
   stand side by side, so that a 150-layer network fits a screen; an edge across a cut runs
   down, along the gutter between the columns and up into the next one.

Everything is in pixels; the caller gives each node's size and the groups it sits in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from cvzoo.render.placing import Slot, order, place, rank, shared_groups

GAP_Y = 26.0  # between two layers
GUTTER = 56.0  # between two columns
FRAME_PAD = 8.0  # a group's frame around its members, per level of groups inside it
LABEL = 15.0  # room for a frame's label above its members
TALL = 1000.0  # a drawing shorter than this fits a screen as one column


@dataclass(frozen=True)
class Box:
    """A node to place: its size and the groups it sits in (outermost first)."""

    id: str
    width: float
    height: float
    groups: tuple[str, ...] = ()


@dataclass
class Placed:
    """Where a node went: its centre, its size and the column it stands in."""

    x: float
    y: float
    width: float
    height: float
    column: int = 0


@dataclass
class Layout:
    """Every node's place, every edge's route, and the frame of every group in each column."""

    boxes: dict[str, Placed]
    routes: list[tuple[str, str, list[tuple[float, float]]]]  # (source, target, points)
    frames: dict[str, list[tuple[float, float, float, float]]]  # group -> (x0, y0, x1, y1) per column
    width: float
    height: float
    columns: int = 1


def layout(boxes: Sequence[Box], edges: Sequence[tuple[str, str]], aspect: float = 1.6) -> Layout:
    """Place ``boxes`` in layers, route ``edges`` and wrap into columns toward ``aspect`` (w/h).

    ``boxes`` must be in an order of the graph (every edge from an earlier box to a later one).
    """
    by_id = {b.id: b for b in boxes}
    edges = [(s, t) for s, t in dict.fromkeys(edges) if s in by_id and t in by_id and s != t]
    layer = _layers(boxes, edges)
    slots, paths = _lanes(boxes, edges, layer)
    _pads(slots)
    rows = _rows(slots)
    order(rows)
    place(rows)
    _heights(rows)
    cuts = _cuts(rows, edges, layer, aspect)
    return _assemble(rows, slots, paths, cuts)


def _layers(boxes: Sequence[Box], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for s, t in edges:
        inputs.setdefault(t, []).append(s)
        outputs.setdefault(s, []).append(t)
    layer: dict[str, int] = {}
    for box in boxes:
        layer[box.id] = max((layer[s] + 1 for s in inputs.get(box.id, ())), default=0)
    for box in reversed(boxes[1:]):  # a node with no input: just above its first consumer
        if box.id not in inputs and box.id in outputs:
            layer[box.id] = max(0, min(layer[t] for t in outputs[box.id]) - 1)
    return layer


def _lanes(
    boxes: Sequence[Box], edges: Sequence[tuple[str, str]], layer: dict[str, int]
) -> tuple[dict[str, Slot], dict[tuple[str, str], list[Slot]]]:
    """A slot per node, a lane per source of far edges, and each edge's path of slots."""
    slots = {b.id: Slot(b.id, layer[b.id], b.width, b.height, b.groups) for b in boxes}
    far: dict[str, list[str]] = {}
    for s, t in edges:
        if layer[t] > layer[s] + 1:
            far.setdefault(s, []).append(t)
    lanes: dict[str, list[Slot]] = {}
    for s, targets in far.items():
        chains = [slots[s].groups, *(slots[t].groups for t in targets)]
        groups = shared_groups(chains)
        last = max(layer[t] for t in targets)
        lanes[s] = [Slot(f"{s}@{k}", k, 0.0, 0.0, groups, lane=True) for k in range(layer[s] + 1, last)]
        chain = [slots[s], *lanes[s]]
        for a, b in zip(chain, chain[1:], strict=False):
            _link(a, b)
    paths: dict[tuple[str, str], list[Slot]] = {}
    for s, t in edges:
        if layer[t] == layer[s] + 1:
            path = [slots[s], slots[t]]
        elif layer[t] > layer[s] + 1:
            path = [slots[s], *lanes[s][: layer[t] - layer[s] - 1], slots[t]]
        else:  # a node placed above its input (cannot happen in a graph's order): no waypoints
            path = [slots[s], slots[t]]
        _link(path[-2], path[-1])
        paths[s, t] = path
    for s in lanes:
        slots.update({lane.key: lane for lane in lanes[s]})
    return slots, paths


def _pads(slots: dict[str, Slot]) -> None:
    """Each group's frame pad: one step per level of groups nested inside it."""
    inner: dict[str, int] = {}
    for slot in slots.values():
        for level, group in enumerate(slot.groups):
            inner[group] = max(inner.get(group, 0), len(slot.groups) - level - 1)
    for slot in slots.values():
        slot.pads = tuple(FRAME_PAD * (inner[g] + 1) for g in slot.groups)


def _link(a: Slot, b: Slot) -> None:
    if b not in a.down:
        a.down.append(b)
        b.up.append(a)


def _rows(slots: dict[str, Slot]) -> list[list[Slot]]:
    count = max((s.layer for s in slots.values()), default=0) + 1
    rows: list[list[Slot]] = [[] for _ in range(count)]
    for slot in slots.values():  # in the graph's order: a first ordering that follows the data
        rows[slot.layer].append(slot)
    for row in rows:
        rank(row)
    return rows


def _heights(rows: list[list[Slot]]) -> None:
    """y for every layer: its tallest node, and room for the frames that end above and start there."""
    y = 0.0
    previous: dict[str, float] = {}  # groups in the layer above -> their frame's bottom pad
    for i, row in enumerate(rows):
        groups = {g: pad for s in row if not s.lane for g, pad in zip(s.groups, s.pads, strict=True)}
        top = max((_label_room(pad) for g, pad in groups.items() if g not in previous), default=0.0)
        bottom = max((pad for g, pad in previous.items() if g not in groups), default=0.0)
        height = max((s.height for s in row), default=0.0)
        spread = max((abs(s.pos - u.pos) for s in row for u in s.up), default=0.0)
        y += top + (GAP_Y + bottom + min(40.0, 0.12 * spread) if i else 0.0)  # room for edges to bend
        for slot in row:
            slot.y = y + height / 2
        y += height
        previous = groups


def _label_room(pad: float) -> float:
    """Room above a group's top members for its frame and label, and those of the groups inside."""
    return LABEL * pad / FRAME_PAD


# --- columns -------------------------------------------------------------------------------------


def _cuts(
    rows: list[list[Slot]], edges: Sequence[tuple[str, str]], layer: dict[str, int], aspect: float
) -> list[int]:
    """Where to cut the layers into columns: after layer i when one node's output is all that crosses."""
    if len(rows) < 8:
        return []
    width = max(s.pos + s.width / 2 for row in rows for s in row if row)
    height = rows[-1][0].y + rows[-1][0].height if rows[-1] else 0.0
    columns = max(1, round(math.sqrt(aspect * height / max(width, 1.0))))
    if columns <= 1 or height < TALL:
        return []
    crossing: list[set[str]] = [set() for _ in rows]
    for s, t in edges:
        for k in range(layer[s], layer[t]):
            crossing[k].add(s)
    allowed = [i for i in range(1, len(rows) - 2) if len(crossing[i]) == 1]
    bottoms = [max(s.y + s.height / 2 for s in row) if row else 0.0 for row in rows]
    spans: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for group in {g for s in row if not s.lane for g in s.groups}:
            spans.setdefault(group, [i, i])[1] = i
    split = {i: sum(1 for a, b in spans.values() if a <= i < b) for i in allowed}
    cuts: list[int] = []
    for k in range(1, columns):
        goal = height * k / columns
        # near the goal, and where fewest frames are cut in two (each costs a tenth of the height)
        best = min(allowed, key=lambda i: abs(bottoms[i] - goal) / height + 0.1 * split[i], default=None)
        if best is not None and best not in cuts and (not cuts or best > cuts[-1] + 2):
            cuts.append(best)
    piece = height / columns / 2  # no column shorter than half its share
    edges_y = [0.0, *(bottoms[c] for c in cuts), height]
    while cuts and any(b - a < piece for a, b in zip(edges_y, edges_y[1:], strict=False)):
        cuts.pop()
        edges_y = [0.0, *(bottoms[c] for c in cuts), height]
    return cuts


def _assemble(
    rows: list[list[Slot]],
    slots: dict[str, Slot],
    paths: dict[tuple[str, str], list[Slot]],
    cuts: list[int],
) -> Layout:
    """Shift each column into place, then draw routes and frames in the final coordinates."""
    column_of = [sum(1 for c in cuts if i > c) for i in range(len(rows))]
    spans: list[tuple[float, float, float, float]] = []  # per column: x0, x1, y0, y1 before shifting
    for column in range(len(cuts) + 1):
        members = [s for i, row in enumerate(rows) if column_of[i] == column for s in row]
        spans.append(
            (
                min(s.pos - s.width / 2 - _outer(s) for s in members),
                max(s.pos + s.width / 2 + _outer(s) for s in members),
                min(s.y - s.height / 2 - _label_room(_outer(s)) for s in members),
                max(s.y + s.height / 2 + _outer(s) for s in members),
            )
        )
    shift_x, x = [], 0.0
    for x0, x1, _, _ in spans:
        shift_x.append(x - x0)
        x += x1 - x0 + GUTTER
    placed = {}
    for i, row in enumerate(rows):
        column = column_of[i]
        for slot in row:
            slot.pos += shift_x[column]
            slot.y -= spans[column][2]
            if not slot.lane:
                placed[slot.key] = Placed(slot.pos, slot.y, slot.width, slot.height, column)
    heights = [y1 - y0 for _, _, y0, y1 in spans]
    gutters = [x0 + shift - GUTTER / 2 for (x0, _, _, _), shift in zip(spans, shift_x, strict=True)]
    routes = [(s, t, _route(path, column_of, heights, gutters)) for (s, t), path in paths.items()]
    _ports(routes, placed)
    return Layout(placed, routes, _frames(placed, slots), x - GUTTER, max(heights), len(cuts) + 1)


def _ports(routes: list[tuple[str, str, list[tuple[float, float]]]], placed: dict[str, Placed]) -> None:
    """Spread the edges entering (leaving) a wide box along its top (bottom), in the order they come.

    A DenseNet layer fed by every earlier one then takes its inputs side by side instead of in a knot.
    """
    for end, near in ((-1, -2), (0, 1)):
        ports: dict[str, list[list[tuple[float, float]]]] = {}
        for source, target, points in routes:
            ports.setdefault(target if end == -1 else source, []).append(points)
        for key, bundle in ports.items():
            box = placed[key]
            distinct = sorted({round(p[near][0], 1) for p in bundle})
            if len(distinct) < 2 or box.width < 3 * box.height:
                continue
            span = min(box.width - 24.0, 18.0 * (len(distinct) - 1))
            for points in bundle:
                rank = distinct.index(round(points[near][0], 1))
                points[end] = (box.x - span / 2 + span * rank / (len(distinct) - 1), points[end][1])


def _outer(slot: Slot) -> float:
    """The room the outermost frame around ``slot`` takes beside it."""
    return slot.pads[0] if slot.pads and not slot.lane else 0.0


def _route(
    path: list[Slot], column_of: list[int], heights: list[float], gutters: list[float]
) -> list[tuple[float, float]]:
    """The points an edge passes: bottom of its source, each waypoint, top of its target.

    Between two columns it runs down below the first, up the gutter and over the second.
    """
    first, last = path[0], path[-1]
    points = [(first.pos, first.y + first.height / 2)]
    for a, b in zip(path, path[1:], strict=False):
        if column_of[a.layer] != column_of[b.layer]:
            low = heights[column_of[a.layer]] + GAP_Y / 2
            gutter = gutters[column_of[b.layer]]
            points += [(a.pos, low), (gutter, low), (gutter, -GAP_Y / 2), (b.pos, -GAP_Y / 2)]
        if b is not last:
            points.append((b.pos, b.y))
    points.append((last.pos, last.y - last.height / 2))
    return points


def _frames(
    placed: dict[str, Placed], slots: dict[str, Slot]
) -> dict[str, list[tuple[float, float, float, float]]]:
    """Each group's frame in each column it has members in: their box, padded by the groups inside."""
    extents: dict[tuple[str, int], list[float]] = {}
    for key, box in placed.items():
        for group, pad in zip(slots[key].groups, slots[key].pads, strict=True):
            top = _label_room(pad)
            edges = [box.x - box.width / 2 - pad, box.y - box.height / 2 - top]
            edges += [box.x + box.width / 2 + pad, box.y + box.height / 2 + pad]
            found = extents.setdefault((group, box.column), edges)
            found[:] = [min(found[0], edges[0]), min(found[1], edges[1])] + [
                max(found[2], edges[2]),
                max(found[3], edges[3]),
            ]
    frames: dict[str, list[tuple[float, float, float, float]]] = {}
    for (group, _), (x0, y0, x1, y1) in sorted(extents.items(), key=lambda kv: kv[0][1]):
        frames.setdefault(group, []).append((x0, y0, x1, y1))
    return frames
