"""cvzoo/cards.json: one model card per family, and every torchvision model mapped to one."""

from __future__ import annotations

import json
import re
from importlib.resources import files

import pytest
import torchvision
from conftest import run, zoo_catalog
from torchvision.models import get_model_weights

MILESTONES = {"alexnet", "vgg", "googlenet", "inception", "resnet", "densenet", "efficientnet"}
ARXIV_ABS = re.compile(r"https://arxiv\.org/abs/\d{4}\.\d{4,5}")


@pytest.fixture(scope="module")
def cards() -> dict:
    return json.loads((files("cvzoo") / "cards.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tv_models() -> set[str]:
    return set(torchvision.models.list_models())


def test_top_level_keys(cards):
    assert set(cards) == {"families", "models"}


def test_every_torchvision_model_is_mapped(cards, tv_models):
    missing = sorted(tv_models - set(cards["models"]))
    assert not missing, f"models without a card: {missing}"


def test_no_mapping_names_an_unknown_model(cards, tv_models):
    unknown = sorted(set(cards["models"]) - tv_models)
    assert not unknown, f"cards.json maps models torchvision doesn't have: {unknown}"


def test_every_mapping_names_an_existing_family(cards):
    dangling = {m: f for m, f in cards["models"].items() if f not in cards["families"]}
    assert not dangling, f"models mapped to unknown families: {dangling}"


def test_every_family_is_used(cards):
    unused = sorted(set(cards["families"]) - set(cards["models"].values()))
    assert not unused, f"families no model maps to: {unused}"


def test_quantized_models_share_their_float_twins_family(cards):
    models = cards["models"]
    for name, family in models.items():
        if name.startswith("quantized_"):
            twin = name.removeprefix("quantized_")
            assert twin in models, f"{name} has no float twin in the mapping"
            assert family == models[twin], f"{name} -> {family}, but {twin} -> {models[twin]}"


@pytest.mark.parametrize("field", ["title", "year", "idea", "paper", "milestone"], ids=lambda f: f"has-{f}")
def test_every_family_has_the_field(cards, field):
    lacking = [key for key, fam in cards["families"].items() if field not in fam]
    assert not lacking, f"families without {field!r}: {lacking}"


def test_family_texts_and_years(cards):
    for key, fam in cards["families"].items():
        assert isinstance(fam["title"], str) and fam["title"].strip(), key
        assert isinstance(fam["idea"], str) and fam["idea"].strip(), key
        assert type(fam["year"]) is int and 1989 <= fam["year"] <= 2026, key
        assert type(fam["milestone"]) is bool, key


def test_family_papers(cards):
    for key, fam in cards["families"].items():
        paper = fam["paper"]
        assert isinstance(paper, dict), key
        assert isinstance(paper.get("title"), str) and paper["title"].strip(), key
        assert isinstance(paper.get("authors"), str) and paper["authors"].strip(), key
        assert type(paper.get("year")) is int and 1989 <= paper["year"] <= 2026, key
        assert paper["year"] >= fam["year"], f"{key}: paper predates the family"
        assert isinstance(paper.get("arxiv"), str) and ARXIV_ABS.fullmatch(paper["arxiv"]), key


def test_milestones_are_exactly_the_course_ones(cards):
    marked = {key for key, fam in cards["families"].items() if fam["milestone"]}
    assert marked == MILESTONES


def test_milestone_models_map_where_expected(cards):
    models = cards["models"]
    expected = {
        "alexnet": "alexnet",
        "vgg16": "vgg",
        "googlenet": "googlenet",
        "inception_v3": "inception",
        "resnet50": "resnet",
        "densenet121": "densenet",
        "efficientnet_b0": "efficientnet",
        "efficientnet_v2_s": "efficientnet_v2",
        "quantized_resnet50": "resnet",
        "quantized_googlenet": "googlenet",
    }
    assert {name: models[name] for name in expected} == expected


# --- cvzoo info: the card joined with torchvision's weight sets -----------------------------------


@pytest.mark.parametrize("name", sorted(zoo_catalog().models))
def test_info_for_every_model(warm_cache, cards, name):
    result = run("info", name, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    family = cards["families"][cards["models"][name]]  # the card, read from the file itself
    assert data["name"] == name and data["family"] == cards["models"][name]
    assert (data["title"], data["year"], data["idea"]) == (family["title"], family["year"], family["idea"])
    assert data["paper"] == family["paper"] and data["milestone"] == family["milestone"]
    enum = get_model_weights(name)  # the weight sets, read from torchvision itself
    assert [w["name"] for w in data["weights"]] == [w.name for w in enum]
    assert [w["name"] for w in data["weights"] if w["is_default"]] == [enum.DEFAULT.name]
    assert data["default_weights"] == enum.DEFAULT.name
    assert data["params"] == enum.DEFAULT.meta["num_params"]
    for w, published in zip(data["weights"], enum, strict=True):
        assert w["params"] == published.meta["num_params"] and w["gmacs"] == published.meta["_ops"]
        assert w["recipe"] == published.meta["recipe"] and w["url"] == published.url
        assert w["transforms"]["class"] == type(published.transforms()).__name__


def test_info_table_teaches(warm_cache):
    text = run("info", "resnet50").stdout
    assert "ResNet (2015)" in text and "milestone" in text
    assert "Deep Residual Learning for Image Recognition" in text and "arxiv.org/abs/1512.03385" in text
    assert "IMAGENET1K_V2 *" in text and "resize 232 bilinear, crop 224" in text
    assert "mean [0.485, 0.456, 0.406]" in text


def test_info_unknown_model(warm_cache):
    result = run("info", "alexnett")
    assert result.exit_code == 2 and "did you mean 'alexnet'" in result.stderr
