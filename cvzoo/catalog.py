"""The zoo as data: every torchvision model, its task and its weight sets' metadata.

Derived from torchvision's own API (``list_models``, ``get_model_weights``) and kept in
cvzoo's cache (:mod:`cvzoo.cache`), keyed by the installed torchvision version, so that
metadata questions (``list``, ``info``, completion, ``--help``) are answered without
importing torch. Importing this module never imports torch; only :func:`build_catalog`
does, when the cache is cold.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cvzoo import cache
from cvzoo.errors import NoMatch, UnknownModel, UsageError
from cvzoo.schema import FLATTEN

# Bump when the cached layout changes, so that an old cache is rebuilt rather than misread.
SCHEMA = 2


class Task(str, Enum):
    """What a model does; one per torchvision models sub-package."""

    classification = "classification"
    quantized = "quantized"
    detection = "detection"
    segmentation = "segmentation"
    video = "video"
    optical_flow = "optical_flow"


# torchvision sub-package of each task; classification is the top level.
TASK_MODULES = {
    Task.classification: "torchvision.models",
    Task.quantized: "torchvision.models.quantization",
    Task.detection: "torchvision.models.detection",
    Task.segmentation: "torchvision.models.segmentation",
    Task.video: "torchvision.models.video",
    Task.optical_flow: "torchvision.models.optical_flow",
}


@dataclass(frozen=True)
class WeightSet:
    """One pretrained weight set, as torchvision publishes it."""

    name: str  # the enum member, e.g. "IMAGENET1K_V2"
    enum: str  # the enum class, e.g. "ResNet50_Weights"
    is_default: bool  # whether ``<enum>.DEFAULT`` points at this set
    params: int  # meta["num_params"]
    gmacs: float  # meta["_ops"]: multiply-accumulates in G, although torchvision's docs say GFLOPS
    metrics: dict[
        str, dict[str, float | None]
    ]  # dataset -> metric -> value, e.g. {"ImageNet-1K": {"acc@1": ..}}
    file_size_mib: float  # meta["_file_size"]
    input_size: list[int] | None  # [H, W] the transforms produce; None where they name no size
    min_size: list[int]  # the smallest [H, W] the model accepts
    min_frames: int | None  # the shortest clip a video model accepts
    num_categories: int | None  # length of meta["categories"]
    recipe: str  # where the training recipe is described
    license: str | None  # only some sets name one
    url: str  # where the state dict is downloaded from
    transforms: dict[str, Any]  # the preprocessing: class, resize, crop, interpolation, mean, std
    backend: str | None = None  # quantized sets: "fbgemm" or "qnnpack"
    unquantized: str | None = None  # quantized sets: the float twin, e.g. "ResNet50_Weights.IMAGENET1K_V2"
    docs: str = ""  # torchvision's own words on the set

    @property
    def qualname(self) -> str:
        """The set as torchvision names it: ``ResNet50_Weights.IMAGENET1K_V2``."""
        return f"{self.enum}.{self.name}"

    @property
    def acc1(self) -> float | None:
        """Top-1 accuracy (%) on the first data set that publishes one, else None."""
        return self._first_metric("acc@1")

    @property
    def acc5(self) -> float | None:
        """Top-5 accuracy (%) on the first data set that publishes one, else None."""
        return self._first_metric("acc@5")

    def _first_metric(self, key: str) -> float | None:
        for values in self.metrics.values():
            if values.get(key) is not None:
                return values[key]
        return None


@dataclass(frozen=True)
class ModelEntry:
    """A model of the zoo and all of its weight sets."""

    name: str
    task: Task
    weights: tuple[WeightSet, ...]

    @property
    def default(self) -> WeightSet:
        """The set torchvision recommends (``<Enum>.DEFAULT``)."""
        return next(w for w in self.weights if w.is_default)

    def weight_set(self, name: str) -> WeightSet | None:
        """The set called ``name`` (case-insensitive, ``DEFAULT`` allowed), or None."""
        if name.upper() == "DEFAULT":
            return self.default
        wanted = name.split(".")[-1].upper()
        return next((w for w in self.weights if w.name.upper() == wanted), None)


@dataclass(frozen=True)
class Catalog:
    """Every model in the installed torchvision, by name."""

    torchvision_version: str
    models: dict[str, ModelEntry] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every model's name, in natural order."""
        return sorted(self.models, key=natural_key)

    def get(self, name: str) -> ModelEntry:
        """The model called ``name``, case-insensitively.

        Raises:
            UnknownModel: with the closest known names as suggestions.
        """
        entry = self.models.get(name.lower())
        if entry is None:
            raise UnknownModel(name, self.close_names(name))
        return entry

    def close_names(self, name: str) -> list[str]:
        """Up to three known names that look like ``name``, the closest first."""
        return difflib.get_close_matches(name.lower(), self.names(), n=3, cutoff=0.6)

    def matching(self, patterns: Iterable[str] = (), task: Task | None = None) -> list[ModelEntry]:
        """:meth:`select`, but patterns that match nothing are an error, like grep's.

        Raises:
            NoMatch: naming the patterns, with the closest names.
        """
        patterns = list(patterns)
        entries = self.select(patterns, task)
        if patterns and not entries:
            near = sorted({m for p in patterns for m in self.close_names(p)})
            raise NoMatch(patterns, f" among {task.value} models" if task else "", near)
        return entries

    def unmatched(self, patterns: Iterable[str] = (), task: Task | None = None) -> list[str]:
        """The ``patterns`` that match no model (of ``task``), as given: the ones a user mistyped."""
        return [p for p in patterns if not self.select([p], task)]

    def select(self, patterns: Iterable[str] = (), task: Task | None = None) -> list[ModelEntry]:
        """Models matching any of ``patterns`` (globs or substrings, case-insensitive), in natural order."""
        patterns = [p.lower() for p in patterns]
        chosen = []
        for name in self.names():
            entry = self.models[name]
            if task is not None and entry.task != task:
                continue
            if patterns and not any(_matches(name, p) for p in patterns):
                continue
            chosen.append(entry)
        return chosen

    def to_json(self, build: str = "") -> dict[str, Any]:
        """The catalogue as a JSON document, as cached on disk; ``build`` fingerprints torchvision."""
        return {
            "schema": SCHEMA,
            "torchvision": self.torchvision_version,
            "build": build,
            "models": [
                {"name": e.name, "task": e.task.value, "weights": [dataclasses.asdict(w) for w in e.weights]}
                for e in self.models.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Any, version: str, build: str = "") -> Catalog | None:
        """The catalogue in ``data`` if it is whole and made from this torchvision, else None.

        ``version`` and ``build`` (see :func:`cvzoo.cache.installed_build`) must be those of the
        installed torchvision; an empty catalogue, or one lacking a task, is not whole.
        """
        try:
            if (data.get("schema"), data.get("torchvision"), data.get("build")) != (SCHEMA, version, build):
                return None
            models = {}
            for m in data["models"]:
                weights = tuple(WeightSet(**w) for w in m["weights"])
                if sum(w.is_default for w in weights) != 1:
                    return None  # every model has exactly one DEFAULT set
                models[m["name"]] = ModelEntry(name=m["name"], task=Task(m["task"]), weights=weights)
        except (KeyError, TypeError, AttributeError, ValueError):
            return None  # not a catalogue: rebuilt by the caller
        if {entry.task for entry in models.values()} != set(Task):
            return None  # empty, or cut short: every torchvision has models of every task
        return cls(torchvision_version=data["torchvision"], models=models)


def _matches(name: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def natural_key(name: str) -> list[Any]:
    """Sort key that orders digits by value: resnet18 before resnet101."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class SortKey(str, Enum):
    """The orders ``cvzoo list --sort`` offers."""

    name = "name"
    params = "params"
    gmacs = "gmacs"
    acc1 = "acc1"
    acc5 = "acc5"
    size = "size"


def sort_value(key: SortKey, entry: ModelEntry, weights: WeightSet) -> Any:
    """The value a row is ordered by; None for a metric the set does not have."""
    return {
        SortKey.name: natural_key(entry.name),
        SortKey.params: weights.params,
        SortKey.gmacs: weights.gmacs,
        SortKey.acc1: weights.acc1,
        SortKey.acc5: weights.acc5,
        SortKey.size: weights.file_size_mib,
    }[key]


@dataclass(frozen=True)
class Figures:
    """A weight set's published size, cost and accuracy: what every view of the zoo shows."""

    params: int
    gmacs: float
    acc1: float | None
    acc5: float | None
    metrics: dict[str, dict[str, float | None]]
    file_size_mib: float
    input_size: list[int] | None
    num_categories: int | None

    @classmethod
    def of(cls, w: WeightSet) -> Figures:
        """``w``'s figures."""
        return cls(
            w.params, w.gmacs, w.acc1, w.acc5, w.metrics, w.file_size_mib, w.input_size, w.num_categories
        )


@dataclass(frozen=True)
class ZooRow:
    """One row of ``cvzoo list``: a model with one of its weight sets."""

    name: str
    task: str
    weights: str
    default: bool
    figures: Figures = field(metadata=FLATTEN)


def list_rows(
    catalog: Catalog,
    patterns: Iterable[str] = (),
    task: Task | None = None,
    sort: SortKey = SortKey.name,
    descending: bool = False,
    all_weights: bool = False,
    limit: int | None = None,
) -> list[ZooRow]:
    """The rows of ``cvzoo list``: filtered, ordered, and cut to ``limit``.

    Rows without the sorted-by metric (a detection model sorted by acc1) go last either way.

    Raises:
        NoMatch: when patterns were given and no model matches them.
    """
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more, not {limit}")
    entries = catalog.matching(patterns, task)
    pairs = [(entry, w) for entry in entries for w in (entry.weights if all_weights else (entry.default,))]
    present = [p for p in pairs if sort_value(sort, *p) is not None]
    missing = [p for p in pairs if sort_value(sort, *p) is None]
    present.sort(key=lambda p: sort_value(sort, *p), reverse=descending)
    rows = [ZooRow(e.name, e.task.value, w.name, w.is_default, Figures.of(w)) for e, w in present + missing]
    return rows if limit is None else rows[:limit]


# --- the cached copy -----------------------------------------------------------------------------


def torchvision_version() -> str:
    """The installed torchvision's release, read from its metadata without importing it."""
    return cache.installed_version("torchvision")


def cache_path(version: str | None = None) -> Path:
    """The catalogue's file in cvzoo's cache, for ``version`` (default: the installed one)."""
    return cache.cache_dir() / f"catalog-torchvision-{version or torchvision_version()}.json"


def cached_catalog() -> Catalog | None:
    """The catalogue if the cache holds a good one for the installed torchvision, else None."""
    version = torchvision_version()
    return Catalog.from_json(
        cache.read_json(cache_path(version)), version, cache.installed_build("torchvision")
    )


def load_catalog(on_build: Callable[[], contextlib.AbstractContextManager[Any]] | None = None) -> Catalog:
    """The catalogue from the cache, rebuilding it when missing, stale or unreadable.

    Args:
        on_build: a context manager factory entered around a rebuild, e.g. a spinner.
    """
    cached = cached_catalog()
    if cached is not None:
        return cached
    with on_build() if on_build else contextlib.nullcontext():
        catalog = build_catalog()
    store(catalog)
    return catalog


def store(catalog: Catalog) -> None:
    """Keep ``catalog`` in the cache for the installed torchvision (a failure to write is ignored)."""
    cache.write_json(
        cache_path(catalog.torchvision_version), catalog.to_json(cache.installed_build("torchvision"))
    )


# --- building from torchvision -----------------------------------------------------------------


def build_catalog() -> Catalog:
    """Read every model and weight set from the installed torchvision (imports torch)."""
    import importlib

    from torchvision.models import get_model_weights, list_models

    models: dict[str, ModelEntry] = {}
    for task, module_name in TASK_MODULES.items():
        module = importlib.import_module(module_name)
        for name in list_models(module=module):
            if name in models:
                continue
            enum = get_model_weights(name)
            default = enum.DEFAULT
            weights = tuple(_weight_set(w, w == default) for w in enum)
            models[name] = ModelEntry(name=name, task=task, weights=weights)
    return Catalog(torchvision_version=torchvision_version(), models=models)


def _weight_set(w: Any, is_default: bool) -> WeightSet:
    meta = w.meta
    transforms = _describe_transforms(w.transforms)
    unquantized = meta.get("unquantized")
    return WeightSet(
        name=w.name,
        enum=type(w).__name__,
        is_default=is_default,
        params=int(meta["num_params"]),
        gmacs=float(meta["_ops"]),
        metrics={ds: _finite(values) for ds, values in meta.get("_metrics", {}).items()},
        file_size_mib=float(meta["_file_size"]),
        input_size=_input_size(transforms),
        min_size=list(meta.get("min_size", (1, 1))),
        min_frames=meta.get("min_temporal_size"),
        num_categories=len(meta["categories"]) if meta.get("categories") else None,
        recipe=meta.get("recipe", ""),
        license=meta.get("license"),
        url=w.url,
        transforms=transforms,
        backend=meta.get("backend"),
        unquantized=f"{type(unquantized).__name__}.{unquantized.name}" if unquantized else None,
        docs=" ".join(meta.get("_docs", "").split()),
    )


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """Metrics with NaN (vgg16's feature-only set publishes NaN accuracy) as None: JSON has no NaN."""
    return {k: (None if v != v else v) for k, v in values.items()}


def _describe_transforms(factory: Any) -> dict[str, Any]:
    """The preset's settings as plain data: class name, sizes, interpolation, mean and std."""
    preset = factory()
    described: dict[str, Any] = {"class": type(preset).__name__}
    for key in ("resize_size", "crop_size", "mean", "std", "interpolation", "antialias"):
        value = getattr(preset, key, None)
        if value is None:
            continue
        if isinstance(value, Enum):
            value = value.value
        described[key] = list(value) if isinstance(value, (list, tuple)) else value
    return described


def _input_size(transforms: dict[str, Any]) -> list[int] | None:
    """The [H, W] the weights' transforms produce: the crop, else the resize.

    Detection and optical-flow presets name no size (detection models resize internally);
    they get None.
    """
    for key in ("crop_size", "resize_size"):
        size = transforms.get(key)
        if size:
            return list(size) * 2 if len(size) == 1 else list(size)
    return None
