"""The rule of each aten operator: what its outputs see, given what its inputs see.

A rule gets one :class:`Call` (the arguments by their schema's names, the output tensors) in
which at least one input has a field, and returns the outputs' geometry (one for all, or a list):

- windows (convolutions, transposed ones, max and average pooling, adaptive pooling, padding,
  slicing, interpolation) move the image axes they act on, exactly (:mod:`cvzoo.fields`);
- elementwise operators and concatenation along channels merge their inputs' fields; views,
  permutes and reshapes move the image axes between dims (a ``[N, H*W, C]`` token sequence keeps
  its field), and a linear layer acting on channels keeps it too;
- an operator that mixes positions one by one (a matmul over tokens, attention, a fully
  connected layer over a flattened map, a concatenation along an image axis) leaves no field:
  ``global``; a reduction over every position (global pooling, normalisation statistics) makes
  values that mix into a map as ``context``: the map keeps its field, marked as also seeing the
  whole image (squeeze-and-excitation, GroupNorm, an image-pooling branch).

:func:`rule_for` finds the rule; an operator without one is :mod:`cvzoo.receptive`'s to report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from cvzoo import fields
from cvzoo.fields import CONTEXT, GLOBAL, Field, Geometry, Taps, Untrackable

ATTR = "_cvzoo_field"  # the geometry of a tensor, set on the tensor itself while tracking
# Elementwise operators the pointwise tag misses (in torch 2.x it is on some activations only).
ELEMENTWISE = {
    *("hardswish", "hardsigmoid", "hardtanh", "silu", "gelu", "mish", "elu", "leaky_relu", "softplus"),
    *("relu6", "prelu", "_prelu_kernel", "threshold", "logit", "dropout", "glu"),
}
# Operators that make a tensor from another's shape and type only (zeros, a fill): no geometry.
CONSTANT = {
    *("new_full", "new_zeros", "new_ones", "new_empty", "new_empty_strided", "zeros_like", "ones_like"),
    *("full_like", "empty_like", "rand_like", "randn_like", "randint_like", "fill_", "zero_"),
}


def geometry(value: Any) -> Geometry:
    """The geometry a tensor was given while tracking (None for anything else)."""
    return getattr(value, ATTR, None) if isinstance(value, torch.Tensor) else None


def tensors(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in ``value``: a tensor, or dicts, lists and tuples of them, in order."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from tensors(v)


@dataclass
class Call:
    """One operator call as the rules see it: its arguments by name and its output tensors."""

    name: str
    args: dict[str, Any]
    outputs: list[torch.Tensor]

    def field(self, key: str = "self") -> Field:
        """The field of tensor argument ``key`` (the rules run only where one input has a field)."""
        found = geometry(self.args.get(key))
        if not isinstance(found, Field):
            raise Untrackable(f"a field was expected in {key}")
        return found


Rule = Callable[[Call], "Geometry | list[Geometry]"]


# --- merges --------------------------------------------------------------------------------------


def _pointwise(call: Call) -> Geometry:
    pairs = [(geometry(t), t.shape) for t in tensors(list(call.args.values()))]
    return fields.merge(pairs, call.outputs[0].shape)


def _cat(call: Call) -> Geometry:
    parts = [t for t in call.args["tensors"] if not (t.dim() == 1 and t.numel() == 0)]
    out = call.outputs[0]
    dim = call.args.get("dim", 0) % out.dim()
    if call.name == "stack":
        pairs = []
        for t in parts:
            g = geometry(t)
            if isinstance(g, Field):
                g = replace(g, dims=(*g.dims[:dim], (), *g.dims[dim:]))
            pairs.append((g, [*t.shape[:dim], 1, *t.shape[dim:]]))
        return fields.merge(pairs, out.shape, skip=dim)
    if any(isinstance(g := geometry(t), Field) and g.dims[dim] for t in parts):
        return GLOBAL  # joined along an image axis (a class token before the patches): no grid any more
    return fields.merge([(geometry(t), t.shape) for t in parts], out.shape, skip=dim)


# --- windows -------------------------------------------------------------------------------------


def _windows(call: Call, key: str, count: int, taps: Callable[[int, int, int], Taps]) -> Field:
    """An operator reading windows along the last ``count`` dims; ``taps(i, n_in, n_out)`` for the i-th."""
    x, out = call.args[key], call.outputs[0]
    field = call.field(key)
    first = x.dim() - count
    for d in range(first, x.dim()):
        if field.dims[d]:
            field = field.along(d, out.shape[d], taps(d - first, x.shape[d], out.shape[d]))
    return field


def _count(name: str) -> int:
    """How many dims an operator's windows span, from its name: ``max_pool3d_with_indices`` -> 3."""
    found = re.search(r"(\d)d", name)
    if found is None:
        raise Untrackable("an operator whose dims cannot be told from its name")
    return int(found.group(1))


def _each(values: Any, count: int) -> list[int]:
    listed = [int(values)] if isinstance(values, int) else [int(v) for v in values]
    return listed * count if len(listed) == 1 else listed


def _convolution(call: Call) -> Geometry:
    weight, bias = geometry(call.args["weight"]), geometry(call.args.get("bias"))
    if isinstance(weight, Field) or isinstance(bias, Field):
        return GLOBAL  # weights computed from the image, position by position
    count = call.args["weight"].dim() - 2
    x = call.args["input"]
    if call.field("input").dims[x.dim() - count - 1]:
        return GLOBAL  # an image axis folded into the channels is summed over
    stride, padding, dilation = (_each(call.args[k], count) for k in ("stride", "padding", "dilation"))
    shape = call.args["weight"].shape[2:]
    make = fields.transposed if call.args.get("transposed") else fields.window
    field = _windows(call, "input", count, lambda i, n, m: make(shape[i], stride[i], padding[i], dilation[i]))
    return replace(field, context=field.context or weight is not None or bias is not None)


def _pool(call: Call) -> Geometry:
    count = _count(call.name)
    kernel = _each(call.args["kernel_size"], count)
    stride = _each(call.args.get("stride") or kernel, count)
    padding, dilation = _each(call.args.get("padding", 0), count), _each(call.args.get("dilation", 1), count)
    return _windows(
        call, "self", count, lambda i, n, m: fields.window(kernel[i], stride[i], padding[i], dilation[i])
    )


def _adaptive(call: Call) -> Geometry:
    count = _count(call.name)
    x, out, field = call.args["self"], call.outputs[0], call.field()
    pooled = {
        name
        for d in range(x.dim() - count, x.dim())
        for name, _ in field.dims[d]
        if name and out.shape[d] == 1 and x.shape[d] > 1
    }
    if pooled:
        return CONTEXT if pooled == field.spatial() else GLOBAL  # global pooling
    return _windows(call, "self", count, lambda i, n, m: fields.adaptive(n, m))


def _resize(call: Call) -> Geometry:
    name = call.name
    if name.endswith("_aa"):
        raise Untrackable("antialiased resizing")
    count = _count(name)
    mode = next(m for m in ("nearest_exact", "nearest", "cubic", "linear") if m in name)
    keys = {1: ["scales"], 2: ["scales_h", "scales_w"], 3: ["scales_d", "scales_h", "scales_w"]}[count]
    scales = call.args.get("scale_factors") or [call.args.get(k) for k in keys]
    key = "input" if "input" in call.args else "self"
    corners = bool(call.args.get("align_corners"))
    return _windows(call, key, count, lambda i, n, m: fields.resampled(n, m, mode, corners, scales[i]))


def _pad(call: Call) -> Geometry:
    pad = list(call.args.get("pad") or call.args["padding"])
    x, out, field = call.args["self"], call.outputs[0], call.field()
    for i in range(len(pad) // 2):
        d = x.dim() - 1 - i
        field = field.along(d, out.shape[d], fields.shifted(-pad[2 * i]))
    return field


# --- views and reshapes --------------------------------------------------------------------------


def _same(call: Call) -> Geometry:
    return next(g for g in (geometry(v) for v in call.args.values()) if g is not None)


def _reshape(call: Call) -> Geometry:
    return fields.reshaped(call.field(), call.args["self"].shape, call.outputs[0].shape)


def _permute(call: Call) -> Geometry:
    field = call.field()
    n = len(field.dims)
    if call.name == "permute":
        order = [d % n for d in call.args["dims"]]
    else:  # transpose, t
        order = list(range(n))
        a, b = (call.args["dim0"] % n, call.args["dim1"] % n) if call.name == "transpose" else (0, n - 1)
        order[a], order[b] = order[b], order[a]
    return replace(field, dims=tuple(field.dims[d] for d in order))


def _unsqueeze(call: Call) -> Geometry:
    field = call.field()
    d = call.args["dim"] % (len(field.dims) + 1)
    return replace(field, dims=(*field.dims[:d], (), *field.dims[d:]))


def _squeeze(call: Call) -> Geometry:
    field, x = call.field(), call.args["self"]
    dim = call.args.get("dim")
    asked = range(x.dim()) if dim is None else [dim] if isinstance(dim, int) else dim
    gone = {d % x.dim() for d in asked if x.shape[d] == 1}
    if any(field.dims[d] for d in gone):
        return GLOBAL  # a one-pixel image axis dropped
    return replace(field, dims=tuple(a for d, a in enumerate(field.dims) if d not in gone))


def _expand(call: Call) -> Geometry:
    return fields.merge([(call.field(), call.args["self"].shape)], call.outputs[0].shape)


def _select(call: Call) -> Geometry | list[Geometry]:
    """``select`` and ``unbind``: a dim goes; picking one position of an image axis leaves no grid."""
    field, x = call.field(), call.args["self"]
    d = call.args["dim"] % x.dim()
    return GLOBAL if field.dims[d] else replace(field, dims=(*field.dims[:d], *field.dims[d + 1 :]))


def _slice(call: Call) -> Geometry:
    field, x, out = call.field(), call.args["self"], call.outputs[0]
    d = call.args.get("dim", 0) % x.dim()
    start, n = call.args.get("start") or 0, x.shape[d]
    start = min(max(start + n if start < 0 else start, 0), n)
    return field.along(d, out.shape[d], fields.shifted(start, call.args.get("step") or 1))


def _split(call: Call) -> list[Geometry]:
    field, x = call.field(), call.args["self"]
    d = call.args.get("dim", 0) % x.dim()
    results: list[Geometry] = []
    start = 0
    for out in call.outputs:
        results.append(field.along(d, out.shape[d], fields.shifted(start)))
        start += out.shape[d]
    return results


# --- products, reductions, normalisation ---------------------------------------------------------


def _matmul(call: Call) -> Geometry:
    """``mm``, ``bmm`` and their ``add`` forms: a linear layer on channels keeps the field."""
    keys = {"addmm": ("mat1", "mat2"), "baddbmm": ("batch1", "batch2")}.get(call.name, ("self", "mat2"))
    a, b = (geometry(call.args[k]) for k in keys)
    product: Geometry
    if isinstance(a, Field) and isinstance(b, Field):
        return GLOBAL  # positions against positions: attention
    if isinstance(a, Field):
        if a.dims[-1]:
            return GLOBAL  # summed over positions: fully connected
        product = replace(a, dims=(*a.dims[:-1], ()), context=a.context or b is not None)
    elif isinstance(b, Field):
        if b.dims[-2]:
            return GLOBAL
        product = replace(b, dims=(*b.dims[:-2], (), b.dims[-1]), context=b.context or a is not None)
    else:
        product = GLOBAL if GLOBAL in (a, b) else CONTEXT if (a or b) else None  # only the bias has a field
    shape = call.outputs[0].shape
    if keys[0] == "self":
        return product
    bias = call.args["self"]
    return fields.merge([(product, shape), (geometry(bias), bias.shape)], shape)


def _softmax(call: Call) -> Geometry:
    field = call.field()
    return GLOBAL if field.dims[call.args["dim"] % len(field.dims)] else field


def _reduce(call: Call) -> Geometry:
    """A reduction over dims: over every position, ``context``; over some, global; else the dims go."""
    field, x = call.field(), call.args["self"]
    dim = call.args.get("dim")
    asked = range(x.dim()) if dim is None or dim == [] else [dim] if isinstance(dim, int) else dim
    gone = {d % x.dim() for d in asked}
    reduced = {name for d in gone for name, _ in field.dims[d] if name}
    if reduced:
        return CONTEXT if reduced == field.spatial() else GLOBAL
    if call.args.get("keepdim"):
        return replace(field, dims=tuple(() if d in gone else a for d, a in enumerate(field.dims)))
    return replace(field, dims=tuple(a for d, a in enumerate(field.dims) if d not in gone))


def _normalise(call: Call) -> list[Geometry]:
    """Layer, group and batch norm: statistics over positions add context; the statistics are context."""
    field, x = call.field("input"), call.args["input"]
    if call.name == "native_layer_norm":
        count = len(call.args["normalized_shape"])
        over = range(x.dim() - count, x.dim())
    elif call.name == "native_group_norm":
        over = range(2, x.dim())
    else:
        training = call.args.get("training", call.name == "_batch_norm_with_update")
        over = range(2, x.dim()) if training else range(0)
    if any(field.dims[d] for d in over):
        return [replace(field, context=True), *[CONTEXT] * (len(call.outputs) - 1)]
    if call.name == "native_layer_norm":
        stats = replace(field, dims=tuple(() if d in over else a for d, a in enumerate(field.dims)))
        return [field, stats, stats]
    return [field, *[None] * (len(call.outputs) - 1)]


# Each rule and the operators it follows (by their overload packet's name).
_TABLE: dict[Rule, str] = {
    _convolution: "convolution _convolution",
    _pool: "max_pool1d max_pool2d max_pool3d avg_pool1d avg_pool2d avg_pool3d max_pool1d_with_indices"
    " max_pool2d_with_indices max_pool3d_with_indices",
    _adaptive: "_adaptive_avg_pool2d _adaptive_avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d"
    " adaptive_max_pool1d adaptive_max_pool2d adaptive_max_pool3d",
    _resize: "upsample_nearest1d upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d"
    " _upsample_nearest_exact2d _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d"
    " upsample_trilinear3d upsample_bicubic2d _upsample_bilinear2d_aa _upsample_bicubic2d_aa",
    _pad: "constant_pad_nd reflection_pad1d reflection_pad2d reflection_pad3d replication_pad1d"
    " replication_pad2d replication_pad3d",
    _same: "clone _to_copy alias detach lift_fresh contiguous dropout",
    _reshape: "view _unsafe_view reshape view_copy _reshape_alias flatten unflatten",
    _permute: "permute transpose t",
    _unsqueeze: "unsqueeze",
    _squeeze: "squeeze",
    _expand: "expand",
    _select: "select unbind",
    _slice: "slice",
    _split: "split split_with_sizes unsafe_split",
    _cat: "cat concat stack",
    _matmul: "mm bmm addmm baddbmm",
    _softmax: "_softmax _safe_softmax _log_softmax softmax log_softmax",
    _normalise: "native_layer_norm native_group_norm native_batch_norm _native_batch_norm_legit"
    " _native_batch_norm_legit_no_training _batch_norm_with_update _batch_norm_no_update",
}
RULES: dict[str, Rule] = {name: rule for rule, names in _TABLE.items() for name in names.split()}


def rule_for(func: Any) -> Rule | None:
    """The rule of aten operator ``func``: by name, else elementwise or reduction by its tags."""
    name = func.overloadpacket.__name__
    if name in RULES:
        return RULES[name]
    if _elementwise(func):
        return _pointwise
    return _reduce if torch.Tag.reduction in func.tags else None


@functools.cache
def _elementwise(func: Any) -> bool:
    base = func.overloadpacket.__name__.rstrip("_")
    if torch.Tag.pointwise in func.tags or base in ELEMENTWISE:
        return True
    sibling = getattr(getattr(torch.ops.aten, base, None), "default", None)
    return sibling is not None and torch.Tag.pointwise in sibling.tags
