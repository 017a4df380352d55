"""Which modules a graph opens and which runs it folds, over one recorded pass.

:class:`Dataflow` holds a :class:`~cvzoo.tracing.Trace` with summary's numbers for every module
(:class:`~cvzoo.stats.ModelStats`) and gives the :class:`~cvzoo.graph.Graph` of any module's insides
(:meth:`Dataflow.view`): opened to a depth, or as far as a picture teaches and fits a screen
(:meth:`Dataflow.auto_open`). Runs of identical blocks fold exactly where ``summary`` folds them
(:func:`cvzoo.stats.collapse`), when they also ran one after another. Views are kept, so the HTML
page's insides of insides cost one reading each.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

from cvzoo.graph import Graph, Node
from cvzoo.graphcut import Cut, Fold
from cvzoo.tracing import Call, Op, Trace

if TYPE_CHECKING:
    from cvzoo.stats import LayerRow, ModelStats

# The automatic view opens modules while the picture stays about a screen: at most this many
# nodes, and at most this many node places (layers x the widest layer, long edges counted).
MAX_NODES = 80
MAX_PLACES = 260


class Dataflow:
    """A recorded pass with summary's numbers, read at any depth by :meth:`view`."""

    def __init__(self, trace: Trace, counted: ModelStats, collapse: bool) -> None:
        from cvzoo.stats import collapse as fold_rows
        from cvzoo.stats import flatten

        self.trace = trace
        self.counted = counted
        self.collapse = collapse
        self.rows = {row.name: row for row in flatten(counted.root)}
        self.folds: dict[int, Fold] = {}
        if collapse:
            self._find_folds(fold_rows(counted.root))
        self._views: dict[tuple[int, int | None], Graph] = {}
        self._node_calls: dict[tuple[str, str], Call] = {}  # (scope, node id) -> the call it opens onto
        self._wiring: dict[int, bool] = {}

    # --- folds -----------------------------------------------------------------------------------

    def _find_folds(self, row: LayerRow) -> None:
        """Runs summary folds whose calls ran one after another in one forward, each once."""
        from cvzoo.stats import collapse as fold_rows

        calls = self._calls_by_path()
        for child in row.children:
            if child.count > 1:
                first = self.rows[re.sub(r"-\d+$", "", child.name)]
                parent = self.rows[row.name]
                start = next(i for i, c in enumerate(parent.children) if c.name == first.name)
                paths = [c.name for c in parent.children[start : start + child.count]]
                members = [calls[p][0] for p in paths if len(calls.get(p, [])) == 1]
                if len(members) == child.count and _consecutive(members):
                    fold = Fold(child, members)
                    self.folds.update({m.id: fold for m in members})
                self._find_folds(fold_rows(first))  # runs inside the first block (its insides' view)
            else:
                self._find_folds(child)

    def _calls_by_path(self) -> dict[str, list[Call]]:
        found: dict[str, list[Call]] = {}
        for call in _calls(self.trace.root):
            found.setdefault(call.path, []).append(call)
        return found

    # --- views -----------------------------------------------------------------------------------

    def view(self, scope: Call, depth: int | None, with_insides: bool = False) -> Graph:
        """The graph of ``scope``'s insides, opened to ``depth`` (None: what fits a screen)."""
        key = (scope.id, depth)
        if key not in self._views:
            opened = self.open_to(scope, depth) if depth is not None else self.auto_open(scope)
            self._views[key] = self.build(scope, opened, depth)
        result = self._views[key]
        if with_insides and not result.insides:
            for node in result.nodes:
                inner = self.inner_call(result, node)
                if inner is not None:
                    result.insides[node.id] = self.view(inner, None, True)
        return result

    def inner_call(self, result: Graph, node: Node) -> Call | None:
        """The call whose insides ``node`` opens onto (a run's first block), if it has any."""
        if not node.opens:
            return None
        return self._node_calls[result.scope, node.id]

    def open_to(self, scope: Call, depth: int) -> set[int]:
        """Every container down to ``depth`` below ``scope``, folded runs left closed."""
        opened: set[int] = set()
        pending = [scope]
        while pending:
            call = pending.pop()
            if (call is scope and depth > 0) or (call.depth - scope.depth < depth and self._opens(call)):
                opened.add(call.id)
                pending.extend(e for e in call.events if isinstance(e, Call))
        return opened

    def _opens(self, call: Call) -> bool:
        return not call.leaf and call.id not in self.folds and bool(call.events)

    def auto_open(self, scope: Call) -> set[int]:
        """What to open so that the picture teaches and fits a screen.

        Level by level from ``scope``, the modules of one type are opened together (every
        ``BasicBlock`` alike), types whose insides join or fork tensors (a skip, a concatenation,
        branches) before plain chains; a type that does not fit within :data:`MAX_NODES` and
        :data:`MAX_PLACES` gets one example opened (see :func:`_examples`) if its insides wire
        tensors or hold more to open, or none. Short chains of leaves (a convolution with its norm
        and activation) stay closed: they read as one layer. Folded runs stay closed too: they
        open in the HTML view.
        """
        opened = {scope.id}
        level = scope.depth + 1
        while True:
            candidates = [c for c in _calls(scope) if c.depth == level and self._visible(c, opened)]
            if not candidates:
                return opened
            kinds: dict[str, list[Call]] = {}
            for call in candidates:
                if self._opens(call):
                    kinds.setdefault(call.type, []).append(call)
            ordered = sorted(kinds.values(), key=lambda calls: not any(map(self._wires, calls)))
            for calls in ordered:
                wiring = any(map(self._wires, calls))
                if not wiring and all(_layer_like(c) for c in calls):
                    continue  # conv-norm-activation: reads as one layer
                deeper = wiring or any(not _layer_like(c) for c in calls)
                examples = _examples(calls, self._wires) if deeper else []
                for trial in (calls, *([c] for c in examples)):
                    more = opened | {c.id for c in trial}
                    if _fits(self.build(scope, more, None)):
                        opened = more
                        break
            level += 1

    def _visible(self, call: Call, opened: set[int]) -> bool:
        return call.parent is not None and call.parent.id in opened

    def _wires(self, call: Call) -> bool:
        """Whether a module's own insides join or fork tensors (not a plain chain)."""
        if call.id not in self._wiring:
            inner = self.build(call, {call.id}, 1)
            ins = Counter(e.target for e in inner.edges)
            outs = Counter(e.source for e in inner.edges)
            self._wiring[call.id] = any(n.op not in (None, "input") for n in inner.nodes) or any(
                v > 1 for v in [*ins.values(), *outs.values()]
            )
        return self._wiring[call.id]

    def build(self, scope: Call, opened: set[int], depth: int | None) -> Graph:
        """The graph of ``scope`` with ``opened`` calls shown as groups of their insides."""
        builder = Cut(self.trace, self.rows, self.folds, scope, opened)
        builder.run(self.counted.model)
        for node_id, call in builder.node_calls.items():
            self._node_calls[scope.path, node_id] = call
        counted = self.counted
        name = counted.model.rsplit("/", 1)[-1]  # a user's path/to/file.py:Name as file.py:Name
        row = self.rows.get(scope.path)
        whole = scope is self.trace.root
        return Graph(
            model=counted.model,
            weights=counted.weights,
            task=counted.task,
            input_size=counted.input_size,
            scope=scope.path,
            depth=depth,
            collapse=self.collapse,
            nodes=list(builder.nodes.values()),
            edges=list(builder.edges),
            groups=builder.groups,
            outputs=builder.outputs(),
            params=counted.total_params if whole or row is None else row.params,
            macs=counted.macs if whole or row is None else row.macs,
            notes=list(counted.notes) if whole else [],
            title=name if whole else f"{scope.path} ({scope.type}) in {name}",
        )


def _calls(scope: Call) -> list[Call]:
    """Every call inside ``scope`` (``scope`` first), in order of execution."""
    found = [scope]
    for event in scope.events:
        if isinstance(event, Call):
            found.extend(_calls(event))
    return found


def _layer_like(call: Call) -> bool:
    """A short chain of leaf modules (a convolution with its norm and activation) that reads as one layer."""
    children = [e for e in call.events if isinstance(e, Call)]
    return len(children) <= 3 and all(c.leaf for c in children)


def _examples(calls: list[Call], wires: Any) -> list[Call]:
    """The modules to try as the one example of their type, best first.

    The first that wires tensors (a dense layer given two inputs, not the first given one), the
    first of the largest (an MBConv block with its expansion), the first, the smallest.
    """
    size = [len(c.events) for c in calls]
    largest = calls[size.index(max(size))]
    smallest = calls[size.index(min(size))]
    wiring = [c for c in calls if wires(c)][:1]
    return list(dict.fromkeys([*wiring, largest, calls[0], smallest]))


def _consecutive(members: list[Call]) -> bool:
    """Whether the calls ran one after another in one forward, with nothing drawn between them."""
    parent = members[0].parent
    if parent is None or any(m.parent is not parent for m in members):
        return False
    events = parent.events
    start = events.index(members[0])
    between = events[start : start + _span(events, start, members)]
    return all(isinstance(e, Call) or not e.shown for e in between)


def _span(events: list[Call | Op], start: int, members: list[Call]) -> int:
    try:
        return events.index(members[-1]) - start + 1
    except ValueError:
        return 0


def _fits(result: Graph) -> bool:
    layers, width = span(result)
    return len(result.nodes) <= MAX_NODES and layers * width <= MAX_PLACES


def span(result: Graph) -> tuple[int, int]:
    """How many layers a layered drawing of ``result`` takes, and how wide its widest layer is.

    Each node sits one layer below its lowest input; an edge that skips layers needs a lane in each
    layer it passes (one per source: edges from one node share their lane, as they are drawn).
    """
    layer: dict[str, int] = {}
    incoming: dict[str, list[str]] = {}
    for source, target in result.edges:
        incoming.setdefault(target, []).append(source)
    for node in result.nodes:
        layer[node.id] = max((layer[s] + 1 for s in incoming.get(node.id, []) if s in layer), default=0)
    widths = Counter(layer.values())
    furthest: dict[str, int] = {}
    for source, target in result.edges:
        furthest[source] = max(furthest.get(source, 0), layer[target])
    for source, last in furthest.items():
        for between in range(layer[source] + 1, last):
            widths[between] += 1
    return (max(layer.values(), default=0) + 1, max(widths.values(), default=0))
