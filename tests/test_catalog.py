"""The catalogue: derived from torchvision's API, cached, filtered and sorted."""

from __future__ import annotations

import json
import os

import pytest
import torchvision
from conftest import TASK_PACKAGES
from torchvision.models import get_model_weights, list_models

from cvzoo import cache, catalog
from cvzoo.catalog import SortKey, Task, list_rows, natural_key
from cvzoo.errors import UnknownModel


def test_every_torchvision_model_is_in_the_zoo_with_its_task(zoo):
    assert sorted(zoo.models) == sorted(list_models())
    assert len(zoo.models) == 121
    for task, package in TASK_PACKAGES.items():
        assert {n for n, e in zoo.models.items() if e.task is task} == set(list_models(module=package))


def test_every_weight_set_carries_torchvision_metadata(zoo):
    count = 0
    for name, entry in zoo.models.items():
        enum = get_model_weights(name)
        assert [w.name for w in entry.weights] == [w.name for w in enum]
        assert entry.default.name == enum.DEFAULT.name
        for w in entry.weights:
            meta = enum[w.name].meta
            assert w.params == meta["num_params"]
            assert w.gmacs == meta["_ops"]
            assert w.file_size_mib == meta["_file_size"]
            published = {
                ds: {k: (None if v != v else v) for k, v in m.items()} for ds, m in meta["_metrics"].items()
            }
            assert w.metrics == published  # NaN (vgg16 features) becomes None, which JSON can carry
            assert w.url == enum[w.name].url
            assert w.num_categories == (len(meta["categories"]) if meta.get("categories") else None)
            count += 1
    assert count == 166


def test_input_size_is_what_the_transforms_produce(zoo):
    assert zoo.get("resnet50").default.input_size == [224, 224]
    assert zoo.get("inception_v3").default.input_size == [299, 299]
    assert zoo.get("vit_h_14").default.input_size == [518, 518]  # DEFAULT is the SWAG set
    assert zoo.get("deeplabv3_resnet50").default.input_size == [520, 520]  # no crop: the resize
    assert zoo.get("raft_large").default.input_size is None  # the flow preset names no size
    assert zoo.get("raft_large").default.min_size == [128, 128]
    assert zoo.get("fasterrcnn_resnet50_fpn").default.input_size is None  # resizes internally
    transforms = zoo.get("resnet50").default.transforms
    assert transforms["crop_size"] == [224] and transforms["resize_size"] == [232]
    assert transforms["interpolation"] == "bilinear"


def test_quantized_sets_name_their_float_twin(zoo):
    w = zoo.get("quantized_resnet50").default
    assert w.backend == "fbgemm"
    assert w.unquantized == "ResNet50_Weights.IMAGENET1K_V2"


def test_names_resolve_case_insensitively_and_suggest(zoo):
    assert zoo.get("ResNet50").name == "resnet50"
    with pytest.raises(UnknownModel) as info:
        zoo.get("resnt50")
    assert "resnet50" in info.value.suggestions
    assert "did you mean 'resnet50'" in str(info.value)
    assert info.value.exit_code == 2


def test_natural_order():
    names = ["resnet101", "resnet18", "resnet50", "resnet152", "resnet34"]
    assert sorted(names, key=natural_key) == ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def test_select_globs_and_substrings(zoo):
    assert [e.name for e in zoo.select(["resnet1*"])] == ["resnet18", "resnet101", "resnet152"]
    assert all("vit" in e.name for e in zoo.select(["VIT"]))
    both = {e.name for e in zoo.select(["alexnet", "vgg11"])}
    assert both == {"alexnet", "vgg11", "vgg11_bn"}
    assert {e.task for e in zoo.select(task=Task.video)} == {Task.video}


@pytest.mark.parametrize("key", list(SortKey))
def test_every_sort_key_orders_rows(zoo, key):
    rows = list_rows(zoo, sort=key, all_weights=True)
    attr = {"size": "file_size_mib", "name": "name"}.get(key.value, key.value)

    def value(row):
        return row.name if key is SortKey.name else getattr(row.figures, attr)

    values = [value(r) for r in rows]
    present = [v for v in values if v is not None]
    expected = sorted(present, key=natural_key) if key is SortKey.name else sorted(present)
    assert present == expected
    assert values[len(present) :] == [None] * (len(values) - len(present))  # missing metrics go last
    descending = list_rows(zoo, sort=key, descending=True)
    if key is not SortKey.name:
        top = [value(r) for r in descending if value(r) is not None]
        assert top == sorted(top, reverse=True)


def test_limit_and_all_weights(zoo):
    assert len(list_rows(zoo, limit=3)) == 3
    rows = list_rows(zoo, ["resnet50"], all_weights=True)
    assert {(r.name, r.weights, r.default) for r in rows if r.name == "resnet50"} == {
        ("resnet50", "IMAGENET1K_V1", False),
        ("resnet50", "IMAGENET1K_V2", True),
    }


def test_a_pattern_matching_nothing_is_an_error_with_suggestions(zoo):
    with pytest.raises(catalog.NoMatch, match="did you mean.*resnet18"):
        list_rows(zoo, ["resnet19"])


# --- the cache ---------------------------------------------------------------------------------


def test_cold_cache_builds_and_writes_atomically(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    built = []
    monkeypatch.setattr(catalog, "build_catalog", lambda: built.append(1) or zoo)
    entered = []

    class Spinner:
        def __enter__(self):
            entered.append(1)

        def __exit__(self, *exc):
            return False

    loaded = catalog.load_catalog(on_build=Spinner)
    assert built == [1] and entered == [1]
    assert loaded.names() == zoo.names()
    files = os.listdir(tmp_path)
    assert files == [catalog.cache_path().name]  # no temporary file left behind
    assert torchvision.__version__.split("+")[0] in files[0]


def test_warm_cache_does_not_rebuild(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    catalog.store(zoo)
    monkeypatch.setattr(catalog, "build_catalog", lambda: pytest.fail("rebuilt a warm cache"))
    loaded = catalog.load_catalog()
    assert loaded == zoo


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated
        lambda text: "not json at all",
        lambda text: json.dumps({**json.loads(text), "schema": -1}),  # an older layout
        lambda text: json.dumps({**json.loads(text), "torchvision": "0.0.1"}),  # another torchvision
        lambda text: json.dumps({**json.loads(text), "models": [{"name": "x"}]}),  # wrong shape
        lambda text: json.dumps({**json.loads(text), "models": []}),  # parses, but empty
        lambda text: json.dumps({**json.loads(text), "models": json.loads(text)["models"][:40]}),  # cut short
        lambda text: json.dumps({**json.loads(text), "build": "another-build"}),  # same release, other files
        lambda text: json.dumps(  # a model with two DEFAULT sets
            {**json.loads(text), "models": [_two_defaults(m) for m in json.loads(text)["models"]]}
        ),
    ],
    ids=[
        "truncated",
        "garbage",
        "old-schema",
        "stale-version",
        "wrong-shape",
        "empty",
        "cut-short",
        "other-build",
        "two-defaults",
    ],
)
def test_corrupt_stale_or_inconsistent_cache_is_rebuilt_silently(zoo, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    catalog.store(zoo)
    path = catalog.cache_path()
    damaged = damage(json.dumps(cache.read_json(path)))
    try:  # a document that parses is written as cvzoo writes, digest and all: its contents must tell
        cache.write_json(path, json.loads(damaged))
    except ValueError:
        path.write_text(damaged)
    monkeypatch.setattr(catalog, "build_catalog", lambda: zoo)
    assert catalog.load_catalog() == zoo
    assert catalog.cached_catalog() == zoo  # and the good one replaced it


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: {**doc, "models": [m for m in doc["models"] if m["name"] != "vgg11"]},  # one gone
        lambda doc: {**doc, "models": [{**doc["models"][0], "task": "classification "}, *doc["models"][1:]]},
        lambda doc: {
            **doc,
            "models": [
                {**m, "weights": [{**w, "params": "abc"} for w in m["weights"]]} for m in doc["models"]
            ],
        },
    ],
    ids=["a-model-removed", "a-task-misspelt", "a-number-as-text"],
)
def test_a_cache_edited_by_hand_is_rebuilt(zoo, tmp_path, monkeypatch, edit):
    """A file that still parses but is not what cvzoo wrote (its digest differs) is never believed."""
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    catalog.store(zoo)
    path = catalog.cache_path()
    kept = json.loads(path.read_text())
    path.write_text(json.dumps({**kept, "document": edit(kept["document"])}))
    monkeypatch.setattr(catalog, "build_catalog", lambda: zoo)
    assert catalog.load_catalog() == zoo


def _two_defaults(model: dict) -> dict:
    weights = [{**w, "is_default": True} for w in model["weights"]]
    return {**model, "weights": weights + weights if len(weights) == 1 else weights}


def test_unwritable_cache_directory_still_answers(zoo, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(blocker / "sub"))  # a directory under a file: unwritable
    monkeypatch.setattr(catalog, "build_catalog", lambda: zoo)
    assert catalog.load_catalog() == zoo


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("CVZOO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "cvzoo"


def test_local_version_labels_do_not_invalidate_the_cache(zoo, tmp_path, monkeypatch):
    """Wheels such as 0.29.1+cpu report a local label in their metadata; the cache must still hit."""
    monkeypatch.setenv("CVZOO_CACHE_DIR", str(tmp_path))
    real = cache.metadata.version
    monkeypatch.setattr(cache.metadata, "version", lambda name: real(name) + "+cpu")
    catalog.store(zoo)
    assert catalog.cached_catalog() == zoo
