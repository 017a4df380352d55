"""A checkpoint file on its own: what it holds, and which zoo architecture it fits.

``cvzoo summary my_finetuned.pt`` has no model to walk, only tensors: their names, shapes and
dtypes, how many values they hold, the file's size, and the zoo architectures (with constructor
arguments) whose state dict it matches. The file is read as every checkpoint is, without
running pickled code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cvzoo import architectures, weights
from cvzoo.catalog import Catalog
from cvzoo.errors import UsageError

# Buffers that state dicts carry beside parameters (BatchNorm's statistics and step count).
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def is_checkpoint(name: str) -> bool:
    """Whether ``name`` names a checkpoint file (rather than a model name or ``file.py:Name``).

    Raises:
        UsageError: for a checkpoint's name (``model.pt``) where there is no such file.
    """
    path = Path(name).expanduser()
    if path.suffix.lower() not in weights.CHECKPOINT_SUFFIXES:
        return False
    if not path.is_file():
        raise UsageError(f"checkpoint '{name}' does not exist; give a state-dict file or a model's name")
    return True


@dataclass(frozen=True)
class Tensor:
    """One tensor of the file."""

    name: str
    shape: list[int]
    dtype: str  # e.g. "float32"
    count: int  # values in it


@dataclass(frozen=True)
class CheckpointReport:
    """``cvzoo summary FILE``: the tensors a checkpoint holds and the architectures it fits."""

    file: str
    file_size_bytes: int
    tensors: list[Tensor]
    total_values: int  # in every tensor
    parameters: int  # in the tensors that are not BatchNorm statistics
    dtypes: dict[str, int]  # values per dtype
    fits: list[str] = field(default_factory=list)  # "resnet18, num_classes=10"


def describe(path: Path, catalog: Catalog, on_build: architectures.OnBuild | None = None) -> CheckpointReport:
    """What the checkpoint at ``path`` holds, and every zoo architecture it fits.

    Raises:
        WeightsUnavailable: for a file that can't be read or holds no state dict.
    """
    state = weights.read_checkpoint(path)
    tensors = [
        Tensor(k, list(v.shape), str(v.dtype).removeprefix("torch."), v.numel()) for k, v in state.items()
    ]
    dtypes: Counter[str] = Counter()
    for t in tensors:
        dtypes[t.dtype] += t.count
    fits = architectures.find(catalog, architectures.shapes_of(state), on_build)
    return CheckpointReport(
        file=str(path),
        file_size_bytes=path.stat().st_size,
        tensors=tensors,
        total_values=sum(t.count for t in tensors),
        parameters=sum(t.count for t in tensors if not t.name.endswith(BUFFER_SUFFIXES)),
        dtypes=dict(dtypes.most_common()),
        fits=[f.describe() for f in fits],
    )
