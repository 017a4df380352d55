"""The dataflow graph of a model: its modules and the operations that wire them, as typed nodes and edges.

A model is run once on meta (:func:`cvzoo.tracing.recording` around :func:`cvzoo.stats.collect`,
so every number is summary's own) and the recorded pass is read at a chosen depth:

- a module whose insides are shown is *open*: it becomes a :class:`Group` around its children;
- a module that is not open is a :class:`Node` with summary's output shape, parameters and MACs;
- the operations that make the wiring, run directly in an open module's forward (the ``add`` of a
  residual, the ``cat`` of dense and Inception blocks, squeeze-and-excitation's ``mul``, attention's
  ``bmm``), are small nodes between them; reshapes, activations and dropout fold into the edges;
- runs of identical blocks fold into one node with ``repeat`` N, exactly where ``summary`` folds
  them into a ``×N`` row (:func:`cvzoo.stats.collapse`).

A node's ``id`` is unique within a graph: a module's path (``layer1.0.conv1``), with ``:2`` for
its second call when a module runs more than once, a folded run's range (``layer3.1-35``), an
operation's container and label (``layer1.0.add``), ``in:x`` for an input. A module that runs k
times is k nodes (a dataflow graph has no cycles): the first carries its parameters, each one k-th
of its MACs. Nodes are listed in the order they ran, which is an order of the graph too.

How: :mod:`cvzoo.tracing` records the pass, :mod:`cvzoo.dataflow` chooses what to open and folds
runs, :mod:`cvzoo.graphcut` reads the pass at that cut into nodes and edges. Each node's receptive
field is that of the tensor it outputs, followed in the same pass (:mod:`cvzoo.receptive`): a
module's second call and a residual ``add`` have their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from cvzoo.errors import UsageError
from cvzoo.schema import TABLE_ONLY

if TYPE_CHECKING:
    from cvzoo.registry import BuiltModel


@dataclass(frozen=True)
class Node:
    """A box of the graph: a module, a run of identical modules, an operation, or an input."""

    id: str
    name: str  # the module's path, the run's range, ``container.op`` for an operation, an input's name
    type: str  # the module's class; ``aten.add_.Tensor`` for an operation; ``Input``
    op: str | None  # None for a module; the operation ("add", "cat", "mul", "bmm"...); "input"
    output_shape: Any
    params: int
    macs: int
    repeat: int = 1  # how many identical blocks the node stands for
    group: str | None = None  # the open module it sits in (a group's id); None at the top
    config: str = ""  # a module's own settings (its extra_repr), as summary keeps them
    receptive_field: list[int] | None = None  # [h, w] input pixels one output sees; None: global or none
    rf_stride: list[int | float] | None = None  # [h, w] input pixels from one output to the next
    rf_offset: list[int | float] | None = None  # [h, w] the first output's centre, in input pixels
    opens: bool = field(default=False, metadata=TABLE_ONLY)  # it has insides to show (``Graph.insides``)


class Edge(NamedTuple):
    """A tensor going from one node to another (JSON: ``[source, target]``)."""

    source: str
    target: str


@dataclass(frozen=True)
class Group:
    """An open module: the frame around its children."""

    id: str
    name: str
    type: str
    parent: str | None  # the group it sits in


@dataclass(frozen=True)
class Graph:
    """``cvzoo graph``: a model (or one module's insides) as nodes, edges and groups."""

    model: str
    weights: str
    task: str
    input_size: list[int]
    scope: str  # "" for the whole model; otherwise the module whose insides these are
    depth: int | None  # --depth as asked; None for the automatic view
    collapse: bool
    nodes: list[Node]
    edges: list[Edge]
    groups: list[Group]
    outputs: list[str]  # the nodes whose tensors the model (or the module) returns
    params: int
    macs: int
    notes: list[str] = field(default_factory=list)
    insides: dict[str, Graph] = field(default_factory=dict, metadata=TABLE_ONLY)  # node id -> its insides
    title: str = field(default="", metadata=TABLE_ONLY)  # what a picture of it is called


def graph(
    built: BuiltModel,
    requested_input: Sequence[int] | None = None,
    depth: int | None = None,
    collapse: bool = True,
    insides: bool = False,
) -> Graph:
    """Trace ``built`` once on meta and return its graph.

    Args:
        built: a model from the registry, on meta.
        requested_input: ``--input-size`` as parsed; None for the weights' own size.
        depth: open every module down to this depth (the root is 0); None opens what fits a screen,
            blocks that wire tensors first (see :meth:`cvzoo.dataflow.Dataflow.auto_open`).
        collapse: fold runs of identical blocks into one node.
        insides: also give, for every node that has insides, the graph of them (for the HTML view).

    Raises:
        BuildError: when the model cannot run on the input.
    """
    from cvzoo import stats, tracing
    from cvzoo.dataflow import Dataflow

    with tracing.recording(built.model) as recorder:
        counted = stats.collect(built, requested_input, receptive_field=True)
    flow = Dataflow(recorder.trace(), counted, collapse)
    return flow.view(flow.trace.root, depth, insides)


def model_graph(
    model: str,
    weights: str = "DEFAULT",
    requested_input: Sequence[int] | None = None,
    kwargs: dict[str, Any] | None = None,
    depth: int | None = None,
    collapse: bool = True,
    insides: bool = False,
    catalog: Any = None,
) -> Graph:
    """Build ``model`` (a zoo name or ``file.py:Name``) on meta and return its graph.

    Raises:
        UnknownModel, UnknownWeights, UsageError: for names and options that don't exist.
        BuildError: when the model cannot be built or run.
    """
    from cvzoo import registry

    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, not {depth}")
    built = registry.build(model, weights, catalog=catalog, kwargs=kwargs)
    return graph(built, requested_input, depth, collapse, insides)
