"""Model cards: what each family of models is, the idea it introduced and where it was published.

The cards are cvzoo's own words, kept in ``cards.json`` beside this module (one card per
family, every torchvision model mapped to one). ``cvzoo info`` joins a model's card with its
weight sets from the catalogue. Importing this module never imports torch.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cvzoo.catalog import Catalog, WeightSet


@dataclass(frozen=True)
class Paper:
    """The paper that introduced a family."""

    title: str
    authors: str
    year: int
    arxiv: str  # the abstract page, https://arxiv.org/abs/...


@dataclass(frozen=True)
class FamilyCard:
    """What a family of models is and where it came from, in cvzoo's words (cards.json)."""

    key: str  # e.g. "resnet"
    title: str  # e.g. "ResNet"
    year: int
    idea: str  # the technique the family introduced, and why it mattered
    paper: Paper
    milestone: bool  # one of the course's milestone models


@functools.cache
def _cards() -> dict[str, Any]:
    cards: dict[str, Any] = json.loads((Path(__file__).parent / "cards.json").read_text(encoding="utf-8"))
    return cards


def family_card(model: str) -> FamilyCard | None:
    """The card of ``model``'s family, or None for a model the cards don't cover yet."""
    cards = _cards()
    key = cards["models"].get(model)
    if key is None:
        return None
    family = cards["families"][key]
    return FamilyCard(
        key=key,
        title=family["title"],
        year=family["year"],
        idea=family["idea"],
        paper=Paper(**family["paper"]),
        milestone=family["milestone"],
    )


@dataclass(frozen=True)
class ModelInfo:
    """``cvzoo info``: a model's card and all of its weight sets."""

    name: str
    task: str
    family: str | None
    title: str | None
    year: int | None
    idea: str | None
    paper: Paper | None
    milestone: bool
    params: int  # the DEFAULT set's
    gmacs: float
    num_categories: int | None
    default_weights: str
    weights: tuple[WeightSet, ...]


def model_info(catalog: Catalog, name: str) -> ModelInfo:
    """The card and weight sets of ``name``; an unknown name raises UnknownModel."""
    entry = catalog.get(name)
    card = family_card(entry.name)
    return ModelInfo(
        name=entry.name,
        task=entry.task.value,
        family=card.key if card else None,
        title=card.title if card else None,
        year=card.year if card else None,
        idea=card.idea if card else None,
        paper=card.paper if card else None,
        milestone=card.milestone if card else False,
        params=entry.default.params,
        gmacs=entry.default.gmacs,
        num_categories=entry.default.num_categories,
        default_weights=entry.default.name,
        weights=entry.weights,
    )
