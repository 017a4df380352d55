"""Receptive fields equal an independent measurement: the input pixels whose gradient is non-zero.

For one output unit in the middle of a layer's output, the input pixels with a non-zero gradient
span exactly that unit's receptive field, on a copy of the model in which no gradient is zero by
accident: every weight, bias and input pixel positive (every ReLU passes, nothing cancels),
BatchNorm in eval with positive scale, and max pooling swapped for average pooling of the same
geometry (max sends each window's gradient to one element). Two diagonal neighbours give the
stride; the first one's span, moved back to unit 0, the offset. Inputs are large enough that no
measured field touches the border (checked). The fields compared are cvzoo's own, computed on
meta by ``stats.walk`` (what ``summary --receptive-field`` runs); nothing is compared with itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
import torchvision
from conftest import run
from torch import nn
from torchvision.models import segmentation

from cvzoo import fields, receptive, reports, stats, statscache
from cvzoo.fields import Axis, Field, Untrackable, Whole
from cvzoo.registry import build


@pytest.fixture(autouse=True)
def _one_thread():
    """Measure on one thread: on a busy machine, two threads waiting for each other are 10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Stop(Exception):
    """Raised by the hook of the deepest layer measured: nothing after it needs to run."""


def twins(make: Callable[[], nn.Module]) -> tuple[nn.Module, nn.Module]:
    """The model built twice with no weights: on meta for cvzoo, on the CPU made positive to measure."""
    with torch.device("meta"):
        meta, real = make().eval(), make()
    real = real.to_empty(device="cpu").eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in real.parameters():
            p.uniform_(0.5, 1.5, generator=generator)
            if p.dim() > 1:
                p.div_(p[0].numel())  # keep activations near 1 through depth
        for name, b in real.named_buffers():
            if name.endswith("running_var"):
                b.fill_(1.0)
            elif name.endswith("running_mean"):
                b.zero_()
    return meta, real


def computed(meta: nn.Module, size: int, layers: list[str]) -> dict[str, stats.LayerRow]:
    shape = [1, 3, size, size]
    result = stats.walk(meta, (torch.rand(*shape, device="meta"),), shape, receptive_field=True)
    rows = {row.name: row for row in stats.flatten(result.root)}
    return {name: rows[name] for name in layers}


def _average(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    assert dilation in (1, (1, 1), [1, 1]) and not return_indices
    return F.avg_pool2d(x, kernel_size, stride, padding, ceil_mode)


def outputs(real: nn.Module, layers: list[str], x: torch.Tensor, monkeypatch) -> dict[str, torch.Tensor]:
    """Each layer's output for input ``x``, max pooling averaging over the same windows."""
    modules = dict(real.named_modules())
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, args, output):
            seen[name] = output
            if name == layers[-1]:
                raise _Stop

        return hook

    hooks = [modules[name].register_forward_hook(keep(name)) for name in layers]
    try:
        with monkeypatch.context() as patch:
            patch.setattr(F, "max_pool2d", _average)
            real(x)
    except _Stop:
        pass
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def spans(output: torch.Tensor, x: torch.Tensor, i: int, j: int) -> list[tuple[int, int]]:
    """The rows and the columns of ``x`` whose gradient for output unit (i, j) (all channels) is non-zero."""
    (grad,) = torch.autograd.grad(output[0, :, i, j].sum(), x, retain_graph=True)
    hit = grad[0].ne(0).any(0)
    rows, cols = hit.any(1).nonzero().flatten(), hit.any(0).nonzero().flatten()
    return [(int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))]


def measure(output: torch.Tensor, x: torch.Tensor) -> tuple[list[int], list[int], list[float]]:
    """Size, stride and offset ([h, w] each) from two diagonal neighbours in the middle of ``output``."""
    i, j = output.shape[-2] // 2 - 1, output.shape[-1] // 2 - 1
    first, second = spans(output, x, i, j), spans(output, x, i + 1, j + 1)
    size, stride, offset = [], [], []
    for (lo, hi), (lo2, hi2), index, n in zip(first, second, (i, j), x.shape[-2:], strict=True):
        assert lo > 0 and hi2 < n - 1, "the field touches the border: measure on a larger input"
        assert hi2 - lo2 == hi - lo, "neighbours see spans of different sizes"
        size.append(hi - lo + 1)
        stride.append(lo2 - lo)
        offset.append((lo + hi) / 2 - index * (lo2 - lo))
    return size, stride, offset


def check(make: Callable[[], nn.Module], layers: list[str], size: int, monkeypatch) -> None:
    meta, real = twins(make)
    expected = computed(meta, size, layers)
    x = (torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) + 0.5).requires_grad_()
    for name, output in outputs(real, layers, x, monkeypatch).items():
        got = (expected[name].receptive_field, expected[name].rf_stride, expected[name].rf_offset)
        assert got == measure(output, x), name


CASES = {
    # vgg19's convolutions and poolings (its classifier, 123M parameters, is global and not measured)
    "vgg19": (lambda: torchvision.models.vgg19().features, ["2", "4", "18", "27"], 176),
    "resnet18": (
        torchvision.models.resnet18, ["conv1", "maxpool", "layer1", "layer2.0", "layer3", "layer4"], 512
    ),
    "densenet121": (
        torchvision.models.densenet121,
        ["features.pool0", "features.denseblock1.denselayer3", "features.denseblock1", "features.transition1",
         "features.denseblock2", "features.transition2"],
        304,
    ),
    "inception_v3": (
        lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False),
        ["Conv2d_2b_3x3", "maxpool1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5d", "Mixed_6a",
         "Mixed_6b"],
        400,
    ),
    # fcn_resnet50's backbone: layer3 and layer4 dilated instead of strided (output stride 8)
    "fcn_resnet50.backbone": (
        lambda: segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False).backbone,
        ["conv1", "maxpool", "layer1", "layer2", "layer3.0", "layer3.2"],
        208,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_fields_equal_the_gradient_measurement(name, monkeypatch):
    make, layers, size = CASES[name]
    check(make, layers, size, monkeypatch)


def test_a_dilated_backbone_keeps_its_stride_and_grows_its_field():
    meta, _ = twins(CASES["fcn_resnet50.backbone"][0])
    rows = computed(meta, 208, ["layer2", "layer3", "layer4"])
    assert [rows[n].rf_stride for n in rows] == [[8, 8]] * 3  # no stride after layer2: dilation instead
    assert [rows[n].receptive_field for n in rows] == [[91, 91], [267, 267], [427, 427]]


def test_squeeze_and_excitation_adds_the_whole_image_as_context(monkeypatch):
    """EfficientNet's gates see the whole image: cut their gradient and the spatial path is exact."""
    layers, size = ["features.0", "features.1", "features.2", "features.3", "features.4", "features.5"], 384
    meta, real = twins(torchvision.models.efficientnet_b0)
    rows = computed(meta, size, layers)
    assert [rows[n].rf_context for n in layers] == [False] + [True] * 5
    x = (torch.rand(1, 3, size, size) + 0.5).requires_grad_()
    whole = outputs(real, layers, x, monkeypatch)
    for name in layers[1:]:  # with the gate: every pixel reaches every unit
        assert spans(whole[name], x, 3, 3) == [(0, size - 1), (0, size - 1)], name
    gated = torchvision.ops.misc.SqueezeExcitation
    monkeypatch.setattr(gated, "forward", lambda self, v: self._scale(v).detach() * v)
    for name, output in outputs(real, layers, x, monkeypatch).items():
        row = rows[name]
        assert (row.receptive_field, row.rf_stride, row.rf_offset) == measure(output, x), name


class Toy(nn.Module):
    """The operators the zoo models above do not exercise, each one's output returned."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.wide = nn.Conv2d(4, 4, (1, 7), padding=(0, 3))
        self.holes = nn.Conv2d(4, 4, 3, padding=3, dilation=3)
        self.up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
        self.channels = nn.Linear(20, 6)
        self.norm = nn.GroupNorm(2, 6)

    def forward(self, x):
        stem = self.stem(x)
        branches = torch.cat([self.wide(stem), self.holes(stem)], 1)
        pooled = F.avg_pool2d(branches, 3, stride=2, padding=1, ceil_mode=True)
        shifted = F.pad(pooled, (2, 0, 1, 1))[:, :, 1:, 3:]
        up = self.up(shifted)
        linear = F.interpolate(shifted, scale_factor=2, mode="bilinear")
        nearest = F.interpolate(shifted, size=up.shape[-2:], mode="nearest")
        merged = torch.cat([up, linear, nearest], 1)
        mixed = self.channels(merged.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # a linear layer on channels
        binned = F.adaptive_avg_pool2d(mixed, (mixed.shape[-2] * 2 // 3, mixed.shape[-1] * 3 // 4))
        strided = mixed[:, :, 1::3, ::2]
        return {
            "stem": stem, "branches": branches, "pooled": pooled, "shifted": shifted, "up": up,
            "linear": linear, "nearest": nearest, "mixed": mixed, "binned": binned, "strided": strided,
            "normed": self.norm(mixed),
        }  # fmt: skip


def test_windows_resizing_and_merges_see_exactly_their_spans(monkeypatch):
    """Per output unit, over whole patterns: transposed convolutions and upsampling repeat every 2 outputs."""
    meta, real = twins(Toy)
    size = 96
    example = torch.rand(1, 3, size, size, device="meta")
    receptive.seed(example)
    with torch.no_grad(), receptive.Tracker() as tracker:
        found = {name: receptive.of(t) for name, t in meta(example).items()}
    assert tracker.unknown == {}
    x = (torch.rand(1, 3, size, size) + 0.5).requires_grad_()
    for name, output in real(x).items():
        field = found[name]
        assert isinstance(field, Field), name
        assert field.context == (name == "normed")
        middle = output.shape[-1] // 2 - 4
        for i in range(middle, middle + 6):
            measured = spans(output, x, i, i)
            if name == "normed":  # statistics over every position: the whole image
                assert measured == [(0, size - 1)] * 2
                continue
            assert all(lo > 0 and hi < size - 1 for lo, hi in measured), name
            assert measured == [axis.at(i) for axis in field.axes], (name, i)
    assert found["up"].axes[0].period == 2 and found["linear"].axes[0].period == 2
    assert found["binned"].axes[0].period > 1  # adaptive bins of different widths


def test_the_algebra_of_one_axis():
    conv = Axis().through(fields.window(7, 2, 3))
    assert (conv.size, conv.stride, conv.offset) == (7, 2, 0)
    pooled = conv.through(fields.window(3, 2, 1))
    assert (pooled.size, pooled.stride, pooled.offset) == (11, 4, 0)
    patches = Axis().through(fields.window(16, 16, 0))
    assert (patches.size, patches.offset) == (16, Fraction(15, 2))
    doubled = pooled.through(fields.resampled(56, 112, "nearest", False, None))
    assert doubled.stride == 2 and doubled.period == 2 and doubled.at(0) == doubled.at(1)
    with pytest.raises(Untrackable):
        conv.union(pooled)  # outputs 2 and 4 pixels apart: no single stride
    assert pooled.union(pooled.through(fields.window(1, 1, 0))) == pooled


def test_reshapes_follow_the_image_axes():
    field = Field(((), (), (("h", 14),), (("w", 14),)), (Axis(), Axis()))
    tokens = fields.reshaped(field, [1, 768, 14, 14], [1, 768, 196])
    assert isinstance(tokens, Field) and tokens.dims[2] == (("h", 14), ("w", 14))
    back = fields.reshaped(tokens, [1, 768, 196], [1, 768, 14, 14])
    assert back == field
    with pytest.raises(Untrackable):
        fields.reshaped(field, [1, 768, 14, 14], [1, 768, 2, 7, 14])  # windows
    flat = Field(((), (), (("h", 1),), (("w", 1),)), (Axis(), Axis()))
    assert fields.reshaped(flat, [1, 768, 1, 1], [1, 768]) is Whole.global_


# --- whole models, as summary shows them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "notes"),
    [
        ("alexnet", 0), ("convnext_tiny", 0), ("efficientnet_v2_s", 0), ("googlenet", 0), ("mnasnet0_5", 0),
        ("mobilenet_v3_small", 0), ("regnet_y_400mf", 0), ("shufflenet_v2_x0_5", 0), ("squeezenet1_0", 0),
        ("vit_b_32", 0), ("swin_t", 1), ("maxvit_t", 1), ("quantized_resnet18", 0),
        ("deeplabv3_mobilenet_v3_large", 0), ("lraspp_mobilenet_v3_large", 1), ("r3d_18", 0), ("s3d", 0),
        ("mvit_v1_b", 0), ("raft_small", 0),
    ],
)  # fmt: skip
def test_every_family_is_followed_or_says_why_not(zoo, name, notes):
    result = stats.collect(build(name, catalog=zoo), receptive_field=True)
    said = [n for n in result.notes if n.startswith("receptive fields")]
    assert len(said) == notes, said
    rows = stats.flatten(result.root)
    with_field = [r for r in rows if r.receptive_field]
    assert with_field, "no layer has a field"
    assert all(min(r.receptive_field) >= 1 and min(r.rf_stride) > 0 for r in with_field)
    assert not any(r.receptive_field and r.rf_global for r in rows)


def rows_of(zoo, name: str) -> dict[str, stats.LayerRow]:
    result = stats.collect(build(name, catalog=zoo), receptive_field=True)
    return {row.name: row for row in stats.flatten(result.root)}


def test_attention_global_pooling_and_what_follows_are_global(zoo):
    vit = rows_of(zoo, "vit_b_16")
    assert (vit["conv_proj"].receptive_field, vit["conv_proj"].rf_stride) == ([16, 16], [16, 16])
    assert vit["conv_proj"].rf_offset == [7.5, 7.5]
    assert all(vit[n].rf_global and vit[n].receptive_field is None for n in ("encoder", "heads", ""))
    resnet = rows_of(zoo, "resnet50")
    assert resnet["layer4"].receptive_field == [427, 427] and resnet["avgpool"].rf_global
    assert resnet["fc"].rf_global and not resnet["fc"].rf_context


def test_a_folded_run_shows_what_it_outputs(zoo):
    result = stats.collect(build("resnet152", catalog=zoo), receptive_field=True)
    layer3 = next(c for c in result.root.children if c.name == "layer3")
    folded = next(c for c in stats.collapse(result.root).children if c.name == "layer3").children[1]
    assert folded.name == "layer3.1-35" and folded.receptive_field == layer3.children[-1].receptive_field
    assert folded.receptive_field == layer3.receptive_field


def test_detection_backbones_have_fields_in_input_pixels(zoo):
    """The image is resized (800 to 320) and batched by a copy into zeros: fields go through both."""
    rows = rows_of(zoo, "ssdlite320_mobilenet_v3_large")
    first = rows["backbone.features.0.0.0"]  # a 3x3 stride-2 convolution on the image resized 800 -> 320
    # Resized pixel k blends input pixels floor((k + 0.5) * 2.5 - 0.5) and the next; output 0 reads
    # resized pixels -1..1, that is input pixels -2..4: 7 pixels centred on 1, and 2 x 2.5 apart.
    assert (first.receptive_field, first.rf_stride, first.rf_offset) == ([7, 7], [5, 5], [1, 1])


def test_cells_are_short():
    from cvzoo.render.numbers import hw

    assert (hw([435, 435]), hw([435, 435], compact=True), hw([7, 1], compact=True)) == (
        "435x435",
        "435",
        "7x1",
    )
    assert hw([15.5, 1 / 3], sep=",") == "15.5,0.33" and hw([-4.0, -4.0], compact=True) == "-4"


# --- the command line ----------------------------------------------------------------------------


def test_json_has_fields_only_when_asked(warm_cache):
    plain = json.loads(run("summary", "resnet18", "-f", "json").stdout)
    assert not any(key.startswith(("receptive", "rf_")) for layer in plain["layers"] for key in layer)
    asked = json.loads(run("summary", "resnet18", "--receptive-field", "-f", "json").stdout)
    layers = {layer["name"]: layer for layer in asked["layers"]}
    assert {k: layers["layer4"][k] for k in ("receptive_field", "rf_stride", "rf_offset", "rf_context")} == {
        "receptive_field": [435, 435], "rf_stride": [32, 32], "rf_offset": [0, 0], "rf_context": False
    }  # fmt: skip  # the measurement of test_fields_equal_the_gradient_measurement[resnet18]
    assert layers["fc"]["receptive_field"] is None and "rf_global" not in layers["fc"]
    del asked["layers"], plain["layers"]
    assert asked == plain  # the rest of the document is the same


def test_the_flag_is_part_of_the_cache_key(warm_cache):
    key = statscache.key("resnet18", "DEFAULT", None, {}, True)
    assert key != statscache.key("resnet18", "DEFAULT", None, {}, True, receptive_field=True)
    fresh = reports.count("resnet18", catalog=warm_cache, use_cache=False, receptive_field=True)
    recalled = statscache.read(statscache.key("resnet18", "DEFAULT", None, {}, True, receptive_field=True))
    assert recalled == fresh and fresh.root.children[0].receptive_field == [7, 7]


@pytest.mark.parametrize("width", (60, 80, 120))
def test_the_table_fits_and_keeps_the_fields(warm_cache, golden, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    result = run("summary", "efficientnet_b0", "--receptive-field")
    assert result.exit_code == 0
    text = result.stdout + (f"--- stderr\n{result.stderr}" if result.stderr else "")
    golden(f"widths/summary_efficientnet_b0_rf_w{width}.txt", text)
    assert all(len(line) <= width for line in result.stdout.splitlines()) and "…" not in result.stdout
    header = result.stdout.splitlines()[0].split()
    assert "RF" in header and ("RF" in header[header.index("RF") + 1 :] or "Stride" in header)
    assert "851x851*" in result.stdout or " 851* " in result.stdout
    assert "squeeze-and-excitation" in result.stderr  # what the * means
