"""The one place that builds a model: by name, with which weights, on which device.

A model is built exactly as torchvision's builder would build it for the chosen weights
(their number of classes, image size, aux heads...), but on the meta device and without
fetching the weights file, so that any model, even one of 600M parameters, is built in a
fraction of a second with no download and no memory for its parameters.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Catalog, ModelEntry, Task, WeightSet, load_catalog
from cvzoo.errors import (
    BuildError,
    CvzooError,
    UnknownWeights,
    UsageError,
    UserCodeError,
    WeightsUnavailable,
    first_line,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")


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
        if self.kind is WeightsKind.random:
            return "none"
        if self.kind is WeightsKind.checkpoint:
            return str(self.path)
        assert self.weight_set is not None
        return self.weight_set.name


@dataclass
class BuiltModel:
    """A model built by the registry, with what it was built from.

    ``entry`` and ``weights`` are None for a user's own model (``file.py:Name``).
    """

    model: nn.Module
    name: str
    entry: ModelEntry | None = None
    weights: WeightsChoice | None = None

    @property
    def task(self) -> Task | None:
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
        return self.weights.label if self.weights else "as constructed"


def resolve_model(name: str, catalog: Catalog | None = None) -> ModelEntry:
    """The catalogue entry for ``name``; raises UnknownModel with suggestions."""
    return (catalog or load_catalog()).get(name)


def resolve_weights(entry: ModelEntry, spec: str | None = "DEFAULT") -> WeightsChoice:
    """Interpret ``--weights``: ``DEFAULT``, a set's name, ``none``, or a checkpoint path."""
    spec = (spec or "DEFAULT").strip()
    if spec.lower() == "none":
        return WeightsChoice(WeightsKind.random)
    found = entry.weight_set(spec)
    if found is not None:
        return WeightsChoice(WeightsKind.pretrained, weight_set=found)
    path = Path(spec).expanduser()
    if path.suffix in CHECKPOINT_SUFFIXES or "/" in spec or path.exists():
        if not path.is_file():
            raise UsageError(
                f"checkpoint '{spec}' does not exist; give a state-dict file or a weight set's name"
            )
        return WeightsChoice(WeightsKind.checkpoint, weight_set=entry.default, path=path)
    raise UnknownWeights(entry.name, spec, [w.name for w in entry.weights])


def detect_device(override: str | None = None) -> torch.device:
    """The device to run on: ``override`` if given, else cuda, then mps, then cpu."""
    import torch

    if override:
        try:
            device = torch.device(override)
        except RuntimeError:
            raise UsageError(f"unknown device '{override}'; use cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"device '{override}' asked for, but no CUDA GPU is available; use --device cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise UsageError(f"device '{override}' asked for, but MPS is not available; use --device cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build(
    name: str,
    weights: str | None = "DEFAULT",
    catalog: Catalog | Callable[[], Catalog] | None = None,
    kwargs: dict[str, Any] | None = None,
) -> BuiltModel:
    """Build ``name`` on the meta device with the architecture ``weights`` implies.

    ``name`` may also be ``path/to/file.py:Name``: see :func:`build_user_model`.
    ``catalog`` may be a function returning one, called only for torchvision models.

    Nothing is downloaded and no parameter memory is allocated; the returned model's
    tensors are on ``meta``. Loading real weights is the caller's next step.

    Raises:
        UnknownModel, UnknownWeights: for names that don't exist.
        BuildError: when torchvision's builder fails.
    """
    if USER_MODEL.match(name):
        if weights not in (None, "DEFAULT"):
            raise UsageError(f"--weights applies to torchvision models, not to {name}")
        return build_user_model(name, kwargs or {})
    entry = resolve_model(name, catalog() if callable(catalog) else catalog)
    choice = resolve_weights(entry, weights)
    weight_set = choice.weight_set if choice.kind is not WeightsKind.random else None
    model = build_on_meta(entry, weight_set, kwargs)
    return BuiltModel(model=model, name=entry.name, entry=entry, weights=choice)


def build_on_meta(
    entry: ModelEntry, weight_set: WeightSet | None, extra: dict[str, Any] | None = None
) -> nn.Module:
    """Torchvision's builder for ``entry``, run on meta with ``weight_set``'s configuration.

    ``extra`` keyword arguments go to the builder (``num_classes=10`` with ``--weights none``).
    """
    return _run_builder(entry, weight_set, extra, meta=True)


def build_initialised(entry: ModelEntry, weight_set: WeightSet | None) -> nn.Module:
    """The same architecture on the CPU with the builder's own random initialisation.

    What timing and ``--weights none`` need: real tensors with realistic values.
    """
    return _run_builder(entry, weight_set, None, meta=False)


def _run_builder(
    entry: ModelEntry, weight_set: WeightSet | None, extra: dict[str, Any] | None, meta: bool
) -> nn.Module:
    from torchvision.models import get_model_builder, get_model_weights

    builder = get_model_builder(entry.name)
    kwargs: dict[str, Any] = dict(extra or {})
    accepted = inspect.signature(builder).parameters
    if weight_set is not None:
        kwargs["weights"] = get_model_weights(entry.name)[weight_set.name]
        if "quantize" in accepted:
            # Eager quantization needs a calibration pass on real tensors, so quantized models are
            # built in their float form: the same layers, parameters and MACs (torchvision publishes
            # the float twin's figures), configured by the float twin's weight set.
            kwargs["weights"] = kwargs["weights"].meta["unquantized"]
    else:
        kwargs["weights"] = None
        if "weights_backbone" in accepted:
            kwargs["weights_backbone"] = None  # else the builder downloads ImageNet backbone weights
    if "quantize" in accepted:
        kwargs["quantize"] = False
    try:
        with _skip_weight_loading():
            if meta:
                return _on_meta(lambda: builder(**kwargs)).eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (FutureWarning, UserWarning))
                return builder(**kwargs).eval()
    except TypeError as exc:
        if extra and "keyword argument" in str(exc):
            raise UsageError(f"--kwarg: {entry.name}'s builder says: {first_line(exc)}") from None
        raise BuildError(f"could not build '{entry.name}': {first_line(exc)}") from exc
    except Exception as exc:
        if extra:  # a builder refusing a given value (num_classes=10 with pretrained weights)
            raise UsageError(f"--kwarg: {entry.name}'s builder says: {first_line(exc)}") from None
        raise BuildError(f"could not build '{entry.name}': {first_line(exc)}") from exc


def _on_meta(make: Callable[[], Any]) -> Any:
    """Call ``make`` with every tensor it creates on meta, by the first strategy that works."""
    errors = []
    for strategy in (_meta_device_context, _meta_on_register):
        try:
            with strategy(), warnings.catch_warnings():
                # torchvision's notices about its own init defaults are not the user's concern
                warnings.simplefilter("ignore", (FutureWarning, UserWarning))
                return make()
        except Exception as exc:  # the next strategy may succeed where this one could not
            errors.append(exc)
    raise errors[0]


# --- real weights -------------------------------------------------------------------------------

MIRROR_ENV = "CVZOO_WEIGHTS_MIRROR"  # a base URL serving torchvision's files, for air-gapped sites


def checkpoint_dir() -> Path:
    """torchvision's own weights cache: ``$TORCH_HOME/hub/checkpoints``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights_path(weight_set: WeightSet) -> Path:
    return checkpoint_dir() / weight_set.url.rsplit("/", 1)[-1]


def fetch_weights(weight_set: WeightSet, progress: Callable[[int, int | None], None] | None = None) -> Path:
    """The weights file in torchvision's cache, downloading it first if it is missing.

    The download goes to a temporary file beside the cache entry, is checked against the hash
    prefix in the file's name (as torchvision does), and is renamed into place only when whole.

    Raises:
        WeightsUnavailable: offline or failed, with the URL and the folder to put the file in.
    """
    import hashlib
    import os
    import tempfile
    import urllib.error
    import urllib.request

    path = cached_weights_path(weight_set)
    if path.is_file():
        return path
    mirror = os.environ.get(MIRROR_ENV)
    url = f"{mirror.rstrip('/')}/{path.name}" if mirror else weight_set.url
    fix = f"download {weight_set.url} and put it in {path.parent}/"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            digest = hashlib.sha256()
            done = 0
            try:
                with os.fdopen(fd, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
                expected = re.search(r"-([a-f0-9]{6,})\.", path.name)
                if expected and not digest.hexdigest().startswith(expected.group(1)):
                    raise WeightsUnavailable(f"the download of {url} is corrupt (hash mismatch); {fix}")
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    except WeightsUnavailable:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsUnavailable(
            f"weights {weight_set.qualname} are not in the cache and could not be downloaded"
            f" ({reason}); {fix}"
        ) from None
    return path


def load_pretrained(
    built: BuiltModel, device: Any = "cpu", on_download: Callable[[int, int | None], None] | None = None
) -> nn.Module:
    """Put real weights into ``built``'s model and move it to ``device``.

    torchvision sets come from its cache (downloaded when missing) and go through the builder's
    own loading code, so its key renaming and head pruning apply; a checkpoint file is loaded
    with ``weights_only=True``. Tensors are memory-mapped and assigned, not copied.
    ``on_download(bytes_done, bytes_total)`` follows a download, if one is needed.
    """
    assert built.entry is not None and built.weights is not None
    choice = built.weights
    if choice.kind is WeightsKind.random:
        model = build_initialised(built.entry, None)
    elif choice.kind is WeightsKind.checkpoint:
        model = build_on_meta(built.entry, choice.weight_set)
        _assign(model, read_checkpoint(choice.path), str(choice.path))
    elif built.entry.task is Task.quantized:
        model = _load_quantized(built.entry, choice.weight_set, on_download)
    else:
        path = fetch_weights(choice.weight_set, on_download)
        model = _build_from_file(built.entry, choice.weight_set, path)
    return model.to(device).eval()


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A state dict from ``path`` (.pth/.pt/.bin/.ckpt, or .safetensors), never running pickled code.

    A dict holding the state dict under ``state_dict`` or ``model`` is unwrapped, and a
    ``module.`` prefix (DataParallel) is removed.
    """
    import pickle

    import torch

    try:
        if path.suffix == ".safetensors":
            try:
                from safetensors.torch import load_file
            except ImportError:
                raise WeightsUnavailable(f"'{path}' is .safetensors: pip install safetensors") from None
            data: Any = load_file(str(path))
        else:
            try:
                data = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                with warnings.catch_warnings():  # torch's note about the protocol is not for the user
                    warnings.simplefilter("ignore", UserWarning)
                    data = torch.load(path, map_location="cpu", weights_only=True)  # the legacy format
    except pickle.UnpicklingError as exc:
        first = first_line(exc, 120)
        raise WeightsUnavailable(
            f"refused to load '{path}': it needs arbitrary code to unpickle ({first[:120]}); "
            "save a plain state dict with torch.save(model.state_dict(), path)"
        ) from None
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(f"cannot read checkpoint '{path}': {first_line(exc)}") from None
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsUnavailable(f"'{path}' holds no state dict (a dict of tensor names to tensors)")
    if data and all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return data


def _assign(model: nn.Module, state: dict[str, Any], source: str) -> None:
    """Load ``state`` into a meta ``model`` by assignment, or explain why it does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k} (checkpoint {list(state[k].shape)}, model {list(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or misshaped:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if keys:
                parts.append(f"{len(keys)} {label} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
        raise WeightsUnavailable(f"'{source}' does not fit this architecture: {'; '.join(parts)}")
    model.load_state_dict(state, assign=True)
    _check_materialized(model, source)
    model.float()  # a half-precision checkpoint computes in float32 like the rest; --precision decides


def _build_from_file(entry: ModelEntry, weight_set: WeightSet, path: Path) -> nn.Module:
    """The builder's own loading path, fed the memory-mapped file and assigning its tensors."""
    import torch
    from torch import nn
    from torchvision.models import get_model_builder, get_model_weights
    from torchvision.models._api import WeightsEnum

    original_get, original_load = WeightsEnum.get_state_dict, nn.Module.load_state_dict
    try:  # read outside the meta context below, which would otherwise claim the new tensors
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(
            f"cannot read '{path}' ({first_line(exc, 160)}); delete it and retry"
        ) from None

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> dict:
        return state

    loads: list[tuple[nn.Module, Any]] = []

    def load_state_dict(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append((self, state_dict))  # applied after the meta build: see below
        return nn.modules.module._IncompatibleKeys([], [])

    WeightsEnum.get_state_dict, nn.Module.load_state_dict = get_state_dict, load_state_dict
    try:
        weights = get_model_weights(entry.name)[weight_set.name]
        model = _on_meta(lambda: get_model_builder(entry.name)(weights=weights))
    except Exception as exc:
        raise WeightsUnavailable(f"cannot load {weight_set.qualname} from '{path}': {exc}") from None
    finally:
        WeightsEnum.get_state_dict, nn.Module.load_state_dict = original_get, original_load
    # Assigned outside the build, where no meta strategy can claim the tensors. Not strict: a
    # builder may prune a head after loading (googlenet's aux classifiers), leaving its keys over;
    # anything still missing is caught by the check below.
    for module, state_dict in loads:
        original_load(module, state_dict, strict=False, assign=True)
    _check_materialized(model, str(path))
    return model


def _load_quantized(
    entry: ModelEntry, weight_set: WeightSet, on_download: Callable[[int, int | None], None] | None
) -> nn.Module:
    """A real quantized model: its builder calibrates on the CPU, then loads from the cache."""
    import torch
    from torchvision.models import get_model_builder, get_model_weights

    fetch_weights(
        weight_set, on_download
    )  # the builder finds it in torchvision's cache and downloads nothing
    if weight_set.backend and weight_set.backend in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = weight_set.backend
    weights = get_model_weights(entry.name)[weight_set.name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return get_model_builder(entry.name)(weights=weights, quantize=True)
    except Exception as exc:
        first = first_line(exc)
        raise WeightsUnavailable(
            f"cannot load {weight_set.qualname} from '{cached_weights_path(weight_set)}': {first}"
        ) from None


def materialize(model: nn.Module, device: Any = "cpu") -> nn.Module:
    """A meta model on ``device`` with small random weights: enough to run and time it.

    Faster than the builder's own initialisation (seconds for the largest models), and
    deterministic; nothing learned, so its outputs mean nothing.
    """
    import torch

    model = model.to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.01, generator=generator)
            else:
                p.zero_()
        for path, b in model.named_buffers():
            if b.is_floating_point():
                b.fill_(1.0 if path.endswith("running_var") else 0.0)
    return model.eval()


def _check_materialized(model: nn.Module, source: str) -> None:
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"]
    if left:
        raise WeightsUnavailable(
            f"'{source}' left {len(left)} tensors without values ({', '.join(left[:3])})"
        )


# --- a user's own model ------------------------------------------------------------------------

USER_MODEL = re.compile(r"^(?P<path>.+\.py):(?P<symbol>[A-Za-z_][\w.]*)$")


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["depth=4", "act='gelu'", "name=tiny"]`` -> keyword arguments.

    Values are read as Python literals, else kept as strings.
    """
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise UsageError(f"bad --kwarg '{pair}'; write key=value, e.g. --kwarg num_classes=10")
        try:
            kwargs[key.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = value
    return kwargs


def build_user_model(spec: str, kwargs: dict[str, Any]) -> BuiltModel:
    """Build ``path/to/file.py:Name``: a module class, a function returning a module, or an instance.

    Classes and functions are called with ``kwargs`` on the meta device. An error raised by the
    user's file is reported with its file and line.
    """
    from torch import nn

    match = USER_MODEL.match(spec)
    if match is None:
        raise UsageError(f"'{spec}' is not path/to/file.py:Name")
    path = Path(match["path"]).expanduser()
    if not path.is_file():
        raise UsageError(f"model file '{path}' not found; give path/to/file.py:Name")
    module = _run_user_code(path, lambda: _import_file(path))
    obj: Any = module
    for part in match["symbol"].split("."):
        if not hasattr(obj, part):
            found = sorted(n for n, v in vars(module).items() if _is_model_like(v))
            hint = f"; it defines {', '.join(found)}" if found else ""
            raise UsageError(f"'{path}' has no '{match['symbol']}'{hint}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise UsageError(f"'{spec}' is a module instance; --kwarg applies to classes and functions")
        model = obj
    elif callable(obj):
        model = _run_user_code(path, lambda: _on_meta(lambda: obj(**kwargs)))
    else:
        raise UsageError(f"'{spec}' is a {type(obj).__name__}, not an nn.Module, a class or a function")
    if not isinstance(model, nn.Module):
        raise UsageError(f"'{spec}' returned a {type(model).__name__}, not an nn.Module")
    return BuiltModel(model=model.eval(), name=spec)


def _is_model_like(value: Any) -> bool:
    from torch import nn

    return isinstance(value, nn.Module) or (isinstance(value, type) and issubclass(value, nn.Module))


def _import_file(path: Path) -> Any:
    import importlib.util
    import sys

    name = f"cvzoo_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import '{path}' as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    sys.path.insert(0, str(path.parent.resolve()))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _run_user_code(path: Path, call: Callable[[], Any]) -> Any:
    """Run ``call``; an exception raised in the user's file becomes 'file:line: Error: message'."""
    try:
        return call()
    except CvzooError:
        raise
    except Exception as exc:
        mine = path.resolve()
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == mine]
        where = f"{path}:{frames[-1].lineno}" if frames else str(path)
        if isinstance(exc, SyntaxError) and exc.lineno:
            where = f"{path}:{exc.lineno}"
        message = first_line(exc) if str(exc).strip() else ""
        raise UserCodeError(f"{where}: {type(exc).__name__}: {message}".rstrip(": ")) from exc


class _SkippedStateDict(dict):
    """Stands in for a weights file: the builder passes it on, ``load_state_dict`` ignores it."""


@contextlib.contextmanager
def _skip_weight_loading() -> Iterator[None]:
    """Let builders configure themselves from a weight set without fetching or loading its file."""
    from torch import nn
    from torchvision.models._api import WeightsEnum

    original_get = WeightsEnum.get_state_dict
    original_load = nn.Module.load_state_dict

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> dict:
        return _SkippedStateDict()

    def load_state_dict(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, _SkippedStateDict):
            return nn.modules.module._IncompatibleKeys([], [])
        return original_load(self, state_dict, *args, **kwargs)

    WeightsEnum.get_state_dict = get_state_dict
    nn.Module.load_state_dict = load_state_dict
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = original_get
        nn.Module.load_state_dict = original_load


@contextlib.contextmanager
def _meta_device_context() -> Iterator[None]:
    """Every tensor created while building is on meta: the fastest way, for most models."""
    import torch

    with torch.device("meta"):
        yield


@contextlib.contextmanager
def _meta_on_register() -> Iterator[None]:
    """Move each parameter and buffer to meta as a module registers it.

    For builders that compute their layout from tensors (regnet calls ``.tolist()``), which
    the meta device context cannot run. Each tensor exists on the CPU only until registered.
    """
    import torch
    from torch import nn

    original_param = nn.Module.register_parameter
    original_buffer = nn.Module.register_buffer

    def register_parameter(self: nn.Module, name: str, param: Any) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original_param(self, name, param)

    def register_buffer(self: nn.Module, name: str, tensor: Any, persistent: bool = True) -> None:
        if isinstance(tensor, torch.Tensor):
            tensor = tensor.to("meta")
        original_buffer(self, name, tensor, persistent)

    nn.Module.register_parameter = register_parameter
    nn.Module.register_buffer = register_buffer
    try:
        yield
    finally:
        nn.Module.register_parameter = original_param
        nn.Module.register_buffer = original_buffer


def count_params(model: nn.Module) -> int:
    """Parameters of ``model``, each shared (tied) tensor counted once."""
    return sum(p.numel() for p in model.parameters())
