"""The app catalogue: fixed, independent of the seed, so the same apps appear in every dump."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from genai_lab.synth.checks import RX_TRIPLE
from genai_lab.synth.resources import load_json
from genai_lab.synth.schema import CATEGORIES

# category -> name parts: a short name is first + second, the listed name may add a description
_APP_NAMES: dict[str, dict[str, list[str]]] = load_json("app_names.json")
_CATALOG_SEED = 20_240_611


@dataclass(frozen=True)
class Catalog:
    app_id: list[str]
    app_name: list[str]
    short: list[str]
    cat: np.ndarray


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


def _listed_name(rng: np.random.Generator, short: str, descriptions: list[str]) -> str:
    style = rng.random()
    if style < 0.45:
        return f"{short}: {rng.choice(descriptions)}"
    if style < 0.6:
        return f"{short} - {rng.choice(descriptions)}"
    if style < 0.7:
        return f"{short} Pro"
    return short


_CATALOG: Catalog | None = None


def catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is not None:
        return _CATALOG
    rng = np.random.default_rng(_CATALOG_SEED)
    ids, names, shorts, cats = [], [], [], []
    seen: set[str] = set()
    for c, cat in enumerate(CATEGORIES):
        parts = _APP_NAMES[cat]
        n_apps = int(rng.integers(8, 16))
        made = 0
        while made < n_apps:
            short = str(rng.choice(parts["first"])) + str(rng.choice(parts["second"]))
            if short.lower() in seen or RX_TRIPLE.search(short):  # a triple letter would be an elongation defect
                continue
            seen.add(short.lower())
            name = _listed_name(rng, short, parts["descriptions"])
            ids.append(_slug(name))
            names.append(name)
            shorts.append(short)
            cats.append(c)
            made += 1
    _CATALOG = Catalog(ids, names, shorts, np.array(cats, np.int64))
    return _CATALOG
