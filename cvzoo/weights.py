"""Weights: finding, downloading, verifying and reading them, and putting them into a model.

torchvision's weight files live in its own cache (``$TORCH_HOME/hub/checkpoints``) and are
downloaded there when missing, checked against the hash in their name; a user's checkpoint is
read with ``weights_only=True`` (or from safetensors), so no pickled code ever runs. Tensors
are memory-mapped and assigned to a model built on meta, never copied.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvzoo.builders import intercepted_weights, on_meta
from cvzoo.catalog import ModelEntry, WeightSet
from cvzoo.errors import WeightsUnavailable, first_line
from cvzoo.files import replacing

if TYPE_CHECKING:
    import torch
    from torch import nn

NOT_A_CHECKPOINT = "neither a file of torch.save nor safetensors, or a damaged one"
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
MIRROR_ENV = "CVZOO_WEIGHTS_MIRROR"  # a base URL serving torchvision's files, for air-gapped sites
OnDownload = Callable[[int, "int | None"], None]  # (bytes done, bytes in all if known)


def checkpoint_dir() -> Path:
    """torchvision's own weights cache: ``$TORCH_HOME/hub/checkpoints``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights_path(weight_set: WeightSet) -> Path:
    """Where torchvision keeps (or would keep) ``weight_set``'s file."""
    return checkpoint_dir() / weight_set.url.rsplit("/", 1)[-1]


def fetch_weights(weight_set: WeightSet, on_download: OnDownload | None = None) -> Path:
    """The weights file in torchvision's cache, downloading it first if it is missing.

    The download goes to a temporary file beside the cache entry, is checked against the hash
    prefix in the file's name (as torchvision does), and is renamed into place only when whole.

    Raises:
        WeightsUnavailable: offline or failed, with the URL and the folder to put the file in.
    """
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
        with urllib.request.urlopen(url, timeout=30) as response, replacing(path) as temporary:
            total = int(response.headers.get("Content-Length") or 0) or None
            digest = hashlib.sha256()
            done = 0
            with temporary.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if on_download:
                        on_download(done, total)
            expected = re.search(r"-([a-f0-9]{6,})\.", path.name)
            if expected and not digest.hexdigest().startswith(expected.group(1)):
                raise WeightsUnavailable(f"the download of {url} is corrupt (hash mismatch); {fix}")
    except WeightsUnavailable:
        raise
    except (OSError, ValueError) as exc:  # urllib's URLError is an OSError
        reason = getattr(exc, "reason", exc)
        raise WeightsUnavailable(
            f"weights {weight_set.qualname} are not in the cache and could not be downloaded"
            f" ({reason}); {fix}"
        ) from None
    return path


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` (.pth/.pt/.bin/.ckpt, or .safetensors), never running pickled code.

    A dict holding the state dict under ``state_dict`` or ``model`` is unwrapped, and a
    ``module.`` prefix (DataParallel) is removed.

    Raises:
        WeightsUnavailable: for a file that can't be read, needs code to unpickle, or holds no
            state dict.
    """
    import torch

    data = _read_tensors(path)
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsUnavailable(f"'{path}' holds no state dict (a dict of tensor names to tensors)")
    if data and all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return data


def _read_tensors(path: Path) -> Any:
    """What ``path`` holds, read without running code: safetensors, or torch's weights-only load."""
    import pickle

    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        try:
            return torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except (RuntimeError, OSError):  # the legacy format, or a damaged file: read it plainly
            with warnings.catch_warnings():  # torch's note about the protocol is not for the user
                warnings.simplefilter("ignore", UserWarning)
                return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):  # not a pickle at all
            raise WeightsUnavailable(f"cannot read checkpoint '{path}': {NOT_A_CHECKPOINT}") from None
        raise WeightsUnavailable(
            f"refused to load '{path}': it holds Python objects that only running their code could"
            " rebuild (a whole pickled model?); save a plain state dict with"
            " torch.save(model.state_dict(), path)"
        ) from None
    except Exception as exc:
        # torch's parser lost its way in what is not a checkpoint (a KeyError of a byte's value, an
        # end of file, an invalid seek): say so rather than quote it
        lost = isinstance(exc, (KeyError, EOFError)) or (
            isinstance(exc, OSError) and exc.errno == errno.EINVAL
        )
        reason = NOT_A_CHECKPOINT if lost else first_line(exc)
        raise WeightsUnavailable(f"cannot read checkpoint '{path}': {reason}") from None


def mismatch(expected: dict[str, Any], state: dict[str, Any]) -> str | None:
    """How ``state`` differs from a model's ``expected`` state dict; None when it fits.

    Keys missing, unexpected and mis-shaped are counted, and the first few of each named.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    misshaped = [
        f"{k} (checkpoint {list(state[k].shape)}, model {list(v.shape)})"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if keys:
            parts.append(f"{len(keys)} {label} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})")
    return "; ".join(parts) or None


def assign_checkpoint(model: nn.Module, state: dict[str, Any], source: str) -> None:
    """Load ``state`` into a meta ``model`` by assignment, or explain why it does not fit.

    Raises:
        WeightsUnavailable: listing the missing, unexpected and mis-shaped keys.
    """
    differs = mismatch(model.state_dict(), state)
    if differs:
        raise WeightsUnavailable(f"'{source}' does not fit this architecture: {differs}")
    model.load_state_dict(state, assign=True)
    _check_materialized(model, source)
    model.float()  # a half-precision checkpoint computes in float32 like the rest; --precision decides


def load_torchvision_weights(entry: ModelEntry, weight_set: WeightSet, path: Path) -> nn.Module:
    """``entry`` built by its own builder from the file at ``path``, tensors memory-mapped.

    Going through the builder keeps its own loading code (densenet's key renaming, googlenet's
    aux-head pruning); the tensors it would copy are assigned instead, after a meta build.

    Raises:
        WeightsUnavailable: for a file that can't be read or doesn't fit.
    """
    import torch
    from torchvision.models import get_model_builder, get_model_weights

    try:  # read outside the meta build below, which would otherwise claim the new tensors
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as exc:
        raise WeightsUnavailable(
            f"cannot read '{path}' ({first_line(exc, 160)}); delete it and retry"
        ) from None
    loads: list[tuple[nn.Module, Any]] = []
    try:
        with intercepted_weights(lambda: state, lambda module, sd, *a, **k: loads.append((module, sd))):
            weights = get_model_weights(entry.name)[weight_set.name]
            model: nn.Module = on_meta(lambda: get_model_builder(entry.name)(weights=weights))
    except Exception as exc:
        raise WeightsUnavailable(f"cannot load {weight_set.qualname} from '{path}': {exc}") from None
    # Assigned outside the build, where no meta strategy can claim the tensors. Not strict: a
    # builder may prune a head after loading (googlenet's aux classifiers), leaving its keys over;
    # anything still missing is caught by the check below.
    for module, state_dict in loads:
        module.load_state_dict(state_dict, strict=False, assign=True)
    _check_materialized(model, str(path))
    return model


def load_quantized(entry: ModelEntry, weight_set: WeightSet, on_download: OnDownload | None) -> nn.Module:
    """A real int8 model: its builder calibrates on the CPU, then loads the file from the cache."""
    import torch
    from torchvision.models import get_model_builder, get_model_weights

    fetch_weights(weight_set, on_download)  # the builder then finds it in the cache: no download
    if weight_set.backend and weight_set.backend in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = weight_set.backend
    weights = get_model_weights(entry.name)[weight_set.name]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model: nn.Module = get_model_builder(entry.name)(weights=weights, quantize=True)
            return model
    except Exception as exc:
        where = cached_weights_path(weight_set)
        raise WeightsUnavailable(
            f"cannot load {weight_set.qualname} from '{where}': {first_line(exc)}"
        ) from None


def placeholder_weights(model: nn.Module, device: Any = "cpu") -> nn.Module:
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
