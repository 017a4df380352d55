"""Running a model: device choice, precision policy, and BatchNorm folding that changes no output."""

from __future__ import annotations

import pytest
import torch

from cvzoo import runtime
from cvzoo.errors import UsageError


def test_device_detection(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert runtime.detect_device().type == "cpu"
    assert runtime.detect_device("cpu").type == "cpu"
    with pytest.raises(UsageError, match="no CUDA GPU"):
        runtime.detect_device("cuda")
    with pytest.raises(UsageError, match="unknown device"):
        runtime.detect_device("tpu9")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert runtime.detect_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.detect_device().type == "cuda"


def _resnet18_with_statistics():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    model = resnet18(weights=None).eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity, so folding has work to do
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model


def test_prepared_model_computes_what_the_plain_model_computes():
    model = _resnet18_with_statistics()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
    ready = runtime.prepare(_resnet18_with_statistics(), torch.device("cpu"))
    assert ready.channels_last
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in ready.model.modules())  # folded away
    with torch.no_grad(), ready.autocast():
        got = ready.model(ready.layout(x))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_bf16_autocast_stays_close_to_fp32():
    model = _resnet18_with_statistics()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = torch.softmax(model(x), 1)
    ready = runtime.prepare(_resnet18_with_statistics(), torch.device("cpu"), runtime.Precision.bf16)
    with torch.no_grad(), ready.autocast():
        got = ready.model(ready.layout(x))
    assert got.dtype == torch.bfloat16  # autocast really computed in bf16
    torch.testing.assert_close(torch.softmax(got.float(), 1), expected, rtol=0, atol=0.02)


def test_layout_converts_image_batches_only():
    ready = runtime.prepare(torch.nn.Conv2d(3, 4, 3), torch.device("cpu"))
    assert ready.layout(torch.rand(1, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)
    clip = torch.rand(1, 3, 2, 8, 8)
    assert ready.layout(clip) is clip
    images = [torch.rand(3, 8, 8)]
    assert ready.layout(images) is images
    plain = runtime.prepare(torch.nn.Conv2d(3, 4, 3), torch.device("cpu"), channels_last=False)
    assert not plain.channels_last and plain.layout(torch.rand(1, 3, 8, 8)).is_contiguous()


@pytest.mark.parametrize("precision", [p for p in runtime.Precision if p is not runtime.Precision.fp32])
def test_int8_models_take_fp32_only(precision):
    with pytest.raises(UsageError, match="quantized models compute in int8"):
        runtime.prepare(torch.nn.Identity(), torch.device("cpu"), precision, int8=True)
    ready = runtime.prepare(torch.nn.Conv2d(3, 4, 3), torch.device("cpu"), int8=True)
    assert not ready.channels_last  # int8 models keep their own layout


def test_int8_models_run_on_the_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert runtime.choose_device(None, int8=True, name="quantized_resnet18").type == "cpu"
    assert runtime.choose_device(None, int8=False, name="resnet18").type == "cuda"
    with pytest.raises(UsageError, match="quantized_resnet18 is quantized and runs on the CPU"):
        runtime.choose_device("cuda", int8=True, name="quantized_resnet18")


def test_bf16_warning_only_without_bf16_instructions(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert "bf16 is emulated" in runtime.precision_note("cpu", runtime.Precision.bf16)
    assert runtime.precision_note("cpu", runtime.Precision.fp32) is None
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert runtime.precision_note("cpu", runtime.Precision.bf16) is None
