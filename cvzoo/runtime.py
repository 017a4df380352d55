"""Getting a model ready to run: the device, the number format, the memory layout.

One policy for everything that runs a model (``infer`` for every task, on either engine, and
``bench``): the best device unless told otherwise, int8 models on the CPU, for classifiers and
video models BatchNorm folded into the convolution before it and channels-last memory (measured
faster for convolutions on CPU and GPU), bf16/fp16 through autocast for every task, and
``torch.compile`` when a run is long enough to pay for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import Task
from cvzoo.errors import UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn


class Precision(str, Enum):
    """The number format a model computes in."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


def detect_device(override: str | None = None) -> torch.device:
    """The device to run on: ``override`` if given, else cuda, then mps, then cpu.

    Raises:
        UsageError: for a device that doesn't exist or isn't available here.
    """
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


def choose_device(requested: str | None, int8: bool, name: str) -> torch.device:
    """``--device``, else the best available; an int8 (quantized) model runs on the CPU only.

    Raises:
        UsageError: for an int8 model asked to run elsewhere than the CPU.
    """
    if int8:
        if requested and detect_device(requested).type != "cpu":
            raise UsageError(f"{name} is quantized and runs on the CPU; leave out --device or use cpu")
        return detect_device("cpu")
    return detect_device(requested)


# The tasks whose models are rearranged to run fast (BatchNorm folded, channels-last memory); None is
# a user's own model, run as a classifier. Detection, segmentation and optical-flow models take
# each image at its own size and mostly can't be traced by torch.fx: they run as built, so that
# their outputs stay those of torchvision's reference use.
REARRANGED = frozenset({Task.classification, Task.quantized, Task.video, None})


@dataclass
class Prepared:
    """A model ready to run, with how its inputs must be laid out and computed."""

    model: nn.Module
    device: torch.device
    precision: Precision
    memory_format: torch.memory_format | None  # channels_last(_3d), or None for contiguous

    @property
    def channels_last(self) -> bool:
        """Whether the model runs in channels-last memory."""
        return self.memory_format is not None

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context that makes the forward pass compute in :attr:`precision`."""
        import torch

        if self.precision is Precision.fp32:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision is Precision.bf16 else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def layout(self, x: Any) -> Any:
        """``x`` in the memory layout the model runs in (a 4-D image batch, a 5-D clip batch; else as is)."""
        import torch

        if self.memory_format is None or not isinstance(x, torch.Tensor):
            return x
        if x.dim() == (5 if self.memory_format is torch.channels_last_3d else 4):
            return x.contiguous(memory_format=self.memory_format)
        return x


def prepare(
    model: nn.Module,
    device: torch.device,
    precision: Precision = Precision.fp32,
    channels_last: bool = True,
    int8: bool = False,
    task: Task | None = Task.classification,
) -> Prepared:
    """``model`` (with real weights, on ``device``) set up to run fast in eval mode.

    Args:
        channels_last: fold BatchNorm and use channels-last memory (channels_last_3d for video)
            where the task's models gain from it (:data:`REARRANGED`); skipped for int8 models,
            which keep their own layout, and for models that mix 4-D and 5-D weights.
        int8: the model is quantized: it computes in int8 and only fp32 is accepted.
        task: the model's task (None for a user's own model).

    Raises:
        UsageError: for a precision other than fp32 with an int8 model.
    """
    import torch

    check_precision(precision, int8)
    model.eval()
    memory_format = None
    if channels_last and not int8 and task in REARRANGED:
        memory_format = torch.channels_last_3d if task is Task.video else torch.channels_last
        try:
            model = fold_batchnorm(model).to(memory_format=memory_format)
        except RuntimeError:  # a model mixing 4-D and 5-D weights: leave its layout alone
            memory_format = None
    return Prepared(model=model, device=device, precision=precision, memory_format=memory_format)


def check_precision(precision: Precision, int8: bool) -> None:
    """Refuse a precision the model cannot compute in: an int8 model takes fp32 only.

    Raises:
        UsageError: for bf16 or fp16 with an int8 model.
    """
    if int8 and precision is not Precision.fp32:
        raise UsageError("quantized models compute in int8; leave --precision at fp32")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """The model with each BatchNorm folded into the convolution before it, if it can be traced.

    In eval mode a BatchNorm is a fixed affine map, so folding it changes no prediction beyond
    float rounding and saves a pass over every activation. Models that torch.fx cannot trace
    (data-dependent control flow) are returned as they are.
    """
    from torch.fx.experimental.optimization import fuse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fuse(model)
    except Exception:  # untraceable: run the model unchanged
        return model


def precision_note(device: Any, precision: Precision) -> str | None:
    """A warning worth printing: bf16 on a CPU without bf16 instructions is emulated, and slow."""
    import torch

    if precision is Precision.bf16 and torch.device(device).type == "cpu":
        try:
            native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        except AttributeError:  # a torch without these probes: say nothing
            return None
        if not native:
            return (
                "this CPU has no bf16 instructions (AVX512-BF16 or AMX): bf16 is emulated, slower than fp32"
            )
    return None


class Compile(str, Enum):
    """Whether ``infer`` runs the model through ``torch.compile``."""

    auto = "auto"  # when the run is long enough to pay for the compilation (see compile_pays)
    always = "always"
    never = "never"


# Measured on a 2-core Xeon (benchmarks/infer.py): compiling resnet50 takes about 18 s the
# first time and 4 s from torch's cache; the compiled model then saves 5-10 ms per image.
COMPILE_FROM = 2000  # inputs from which a first compilation pays for itself
COMPILE_AGAIN_FROM = 500  # the same, once this model, precision and batch were compiled here


def compile_key(name: str, device: Any, precision: Precision, batch_size: int) -> str:
    """What a compiled model depends on: the model, where and how it runs, and the torch build."""
    import torch

    return f"{name}|{torch.device(device).type}|{precision.value}|{batch_size}|{torch.__version__}"


def compile_pays(choice: Compile, inputs: int, key: str) -> bool:
    """Whether to compile for a run over ``inputs`` inputs.

    Raises:
        UsageError: ``always`` on a machine with no C++ compiler, which torch needs on a CPU.
    """
    if choice is Compile.never:
        return False
    compiler = _cxx_compiler(key)
    if choice is Compile.always:
        if not compiler:
            raise UsageError("--compile always needs a C++ compiler on a CPU (g++ or clang++): install one")
        return True
    if not compiler:
        return False
    return inputs >= (COMPILE_AGAIN_FROM if key in _compiled_before() else COMPILE_FROM)


def compiled(model: nn.Module) -> nn.Module:
    """``model`` through ``torch.compile`` with frozen weights, its kernels cached in cvzoo's cache.

    Freezing turns the weights into constants the compiler pre-packs for the CPU's matrix
    units; the compiled kernels go to ``inductor/`` in cvzoo's cache folder, so that the next
    run of the same model starts in seconds.
    """
    import torch
    import torch._inductor.config as inductor

    from cvzoo.cache import cache_dir

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    inductor.freezing = True
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)  # "No CUDA runtime is found"
    return torch.compile(model, dynamic=False)  # type: ignore[return-value]


def remember_compiled(key: str) -> None:
    """Note that ``key`` was compiled here: its next run can compile from torch's cache."""
    from cvzoo.cache import cache_dir
    from cvzoo.files import write_atomically

    keys = _compiled_before() | {key}
    with contextlib.suppress(OSError):
        write_atomically(cache_dir() / "compiled.json", json.dumps(sorted(keys), indent=1))


def _compiled_before() -> set[str]:
    from cvzoo.cache import cache_dir

    try:
        return set(json.loads((cache_dir() / "compiled.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return set()


def _cxx_compiler(key: str) -> bool:
    """Whether torch can compile here: any device but a CPU, or a CPU with a C++ compiler."""
    if key.split("|")[1] != "cpu":
        return True
    return any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++", "clang++") if c)
