"""The clause engine: templates filled from word banks, rendered column-wise (one polars concat per template).

Template markup: "[term]" is an aspect term written literally (its aspect is the clause's aspect),
"[term|aspect]" names the aspect; "{slot}" is filled per clause from the slot's bank, and a
capitalised slot name gives the capitalised value. Texts never contain triple letters, "&", URLs or
long digit runs: the defect checks rely on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl

from genai_lab.synth.resources import by_sentiment, load_json, load_lines
from genai_lab.synth.schema import ASPECT_INDEX, ASPECTS, CATEGORIES, NEG, NEU, POS
from genai_lab.vocabulary import SENTIMENT_LABELS


class Family(NamedTuple):
    """Templates that share a clause polarity; `aspect_weights` names the aspect draw (None: no aspect)."""
    polarity: int
    second_polarity: int  # the contrasted aspect's polarity, -1 without one
    aspect_weights: str | None
    templates: list[str]


def _load_families() -> dict[str, Family]:
    families = {}
    for name, spec in load_json("templates.json").items():
        second = spec["second_polarity"]
        families[name] = Family(SENTIMENT_LABELS.index(spec["polarity"]),
                                -1 if second is None else SENTIMENT_LABELS.index(second),
                                spec["aspect_weights"], spec["templates"])
    return families


FAMILIES = _load_families()
# (family, aspect) -> clauses about that aspect, added to the family's generic templates
ASPECT_TEMPLATES = {(family, aspect): templates
                    for family, by_aspect in load_json("aspect_templates.json").items()
                    for aspect, templates in by_aspect.items()}
_PLURAL_TERMS = frozenset(load_lines("plural_terms.txt"))
_ASPECT_TERMS: dict[str, list[str]] = load_json("aspect_terms.json")  # nouns that read well in "The {t} is {adj}"
_CATEGORY_FEATURES: dict[str, list[str]] = load_json("category_features.json")
_ADJECTIVES: dict[str, dict[str, list[str]]] = load_json("adjectives.json")
_SLOT_WORDS: dict = load_json("slot_words.json")
_CATEGORY_SLOT_WORDS: dict[str, dict[str, list[str]]] = load_json("category_slot_words.json")
# the polarity a slot's own "[term|aspect]" annotation carries: requests are neutral, bugs negative
_ENTRY_POLARITY = {"req": NEU, "reqv": NEU, "bugv": NEG, "when": NEG}

_N_POLARITIES = len(SENTIMENT_LABELS)
_RX_MARKUP = re.compile(r"\{(\w+)\}|\[([^\]|]+)(?:\|(\w+))?\]")
_RX_ENTRY = re.compile(r"\[([^\]|]+)\|(\w+)\]")
# slot name -> (bank, how the bank's groups are chosen, where its annotation's aspect comes from)
_SLOT = {
    "t": ("term", "cat_a", "ctx1"), "t2": ("term", "cat_a2", "ctx2"),
    "adj": ("adj", "a_p", None), "adjo": ("adj", "a_po", None), "adj2": ("adj", "a2_p2", None),
    "int": ("int", None, None), "intm": ("intm", None, None), "intn": ("intn", None, None), "tail": ("tail", None, None),
    "lv": ("lv", None, None), "hv": ("hv", None, None), "catn": ("catn", "cat", None), "use": ("use", "cat", None),
    "req": ("req", "cat", "entry"), "reqv": ("reqv", None, "entry"), "bugv": ("bugv", None, "entry"),
    "when": ("when", None, "entry"), "act": ("act", None, None), "dev": ("dev", None, None),
    "price": ("price", None, None), "year": ("year", None, None), "dur": ("dur", None, None), "dl": ("dl", None, None),
    "rel": ("rel", None, None), "ver": ("ver", None, None), "iosv": ("iosv", None, None), "vp": ("vp", "p", None),
}
_ANNOTATED_SLOTS = ("t", "t2", "req", "reqv", "bugv", "when")
# verb forms that agree with a term slot: name -> (term slot, form); the term's plural flag picks the column
_DERIVED = {"be": ("t", 0), "ben": ("t", 1), "does": ("t", 2), "doesnt": ("t", 3), "has": ("t", 4),
            "be2": ("t2", 0), "ben2": ("t2", 1)}
_DERIVED_FORMS = [("is", "are"), ("isn't", "aren't"), ("does", "do"), ("doesn't", "don't"), ("has", "have")]


def capitalise(s: str) -> str:
    """First letter upper case, except brand spellings like "iCloud"."""
    if not s or (len(s) > 1 and s[0] == "i" and s[1].isupper()):
        return s
    return s[0].upper() + s[1:]


def lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


class _Pool:
    """All strings the engine can emit, in one polars Series (gathered by index)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.series: pl.Series | None = None

    def add(self, strings: list[str]) -> int:
        base = len(self.items)
        self.items.extend(strings)
        return base

    def freeze(self) -> None:
        self.series = pl.Series("pool", self.items, dtype=pl.String)


@dataclass
class Bank:
    """Entries grouped by a key (category, aspect, polarity...): group g holds entries off[g] .. off[g] + size[g]."""
    shape: tuple[int, ...]
    off: np.ndarray
    size: np.ndarray
    text_base: int
    cap_base: int
    term_base: int
    termcap_base: int
    aspect: np.ndarray
    pol: np.ndarray
    plural: np.ndarray


def _parse_entry(raw: str) -> tuple[str, str | None, int]:
    """'a [dark mode|design]' -> ('a dark mode', 'dark mode', aspect id)."""
    m = _RX_ENTRY.search(raw)
    if not m:
        return raw, None, -1
    text = raw[: m.start()] + m.group(1) + raw[m.end():]
    return text, m.group(1), ASPECT_INDEX[m.group(2)]


def _make_bank(pool: _Pool, shape: tuple[int, ...], items: list[tuple[tuple[int, ...], str, bool]], pol: int = -1) -> Bank:
    ngroups = int(np.prod(shape)) if shape else 1
    keyed = sorted(
        ((int(np.ravel_multi_index(k, shape)) if shape else 0, i, raw, plural) for i, (k, raw, plural) in enumerate(items)),
        key=lambda x: (x[0], x[1]),
    )
    texts, caps, terms, termcaps, aspects, plurals = [], [], [], [], [], []
    size = np.zeros(ngroups, np.int64)
    for g, _, raw, plural in keyed:
        text, term, asp = _parse_entry(raw)
        texts.append(text)
        caps.append(capitalise(text))
        terms.append(term or "")
        termcaps.append(capitalise(term) if term and text.startswith(term) else (term or ""))
        aspects.append(asp)
        plurals.append(plural)
        size[g] += 1
    if (size == 0).any():
        raise AssertionError("empty bank group")
    off = np.concatenate([[0], np.cumsum(size)[:-1]])
    return Bank(shape, off, size, pool.add(texts), pool.add(caps), pool.add(terms), pool.add(termcaps),
                np.array(aspects, np.int16), np.full(len(texts), pol, np.int8), np.array(plurals, bool))


def _build_banks(pool: _Pool) -> dict[str, Bank]:
    n_cat, n_asp = len(CATEGORIES), len(ASPECTS)
    terms = [((c, a), t, t in _PLURAL_TERMS) for c, cat in enumerate(CATEGORIES) for a, asp in enumerate(ASPECTS)
             for t in _ASPECT_TERMS[asp] + (_CATEGORY_FEATURES[cat] if asp == "features" else [])]
    banks = {"term": _make_bank(pool, (n_cat, n_asp), terms)}
    adjectives = [((a, SENTIMENT_LABELS.index(label)), w, False) for a, asp in enumerate(ASPECTS)
                  for label, words in _ADJECTIVES[asp].items() for w in words]
    banks["adj"] = _make_bank(pool, (n_asp, _N_POLARITIES), adjectives)
    for slot in ("catn", "use"):
        banks[slot] = _make_bank(pool, (n_cat,), [((c,), w, False) for c, cat in enumerate(CATEGORIES)
                                                  for w in _CATEGORY_SLOT_WORDS[slot][cat]])
    banks["req"] = _make_bank(pool, (n_cat,), [((c,), w, False) for c, cat in enumerate(CATEGORIES)
                                               for w in _SLOT_WORDS["req"] + _CATEGORY_SLOT_WORDS["req"][cat]],
                              pol=_ENTRY_POLARITY["req"])
    verdicts = by_sentiment(_SLOT_WORDS["vp"])
    banks["vp"] = _make_bank(pool, (_N_POLARITIES,), [((p,), w, False) for p in (NEG, NEU, POS) for w in verdicts[p]])
    for slot, words in _SLOT_WORDS.items():
        if slot not in banks:
            banks[slot] = _make_bank(pool, (), [((), w, False) for w in words], pol=_ENTRY_POLARITY.get(slot, -1))
    return banks


@dataclass
class _Template:
    parts: list[tuple[bool, str]]  # (is_slot, literal text or slot name)
    anns: list[tuple]  # ("slot", slot name) | ("lit", term, aspect or -1)


def _parse_template(s: str) -> _Template:
    parts: list[tuple[bool, str]] = []
    anns: list[tuple] = []
    pos = 0
    for m in _RX_MARKUP.finditer(s):
        if m.start() > pos:
            parts.append((False, s[pos:m.start()]))
        if m.group(1):
            name = m.group(1)
            if name != "app" and lower_first(name) not in _SLOT and name not in _DERIVED:
                raise ValueError(f"unknown slot {{{name}}} in template {s!r}")
            parts.append((True, name))
            if name.lower() in _ANNOTATED_SLOTS:
                anns.append(("slot", name))
        else:
            parts.append((False, m.group(2)))
            anns.append(("lit", m.group(2), ASPECT_INDEX[m.group(3)] if m.group(3) else -1))
        pos = m.end()
    if pos < len(s):
        parts.append((False, s[pos:]))
    merged: list[tuple[bool, str]] = []
    for p in parts:
        if merged and not p[0] and not merged[-1][0]:
            merged[-1] = (False, merged[-1][1] + p[1])
        else:
            merged.append(p)
    return _Template(merged, anns)


def _group(mode: str | None, ctx: dict[str, np.ndarray], sel: np.ndarray) -> np.ndarray | int:
    """The bank group of each selected clause."""
    if mode is None:
        return 0
    if mode == "cat":
        return ctx["cat"][sel]
    if mode == "p":
        return ctx["p"][sel]
    if mode == "cat_a":
        return ctx["cat"][sel] * len(ASPECTS) + ctx["a"][sel]
    if mode == "cat_a2":
        return ctx["cat"][sel] * len(ASPECTS) + ctx["a2"][sel]
    if mode == "a_p":
        return ctx["a"][sel] * _N_POLARITIES + ctx["p"][sel]
    if mode == "a_po":  # the opposite polarity ("never {adjo}"): negative <-> positive
        return ctx["a"][sel] * _N_POLARITIES + (NEG + POS - ctx["p"][sel])
    if mode == "a2_p2":
        return ctx["a2"][sel] * _N_POLARITIES + ctx["p2"][sel]
    raise KeyError(mode)


class _SlotDraws:
    """One bank entry per clause for each slot of a template, drawn on the slot's first use."""

    def __init__(self, banks: dict[str, Bank], ctx: dict[str, np.ndarray], sel: np.ndarray, rng: np.random.Generator):
        self.banks, self.ctx, self.sel, self.rng = banks, ctx, sel, rng
        self.chosen: dict[str, tuple[Bank, np.ndarray]] = {}

    def __call__(self, name: str) -> tuple[Bank, np.ndarray]:
        if name not in self.chosen:
            bank_name, mode, _ = _SLOT[name]
            bank = self.banks[bank_name]
            g = _group(mode, self.ctx, self.sel)
            off, size = bank.off[g], bank.size[g]
            self.chosen[name] = (bank, off + (self.rng.random(len(self.sel)) * size).astype(np.int64))
        return self.chosen[name]


_EMPTY_ANNOTATIONS = {"clause": pl.Int64, "k": pl.Int16, "aspect": pl.Int16, "pol": pl.Int8, "term": pl.String}


class Engine:
    """Every bank and template, and per (family, aspect) the pool of templates a clause draws from."""

    def __init__(self) -> None:
        self.pool = _Pool()
        self.banks = _build_banks(self.pool)
        self.derived_base = self.pool.add([w for pair in _DERIVED_FORMS for w in pair])
        self.templates: list[_Template] = []
        self.fam_names = list(FAMILIES)
        self.fam_id = {f: i for i, f in enumerate(self.fam_names)}
        self.fam_p = np.array([FAMILIES[f].polarity for f in self.fam_names], np.int8)
        self.fam_p2 = np.array([FAMILIES[f].second_polarity for f in self.fam_names], np.int8)
        self.fam_w = [FAMILIES[f].aspect_weights for f in self.fam_names]
        self._build_template_pools()
        self.pool.freeze()

    def _add_templates(self, sources: list[str]) -> list[int]:
        ids = list(range(len(self.templates), len(self.templates) + len(sources)))
        self.templates += [_parse_template(s) for s in sources]
        return ids

    def _build_template_pools(self) -> None:
        flat: list[int] = []
        self.pool_off = np.zeros((len(self.fam_names), len(ASPECTS)), np.int64)
        self.pool_size = np.zeros((len(self.fam_names), len(ASPECTS)), np.int64)
        for fi, f in enumerate(self.fam_names):
            generic = self._add_templates(FAMILIES[f].templates)
            for a, asp in enumerate(ASPECTS):
                ids = generic + self._add_templates(ASPECT_TEMPLATES.get((f, asp), [])) * 2  # aspect-specific phrasing weighs double
                self.pool_off[fi, a] = len(flat)
                self.pool_size[fi, a] = len(ids)
                flat += ids
        self.pool_flat = np.array(flat, np.int64)

    def _gather(self, idx: np.ndarray) -> pl.Series:
        return self.pool.series.gather(idx)

    def render(self, ctx: dict[str, np.ndarray], tids: np.ndarray, rng: np.random.Generator,
               app_names: pl.Series) -> tuple[pl.Series, pl.DataFrame]:
        """Render clause i with template tids[i]; returns texts and the aspect annotations. `ctx` holds per
        clause its category ("cat"), app, aspect ("a") and polarity ("p"), and the aspect it contrasts
        with ("a2") and that one's polarity ("p2")."""
        n = len(tids)
        order = np.argsort(tids, kind="stable")
        uniq, starts, counts = np.unique(tids[order], return_index=True, return_counts=True)
        out_idx: list[np.ndarray] = []
        out_txt: list[pl.Series] = []
        annotations: list[dict] = []
        for tid, st, ct in zip(uniq.tolist(), starts.tolist(), counts.tolist()):
            sel = order[st:st + ct]
            draws = _SlotDraws(self.banks, ctx, sel, rng)
            out_idx.append(sel)
            out_txt.append(self._render_text(self.templates[tid], draws, ctx, sel, app_names))
            annotations += self._annotate(self.templates[tid], draws, ctx, sel)
        texts = pl.Series("t", [None] * n, dtype=pl.String)
        if n:
            texts.scatter(np.concatenate(out_idx), pl.concat(out_txt))
        if not annotations:
            return texts, pl.DataFrame(schema=_EMPTY_ANNOTATIONS)
        ann = pl.DataFrame({
            "clause": np.concatenate([x["clause"] for x in annotations]),
            "k": np.concatenate([x["k"] for x in annotations]),
            "aspect": np.concatenate([x["aspect"] for x in annotations]),
            "pol": np.concatenate([x["pol"] for x in annotations]),
            "term": pl.concat([x["term"] for x in annotations]),
        }).filter(pl.col("aspect") >= 0)
        return texts, ann

    def _render_text(self, tpl: _Template, draws: _SlotDraws, ctx: dict[str, np.ndarray], sel: np.ndarray,
                     app_names: pl.Series) -> pl.Series:
        cols: list = []
        has_slot = False
        for is_slot, val in tpl.parts:
            if not is_slot:
                cols.append(pl.lit(val))
                continue
            has_slot = True
            if val == "app":
                cols.append(app_names.gather(ctx["app"][sel]))
            elif val in _DERIVED:
                src, form = _DERIVED[val]
                bank, e = draws(src)
                cols.append(self._gather(self.derived_base + 2 * form + bank.plural[e].astype(np.int64)))
            else:
                bank, e = draws(lower_first(val))
                cols.append(self._gather((bank.cap_base if val[0].isupper() else bank.text_base) + e))
        if has_slot:
            return pl.select(pl.concat_str(cols)).to_series()
        return pl.Series([tpl.parts[0][1]]).gather(np.zeros(len(sel), np.int64))

    def _annotate(self, tpl: _Template, draws: _SlotDraws, ctx: dict[str, np.ndarray], sel: np.ndarray) -> list[dict]:
        """Per aspect mention of the template: the clauses, the mention's rank k, aspect, polarity and term."""
        ct = len(sel)
        out = []
        for k, ann in enumerate(tpl.anns):
            if ann[0] == "lit":
                asp = np.full(ct, ann[2], np.int16) if ann[2] >= 0 else ctx["a"][sel].astype(np.int16)
                pol = ctx["p"][sel].astype(np.int8)
                term = pl.Series([ann[1]]).gather(np.zeros(ct, np.int64))
            else:
                name = ann[1]
                low = lower_first(name)
                bank, e = draws(low)
                src = _SLOT[low][2]
                capital = name[0].isupper()
                if src == "entry":
                    asp = bank.aspect[e]
                    pol = bank.pol[e]
                    term = self._gather((bank.termcap_base if capital else bank.term_base) + e)
                else:
                    asp = ctx["a" if src == "ctx1" else "a2"][sel].astype(np.int16)
                    pol = ctx["p" if src == "ctx1" else "p2"][sel].astype(np.int8)
                    term = self._gather((bank.cap_base if capital else bank.text_base) + e)
            out.append({"clause": sel, "k": np.full(ct, k, np.int16), "aspect": asp, "pol": pol, "term": term})
        return out


_ENGINE: Engine | None = None


def engine() -> Engine:
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Engine()
    return _ENGINE
