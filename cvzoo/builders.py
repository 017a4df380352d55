"""Running torchvision's own builders under cvzoo's control: on meta, with the weights file intercepted.

torchvision's builders configure a model from its weight set (number of classes, image size,
aux heads) and then fetch and load the set's file. cvzoo wants the configuration without the
file (to count a model offline) or with a file it opens itself (memory-mapped, assigned).
:func:`intercepted_weights` replaces the two calls a builder makes for that; :func:`on_meta`
creates every tensor on the meta device, so that building allocates nothing.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from cvzoo.catalog import ModelEntry, WeightSet
from cvzoo.errors import BuildError, UsageError, first_line

if TYPE_CHECKING:
    from torch import nn

GetStateDict = Callable[[], dict[str, Any]]
LoadStateDict = Callable[..., Any]  # (module, state_dict, *args, **kwargs), as nn.Module's


def build_architecture(
    entry: ModelEntry,
    weight_set: WeightSet | None,
    extra: dict[str, Any] | None = None,
    meta: bool = True,
    pretrained_backbone: bool = False,
) -> nn.Module:
    """Torchvision's builder for ``entry``, configured by ``weight_set`` but loading no file.

    Args:
        weight_set: the set whose architecture to build; None for the builder's own defaults
            (and no backbone weights either: those would be downloaded).
        extra: keyword arguments for the builder (``--kwarg num_classes=10``).
        meta: build on the meta device (nothing allocated); else on the CPU with the builder's
            own random initialisation, which timing and ``--weights none`` need.
        pretrained_backbone: with no ``weight_set``, keep the builder's default backbone weights
            (not loaded: intercepted), so the backbone is built as a pretrained one is (frozen
            BatchNorm), as in a model fine-tuned from it.

    Raises:
        UsageError: when the builder refuses one of ``extra``.
        BuildError: when the builder fails for another reason.
    """
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
        if "weights_backbone" in accepted and not pretrained_backbone:
            kwargs["weights_backbone"] = None  # else the builder downloads ImageNet backbone weights
    if "quantize" in accepted:
        kwargs["quantize"] = False
    try:
        with skipped_weights():
            if meta:
                model: nn.Module = on_meta(lambda: builder(**kwargs))
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", (FutureWarning, UserWarning))
                    model = builder(**kwargs)
        return model.eval()
    except TypeError as exc:
        if extra and "keyword argument" in str(exc):
            raise UsageError(f"--kwarg: {entry.name}'s builder says: {first_line(exc)}") from None
        raise BuildError(f"could not build '{entry.name}': {first_line(exc)}") from exc
    except Exception as exc:
        if extra:  # a builder refusing a given value (num_classes=10 with pretrained weights)
            raise UsageError(f"--kwarg: {entry.name}'s builder says: {first_line(exc)}") from None
        raise BuildError(f"could not build '{entry.name}': {first_line(exc)}") from exc


def on_meta(make: Callable[[], Any]) -> Any:
    """Call ``make`` with every tensor it creates on meta, by the first strategy that works.

    The meta device context is fastest and works for most builders; those that compute their
    layout from tensor values (regnet calls ``.tolist()``) get each parameter moved to meta as
    it is registered instead.
    """
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


def to_meta(model: nn.Module) -> nn.Module:
    """``model`` with every parameter and buffer moved to meta, in place, shared ones kept shared.

    ``Module.to("meta")`` gives each module its own copy of a parameter that two modules share
    (tied weights), which would then be counted twice.
    """
    import torch
    from torch import nn

    moved: dict[int, torch.Tensor] = {}
    originals = [*model.parameters(), *model.buffers()]  # alive until the end: ids stay unique
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is not None:
                if id(param) not in moved:
                    moved[id(param)] = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
                module._parameters[name] = moved[id(param)]  # type: ignore[assignment]
        for name, buffer in list(module._buffers.items()):
            if buffer is not None:
                module._buffers[name] = moved.setdefault(id(buffer), buffer.to("meta"))
    del originals
    return model


@contextlib.contextmanager
def intercepted_weights(get_state_dict: GetStateDict, load_state_dict: LoadStateDict) -> Iterator[None]:
    """While active, a builder's weights come from ``get_state_dict`` and go to ``load_state_dict``.

    ``get_state_dict()`` replaces ``WeightsEnum.get_state_dict`` (the download and read of the
    file); ``load_state_dict(module, state_dict, *args, **kwargs)`` replaces
    ``nn.Module.load_state_dict`` and may return its result (None reads as a clean load).
    """
    from torch import nn
    from torchvision.models._api import WeightsEnum

    original_get, original_load = WeightsEnum.get_state_dict, nn.Module.load_state_dict

    def get(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return get_state_dict()

    def load(self: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        result = load_state_dict(self, state_dict, *args, **kwargs)
        return nn.modules.module._IncompatibleKeys([], []) if result is None else result

    WeightsEnum.get_state_dict = get
    nn.Module.load_state_dict = load  # type: ignore[method-assign]
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = original_get
        nn.Module.load_state_dict = original_load  # type: ignore[method-assign]


class _SkippedStateDict(dict[str, Any]):
    """Stands in for a weights file: the builder passes it on, and loading it does nothing."""


def skipped_weights() -> contextlib.AbstractContextManager[None]:
    """Let builders configure themselves from a weight set without fetching or loading its file.

    Loads of any other state dict (a builder's internal copy between modules) still happen.
    """
    from torch import nn

    original_load = nn.Module.load_state_dict

    def load(module: nn.Module, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, _SkippedStateDict):
            return None
        return original_load(module, state_dict, *args, **kwargs)

    return intercepted_weights(_SkippedStateDict, load)


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

    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original_param  # type: ignore[method-assign]
        nn.Module.register_buffer = original_buffer  # type: ignore[method-assign]
