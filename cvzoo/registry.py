"""The one place that builds a model: by name or ``file.py:Name``, with which weights.

Two public ways to get a model:

- :func:`build` gives the architecture, on the meta device: exactly what torchvision's
  builder makes for the chosen weights (their number of classes, image size, aux heads...),
  but with no download and no memory for its parameters, so that any model, even one of 600M
  parameters, is ready to be counted in a fraction of a second;
- :func:`load` gives that model with real tensors on a device: its pretrained weights (from
  torchvision's cache, downloaded when missing), a checkpoint's, or a random initialisation.

Where the weights come from and how files are read is :mod:`cvzoo.weights`; a user's own
file is :mod:`cvzoo.usermodel`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo import architectures
from cvzoo import weights as weight_files
from cvzoo.architectures import Fit
from cvzoo.builders import build_architecture
from cvzoo.catalog import Catalog, ModelEntry, Task, WeightSet
from cvzoo.errors import UnknownWeights, UsageError, WeightsUnavailable
from cvzoo.usermodel import build_user_model, is_user_model

if TYPE_CHECKING:
    import torch
    from torch import nn


class WeightsKind(str, Enum):
    """Where a model's parameters come from."""

    pretrained = "pretrained"  # a torchvision weight set (DEFAULT or named)
    random = "random"  # ``none``: the builder's own initialisation
    checkpoint = "checkpoint"  # a local file


@dataclass(frozen=True)
class WeightsChoice:
    """What ``--weights`` resolved to for one model."""

    kind: WeightsKind
    weight_set: WeightSet | None = None  # the torchvision set; for ``checkpoint``, the architecture's
    path: Path | None = None  # the checkpoint, for ``checkpoint``

    @property
    def label(self) -> str:
        """How the weights are named in output: the set's name, ``none``, or the checkpoint's path."""
        if self.kind is WeightsKind.random:
            return "none"
        if self.kind is WeightsKind.checkpoint:
            return str(self.path)
        assert self.weight_set is not None
        return self.weight_set.name


@dataclass
class BuiltModel:
    """A model built by the registry, on meta, with what it was built from.

    ``entry`` is None for a user's own model (``file.py:Name``), and ``weights`` too unless a
    checkpoint was given for it.
    """

    model: nn.Module
    name: str
    entry: ModelEntry | None = None
    weights: WeightsChoice | None = None
    fit: Fit | None = None  # for a checkpoint: the architecture it fits (a head of other outputs...)

    @property
    def task(self) -> Task | None:
        """The zoo model's task; None for a user's model."""
        return self.entry.task if self.entry else None

    @property
    def weight_set(self) -> WeightSet | None:
        """The set whose architecture and preprocessing apply (DEFAULT for ``none``)."""
        if self.entry is None:
            return None
        return (self.weights.weight_set if self.weights else None) or self.entry.default

    @property
    def pretrained(self) -> WeightSet | None:
        """The torchvision weight set whose file would be loaded, if any."""
        if self.weights is not None and self.weights.kind is WeightsKind.pretrained:
            return self.weights.weight_set
        return None

    @property
    def weights_label(self) -> str:
        """How the weights are named in output."""
        return self.weights.label if self.weights else "as constructed"


def resolve_weights(entry: ModelEntry, spec: str | None = "DEFAULT") -> WeightsChoice:
    """Interpret ``--weights``: ``DEFAULT``, a set's name, ``none``, or a checkpoint path.

    Raises:
        UnknownWeights: for a name the model has no set of.
        UsageError: for a checkpoint path that doesn't exist.
    """
    spec = (spec or "DEFAULT").strip()
    if spec.lower() == "none":
        return WeightsChoice(WeightsKind.random)
    found = entry.weight_set(spec)
    if found is not None:
        return WeightsChoice(WeightsKind.pretrained, weight_set=found)
    path = Path(spec).expanduser()
    if path.suffix in weight_files.CHECKPOINT_SUFFIXES or "/" in spec or path.exists():
        if not path.is_file():
            raise UsageError(
                f"checkpoint '{spec}' does not exist; give a state-dict file or a weight set's name"
            )
        return WeightsChoice(WeightsKind.checkpoint, weight_set=entry.default, path=path)
    raise UnknownWeights(entry.name, spec, [w.name for w in entry.weights])


def build(
    name: str,
    weights: str | None = "DEFAULT",
    catalog: Catalog | Callable[[], Catalog] | None = None,
    kwargs: dict[str, Any] | None = None,
) -> BuiltModel:
    """Build ``name`` on the meta device with the architecture ``weights`` implies.

    Args:
        name: a zoo model, or ``path/to/file.py:Name`` (see :mod:`cvzoo.usermodel`).
        weights: ``DEFAULT``, a weight set's name, ``none`` or a checkpoint path.
        catalog: the catalogue, or a function returning it (called only for zoo models);
            None loads it from the cache.
        kwargs: keyword arguments for the builder or the user's class.

    Nothing is downloaded and no parameter memory is allocated; the returned model's
    tensors are on ``meta``. :func:`load` gives it real weights.

    Raises:
        UnknownModel, UnknownWeights: for names that don't exist.
        BuildError: when torchvision's builder fails.
    """
    if is_user_model(name):
        model = build_user_model(name, kwargs or {})
        if weights in (None, "DEFAULT"):
            return BuiltModel(model=model, name=name)
        path = Path(weights).expanduser()
        if not path.is_file():
            raise UsageError(f"checkpoint '{weights}' does not exist; {name} takes a state-dict file")
        return BuiltModel(model=model, name=name, weights=WeightsChoice(WeightsKind.checkpoint, path=path))
    if catalog is None:
        from cvzoo.catalog import load_catalog

        catalog = load_catalog
    entry = (catalog() if callable(catalog) else catalog).get(name)
    choice = resolve_weights(entry, weights)
    if choice.kind is WeightsKind.checkpoint:
        if kwargs:
            raise UsageError("--kwarg with a checkpoint: the checkpoint's shapes decide the architecture")
        assert choice.path is not None
        fit = _fit(entry, choice.path)
        if fit.weight_set:
            choice = WeightsChoice(WeightsKind.checkpoint, entry.weight_set(fit.weight_set), choice.path)
        return BuiltModel(_fitted(entry, fit), entry.name, entry, choice, fit)
    weight_set = choice.weight_set if choice.kind is not WeightsKind.random else None
    model = build_architecture(entry, weight_set, kwargs)
    return BuiltModel(model=model, name=entry.name, entry=entry, weights=choice)


def _fit(entry: ModelEntry, path: Path) -> Fit:
    """The architecture of ``entry`` the checkpoint at ``path`` fits.

    Raises:
        WeightsUnavailable: listing how it differs from the DEFAULT architecture.
    """
    state = weight_files.read_checkpoint(path)
    fit = architectures.fit_model(entry, architectures.shapes_of(state))
    if fit is None:
        expected = build_architecture(entry, entry.default).state_dict()
        raise WeightsUnavailable(
            f"'{path}' does not fit {entry.name}: {weight_files.mismatch(expected, state)}"
        )
    return fit


def _fitted(entry: ModelEntry, fit: Fit) -> nn.Module:
    """``entry``'s architecture as ``fit`` says, on meta (its head replaced if the outputs differ)."""
    if fit.arguments:
        return build_architecture(entry, None, dict(fit.arguments), pretrained_backbone=True)
    model = build_architecture(entry, entry.weight_set(fit.weight_set) if fit.weight_set else None)
    return architectures.with_heads(model, fit) if fit.heads else model


def load(
    built: BuiltModel,
    device: torch.device | str = "cpu",
    on_download: weight_files.OnDownload | None = None,
    random_init: bool = False,
) -> nn.Module:
    """``built``'s model with real tensors on ``device``, in eval mode.

    Args:
        built: from :func:`build`.
        on_download: follows a download of torchvision weights, if one is needed.
        random_init: the builder's own random initialisation of the same architecture instead
            of the chosen weights (what timing needs: nothing downloads, and it times the same).

    torchvision sets come from its cache (downloaded when missing) through the builder's own
    loading code; a checkpoint is read without running pickled code; ``--weights none`` and
    ``random_init`` give the builder's initialisation; a user's model gets small random
    weights.

    Raises:
        WeightsUnavailable: for weights that can't be fetched, read or fitted.
    """
    entry, choice = built.entry, built.weights
    if choice is not None and choice.kind is WeightsKind.checkpoint and not random_init:
        assert choice.path is not None
        model = _fitted(entry, built.fit) if entry is not None and built.fit is not None else built.model
        weight_files.assign_checkpoint(model, weight_files.read_checkpoint(choice.path), str(choice.path))
        return model.to(device).eval()
    if entry is None or choice is None:
        return weight_files.placeholder_weights(built.model, device)
    if random_init or choice.kind is WeightsKind.random:
        architecture = None if choice.kind is WeightsKind.random else built.weight_set
        model = build_architecture(entry, architecture, meta=False)
    elif entry.task is Task.quantized:
        assert choice.weight_set is not None
        model = weight_files.load_quantized(entry, choice.weight_set, on_download)
    else:
        assert choice.weight_set is not None
        path = weight_files.fetch_weights(choice.weight_set, on_download)
        model = weight_files.load_torchvision_weights(entry, choice.weight_set, path)
    return model.to(device).eval()
