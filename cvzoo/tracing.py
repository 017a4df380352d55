"""One forward pass recorded as a tree of module calls, with the tensor operations between them.

:func:`recording` wraps the pass that :func:`cvzoo.stats.collect` makes anyway (on meta, under
``FlopCounterMode``), so a graph costs no second pass and its numbers are summary's own. It adds
forward pre- and post-hooks on every module and a ``TorchDispatchMode`` below the FLOP counter:

- every operation, at any depth, is a *write* with a sequence number: the tensors it returns are
  written by it (an in-place ``add_`` writes the tensor it was given). Each module call's outputs
  are written once more by the call itself when it returns, so that a module which hands its
  input back untouched (``Dropout`` in eval mode, ``Identity``) still sits on the path;
- each module call records, before it runs, which writes its input tensors hold (so a graph can
  draw an edge from whatever wrote them);
- an operation run directly in the forward of a module that has children (a container: the ``add``
  of a residual block, the ``cat`` of an Inception block, attention's ``bmm``) is kept as an
  :class:`Op` with its inputs, output shape and MACs (by the FLOP counter's own formulas);
  operations inside leaf modules (a ``Conv2d``'s convolution) only note who wrote what.

The dispatch level sees through composite functions (``multi_head_attention_forward`` arrives as
its ``addmm`` and ``bmm`` operations), which the ``torch.overrides`` level would show as one call.
Nothing here decides what a picture shows: :mod:`cvzoo.graph` reads the trace at any depth.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


class Kind(str, Enum):
    """What a write holds: data derived from the input, or only parameters, or constants."""

    activation = "activation"
    parameter = "parameter"
    constant = "constant"


# Operations that make the wiring: a node of their own when a tensor from a parameter joins the data
# (ViT's class token and position embedding), and always when two activations meet.
WIRING = frozenset(
    {"add", "sub", "mul", "div", "cat", "stack", "bmm", "mm", "matmul", "addmm", "baddbmm", "einsum", "where"}
)
# Functional layers that read as layers (Inception's pooling branch): a node when called in a forward.
LAYER_PREFIXES = ("avg_pool", "max_pool", "adaptive_avg_pool", "adaptive_max_pool", "upsample_")


@dataclass
class Op:
    """A tensor operation run directly in a container's forward."""

    seq: int  # the write it makes
    name: str  # the aten operation without namespace, overload or in-place mark: "add", "cat", "bmm"
    aten: str  # the full name, "aten.add_.Tensor"
    inputs: list[int]  # the writes its tensor inputs held, in argument order
    output_shape: Any
    macs: int
    kind: Kind
    shown: bool = False  # a node of its own (see :func:`_shown`); otherwise folded into an edge
    label: str = ""  # its name in its container, numbered when repeated: "add", "add_1"
    field: Any = None  # what its output sees of the input (a Reach, global, or None), when followed


@dataclass(eq=False)
class Call:
    """One call of a module's forward."""

    id: int
    path: str  # the module's dotted path ("" for the root)
    type: str
    depth: int  # how deep the call is nested (0 for the root)
    leaf: bool  # the module has no children: it is always drawn as one node
    parent: Call | None = field(repr=False)
    number: int = 1  # which call of this module it is (a module may run more than once)
    inputs: list[int] = field(default_factory=list)  # the writes its tensor arguments held
    arg_names: list[str] = field(default_factory=list)  # the forward's parameter each came through
    input_shapes: list[Any] = field(default_factory=list)
    events: list[Call | Op] = field(default_factory=list, repr=False)  # in order of execution
    output_shape: Any = None
    returned: list[int] = field(default_factory=list)  # the writes its outputs got when it returned
    module: int = 0  # id of the module object (its calls are counted in ``Trace.calls``)
    field: Any = None  # what this call's output sees of the input (a Reach, global, or None)

    def within(self, scope: Call) -> bool:
        """Whether this call is ``scope`` or runs inside it."""
        call: Call | None = self
        while call is not None:
            if call is scope:
                return True
            call = call.parent
        return False


@dataclass
class Write:
    """Who wrote a tensor: a call (an operation inside it, or its return), or where it came from."""

    owner: Call | None  # the innermost call running when it was written; None for inputs and parameters
    kind: Kind
    op: Op | None = None  # the operation, when it ran directly in a container's forward
    previous: int | None = None  # for a call's return: the write its output held before
    name: str = ""  # a model input's or a parameter's name
    numel: int = 0  # a parameter's size


@dataclass
class Trace:
    """A recorded forward pass: the tree of calls and every write."""

    root: Call
    writes: dict[int, Write]
    inputs: list[tuple[str, int, Any]]  # the model's inputs: (name, write, shape)
    outputs: list[int]  # the writes the model's outputs hold
    calls: Counter[int]  # how many times each module (by id of the object) ran
    modules: dict[int, str]  # id of a module object -> its path


class _Recorder:
    """Hooks and a dispatch mode that fill a :class:`Trace` while the model runs."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.paths = {id(m): p for p, m in model.named_modules()}
        self.stack: list[Call] = []
        self.writes: dict[int, Write] = {}
        self.held: dict[int, tuple[weakref.ref[Any], int]] = {}  # id(tensor) -> (tensor, its write)
        self.calls: Counter[int] = Counter()
        self.root: Call | None = None
        self.inputs: list[tuple[str, int, Any]] = []
        self.outputs: list[int] = []
        self.next_id = 0
        self.labels: Counter[tuple[int, str]] = Counter()
        # A shown operation whose output's receptive field is not known yet: the field is set on the
        # tensor after this mode returns (cvzoo.receptive.Tracker sits above it), so it is read at the
        # next event, before any later in-place operation can change it.
        self.pending: tuple[Op, weakref.ref[Any]] | None = None

    # --- writes -------------------------------------------------------------------------------

    def write(self, record: Write) -> int:
        seq = len(self.writes) + 1
        self.writes[seq] = record
        return seq

    def holder(self, tensor: torch.Tensor) -> int | None:
        entry = self.held.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def hold(self, tensor: torch.Tensor, seq: int) -> None:
        self.held[id(tensor)] = (weakref.ref(tensor), seq)

    # --- module hooks -------------------------------------------------------------------------

    def settle(self) -> None:
        """Give the last shown operation its output's receptive field (see ``pending``)."""
        if self.pending is not None:
            op, tensor = self.pending
            op.field = _reach(tensor())
            self.pending = None

    def before(self, module: nn.Module, args: Any, kwargs: Any) -> None:
        self.settle()
        parent = self.stack[-1] if self.stack else None
        if parent is None and self.root is not None:
            return  # the model called again after the pass (not expected): ignore
        self.calls[id(module)] += 1
        call = Call(
            id=self.next_id,
            path=self.paths.get(id(module), ""),
            type=type(module).__name__,
            depth=parent.depth + 1 if parent else 0,
            leaf=next(module.children(), None) is None,
            parent=parent,
            number=self.calls[id(module)],
            module=id(module),
        )
        self.next_id += 1
        named = list(_named_tensors(module, args, kwargs))
        if parent is None:
            self.root = call
            self._start(named)
        else:
            parent.events.append(call)
        for name, tensor in named:
            seq = self.holder(tensor)
            if seq is not None:
                call.inputs.append(seq)
                call.arg_names.append(name)
                call.input_shapes.append(list(tensor.shape))
        self.stack.append(call)

    def _start(self, named: list[tuple[str, torch.Tensor]]) -> None:
        """The root call: its arguments are the model's inputs; parameters get writes of their own."""
        for name, tensor in named:
            seq = self.write(Write(None, Kind.activation, name=name))
            self.hold(tensor, seq)
            self.inputs.append((name, seq, list(tensor.shape)))
        for name, tensor in [*self.model.named_parameters(), *self.model.named_buffers()]:
            if self.holder(tensor) is None:
                self.hold(tensor, self.write(Write(None, Kind.parameter, name=name, numel=tensor.numel())))

    def after(self, module: nn.Module, args: Any, output: Any) -> None:
        if not self.stack:
            return
        self.settle()
        call = self.stack.pop()
        call.output_shape = _shape(output)
        call.field = _reach(output)
        for tensor in _tensors(output, deep=True):
            previous = self.holder(tensor)
            kind = self.writes[previous].kind if previous is not None else Kind.activation
            seq = self.write(Write(call, kind, previous=previous))
            self.hold(tensor, seq)
            call.returned.append(seq)
            if not self.stack:
                self.outputs.append(seq)

    # --- operations ---------------------------------------------------------------------------

    def operation(self, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        self.settle()
        if not self.stack:
            return
        call = self.stack[-1]
        outputs = list(_tensors(out))
        if not outputs:
            return
        if call.leaf:
            seq = self.write(Write(call, Kind.activation))
        else:
            seq = self._op(call, func, args, kwargs, out)
        for tensor in outputs:
            self.hold(tensor, seq)

    def _op(self, call: Call, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> int:
        tensors = [(t, s) for t in _tensors((args, kwargs)) if (s := self.holder(t)) is not None]
        inputs = [s for _, s in tensors]
        kinds = {self.writes[s].kind for s in inputs}
        kind = next((k for k in Kind if k in kinds), Kind.constant)  # activation > parameter > constant
        name = _op_name(func)
        first = next(_tensors(out))
        op = Op(0, name, str(func), inputs, _shape(first), _macs(func, args, kwargs, out), kind)
        op.seq = self.write(Write(call, kind, op=op))
        call.events.append(op)
        # Indices and masks (integer and boolean tensors) steer the data but are not data themselves:
        # a detector's box selection stays off the picture.
        data = dict.fromkeys(s for t, s in tensors if t.is_floating_point() or t.is_complex())
        numeric = first.is_floating_point() or first.is_complex()
        op.shown = numeric and _shown(op, [self.writes[s].kind for s in data])
        if op.shown:
            self.labels[(call.id, name)] += 1
            count = self.labels[(call.id, name)]
            op.label = name if count == 1 else f"{name}_{count - 1}"
            self.pending = (op, weakref.ref(first))
        return op.seq

    def trace(self) -> Trace:
        self.settle()
        if self.root is None:
            raise RuntimeError("the model never ran")
        return Trace(self.root, self.writes, self.inputs, self.outputs, self.calls, self.paths)


def _reach(output: Any) -> Any:
    """What ``output`` sees of the input, as a row reports it (None when fields are not followed)."""
    from cvzoo import receptive

    return receptive.reach(receptive.of(output)) if output is not None else None


def _shown(op: Op, kinds: list[Kind]) -> bool:
    """Whether an operation is a node of its own rather than a step along an edge.

    Two activations meeting is wiring (a residual ``add``, a ``cat``, attention's ``bmm``); so is an
    operation that computes (MACs), a parameter joining the data through a wiring operation, and a
    pooling or resizing layer called as a function. Activations, reshapes, dropout and scaling
    by a number fold into the edge they lie on.
    """
    activations = kinds.count(Kind.activation)
    if activations >= 2:
        return True
    if activations == 0:
        return False
    if op.macs > 0:
        return True
    if op.name in WIRING and Kind.parameter in kinds:
        return True
    return op.name.startswith(LAYER_PREFIXES)


def _op_name(func: Any) -> str:
    """``aten.add_.Tensor`` -> ``add``; ``aten.max_pool2d_with_indices`` -> ``max_pool2d``."""
    name = str(func._overloadpacket.__name__) if hasattr(func, "_overloadpacket") else str(func)
    name = name.strip("_").removesuffix("_with_indices")
    return name


def _macs(func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> int:
    """Multiply-accumulates by the FLOP counter's own formula for ``func`` (0 where it has none)."""
    from torch.utils.flop_counter import flop_registry

    formula = flop_registry.get(getattr(func, "_overloadpacket", None))
    if formula is None:
        return 0
    try:
        return int(formula(*args, **kwargs, out_val=out)) // 2
    except Exception:  # a formula that does not take this call's arguments: no count rather than a crash
        return 0


def _tensors(value: Any, deep: bool = False) -> Iterator[torch.Tensor]:
    """The tensors in ``value``: itself, or inside lists, tuples and dicts (``deep``: and objects)."""
    import torch

    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item, deep)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item, deep)
    elif deep and hasattr(value, "__dict__") and not isinstance(value, type):
        # a module's output object (detection's ImageList holds its tensors as attributes)
        for item in vars(value).values():
            yield from _tensors(item, False)


def _named_tensors(
    module: nn.Module, args: Any, kwargs: dict[str, Any]
) -> Iterator[tuple[str, torch.Tensor]]:
    """The tensors a call is given, each named after the forward parameter it came through."""
    names = _parameter_names(type(module))
    for i, arg in enumerate(args):
        name = names[i] if i < len(names) else f"arg{i}"
        for tensor in _tensors(arg, deep=True):
            yield name, tensor
    for name, arg in kwargs.items():
        for tensor in _tensors(arg, deep=True):
            yield name, tensor


_NAMES: dict[type, list[str]] = {}


def _parameter_names(cls: type) -> list[str]:
    if cls not in _NAMES:
        try:
            params = inspect.signature(cls.forward).parameters  # type: ignore[attr-defined]
            _NAMES[cls] = [p for p in params if p != "self"]
        except (TypeError, ValueError):
            _NAMES[cls] = []
    return _NAMES[cls]


def _shape(output: Any) -> Any:
    """[1, 64, 56, 56], a list of such, a dict of such; None when there is no tensor."""
    import torch

    if isinstance(output, torch.Tensor):
        return list(output.shape)
    if isinstance(output, dict):
        return {str(k): _shape(v) for k, v in output.items()}
    if isinstance(output, (list, tuple)):
        return [_shape(v) for v in output]
    return None


@contextlib.contextmanager
def recording(model: nn.Module) -> Iterator[_Recorder]:
    """Record the forward passes run inside the block (one is expected) into ``recorder.trace()``."""
    from torch.utils._python_dispatch import TorchDispatchMode

    recorder = _Recorder(model)

    class _Mode(TorchDispatchMode):  # type: ignore[no-untyped-call]
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            recorder.operation(func, args, kwargs, out)
            return out

    hooks = []
    for module in dict(model.named_modules()).values():
        hooks.append(module.register_forward_pre_hook(recorder.before, with_kwargs=True))
        hooks.append(module.register_forward_hook(recorder.after, always_call=True))
    try:
        with _Mode():  # type: ignore[no-untyped-call]
            yield recorder
    finally:
        for hook in hooks:
            hook.remove()
