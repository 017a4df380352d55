"""Numbers for people: counts, sizes, MACs, shapes and metrics as short text.

Every formatter takes None (a value a model doesn't have) and returns '-' for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MISSING = "-"


def sig3(x: float) -> str:
    """About three significant figures: 4.089 -> '4.09', 17.56 -> '17.6', 178.7 -> '178.7'."""
    if abs(x) >= 100:
        return f"{x:.1f}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def fixed(x: float | None, places: int) -> str:
    """``x`` with ``places`` decimals and thousands separators: 1234.5 -> '1,234.50'."""
    return MISSING if x is None else f"{x:,.{places}f}"


def human_count(n: float | None) -> str:
    """25557032 -> '25.6M'; three significant figures, K/M/B suffixes."""
    if n is None:
        return MISSING
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{sig3(n / scale)}{suffix}"
    return f"{n:g}" if isinstance(n, float) else str(n)


def human_float(x: float | None) -> str:
    """4.089 -> '4.09', 178.722 -> '178.7', 1016.717 -> '1,017', 0.0712 -> '0.071'."""
    if x is None:
        return MISSING
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return sig3(x) if abs(x) >= 1 else f"{x:.3f}".rstrip("0").rstrip(".")


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'; binary units, three significant figures."""
    if n is None:
        return MISSING
    for scale, unit in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= scale:
            return f"{sig3(n / scale)} {unit}"
    return f"{int(n)} B"


def human_macs(n: int) -> str:
    """11513626624 -> '11.51 G'; MACs and FLOPs with an SI prefix and two decimals."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:,.2f} {prefix}"
    return str(n)


def compact_macs(n: int) -> str:
    """11513626624 -> '11.51G': :func:`human_macs` without the space, for narrow columns."""
    return human_macs(n).replace(" ", "")


def compact_shape(shape: Any) -> str:
    """[1, 64, 56, 56] -> '1x64x56x56': :func:`shape_text` in fewer characters."""
    if isinstance(shape, list) and shape and all(isinstance(d, int) for d in shape):
        return "x".join(str(d) for d in shape)
    if isinstance(shape, dict):
        items = [f"{k}: {compact_shape(v)}" for k, v in shape.items()]
        return "{" + ", ".join(items[:2]) + (", …" if len(items) > 2 else "") + "}"
    if isinstance(shape, list) and shape:
        parts = [compact_shape(s) for s in shape]
        return ", ".join(parts[:2]) + (f", … ({len(parts)})" if len(parts) > 2 else "")
    return shape_text(shape)


def human_size(size: Sequence[int] | None) -> str:
    """[224, 224] -> '224', [520, 480] -> '520x480', None -> '-'."""
    if not size:
        return MISSING
    if len(size) == 2 and size[0] == size[1]:
        return str(size[0])
    return "x".join(str(s) for s in size)


def hw(values: Sequence[float], compact: bool = False, sep: str = "x") -> str:
    """A height-width pair: [435, 435] -> '435x435', or '435' when ``compact`` and both are equal.

    Fractions keep two decimals: [15.5, 33.28] -> '15.5x33.28', 1/3 -> '0.33'.
    """
    texts = [str(int(v)) if float(v).is_integer() else str(round(v, 2)) for v in values]
    return texts[0] if compact and len(set(texts)) == 1 else sep.join(texts)


def dims(shape: Sequence[int]) -> str:
    """[1, 3, 224, 224] -> '1x3x224x224'."""
    return "x".join(str(d) for d in shape) if shape else MISSING


def shape_text(shape: Any) -> str:
    """[1, 64, 56, 56] as is; several outputs joined, long lists shortened."""
    if shape is None:
        return MISSING
    if isinstance(shape, dict):
        items = [f"{k}: {shape_text(v)}" for k, v in shape.items()]
        return "{" + ", ".join(items[:2]) + (", …" if len(items) > 2 else "") + "}"
    if shape and all(isinstance(d, int) for d in shape):
        return "[" + ", ".join(str(d) for d in shape) + "]"
    if not shape:
        return "[]"
    parts = [shape_text(s) for s in shape]
    return ", ".join(parts[:2]) + (f", … ({len(parts)})" if len(parts) > 2 else "")


def metric_text(
    metrics: dict[str, dict[str, float | None]], skip: tuple[str, ...] = ("acc@1", "acc@5")
) -> str:
    """The first dataset's metrics not shown in their own columns, e.g. 'box_map 37.0'."""
    first = next(iter(metrics.values()), {})
    return ", ".join(f"{k} {v}" for k, v in first.items() if k not in skip and v is not None) or MISSING


def share(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole``: '12.5%'."""
    return f"{100 * part / whole:.1f}%" if whole else MISSING
