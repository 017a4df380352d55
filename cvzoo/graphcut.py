"""A recorded pass read at a cut: the nodes and edges of a graph, given which modules are open.

:class:`Cut` walks the open calls in the order they ran. A call that is not open is a node with
summary's numbers; an operation the trace marked as shown is a small node; a folded run is one
node. An edge goes from whatever wrote a tensor, as seen at this cut, to what read it: a write
inside a closed module is that module's, a reshape or an activation in an open module's forward
passes its input's writer on, and a module's return is its own write only when it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvzoo.graph import Edge, Group, Node
from cvzoo.tracing import Call, Kind, Op, Trace

if TYPE_CHECKING:
    from cvzoo.stats import LayerRow


@dataclass
class Fold:
    """A run of identical blocks that ran one after another: one node (see :mod:`cvzoo.dataflow`)."""

    row: LayerRow  # summary's row for the run ("layer3.1-35", its count and summed numbers)
    members: list[Call]


def _field(found: Any) -> dict[str, Any]:
    """A node's receptive-field values from what its tensor sees (none when global or not followed)."""
    from cvzoo.fields import Reach

    if not isinstance(found, Reach):
        return {}
    return {"receptive_field": list(found.size), "rf_stride": found.strides(), "rf_offset": found.offsets()}


class Cut:
    """Walks the open calls of one view in order of execution, adding nodes and edges."""

    def __init__(
        self,
        trace: Trace,
        rows: dict[str, LayerRow],
        folds: dict[int, Fold],
        scope: Call,
        opened: set[int],
    ) -> None:
        self.trace = trace
        self.rows = rows
        self.folds = folds
        self.model = ""
        self.scope = scope
        self.opened = opened
        self.nodes: dict[str, Node] = {}
        self.edges: dict[Edge, None] = {}
        self.groups: list[Group] = []
        self.node_of: dict[int, str] = {}  # a shown call (or a run's member) -> its node
        self.node_calls: dict[str, Call] = {}  # a node that opens -> the call it opens onto
        self.sources: dict[int, str] = {}  # write -> input node, for the scope's inputs
        self.memo: dict[int, str | None] = {}

    def run(self, model: str) -> None:
        """Walk the scope; ``model`` names the root when it is a node of its own (``--depth 0``)."""
        self.model = model
        if self.scope is self.trace.root:
            for name, seq, shape in self.trace.inputs:
                self._input(name, seq, shape)
        else:
            for name, seq, shape in zip(
                self.scope.arg_names, self.scope.inputs, self.scope.input_shapes, strict=True
            ):
                if seq not in self.sources:
                    self._input(name, seq, shape)
        if self.scope.id in self.opened:
            self._walk(self.scope, None)
        else:  # --depth 0: the model as one box
            self._module(self.scope, None)

    def _input(self, name: str, seq: int, shape: Any) -> None:
        node_id = f"in:{name}"
        while node_id in self.nodes:
            node_id += "'"
        self.nodes[node_id] = Node(node_id, name, "Input", "input", shape, 0, 0)
        self.sources[seq] = node_id

    def _walk(self, call: Call, group: str | None) -> None:
        for event in call.events:
            if isinstance(event, Op):
                if event.shown:
                    self._op(event, call, group)
            elif event.id in self.opened:
                group_id = self._call_id(event)
                self.groups.append(Group(group_id, event.path, event.type, group))
                self._walk(event, group_id)
            elif event.id in self.folds:
                self._fold(event, group)
            else:
                self._module(event, group)

    def _call_id(self, call: Call) -> str:
        base = call.path or call.type
        return base if self.trace.calls[call.module] == 1 else f"{base}:{call.number}"

    def _module(self, call: Call, group: str | None) -> None:
        row = self.rows.get(call.path)
        calls = self.trace.calls[call.module]
        params = row.params if row is not None and call.number == 1 else 0
        macs = row.macs if row is not None else 0
        share = macs // calls + (macs % calls if call.number == 1 else 0)
        node = Node(
            id=self._call_id(call),
            name=call.path or self.model,
            type=call.type,
            op=None,
            output_shape=call.output_shape,
            params=params,
            macs=share,
            group=group,
            config=row.config if row is not None else "",
            opens=not call.leaf and bool(call.events),
            **_field(call.field),
        )
        self._add(node, call.inputs, [call])
        if node.opens:
            self.node_calls[node.id] = call

    def _fold(self, call: Call, group: str | None) -> None:
        fold = self.folds[call.id]
        if call is not fold.members[0]:
            return
        row = fold.row
        node = Node(
            id=row.name,
            name=row.name,
            type=row.type,
            op=None,
            output_shape=row.output_shape,
            params=row.params,
            macs=row.macs,
            repeat=row.count,
            group=group,
            config=row.config,
            opens=not call.leaf and bool(call.events),
            **_field(fold.members[-1].field),  # what the run outputs, as summary's row says
        )
        self._add(node, [seq for m in fold.members for seq in m.inputs], fold.members)
        if node.opens:
            self.node_calls[node.id] = call

    def _op(self, op: Op, call: Call, group: str | None) -> None:
        owner = self._call_id(call) if call is not self.scope else ""
        node_id = f"{owner}.{op.label}" if owner else op.label
        node = Node(
            id=node_id,
            name=f"{call.path}.{op.label}" if call.path else op.label,
            type=op.aten,
            op=op.name,
            output_shape=op.output_shape,
            params=sum(self._parameters(op.inputs).values()),
            macs=op.macs,
            group=group,
            **_field(op.field),
        )
        self._add(node, op.inputs, [])
        self.memo[op.seq] = node_id

    def _add(self, node: Node, inputs: list[int], calls: list[Call]) -> None:
        for call in calls:
            self.node_of[call.id] = node.id
        self.nodes[node.id] = node
        for seq in inputs:
            source = self.source(seq)
            if source is not None and source != node.id:
                self.edges[Edge(source, node.id)] = None

    def source(self, seq: int) -> str | None:
        """The node that wrote what ``seq`` holds, as seen in this view (None for parameters)."""
        if seq in self.sources:
            return self.sources[seq]
        if seq not in self.memo:
            self.memo[seq] = self._resolve(seq)
        return self.memo[seq]

    def _resolve(self, seq: int) -> str | None:
        write = self.trace.writes[seq]
        if write.kind is not Kind.activation:
            return None
        if write.owner is None or not write.owner.within(self.scope):
            return self._outside(seq)
        shown = self._shown(write.owner)
        if shown is not None:
            return self.node_of.get(shown.id)
        if write.op is not None:
            if write.op.shown:
                return self.memo.get(write.op.seq)
            data = [s for s in write.op.inputs if self.trace.writes[s].kind is Kind.activation]
            return self.source(data[0]) if data else None
        return self.source(write.previous) if write.previous is not None else None

    def _outside(self, seq: int) -> str:
        """A tensor from outside the scope that it was not given (a closure, an attribute)."""
        self._input("outside", seq, None)
        return self.sources[seq]

    def _shown(self, call: Call) -> Call | None:
        """The outermost call around ``call`` that is drawn as a node (None when all are open)."""
        if self.scope.id not in self.opened:
            return self.scope
        chain = []
        current: Call | None = call
        while current is not None and current is not self.scope:
            chain.append(current)
            current = current.parent
        for candidate in reversed(chain):
            if candidate.id not in self.opened:
                return candidate
        return None

    def _parameters(self, inputs: list[int]) -> dict[str, int]:
        """The parameters an operation reads, directly or through reshapes: name -> size."""
        found: dict[str, int] = {}
        pending = list(inputs)
        while pending:
            write = self.trace.writes[pending.pop()]
            if write.kind is Kind.parameter:
                if write.owner is None:
                    found[write.name] = write.numel
                elif write.op is not None:
                    pending.extend(write.op.inputs)
        return found

    def outputs(self) -> list[str]:
        """The nodes whose tensors the scope returns."""
        writes = self.trace.outputs if self.scope is self.trace.root else self.scope.returned
        return list(dict.fromkeys(s for seq in writes if (s := self.source(seq)) is not None))
