"""The registry builds every model of the zoo on meta, as its weights imply, offline."""

from __future__ import annotations

import pytest
import torch
from conftest import zoo_catalog
from torchvision.models import get_model_builder

from cvzoo import registry
from cvzoo.catalog import Task
from cvzoo.errors import UnknownModel, UnknownWeights, UsageError
from cvzoo.registry import WeightsKind, build
from cvzoo.stats import count_params

ALL_SETS = [(e.name, w.name) for e in zoo_catalog().models.values() for w in e.weights]


def _aux_logits_params() -> int:
    with torch.device("meta"):
        model = get_model_builder("inception_v3")(weights=None, aux_logits=True, init_weights=False)
    return count_params(model.AuxLogits)


@pytest.mark.parametrize(("name", "weights"), ALL_SETS, ids=[f"{n}.{w}" for n, w in ALL_SETS])
def test_counted_params_equal_the_published_ones(zoo, name, weights):
    built = build(name, weights, catalog=zoo)
    published = zoo.get(name).weight_set(weights).params
    counted = count_params(built.model)
    tensors = list(built.model.parameters()) + list(built.model.buffers())
    assert {t.device.type for t in tensors} == {"meta"}  # no memory was allocated for them
    if name == "quantized_inception_v3":
        # torchvision publishes the float twin's count, which includes the AuxLogits head that
        # the quantized builder deletes; cvzoo counts the model as it is.
        assert counted == published - _aux_logits_params()
    else:
        assert counted == published


def test_aux_heads_follow_the_weights(zoo):
    with_weights = build("googlenet", "DEFAULT", catalog=zoo).model
    assert with_weights.aux1 is None and count_params(with_weights) == zoo.get("googlenet").default.params
    random_init = build("googlenet", "none", catalog=zoo).model
    assert random_init.aux1 is not None and count_params(random_init) > count_params(with_weights)
    assert build("inception_v3", catalog=zoo).model.AuxLogits is not None


def test_weights_shape_the_architecture(zoo):
    assert build("vit_h_14", catalog=zoo).model.image_size == 518  # DEFAULT is the SWAG set
    assert build("vit_h_14", "IMAGENET1K_SWAG_LINEAR_V1", catalog=zoo).model.image_size == 224
    vgg_features = build("vgg16", "IMAGENET1K_FEATURES", catalog=zoo).model
    assert vgg_features.classifier[-1].out_features == 1000


def test_random_init_builds_detection_without_backbone_download(zoo, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the registry tried to fetch weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", refuse)
    for name in ("fasterrcnn_resnet50_fpn", "deeplabv3_resnet50", "regnet_y_128gf", "quantized_resnet50"):
        built = build(name, "none", catalog=zoo)
        assert built.weights.kind is WeightsKind.random
        assert built.weight_set is zoo.get(name).default  # preprocessing still comes from DEFAULT
        # --weights none is torchvision's weights=None: its builder's own architecture, counted apart
        # (regnet can't be built under the meta device; its architecture doesn't depend on its weights)
        if name.startswith("regnet"):
            expected = zoo.get(name).default.params
        else:
            task = zoo.get(name).task
            kwargs = {} if task in (Task.classification, Task.quantized) else {"weights_backbone": None}
            with torch.device("meta"):
                plain = get_model_builder(name)(weights=None, **kwargs)
            expected = sum(p.numel() for p in plain.parameters())
        assert count_params(built.model) == expected


def test_unknown_model_suggests_close_names(zoo):
    with pytest.raises(UnknownModel, match="did you mean 'resnet50'") as info:
        build("resnet5O", catalog=zoo)
    assert info.value.exit_code == 2


def test_weights_names_resolve(zoo):
    entry = zoo.get("resnet50")
    assert registry.resolve_weights(entry, "default").weight_set.name == "IMAGENET1K_V2"
    assert registry.resolve_weights(entry, "imagenet1k_v1").weight_set.name == "IMAGENET1K_V1"
    assert (
        registry.resolve_weights(entry, "ResNet50_Weights.IMAGENET1K_V1").weight_set.name == "IMAGENET1K_V1"
    )
    assert registry.resolve_weights(entry, "None").kind is WeightsKind.random
    with pytest.raises(UnknownWeights, match="IMAGENET1K_V1, IMAGENET1K_V2") as info:
        registry.resolve_weights(entry, "COCO_V1")
    assert info.value.exit_code == 2


def test_weights_may_be_a_checkpoint_path(zoo, tmp_path):
    entry = zoo.get("resnet18")
    ckpt = tmp_path / "mine.pth"
    ckpt.write_bytes(b"")
    choice = registry.resolve_weights(entry, str(ckpt))
    assert choice.kind is WeightsKind.checkpoint and choice.path == ckpt
    assert choice.weight_set is entry.default
    with pytest.raises(UsageError, match="does not exist"):
        registry.resolve_weights(entry, str(tmp_path / "missing.pth"))
