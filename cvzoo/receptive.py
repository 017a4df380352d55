"""Receptive fields of a model's layers, followed through one run of the model on meta.

While the model runs once (on meta tensors: nothing is allocated), :class:`Tracker`, a
``TorchDispatchMode``, sees every aten operator and gives each output tensor a geometry (a
:class:`~cvzoo.fields.Field`, ``global`` or ``context``, or None), computed from its inputs'
geometry and the operator's own arguments by the operator's rule (:mod:`cvzoo.operators`). The
input image's pixels see themselves (:func:`seed`); a forward hook reads a module's output with
:func:`of`: that is the layer's row.

Following the tensors rather than the module tree is what makes branches exact: a residual sum,
a DenseNet or Inception concatenation, an FPN's top-down sum all merge what their inputs see,
and a layer is measured by what actually reaches it. An operator without a rule that receives a
field makes its outputs global, and :attr:`Tracker.unknown` names it, so that no number is
silently wrong.

Use: ``seed(inputs)``, then run the model inside ``with Tracker() as tracker:``; ``of(output)``
in a forward hook, :func:`reach` for the values. Importing this module imports torch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cvzoo import fields, operators
from cvzoo.fields import CONTEXT, GLOBAL, Axis, Dims, Field, Geometry, Reach, Untrackable, Whole
from cvzoo.operators import ATTR, Call, geometry, tensors

PARENT = "_cvzoo_view_of"  # a slice's or selection's parent, so that a write into it reaches the parent
# Operators that mix positions by nature (attention, detection's box ops): global, and no surprise.
MIXING = ("_scaled_dot_product", "scaled_dot_product", "_flash_attention", "_efficient_attention")
BOXES = {"roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool", "nms"}  # torchvision's, on detections


def seed(inputs: Any) -> None:
    """Mark each input image (``[..., H, W]``: a batch, a clip, a list of images) as seeing itself."""
    for tensor in tensors(inputs):
        if tensor.dim() >= 2:
            dims: Dims = (
                *(((),) * (tensor.dim() - 2)),
                (("h", tensor.shape[-2]),),
                (("w", tensor.shape[-1]),),
            )
            setattr(tensor, ATTR, Field(dims, (Axis(), Axis())))


def of(output: Any) -> Geometry:
    """The geometry of a module's output: its tensor's, or what its several tensors see together.

    Several tensors (a dict of feature maps, a tuple) see the union of their fields when they are
    all fields with the same stride, and have no single field otherwise (None).
    """
    found = [geometry(t) for t in tensors(output)]
    if len(found) <= 1:
        return found[0] if found else None
    known = [g for g in found if g is not None]
    if known and all(isinstance(g, Field) for g in known):
        try:
            return functools.reduce(Field.union, known)  # type: ignore[arg-type]
        except Untrackable:
            return None
    if known and all(isinstance(g, Whole) for g in known):
        return GLOBAL if GLOBAL in known else CONTEXT
    return None


def reach(found: Geometry) -> Reach | Whole | None:
    """What a row reports: a field's values, or ``global``/``context`` (no field either way), or None."""
    return Reach.of(found) if isinstance(found, Field) else found


class Tracker(TorchDispatchMode):  # type: ignore[no-untyped-call]  # torch leaves it untyped
    """Follows fields through every aten operator run under it (see the module's docstring).

    ``unknown`` maps each operator whose outputs were made global for want of a rule, or because
    what it did could not be said as a field, to the reason, in the order met.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.unknown: dict[str, str] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        try:
            self._follow(func, args, kwargs, out)
        except Exception as exc:  # a rule that fails must never stop the count: its outputs are global
            for tensor in tensors(out):
                setattr(tensor, ATTR, GLOBAL)
            reason = (
                str(exc)
                if isinstance(exc, Untrackable)
                else f"cvzoo could not follow it ({type(exc).__name__})"
            )
            self.unknown.setdefault(_op_name(func), reason)
        return out

    def _follow(self, func: Any, args: Any, kwargs: dict[str, Any], out: Any) -> None:
        name = func.overloadpacket.__name__
        inputs = [geometry(t) for t in tensors((args, kwargs))]
        outputs = list(tensors(out))
        if name in ("select", "slice") and outputs:
            setattr(outputs[0], PARENT, (args[0], name, _bind(func, args, kwargs)))
        if all(g is None for g in inputs):
            return  # nothing from the image in, nothing out: most operators (on parameters, constants)
        if name in operators.CONSTANT:
            _assign(outputs, None)
            return
        call = Call(name, _bind(func, args, kwargs), outputs)
        if name == "copy_":
            _write(call)
            return
        if not any(isinstance(g, Field) for g in inputs):
            _assign(outputs, GLOBAL if GLOBAL in inputs else CONTEXT)  # made of whole values: whole too
            return
        rule = operators.rule_for(func)
        if rule is None:
            if not name.startswith(MIXING) and name not in BOXES:
                self.unknown.setdefault(_op_name(func), "cvzoo has no rule for it")
            _assign(outputs, GLOBAL)
            return
        _assign(outputs, rule(call))


def _op_name(func: Any) -> str:
    return f"{func.namespace}.{func.overloadpacket.__name__}"


def _bind(func: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by their schema names, defaults filled in."""
    bound: dict[str, Any] = {}
    for i, arg in enumerate(func._schema.arguments):
        if i < len(args):
            bound[arg.name] = args[i]
        elif arg.name in kwargs:
            bound[arg.name] = kwargs[arg.name]
        elif arg.has_default_value():
            bound[arg.name] = arg.default_value
    return bound


def _assign(outputs: Sequence[torch.Tensor], result: Geometry | list[Geometry]) -> None:
    """Give each output its geometry; a field that does not fit its tensor's shape is a rule's bug."""
    results = result if isinstance(result, list) else [result] * len(outputs)
    for tensor, found in zip(outputs, results, strict=False):
        if isinstance(found, Field) and not found.fits(tensor.shape):
            raise Untrackable("a field that does not fit its tensor")
        setattr(tensor, ATTR, found)


def _write(call: Call) -> None:
    """``copy_``: the target's geometry becomes the source's, and so does its parents', up through views.

    Detection models batch their images by copying each into a slice of a tensor of zeros;
    following the copy up to that tensor is what gives their backbones a field.
    """
    target = call.args["self"]
    source = call.args["src"]
    found = geometry(source)
    if found is not None and isinstance(source, torch.Tensor):
        found = fields.merge([(found, source.shape)], target.shape)
    _assign([target], found)
    while found is not None and hasattr(target, PARENT):
        parent, kind, args = getattr(target, PARENT)
        lifted = _lift(found, parent, kind, args)
        found = fields.merge([(geometry(parent), parent.shape), (lifted, parent.shape)], parent.shape)
        _assign([parent], found)
        target = parent


def _lift(found: Geometry, parent: torch.Tensor, kind: str, args: dict[str, Any]) -> Geometry:
    """A view's geometry as its parent's: a selected dim comes back, a slice's start is undone."""
    if not isinstance(found, Field):
        return found
    dim = args["dim"] % parent.dim()
    if kind == "select":
        return Field((*found.dims[:dim], (), *found.dims[dim:]), found.axes, found.context)
    start, step = args.get("start") or 0, args.get("step", 1)
    start = start + parent.shape[dim] if start < 0 else start
    return found.along(dim, parent.shape[dim], fields.shifted(-start) if step == 1 else None)
