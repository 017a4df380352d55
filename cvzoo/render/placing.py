"""Ordering and placing the slots of a layered drawing (see :mod:`cvzoo.render.layout`).

Order: barycentre sweeps down and up, keeping the members of a group side by side, and the order
with the fewest crossings. Places: each slot pulled toward its neighbours' mean x, lanes pulled
harder so skips run straight, chains straightened last; no two slots closer than their widths,
the gap and the frames between them allow (an isotonic regression, pool-adjacent-violators).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

GAP_X = 22.0  # between two nodes of a layer
GAP_LANE = 10.0  # beside a lane


@dataclass
class Slot:
    """A node or a lane's waypoint in one layer."""

    key: str
    layer: int
    width: float
    height: float
    groups: tuple[str, ...]
    lane: bool = False
    pads: tuple[float, ...] = ()  # the room each of its groups' frames takes beside it (outermost first)
    up: list[Slot] = field(default_factory=list)  # neighbours in the layer above
    down: list[Slot] = field(default_factory=list)  # neighbours in the layer below
    pos: float = 0.0  # rank, then x
    y: float = 0.0


def shared_groups(chains: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    """The groups all ``chains`` share (outermost first)."""
    shared: tuple[str, ...] = ()
    for level in zip(*chains, strict=False):
        if any(g != level[0] for g in level):
            break
        shared += (level[0],)
    return shared


def rank(row: list[Slot]) -> None:
    """Number the slots of a layer in their current order."""
    for i, slot in enumerate(row):
        slot.pos = float(i)


def order(rows: list[list[Slot]]) -> None:
    """Barycentre sweeps, group members kept together; the order with the fewest crossings wins."""
    best = [list(r) for r in rows]
    fewest = _crossings(rows)
    sweeps = 8 if sum(len(r) for r in rows) < 2000 else 3
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        sequence = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        for i in sequence:
            row = rows[i]
            centre = {id(s): _barycentre(s.up if downward else s.down, s.pos) for s in row}
            row[:] = _grouped(sorted(row, key=lambda s: centre[id(s)]), centre, 0)
            rank(row)
        found = _crossings(rows)
        if found < fewest:
            fewest, best = found, [list(r) for r in rows]
    rows[:] = best
    for row in rows:
        rank(row)


def _barycentre(neighbours: list[Slot], own: float) -> float:
    return sum(n.pos for n in neighbours) / len(neighbours) if neighbours else own


def _grouped(row: list[Slot], centre: dict[int, float], level: int) -> list[Slot]:
    """``row`` with the members of each group at ``level`` side by side, where their mean falls."""
    parts: dict[str, list[Slot]] = {}
    order: list[str | int] = []
    for slot in row:
        if len(slot.groups) > level:
            key = slot.groups[level]
            if key not in parts:
                parts[key] = []
                order.append(key)
            parts[key].append(slot)
        else:
            order.append(id(slot))
    placed: list[tuple[float, list[Slot]]] = []
    loose = {id(s): s for s in row if len(s.groups) <= level}
    for entry in order:
        if isinstance(entry, str):
            members = parts[entry]
            mean = sum(centre[id(m)] for m in members) / len(members)
            placed.append((mean, _grouped(members, centre, level + 1)))
        else:
            placed.append((centre[entry], [loose[entry]]))
    placed.sort(key=lambda p: p[0])
    return [slot for _, members in placed for slot in members]


def _crossings(rows: list[list[Slot]]) -> int:
    """Edge crossings between consecutive layers (counted with a sorted merge, O(E log E))."""
    total = 0
    for row in rows[:-1]:
        pairs = sorted((s.pos, d.pos) for s in row for d in s.down)
        seen: list[float] = []
        for _, target in pairs:
            index = bisect_left(seen, target + 0.5)
            total += len(seen) - index
            seen.insert(index, target)
    return total


# --- places --------------------------------------------------------------------------------------


def place(rows: list[list[Slot]]) -> None:
    """x for every slot: pulled toward its neighbours, never overlapping, groups given room."""
    for row in rows:
        x = 0.0
        for i, slot in enumerate(row):
            x += _separation(row[i - 1], slot) if i else 0.0
            slot.pos = x
    for sweep in range(12):
        mode = ("up", "down", "both")[sweep % 3]
        for row in rows if mode != "down" else reversed(rows):
            wanted = [_wanted(s, mode) for s in row]
            _settle(row, wanted)
    for row in rows:  # chains run straight: a node that is its input's only consumer sits under it
        wanted = []
        for s in row:
            above = [u for u in s.up if not u.lane]
            chain = len(above) == 1 and [d for d in above[0].down if not d.lane] == [s]
            wanted.append((above[0].pos, 50.0) if chain else (s.pos, 1.0))
        _settle(row, wanted)
    left = min((s.pos - s.width / 2 for row in rows for s in row), default=0.0)
    for row in rows:
        for slot in row:
            slot.pos -= left


def _wanted(slot: Slot, mode: str) -> tuple[float, float]:
    """Where ``slot`` would like to be, and how much it cares (lanes care more: skips run straight)."""
    neighbours = slot.up if mode == "up" else slot.down if mode == "down" else slot.up + slot.down
    if not neighbours:
        return slot.pos, 0.2
    weights = [(8.0 if n.lane else 1.0) if slot.lane else (1.0 if n.lane else 2.0) for n in neighbours]
    mean = sum(w * n.pos for w, n in zip(weights, neighbours, strict=True)) / sum(weights)
    return mean, sum(weights)


def _separation(a: Slot, b: Slot) -> float:
    """The least distance between the centres of neighbours ``a`` and ``b`` in a layer."""
    gap = GAP_LANE if a.lane or b.lane else GAP_X
    shared = len(shared_groups([a.groups, b.groups]))
    frames = (a.pads[shared] if len(a.pads) > shared else 0.0) + (
        b.pads[shared] if len(b.pads) > shared else 0.0
    )
    return (a.width + b.width) / 2 + gap + frames


def _settle(row: list[Slot], wanted: list[tuple[float, float]]) -> None:
    """Closest positions to ``wanted`` (weighted least squares) keeping the order and separations.

    With offsets c_i (the separations up to i), y_i = x_i - c_i must not decrease: an isotonic
    regression of the targets minus their offsets, solved by pool-adjacent-violators.
    """
    offsets = [0.0]
    for a, b in zip(row, row[1:], strict=False):
        offsets.append(offsets[-1] + _separation(a, b))
    blocks: list[list[float]] = []  # [mean, weight, count]
    for (target, weight), offset in zip(wanted, offsets, strict=True):
        blocks.append([target - offset, max(weight, 1e-6), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            top = blocks.pop()
            below = blocks[-1]
            total = below[1] + top[1]
            blocks[-1] = [(below[0] * below[1] + top[0] * top[1]) / total, total, below[2] + top[2]]
    i = 0
    for mean, _, count in blocks:
        for _ in range(int(count)):
            row[i].pos = mean + offsets[i]
            i += 1
