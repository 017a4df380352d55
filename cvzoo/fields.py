"""Receptive fields as data: which input pixels an output sees, and how ops compose them.

Along one image axis, output ``i`` of a layer sees a contiguous span of input pixels (the span of
what it depends on: a dilated kernel's holes are inside it). In a chain of convolutions the span
moves by the same number of pixels from one output to the next, so three numbers say it all: its
size, the stride, and where the first output's span is centred. Upsampling and transposed
convolutions break that: after a 2x upsampling, outputs 0 and 1 may see different spans, and
only outputs two apart are shifted copies of each other. So an :class:`Axis` holds a pattern
that repeats every ``period`` outputs (1 for any chain of convolutions and poolings): the span
of each output in one period, and the ``jump`` in input pixels from one period to the next. Every
op the tracker follows is a :class:`Taps` (which input positions each output position reads);
composing the two is exact, and so is the union that a merge (a sum, a concatenation) sees.

The values reported for a layer are the largest span over the period (the size), ``jump /
period`` (the average stride, fractional after upsampling beyond the input's resolution), and the
centre of output 0's span. Spans are theoretical: padding and borders are not clipped.

Nothing here imports torch; :mod:`cvzoo.receptive` follows a model run with these records.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

MAX_PERIOD = 4096  # a pattern longer than this (resizing by odd ratios, composed) is not followed
AXES = ("h", "w")  # the image axes followed, by name; a tensor's dims carry these names


class Untrackable(Exception):
    """What an op does to the pixels cannot be said as a field: its outputs are shown as global."""


@dataclass(frozen=True)
class Taps:
    """Which input positions each output position of an op reads, along one axis.

    Output ``o = m * period + phase`` reads input positions ``s + m * shift`` for each ``s`` in
    ``sources[phase]``: a convolution reads ``kernel`` positions ``dilation`` apart, ``stride``
    further on for each output (period 1); a 2x upsampling has period 2 and shift 1.
    """

    period: int
    shift: int
    sources: tuple[tuple[int, ...], ...]


def window(kernel: int, stride: int, padding: int, dilation: int = 1) -> Taps:
    """A convolution's or a pooling's window (``ceil_mode`` only adds outputs at the end)."""
    return Taps(1, stride, (tuple(dilation * t - padding for t in range(kernel)),))


def transposed(kernel: int, stride: int, padding: int, dilation: int = 1) -> Taps:
    """A transposed convolution: output ``q * stride - padding + dilation * t`` gets input ``q``."""
    sources = []
    for phase in range(stride):
        taps = [phase + padding - dilation * t for t in range(kernel)]
        sources.append(tuple(sorted(t // stride for t in taps if t % stride == 0)))
    return Taps(stride, 1, tuple(sources))


def adaptive(n_in: int, n_out: int) -> Taps:
    """Adaptive pooling: output ``o`` reads inputs ``floor(o*n_in/n_out)`` to ``ceil((o+1)*n_in/n_out)``."""
    g = math.gcd(n_in, n_out)
    period, shift = n_out // g, n_in // g
    return Taps(period, shift, tuple(_bin(o, n_in, n_out) for o in range(period)))


def _bin(o: int, n_in: int, n_out: int) -> tuple[int, ...]:
    start, end = (o * n_in) // n_out, -((-(o + 1) * n_in) // n_out)
    return tuple(range(start, end))


def resampled(n_in: int, n_out: int, mode: str, align_corners: bool, scale: float | None) -> Taps:
    """Interpolation (``nearest``, ``nearest_exact``, ``linear`` or ``cubic``), as torch computes it.

    The source coordinate is torch's own (``area_pixel_compute_source_index``), without its clamping
    at the borders; an input tap whose weight is exactly zero (an output that falls on an input
    pixel) is not read.
    """
    if align_corners and mode in ("linear", "cubic"):
        ratio = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
    elif scale:
        ratio = Fraction(1 / scale).limit_denominator(1 << 16)
    else:
        ratio = Fraction(n_in, n_out)
    if ratio == 0 or ratio.denominator > MAX_PERIOD:
        raise Untrackable("a resize whose outputs all read the same pixel, or by an odd ratio")
    half = Fraction(1, 2)
    sources: list[tuple[int, ...]] = []
    for o in range(ratio.denominator):
        if mode == "nearest":
            sources.append((math.floor(o * ratio),))
            continue
        if mode == "nearest_exact":
            sources.append((math.floor((o + half) * ratio),))
            continue
        x = o * ratio if align_corners else (o + half) * ratio - half
        first = math.floor(x)
        reach = (0,) if x == first else (0, 1) if mode == "linear" else (-1, 0, 1, 2)
        sources.append(tuple(first + r for r in reach))
    return Taps(ratio.denominator, ratio.numerator, tuple(sources))


def shifted(start: int, step: int = 1) -> Taps:
    """Slicing from ``start`` every ``step`` positions; padding by ``p`` is ``shifted(-p)``."""
    return Taps(1, step, ((start,),))


@dataclass(frozen=True)
class Axis:
    """Where the outputs along one image axis look, in input pixels (inclusive spans).

    Output ``i = m * period + phase`` sees input pixels ``lo[phase] + m * jump`` to
    ``hi[phase] + m * jump``. The input itself is ``Axis()``: each pixel sees itself.
    """

    period: int = 1
    jump: int = 1
    lo: tuple[int, ...] = (0,)
    hi: tuple[int, ...] = (0,)

    def at(self, i: int) -> tuple[int, int]:
        """The span output ``i`` sees (any integer ``i``: the pattern extends past the borders)."""
        m, phase = divmod(i, self.period)
        return self.lo[phase] + m * self.jump, self.hi[phase] + m * self.jump

    def through(self, taps: Taps) -> Axis:
        """The outputs of an op reading this axis with ``taps``: each sees the union of what it reads."""
        period = taps.period * self.period // math.gcd(self.period, taps.shift)
        if period > MAX_PERIOD:
            raise Untrackable("a pattern of outputs too long to follow")
        jump = self.jump * (period // taps.period) * taps.shift // self.period
        lo, hi = [], []
        for o in range(period):
            m, phase = divmod(o, taps.period)
            spans = [self.at(s + m * taps.shift) for s in taps.sources[phase]]
            if not spans:
                raise Untrackable("outputs that read no input")
            lo.append(min(a for a, _ in spans))
            hi.append(max(b for _, b in spans))
        return Axis(period, jump, tuple(lo), tuple(hi)).simplest()

    def union(self, other: Axis) -> Axis:
        """What an output sees when it merges this and ``other`` (a sum, a concatenation)."""
        if self.jump * other.period != other.jump * self.period:
            raise Untrackable("a merge of maps whose outputs are not the same distance apart")
        period = math.lcm(self.period, other.period)
        if period > MAX_PERIOD:
            raise Untrackable("a pattern of outputs too long to follow")
        spans = [(self.at(i), other.at(i)) for i in range(period)]
        lo = tuple(min(a[0], b[0]) for a, b in spans)
        hi = tuple(max(a[1], b[1]) for a, b in spans)
        return Axis(period, self.jump * period // self.period, lo, hi).simplest()

    def simplest(self) -> Axis:
        """The same pattern with the shortest period that describes it."""
        for d in range(1, self.period):
            if self.period % d or (self.jump * d) % self.period:
                continue
            step = self.jump * d // self.period
            if all(self.at(p + d) == tuple(x + step for x in self.at(p)) for p in range(self.period)):
                return Axis(d, step, self.lo[:d], self.hi[:d])
        return self

    @property
    def size(self) -> int:
        """The most input pixels any output sees along this axis."""
        return max(h - lo + 1 for lo, h in zip(self.lo, self.hi, strict=True))

    @property
    def stride(self) -> Fraction:
        """Input pixels from one output to the next (on average over the pattern)."""
        return Fraction(self.jump, self.period)

    @property
    def offset(self) -> Fraction:
        """The centre of the span output 0 sees (pixel ``i``'s centre is at ``i``)."""
        return Fraction(self.lo[0] + self.hi[0], 2)


class Whole(Enum):
    """What a tensor depends on when it has no field: all of the input, one of two ways.

    ``context`` values come from the whole input pooled over every position (a squeeze-and-
    excitation gate, normalisation statistics, an image-pooling branch): they are the same for
    every position they are broadcast to, so a map that mixes them in keeps its field and is
    marked as also seeing the whole input. ``global`` values mix positions one by one (attention,
    fully connected layers): a map that mixes them in has no field any more.
    """

    context = "context"
    global_ = "global"


Atom = tuple[str, int]  # a factor of a tensor dim: an image axis ("h", "w") or anonymous (""), and its size
Dims = tuple[tuple[Atom, ...], ...]  # per tensor dim, its factors; () for a dim holding no image axis


@dataclass(frozen=True)
class Field:
    """A tensor whose positions each see a span of the input: where its image axes are, and what they see.

    ``dims`` places the image axes among the tensor's dims (a dim may hold several factors, as a
    flattened ``[N, H*W, C]`` does); ``axes`` is the :class:`Axis` of each of :data:`AXES`.
    """

    dims: Dims
    axes: tuple[Axis, ...]
    context: bool = False  # also depends on the whole input, through values the same at every position

    def spatial(self) -> set[str]:
        """The names of the image axes the tensor still has."""
        return {name for atoms in self.dims for name, _ in atoms if name}

    def fits(self, shape: Sequence[int]) -> bool:
        """Whether the dims' factors multiply to ``shape`` (a rule's result is checked against the tensor)."""
        if len(self.dims) != len(shape):
            return False
        return all(
            not atoms or math.prod(n for _, n in atoms) == size
            for atoms, size in zip(self.dims, shape, strict=True)
        )

    def along(self, dim: int, size: int, taps: Taps | None) -> Field:
        """The field with dim ``dim`` read through ``taps`` (now ``size`` long).

        A dim without an image axis is not moved; one holding several factors, or an op that can't
        be said as taps (None), cannot be followed.
        """
        atoms = self.dims[dim]
        if not atoms:
            return self
        if len(atoms) != 1 or taps is None:
            raise Untrackable("a window over a dim that is not one image axis")
        name = atoms[0][0]
        index = AXES.index(name)
        axes = (*self.axes[:index], self.axes[index].through(taps), *self.axes[index + 1 :])
        return Field((*self.dims[:dim], ((name, size),), *self.dims[dim + 1 :]), axes, self.context)

    def union(self, other: Field) -> Field:
        """What an output sees that merges this field and ``other``."""
        axes = tuple(a.union(b) for a, b in zip(self.axes, other.axes, strict=True))
        return Field(self.dims, axes, self.context or other.context)


Geometry = Field | Whole | None  # None: depends on no input pixel (a constant, a parameter)
GLOBAL, CONTEXT = Whole.global_, Whole.context


def merge(pairs: Sequence[tuple[Geometry, Sequence[int]]], shape: Sequence[int], skip: int = -1) -> Geometry:
    """What an elementwise operator's output sees (a concatenation's, along dim ``skip``).

    Inputs are broadcast to ``shape``. Fields merge into their union; whole values broadcast over
    every position of the field (a gate of shape ``[N, C, 1, 1]``) add context; a field broadcast
    along an image axis, or global values that vary along one, leave no field.
    """
    found: list[Field] = []
    wholes: list[tuple[Whole, list[int]]] = []
    for geometry, size in pairs:
        lead = len(shape) - len(size)
        if isinstance(geometry, Field):
            dims: list[tuple[Atom, ...]] = [()] * len(shape)
            for d, atoms in enumerate(geometry.dims):
                if atoms and size[d] != shape[d + lead] and d + lead != skip:
                    return GLOBAL  # one position's field broadcast to many
                dims[d + lead] = atoms
            found.append(Field(tuple(dims), geometry.axes, geometry.context))
        elif geometry is not None:
            wholes.append((geometry, [1] * lead + list(size)))
    if not found:
        kinds = [w for w, _ in wholes]
        return GLOBAL if GLOBAL in kinds else (CONTEXT if kinds else None)
    if any(f.dims != found[0].dims for f in found):
        return GLOBAL  # the image axes sit in different dims: positions do not correspond
    merged = functools.reduce(Field.union, found)
    spatial = [d for d, atoms in enumerate(merged.dims) if atoms]
    if any(kind is GLOBAL and any(size[d] != 1 for d in spatial) for kind, size in wholes):
        return GLOBAL
    return Field(merged.dims, merged.axes, merged.context or bool(wholes))


def reshaped(field: Field, old: Sequence[int], new: Sequence[int]) -> Geometry:
    """A view or reshape from ``old`` to ``new``: the factors of the dims, row-major, regrouped.

    The image axes keep their place among the factors, so ``[N, C, H, W]`` to ``[N, C, H*W]`` and
    back is followed; a reshape that would split an image axis (into windows) cannot be, and one
    that folds a one-pixel axis away (a classifier's flatten) leaves no field.
    """
    if tuple(old) == tuple(new):
        return field
    stream: list[Atom] = []
    for atoms, size in zip(field.dims, old, strict=True):
        for name, n in atoms or (("", size),):
            if name and n == 1:
                return GLOBAL
            if n == 1:
                continue
            if stream and not name and not stream[-1][0]:
                stream[-1] = ("", stream[-1][1] * n)  # anonymous factors in a row are one
            else:
                stream.append((name, n))
    dims: list[tuple[Atom, ...]] = []
    for size in new:
        taken: list[Atom] = []
        product = 1
        while product < size and stream:
            name, n = stream.pop(0)
            if size % (product * n) == 0:
                taken.append((name, n))
                product *= n
            elif not name and size % product == 0 and n % (size // product) == 0:
                taken.append(("", size // product))
                stream.insert(0, ("", n // (size // product)))
                product = size
            else:
                raise Untrackable("a reshape that splits an image axis (into windows or patches)")
        dims.append(tuple(taken) if any(name for name, _ in taken) else ())
    if stream:
        raise Untrackable("a reshape that cannot be followed")
    return Field(tuple(dims), field.axes, field.context)


@dataclass(frozen=True)
class Reach:
    """What one layer reports: the field's size, stride and offset per axis (height, width)."""

    size: tuple[int, ...]
    stride: tuple[Fraction, ...]
    offset: tuple[Fraction, ...]
    context: bool

    @classmethod
    def of(cls, field: Field) -> Reach:
        """The reported values of ``field``."""
        axes = field.axes
        return cls(
            tuple(a.size for a in axes),
            tuple(a.stride for a in axes),
            tuple(a.offset for a in axes),
            field.context,
        )

    def strides(self) -> list[int | float]:
        """The stride per axis as JSON keeps it: an int when whole (most are), else a float (15.5)."""
        return [_number(v) for v in self.stride]

    def offsets(self) -> list[int | float]:
        """The offset per axis as JSON keeps it (see :meth:`strides`)."""
        return [_number(v) for v in self.offset]


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)
