"""Which architecture a checkpoint fits: a zoo model's, and with which constructor arguments.

A state dict holds names and shapes, not an architecture. It fits a zoo model when its names
are the model's and its shapes are too, or when the only shapes that differ are the outputs of
the model's head (a fine-tuned ``resnet18`` with ``fc`` of 10 classes fits ``resnet18,
num_classes=10``): the head is then replaced as fine-tuning replaces it, a layer of the same
kind with the new number of outputs. Every zoo architecture's names and shapes are indexed once
per torchvision version in cvzoo's cache, so that matching a file against all 121 models is
quick after the first time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cvzoo import cache
from cvzoo.builders import build_architecture
from cvzoo.catalog import Catalog, ModelEntry, Task, torchvision_version

if TYPE_CHECKING:
    from torch import nn

Shapes = dict[str, list[int]]
SCHEMA = 2  # 2: each model's DEFAULT architecture first
CONV_SETTINGS = ("kernel_size", "stride", "padding", "dilation", "groups")
# Tasks whose heads are rebuilt by the builder itself (``num_classes=N``) rather than by swapping one
# layer: a detector's classes shape several layers at once (boxes per class, anchors x classes).
REBUILT = (Task.detection, Task.segmentation)
PER_CLASS = (1, 4, 6, 9)  # outputs per class in detection heads: boxes (4), anchors (6 for SSD, 9)


@dataclass(frozen=True)
class Fit:
    """A zoo architecture a checkpoint fits, and what had to change for it to fit."""

    model: str
    weight_set: str | None  # the set whose architecture it is; None: the builder's defaults
    num_classes: int | None = None  # the outputs of a replaced head, if the head differs
    heads: tuple[str, ...] = ()  # the modules replaced to fit (``fc``, ``classifier.1``...)
    # For a detector or segmenter, the builder's arguments that make it (``num_classes=2``), its
    # backbone as in a pretrained model: what fine-tuning by torchvision's tutorials gives.
    arguments: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        """``resnet18, num_classes=10`` (and the weight set whose architecture, if it matters)."""
        if self.arguments:
            return ", ".join([self.model, *(f"{k}={v}" for k, v in self.arguments)])
        if self.num_classes is not None:
            return f"{self.model}, num_classes={self.num_classes}"
        return self.model + (f" ({self.weight_set} architecture)" if self.weight_set else "")


def shapes_of(state: dict[str, Any]) -> Shapes:
    """The names and shapes of a state dict's tensors."""
    return {name: list(tensor.shape) for name, tensor in state.items()}


def candidates(entry: ModelEntry) -> Iterator[tuple[str | None, nn.Module]]:
    """Each distinct architecture of ``entry`` on meta: one per weight set, and the builder's own."""
    seen: list[Shapes] = []
    ordered = [entry.default, *(w for w in entry.weights if w is not entry.default)]
    for weight_set in [*ordered, None]:  # DEFAULT first: its preprocessing wins among equal shapes
        try:
            model = build_architecture(entry, weight_set)
        except Exception:  # an architecture the builder won't make without its weights: not a candidate
            continue
        shapes = shapes_of(model.state_dict())
        if shapes not in seen:
            seen.append(shapes)
            yield (weight_set.name if weight_set else None), model


def match(model: str, weight_set: str | None, arch: Shapes, state: Shapes) -> Fit | None:
    """How ``state`` fits ``arch``: exactly, with a head of other outputs, or not at all."""
    if arch.keys() != state.keys():
        return None
    differ = [k for k in arch if arch[k] != state[k]]
    if not differ:
        return Fit(model, weight_set)
    heads, outputs = set(), set()
    for key in differ:
        owner, _, kind = key.rpartition(".")
        a, s = arch[key], state[key]
        if kind not in ("weight", "bias") or len(a) != len(s) or a[1:] != s[1:]:
            return None  # more than a head's number of outputs differs
        heads.add(owner)
        outputs.add(s[0])
    if len(outputs) != 1:
        return None
    return Fit(model, weight_set, num_classes=outputs.pop(), heads=tuple(sorted(heads)))


def fit_model(entry: ModelEntry, state: Shapes) -> Fit | None:
    """The first architecture of ``entry`` that ``state`` fits, exact ones first."""
    fits = []
    default: Shapes | None = None
    for name, model in candidates(entry):
        arch = shapes_of(model.state_dict())
        default = default or arch
        fit = match(entry.name, name, arch, state)
        if fit is not None:
            fits.append(fit)
    best = min(fits, key=lambda f: f.num_classes is not None, default=None)
    if entry.task in REBUILT and default is not None and (best is None or best.num_classes is not None):
        return rebuilt_fit(entry, default, state) or best
    return best


def rebuilt_fit(entry: ModelEntry, default: Shapes, state: Shapes) -> Fit | None:
    """A detector or segmenter built with another number of classes that ``state`` fits exactly.

    The numbers tried come from the outputs of the tensors whose shapes differ from the DEFAULT
    architecture's (``default``), each divided by the outputs a head has per class.
    """
    shared = default.keys() & state.keys()
    if len(shared) < 0.9 * max(len(default), len(state)):
        return None  # another network altogether
    outputs = {state[k][0] for k in shared if state[k] != default[k] and state[k]}
    least = 2 if entry.task is Task.detection else 1  # a detector's background is a class of its own
    tried = sorted({n // k for n in outputs for k in PER_CLASS if n % k == 0 and n // k >= least})
    variants: list[dict[str, Any]] = [{}]
    if entry.task is Task.segmentation:  # fine-tuned with or without the auxiliary classifier
        variants = [{"aux_loss": any(k.startswith("aux_classifier.") for k in state)}]
    for classes in tried[:6]:
        for variant in variants:
            arguments = {"num_classes": classes, **variant}
            try:
                model = build_architecture(entry, None, arguments, pretrained_backbone=True)
            except Exception:  # the builder refuses this number: not a fit
                continue
            if shapes_of(model.state_dict()) == state:
                return Fit(entry.name, None, num_classes=classes, arguments=tuple(arguments.items()))
    return None


OnBuild = Callable[[], contextlib.AbstractContextManager[Any]]  # entered around a slow first build


def find(catalog: Catalog, state: Shapes, on_build: OnBuild | None = None) -> list[Fit]:
    """Every zoo architecture ``state`` fits (from the index, built once with ``on_build`` around it)."""
    index = _index(catalog, on_build)
    found = []
    for name, archs in index.items():
        fit = next((f for w, a in archs if (f := match(name, w, a, state)) is not None), None)
        entry = catalog.models[name]
        if entry.task in REBUILT and (fit is None or fit.num_classes is not None):
            fit = rebuilt_fit(entry, archs[0][1], state) or fit
        if fit is not None:
            found.append(fit)
    return found


def with_heads(model: nn.Module, fit: Fit) -> nn.Module:
    """``model`` (on meta) with each of ``fit``'s heads replaced by one of ``fit.num_classes`` outputs."""
    import torch
    from torch import nn

    outputs = fit.num_classes
    assert outputs is not None
    for path in fit.heads:
        parent_path, _, name = path.rpartition(".")
        parent = model.get_submodule(parent_path) if parent_path else model
        old = getattr(parent, name)
        with torch.device("meta"):
            if isinstance(old, nn.Linear):
                new: nn.Module = nn.Linear(old.in_features, outputs, bias=old.bias is not None)
            elif isinstance(old, nn.Conv2d):
                settings = {k: getattr(old, k) for k in CONV_SETTINGS}
                new = nn.Conv2d(old.in_channels, outputs, bias=old.bias is not None, **settings)
            else:
                raise TypeError(f"cannot replace {type(old).__name__} '{path}' with {outputs} outputs")
        setattr(parent, name, new)
    return model


def _index(catalog: Catalog, on_build: OnBuild | None) -> dict[str, list[tuple[str | None, Shapes]]]:
    """Every zoo architecture's names and shapes, from the cache or built once on meta."""
    path = cache.cache_dir() / f"architectures-torchvision-{torchvision_version()}.json"
    build = cache.installed_build("torchvision")
    kept = cache.read_json(path)
    if isinstance(kept, dict) and kept.get("schema") == SCHEMA and kept.get("build") == build:
        return {name: [(w, s) for w, s in archs] for name, archs in kept["models"].items()}
    with on_build() if on_build else contextlib.nullcontext():
        models = {  # quantized models are left out: their float forms are their twins'
            entry.name: [(name, shapes_of(m.state_dict())) for name, m in candidates(entry)]
            for entry in catalog.models.values()
            if entry.task is not Task.quantized
        }
    cache.write_json(path, {"schema": SCHEMA, "build": build, "models": models})
    return models
