"""Walk a built model: per-layer rows with output shapes, parameters and MACs.

MACs are counted by running the model once under ``torch.utils.flop_counter.FlopCounterMode``
on meta tensors, which counts what actually runs (attention included) at no cost; FLOPs are
2 x MACs. Parameters are counted from the module tree, each shared tensor once. Nothing here
prints: the results are typed records, shaped for each command by :mod:`cvzoo.reports`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from cvzoo.builders import to_meta
from cvzoo.catalog import Task
from cvzoo.errors import BuildError, first_line
from cvzoo.inputs import example_inputs, format_shape, input_shape
from cvzoo.weights import placeholder_weights

if TYPE_CHECKING:
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from cvzoo.registry import BuiltModel


@dataclass
class LayerRow:
    """One module of the tree (or a run of identical siblings collapsed into one row)."""

    name: str  # dotted path from the root ("" for the root); "layer3.1-35" for a collapsed run
    type: str  # class name, e.g. "Bottleneck"
    depth: int  # 0 for the root
    output_shape: Any  # [1, 64, 56, 56], a list of such, a dict of such, or None
    params: int  # parameters of the module and everything inside it (x count when collapsed)
    macs: int  # multiply-accumulates of the module and everything inside it (x count)
    count: int = 1  # how many identical siblings this row stands for
    config: str = ""  # the module's own settings (its extra_repr), e.g. "3, 64, kernel_size=(7, 7)"
    children: list[LayerRow] = field(default_factory=list, repr=False)
    note: str | None = None  # why a row has no output shape, or what it is (a parameter)
    # The receptive field of the module's output, when asked (cvzoo.receptive): [height, width] each.
    receptive_field: list[int] | None = None  # input pixels one output sees
    rf_stride: list[int | float] | None = None  # input pixels from one output to the next
    rf_offset: list[int | float] | None = None  # where the first output's field is centred
    rf_context: bool = False  # the field's layer also sees the whole input, through pooled values
    rf_global: bool = False  # no field: every output sees all of the input (global pooling, attention)


RF_FIELDS = ("receptive_field", "rf_stride", "rf_offset", "rf_context", "rf_global")


PARAMETER = "Parameter"  # the type of a row standing for a parameter a module holds itself
NOT_RUN = "not run in eval mode"  # the note of a module the forward pass never called


@dataclass
class ModelStats:
    """Everything ``summary``, ``params`` and ``flops`` report about one model."""

    model: str
    weights: str
    task: str
    input_size: list[int]  # the full input shape, e.g. [1, 3, 224, 224] ([N, 3, T, H, W] for video)
    root: LayerRow
    total_params: int
    trainable_params: int
    buffers: int  # elements in buffers (BatchNorm statistics...)
    param_bytes: int
    buffer_bytes: int
    activation_bytes: int  # bytes of every leaf module's outputs in one forward pass
    macs: int
    file_size_mib: float | None  # the weights file, when the weights are a torchvision set
    by_type: dict[str, int] = field(default_factory=dict)  # parameters per module type (own, not nested)
    macs_by_op: dict[str, int] = field(default_factory=dict)  # MACs per aten operator
    notes: list[str] = field(default_factory=list)


# --- the walk ----------------------------------------------------------------------------------


def collect(
    built: BuiltModel,
    requested_input: Sequence[int] | None = None,
    count_macs: bool = True,
    receptive_field: bool = False,
) -> ModelStats:
    """Count ``built``'s parameters and (with ``count_macs``) MACs and shapes, per module.

    Args:
        built: a model from the registry, on meta.
        requested_input: ``--input-size`` as parsed; None for the weights' own size.
        count_macs: run one forward pass; without it only parameters are counted (instant).
        receptive_field: also follow each layer's receptive field through that pass.
    """
    notes = []
    model = built.model
    inputs = None
    shape: list[int] = []
    if count_macs:
        shape = input_shape(built, requested_input)
        device: Any = "meta"
        if built.task is Task.detection:
            # Detection post-processing selects boxes by value (torch.nonzero), which meta tensors
            # cannot do; these models run once on the CPU with placeholder weights instead.
            model = placeholder_weights(model, "cpu")
            device = "cpu"
            notes.append(
                "detection models run once on the CPU with placeholder weights to count MACs; their heads'"
                " share depends on how many boxes survive, which depends on the image and the weights"
            )
        elif _on_device(model) != "meta":
            # A user's ready-made instance: count on meta too, where attention's fused CPU path
            # (which the counter cannot see into) is never taken.
            model = to_meta(model)
        inputs = example_inputs(built.task, shape, device)
    if built.task is Task.quantized:
        notes.append("quantized models are shown in float form: the same layers, parameters and MACs")
    stats = walk(model, inputs, shape, receptive_field=receptive_field and count_macs)
    stats.model = built.name
    stats.weights = built.weights_label
    stats.task = built.task.value if built.task else "custom"
    stats.file_size_mib = built.pretrained.file_size_mib if built.pretrained else None
    stats.notes = notes + stats.notes
    return stats


def _on_device(model: nn.Module) -> str:
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return str(tensor.device)
    return "meta"


def walk(
    model: nn.Module,
    inputs: tuple[Any, ...] | None,
    shape: Sequence[int],
    name: str = "",
    receptive_field: bool = False,
) -> ModelStats:
    """Run ``model`` once on ``inputs`` (if any) and gather per-module shapes, parameters and MACs.

    With ``receptive_field``, each module's receptive field too (the same pass, followed by
    :class:`cvzoo.receptive.Tracker`): rows get their ``receptive_field``, ``rf_stride``...
    """
    modules = dict(model.named_modules())
    fields: dict[str, Any] | None = {} if receptive_field and inputs is not None else None
    counter, shapes, activation, unknown = _run_once(model, modules, inputs, shape, fields)
    root_name = type(model).__name__
    per_module = counter.get_flop_counts()
    by_op = {str(op).replace("aten.", ""): n // 2 for op, n in per_module.get("Global", {}).items()}
    macs = {
        path: sum(per_module.get(f"{root_name}.{path}" if path else root_name, {}).values()) // 2
        for path in modules
    }
    root = _tree(model, modules, shapes, macs)
    if fields is not None:
        _add_fields(root, fields)

    params = {id(p): p for p in model.parameters()}.values()
    buffers = {id(b): b for b in model.buffers()}.values()
    by_type: Counter[str] = Counter()
    for module in modules.values():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            by_type[type(module).__name__] += own
    total_macs = counter.get_total_flops() // 2
    return ModelStats(
        model=name or root_name,
        weights="",
        task="",
        input_size=list(shape),
        root=root,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        buffers=sum(b.numel() for b in buffers),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers),
        activation_bytes=activation,
        macs=total_macs,
        file_size_mib=None,
        by_type=dict(by_type.most_common()),
        macs_by_op=dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
        notes=[
            f"receptive fields are global from {op} on: {reason}" for op, reason in (unknown or {}).items()
        ],
    )


def _run_once(
    model: nn.Module,
    modules: dict[str, nn.Module],
    inputs: tuple[Any, ...] | None,
    shape: Sequence[int],
    fields: dict[str, Any] | None = None,
) -> tuple[FlopCounterMode, dict[str, Any], int, dict[str, str] | None]:
    """One forward pass under the FLOP counter, recording each module's output shape.

    With ``fields`` (a dict to fill), each module's receptive field is followed and recorded too.
    Returns the counter, the output shapes by module path, the bytes of all leaf outputs, and the
    operators after which fields could not be followed (None when not followed).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    shapes: dict[str, Any] = {}
    activation = [0]
    hooks = []
    for path, module in modules.items():
        leaf = next(module.children(), None) is None
        hooks.append(module.register_forward_hook(_recorder(path, leaf, shapes, activation, fields)))
    counter = FlopCounterMode(display=False, depth=None)  # type: ignore[arg-type]  # None: all depths
    tracker: Any = contextlib.nullcontext()
    if fields is not None:
        from cvzoo import receptive

        receptive.seed(inputs)
        tracker = receptive.Tracker()
    try:
        if inputs is not None:
            with torch.no_grad(), counter, tracker, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model(*inputs)
    except Exception as exc:  # whatever the model raised, the user needs its first line
        raise BuildError(
            f"the model could not run on input {format_shape(shape)}: {first_line(exc)}"
        ) from exc
    finally:
        for hook in hooks:
            hook.remove()
    return counter, shapes, activation[0], getattr(tracker, "unknown", None)


def _recorder(
    path: str, leaf: bool, shapes: dict[str, Any], activation: list[int], fields: dict[str, Any] | None
) -> Any:
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        shapes.setdefault(path, _shape_of(output) if _has_tensor(output) else _Returns(output))
        if leaf:
            activation[0] += _bytes_of(output)
        if fields is not None and path not in fields:
            from cvzoo import receptive

            fields[path] = receptive.reach(receptive.of(output))  # now: a later in-place op may change it

    return hook


def _add_fields(row: LayerRow, fields: dict[str, Any]) -> None:
    """Fill each row's receptive field from what its module output (rows of parameters get none)."""
    from cvzoo.fields import Reach, Whole

    if row.type != PARAMETER:
        found = fields.get(row.name)
        if isinstance(found, Reach):
            row.receptive_field = list(found.size)
            row.rf_stride = found.strides()
            row.rf_offset = found.offsets()
            row.rf_context = found.context
        row.rf_global = isinstance(found, Whole)
    for child in row.children:
        _add_fields(child, fields)


def _shape_of(output: Any) -> Any:
    import torch

    if isinstance(output, torch.Tensor):
        return list(output.shape)
    if isinstance(output, dict):
        return {str(k): _shape_of(v) for k, v in output.items()}
    if isinstance(output, (list, tuple)):
        return [_shape_of(v) for v in output]
    return None


def _bytes_of(output: Any) -> int:
    import torch

    if isinstance(output, torch.Tensor):
        return output.numel() * output.element_size()
    if isinstance(output, dict):
        return sum(_bytes_of(v) for v in output.values())
    if isinstance(output, (list, tuple)):
        return sum(_bytes_of(v) for v in output)
    return 0


class _Returns:
    """What a module returned that holds no tensor (detection's ImageList), for its row's note."""

    def __init__(self, output: Any) -> None:
        kinds = output if isinstance(output, (list, tuple)) else [output]
        self.names = [type(k).__name__ for k in kinds if k is not None] or ["None"]

    def note(self) -> str:
        return f"returns {', '.join(self.names)}, not tensors"


def _has_tensor(output: Any) -> bool:
    import torch

    if isinstance(output, torch.Tensor):
        return True
    if isinstance(output, dict):
        return any(_has_tensor(v) for v in output.values())
    if isinstance(output, (list, tuple)):
        return any(_has_tensor(v) for v in output)
    return False


def _own_parameters(path: str, module: nn.Module, depth: int) -> list[LayerRow]:
    """Rows for the parameters a module holds beside its children (ViT's ``class_token``).

    Without them a parent's count would be more than its children's; a leaf module's own
    parameters are the leaf itself and get no rows.
    """
    if next(module.children(), None) is None:
        return []
    return [
        LayerRow(
            name=f"{path}.{name}" if path else name,
            type=PARAMETER,
            depth=depth + 1,
            output_shape=list(p.shape),
            params=p.numel(),
            macs=0,
            note="a parameter the module holds itself: its shape, not an output",
        )
        for name, p in module.named_parameters(recurse=False)
    ]


def _tree(
    model: nn.Module, modules: dict[str, nn.Module], shapes: dict[str, Any], macs: dict[str, int]
) -> LayerRow:
    """The module tree with each module's numbers, its own parameters as rows of their own."""
    rows: dict[str, LayerRow] = {}
    counted = bool(shapes)  # after a forward pass (not when only parameters are counted)
    for path, module in modules.items():
        depth = 0 if not path else path.count(".") + 1
        shape = shapes.get(path)
        note = shape.note() if isinstance(shape, _Returns) else None
        if counted and shape is None:
            note = NOT_RUN
        rows[path] = LayerRow(
            name=path,
            type=type(module).__name__,
            depth=depth,
            output_shape=None if isinstance(shape, _Returns) else shape,
            params=sum(p.numel() for p in module.parameters()),
            macs=macs[path],
            config=module.extra_repr(),
            note=note,
        )
        rows[path].children.extend(_own_parameters(path, module, depth))
        if path:
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            rows[parent].children.append(rows[path])
    return rows[""]


# --- shaping the tree for display --------------------------------------------------------------


def collapse(row: LayerRow) -> LayerRow:
    """Fold runs of identical, consecutively numbered siblings into one row ("layer3.1-35").

    Identical means the same type and settings, parameters, MACs, output shape and insides. A folded row's
    insides are those of its first member and are not listed: ``--no-collapse`` shows them. Its
    receptive field is its last member's: what the run outputs (each member's field is larger).
    """
    children: list[LayerRow] = []
    signatures: list[tuple[Any, ...]] = []
    for child in row.children:
        signature = _signature(child)
        name = _range_name(children[-1].name, child.name) if children else None
        if name and signatures[-1] == signature and (child.params or child.macs):
            group = children[-1]
            children[-1] = replace(
                group,
                name=name,
                params=group.params + child.params,
                macs=group.macs + child.macs,
                count=group.count + 1,
                children=[],
                **{f: getattr(child, f) for f in RF_FIELDS},  # the run's output is its last member's
            )
        else:
            children.append(collapse(child))
            signatures.append(signature)
    return replace(row, children=children)


def _signature(row: LayerRow) -> tuple[Any, ...]:
    inside = tuple(_signature(c) for c in row.children)
    return (row.type, row.config, row.params, row.macs, repr(row.output_shape), inside)


def _range_name(previous: str, name: str) -> str | None:
    """'layer3.1' + 'layer3.2' -> 'layer3.1-2'; 'layer3.1-2' + 'layer3.3' -> 'layer3.1-3'; else None."""
    m = re.fullmatch(r"(.*?)(\d+)(?:-(\d+))?", previous)
    n = re.fullmatch(r"(.*?)(\d+)", name)
    if not (m and n) or m.group(1) != n.group(1):
        return None
    if int(n.group(2)) != int(m.group(3) or m.group(2)) + 1:
        return None
    return f"{m.group(1)}{m.group(2)}-{n.group(2)}"


def flatten(row: LayerRow, max_depth: int | None = None) -> list[LayerRow]:
    """The rows in tree order down to ``max_depth`` (deeper modules folded into their parents)."""
    rows = [row]
    if max_depth is None or row.depth < max_depth:
        for child in row.children:
            rows.extend(flatten(child, max_depth))
    return rows


def count_params(model: nn.Module) -> int:
    """Parameters of ``model``, each shared (tied) tensor counted once."""
    return sum(p.numel() for p in model.parameters())
