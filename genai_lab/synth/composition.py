"""Composing the base texts by kind: English reviews from clause templates, short ratings, emoji-only
texts, reviews in other languages and spam."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from genai_lab.synth.catalog import catalog
from genai_lab.synth.checks import RX_TRIPLE
from genai_lab.synth.resources import by_sentiment, load_json
from genai_lab.synth.schema import ASPECT_INDEX, ASPECTS, BUG, FR, NEG, NEU, POS, RATING, UX
from genai_lab.synth.templates import Engine, capitalise, engine
from genai_lab.vocabulary import REVIEW_TYPES, SENTIMENT_LABELS

K_REVIEW, K_SHORT, K_EMOJI, K_FOREIGN, K_SPAM = 0, 1, 2, 3, 4

# a review's clause positions, in text order; the main clause is always present, a one-clause review has only it
CLAUSE_POSITIONS = ("opener", "main", "second", "third", "closer")
_MAIN = CLAUSE_POSITIONS.index("main")
_CLOSER = CLAUSE_POSITIONS.index("closer")


def _load_layouts() -> dict[tuple[int, int], list[list[tuple[str, float]]]]:
    """(sentiment, type) -> per clause position the families it may hold, with their probabilities."""
    layouts = {}
    for entry in load_json("layouts.json"):
        key = (SENTIMENT_LABELS.index(entry["sentiment"]), REVIEW_TYPES.index(entry["review_type"]))
        layouts[key] = [list(entry["positions"][name].items()) for name in CLAUSE_POSITIONS]
    return layouts


_LAYOUTS = _load_layouts()
_ASPECT_WEIGHTS = {key: np.array([weights[a] for a in ASPECTS], float) for key, weights in load_json("aspect_weights.json").items()}
EMOJI: dict[int, list[str]] = by_sentiment(load_json("emoji.json"))
_STARS = {POS: "\u2605" * 5, NEU: "\u2605" * 3, NEG: "\u2605"}
_SHORT = load_json("short_texts.json")
_SHORT_SINGLE = by_sentiment(_SHORT["single"])
_SHORT_ADV: list[str] = _SHORT["adverbs"]
_SHORT_ADJ = by_sentiment(_SHORT["adjectives"])
_SHORT_NOUN: list[str] = _SHORT["nouns"]
_SHORT_ADJ_NOUN = by_sentiment(_SHORT["adjectives_before_noun"])
# short texts about an aspect: (text, sentiment, type, aspect, term)
_SHORT_ASPECT = [(x["text"], SENTIMENT_LABELS.index(x["sentiment"]), REVIEW_TYPES.index(x["review_type"]), x["aspect"], x["term"])
                 for x in _SHORT["about_aspect"]]
_FOREIGN = load_json("foreign.json")
_LANGS = list(_FOREIGN["language_weights"])
_LANG_CUM = np.cumsum([_FOREIGN["language_weights"][x] for x in _LANGS]) / sum(_FOREIGN["language_weights"].values())
_SCRIPTS = {"ja": "cjk", "zh": "cjk", "ko": "ko", "ar": "ar"}  # every other language: "latin"
# a text of several phrases has the type of its most specific phrase
_TYPE_PRECEDENCE = (BUG, FR, UX, RATING)
_SPAM = load_json("spam.json")
_ALNUM = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no look-alikes (l, o, O, I, 0, 1)
_CHUNK = 200_000  # English reviews composed at once, to bound the memory of the intermediates


def choose(pr: random.Random, items: Sequence):
    return items[int(pr.random() * len(items))]


def is_broad_symbol(c: str) -> bool:
    """The broad reading of a special character (see `excessive_special_chars` in the package docstring)."""
    return not (c.isalnum() or c.isspace() or c in ".,;:!?'\"()-" or 0x1F000 <= ord(c) <= 0x1FAFF)


# per phrase: (text, type, non-space chars, broad symbols)
_FOREIGN_STATS = {lg: {s: [(t, REVIEW_TYPES.index(ty), sum(not c.isspace() for c in t), sum(is_broad_symbol(c) for c in t))
                           for t, ty in phrases]
                       for s, phrases in by_sentiment(by_label).items()}
                  for lg, by_label in _FOREIGN["phrases"].items()}


def cond_choice(rng: np.random.Generator, cond: np.ndarray, table: np.ndarray) -> np.ndarray:
    """One draw per row from the row's distribution table[cond]."""
    cdf = np.cumsum(table, axis=1)
    u = rng.random(len(cond)) * cdf[cond, -1]
    return np.minimum((u[:, None] > cdf[cond]).sum(1), table.shape[1] - 1)


def _clause_families(eng: Engine, S: np.ndarray, T: np.ndarray, single: np.ndarray, long_: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """(position, row) -> family id, -1 where the position stays empty."""
    fam = np.full((len(CLAUSE_POSITIONS), len(S)), -1, np.int64)
    for (s, t), layout in _LAYOUTS.items():
        m = np.flatnonzero((S == s) & (T == t))
        if not len(m):
            continue
        for pos, options in enumerate(layout):
            if not options:
                continue
            probs = np.array([p for _, p in options])
            ids = np.array([eng.fam_id[f] for f, _ in options])
            cdf = np.cumsum(probs)
            u = rng.random(len(m))
            u = np.where(long_[m], u * cdf[-1], u)  # long layout: every position that can be filled is
            k = (u[:, None] >= cdf).sum(1)
            got = k < len(options)
            if pos == _MAIN:
                k = np.minimum(k, len(options) - 1)
                got[:] = True
            fam[pos, m[got]] = ids[k[got]]
    for pos in range(len(CLAUSE_POSITIONS)):
        if pos != _MAIN:
            fam[pos, single] = -1
    return fam


def _first_repeats(key: np.ndarray) -> np.ndarray:
    """True where an equal key came before."""
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(key), bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    return dup


def _clause_aspects(eng: Engine, f: np.ndarray, r_idx: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each clause's aspect and the aspect it contrasts with, all distinct within a review."""
    n_asp = len(ASPECTS)
    nc = len(f)
    a = np.zeros(nc, np.int64)
    has_a = np.array([w is not None for w in eng.fam_w])[f]
    for key in ("pos", "neg", "neu"):
        m = np.flatnonzero(has_a & (np.array([w == key for w in eng.fam_w])[f]))
        if len(m):
            w = _ASPECT_WEIGHTS[key]
            a[m] = rng.choice(n_asp, size=len(m), p=w / w.sum())
    is_con = np.array([name.startswith("con_") for name in eng.fam_names])[f]
    a2 = (a + 1 + rng.integers(0, n_asp - 1, nc)) % n_asp
    m1 = np.flatnonzero(has_a)
    m2 = np.flatnonzero(is_con)
    for _ in range(30):
        dup = _first_repeats(np.concatenate([r_idx[m1] * n_asp + a[m1], r_idx[m2] * n_asp + a2[m2]]))
        if not dup.any():
            break
        d1, d2 = m1[dup[:len(m1)]], m2[dup[len(m1):]]
        a[d1] = rng.integers(0, n_asp, len(d1))
        a2[d2] = rng.integers(0, n_asp, len(d2))
        a2 = np.where(a2 == a, (a2 + 1) % n_asp, a2)
    return a, a2


def _clause_templates(eng: Engine, f: np.ndarray, a: np.ndarray, r_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A template per clause from its (family, aspect) pool, none twice in one review."""
    def draw(m: np.ndarray | slice) -> np.ndarray:
        size = eng.pool_size[f[m], a[m]]
        return eng.pool_flat[eng.pool_off[f[m], a[m]] + (rng.random(len(size)) * size).astype(np.int64)]

    tids = draw(slice(None))
    for _ in range(30):
        dup = _first_repeats(r_idx * len(eng.templates) + tids)
        if not dup.any():
            break
        m = np.flatnonzero(dup)
        tids[m] = draw(m)
    return tids


def _review_texts(clauses: pl.Series, r_idx: np.ndarray, p_idx: np.ndarray, S: np.ndarray,
                  rng: np.random.Generator) -> tuple[pl.Series, np.ndarray]:
    """Clauses joined by position; some closers on their own line, some emoji, some texts lowercase or
    without their final full stop. Returns the texts and which of them were lowercased."""
    n = len(S)
    cols = {}
    for pos in range(len(CLAUSE_POSITIONS)):
        m = np.flatnonzero(p_idx == pos)
        s = pl.Series(f"p{pos}", [None] * n, dtype=pl.String)
        if len(m):
            s.scatter(r_idx[m], clauses.gather(m))
        cols[f"p{pos}"] = s
    sep_choice = rng.random(n)
    cols["sep"] = pl.Series(["\n", "\n\n", " "]).gather(np.where(sep_choice < 0.08, 0, np.where(sep_choice < 0.12, 1, 2)))
    emo_flat = [e for s_ in (NEG, NEU, POS) for e in EMOJI[s_]]
    emo_size = np.array([len(EMOJI[s_]) for s_ in (NEG, NEU, POS)])
    emo_off = np.concatenate([[0], np.cumsum(emo_size)[:-1]])
    emo = pl.Series(emo_flat, dtype=pl.String).gather(emo_off[S] + (rng.random(n) * emo_size[S]).astype(np.int64))
    cols["emo"] = pl.select(pl.when(pl.Series(rng.random(n) < 0.06)).then(emo)).to_series()
    lower = rng.random(n) < 0.04
    cols["lower"] = pl.Series(lower)
    cols["nodot"] = pl.Series(rng.random(n) < 0.05)
    closer = pl.col(f"p{_CLOSER}")
    body = pl.concat_str([pl.col(f"p{pos}") for pos in range(_CLOSER)], separator=" ", ignore_nulls=True)
    c = pl.col("c")
    content = (
        pl.DataFrame(cols)
        .select(pl.when(closer.is_not_null()).then(pl.concat_str([body, pl.col("sep"), closer])).otherwise(body).alias("c"),
                "emo", "lower", "nodot")
        .select(pl.when(pl.col("nodot") & c.str.ends_with(".") & pl.col("emo").is_null()).then(c.str.strip_suffix("."))
                .otherwise(c).alias("c"), "emo", "lower")
        .select(pl.when(pl.col("emo").is_not_null()).then(pl.concat_str([c, pl.lit(" "), pl.col("emo")])).otherwise(c).alias("c"),
                "lower")
        .select(pl.when(pl.col("lower")).then(c.str.to_lowercase()).otherwise(c).alias("c"))
        .to_series()
    )
    return content, lower


def compose_reviews(rows: np.ndarray, S: np.ndarray, T: np.ndarray, single: np.ndarray, long_: np.ndarray,
                    app: np.ndarray, cat: np.ndarray, rng: np.random.Generator) -> tuple[list[str], pl.DataFrame]:
    """English reviews for the given rows (arrays are per row). Returns texts and aspects (row, order, ...)."""
    eng = engine()
    fam = _clause_families(eng, S, T, single, long_, rng)
    r_idx, p_idx = np.nonzero(fam.T >= 0)  # row-major: clauses grouped by row, positions ascending
    f = fam.T[r_idx, p_idx]
    p = eng.fam_p[f].astype(np.int64)
    p2 = eng.fam_p2[f].astype(np.int64)
    p2 = np.where(p2 < 0, 0, p2)
    a, a2 = _clause_aspects(eng, f, r_idx, rng)
    ctx = {"cat": cat[r_idx], "app": app[r_idx], "a": a, "p": p, "a2": a2, "p2": p2}
    tids = _clause_templates(eng, f, a, r_idx, rng)
    clauses, ann = eng.render(ctx, tids, rng, pl.Series(catalog().short, dtype=pl.String))
    content, lower = _review_texts(clauses, r_idx, p_idx, S, rng)
    cl = ann["clause"].to_numpy()
    ann = ann.with_columns(
        row=pl.Series(rows[r_idx][cl].astype(np.int64)),
        order=pl.Series(p_idx[cl].astype(np.int64) * 32) + ann["k"].cast(pl.Int64),
        low=pl.Series(lower[r_idx][cl]),
    ).select(
        "row", "order", "aspect", "pol",
        pl.when(pl.col("low")).then(pl.col("term").str.to_lowercase()).otherwise(pl.col("term")).alias("term"),
    )
    return content.to_list(), ann


def compose_short(pr: random.Random, S: int) -> tuple[str, int, int, list[tuple[int, str, int]]]:
    """A text of one to three words. Returns (text, sentiment, type, aspects)."""
    u = pr.random()
    asp: list[tuple[int, str, int]] = []
    t = RATING
    if u < 0.08:
        cands = [x for x in _SHORT_ASPECT if x[1] == S] or _SHORT_ASPECT
        text, S, t, aname, term = choose(pr, cands)
        asp = [(ASPECT_INDEX[aname], term, S)]
    elif u < 0.35:
        text = choose(pr, _SHORT_SINGLE[S])
    elif u < 0.7:
        text = capitalise(f"{choose(pr, _SHORT_ADV)} {choose(pr, _SHORT_ADJ[S])}")
    else:
        text = capitalise(f"{choose(pr, _SHORT_ADJ_NOUN[S])} {choose(pr, _SHORT_NOUN)}")
    if pr.random() < 0.2:
        text = text.lower()
        asp = [(a_, term_.lower(), p_) for a_, term_, p_ in asp]
    text += ["", "!", ".", "!!", "", ""][pr.randrange(6)]
    if pr.random() < 0.12:
        text += " " + choose(pr, EMOJI[S])
    return text, S, t, asp


def compose_emoji(pr: random.Random, S: int) -> str:
    if pr.random() < 0.15:
        s = _STARS[S]
        if pr.random() < 0.5:
            s += " " + choose(pr, EMOJI[S])
        return s
    k = pr.randrange(1, 6)
    em = [choose(pr, EMOJI[S]) for _ in range(k)]
    return (" " if pr.random() < 0.2 else "").join(em)


def compose_foreign(pr: random.Random, S: int) -> tuple[str, str, int, int]:
    """One to three phrases in another language. Returns (text, language, sentiment, type)."""
    u = pr.random()
    lang = _LANGS[min(int(np.searchsorted(_LANG_CUM, u, side="right")), len(_LANGS) - 1)]
    bank = _FOREIGN_STATS[lang][S]
    n = min((1, 1, 1, 2, 2, 3)[int(pr.random() * 6)], len(bank))
    phrases = pr.sample(bank, n)
    script = _SCRIPTS.get(lang, "latin")
    joins, ends = _FOREIGN["joins"][script]["joins"], _FOREIGN["joins"][script]["ends"]
    parts = [phrases[0][0]]
    nonspace = phrases[0][2]
    broad = phrases[0][3]
    for ph, _, ns, bs in phrases[1:]:
        j = choose(pr, joins)
        if script == "latin" and j != ". " and lang != "de":  # German nouns keep their capital
            ph = ph[0].lower() + ph[1:]
        parts += [j, ph]
        nonspace += ns + sum(not c.isspace() for c in j)
        broad += bs + sum(is_broad_symbol(c) for c in j)
    end = choose(pr, ends)
    parts.append(end)
    nonspace += len(end)
    broad += sum(is_broad_symbol(c) for c in end)
    if broad > 0.15 * nonspace:  # keep punctuation-heavy short CJK texts well clear of the symbol rule
        parts = [" ".join(ph for ph, *_ in phrases)]
    types = {ty for _, ty, *_ in phrases}
    return "".join(parts), lang, S, next(t for t in _TYPE_PRECEDENCE if t in types)


def _rand_alnum(pr: random.Random, k: int, digits: int = 2) -> str:
    """Random letters and digits with no doubled character, so no elongation and no long digit run."""
    while True:
        s = "".join(choose(pr, _ALNUM) for _ in range(k))
        if sum(c.isdigit() for c in s) <= digits and not RX_TRIPLE.search(s) and not re.search(r"(.)\1", s.lower()):
            return s


def make_url(pr: random.Random, domains: list[str], paths: list[str] | None = None) -> str:
    dom = choose(pr, domains)
    form = pr.random()
    path = choose(pr, paths) if paths else _rand_alnum(pr, 6)
    if form < 0.45:
        return f"https://{dom}/{path}"
    if form < 0.65:
        return f"http://{dom}/{path}"
    if form < 0.85:
        return f"www.{dom}/{path}"
    return f"https://www.{dom}"


def compose_spam(pr: random.Random) -> tuple[str, bool]:
    """A spam text. Returns (text, whether it holds a URL)."""
    hook = choose(pr, _SPAM["hooks"])
    handle = choose(pr, _SPAM["handle_first"]) + "_" + choose(pr, _SPAM["handle_second"]) + str(pr.randrange(1, 99))
    code = choose(pr, _SPAM["code_prefixes"]) + str(pr.randrange(5, 99))
    with_url = pr.random() < 0.55
    if with_url:
        body = f"{choose(pr, _SPAM['calls_with_url'])} {make_url(pr, _SPAM['domains'], _SPAM['paths'])}"
    else:
        body = choose(pr, _SPAM["calls"]).format(h=handle, c=code)
    trailer = choose(pr, _SPAM["trailers"])
    text = f"{hook} {body}" + (f" {trailer}" if trailer else "")
    if pr.random() < 0.3:
        text = text.replace("!", "!!", 1)
    return text, with_url


@dataclass
class BaseRows:
    """Every row but the injected duplicate copies, one array entry per row; composing a row rewrites its entries."""
    app: np.ndarray
    cat: np.ndarray
    kind: np.ndarray
    special: np.ndarray  # to be decorated with special characters: composed as one-clause reviews
    long: np.ndarray  # composed with every clause position its layout allows
    sentiment: np.ndarray
    review_type: np.ndarray
    content: list[str]
    language: np.ndarray
    flags: dict[str, np.ndarray]  # the defects recorded where injected
    aspects: list[pl.DataFrame]  # frames of (row, order, aspect, pol, term)

    def drop_aspects(self, idx: np.ndarray) -> None:
        if len(idx) and self.aspects:
            gone = np.zeros(len(self.kind), bool)
            gone[idx] = True
            self.aspects = [p.filter(pl.Series(~gone[p["row"].to_numpy()])) for p in self.aspects]


def compose_rows(base: BaseRows, idx: np.ndarray, rng: np.random.Generator, pr: random.Random) -> None:
    """(Re)compose the base text of rows idx according to their kind."""
    for f in ("spam", "url", "non_english"):
        base.flags[f][idx] = False
    base.language[idx] = "en"
    reviews = idx[base.kind[idx] == K_REVIEW]
    for st in range(0, len(reviews), _CHUNK):
        rv = reviews[st:st + _CHUNK]
        texts, ann = compose_reviews(rv, base.sentiment[rv], base.review_type[rv], base.special[rv], base.long[rv],
                                     base.app[rv], base.cat[rv], rng)
        for r, t in zip(rv.tolist(), texts):
            base.content[r] = t
        base.aspects.append(ann)
    mentions: list[tuple[int, int, int, int, str]] = []
    for r in idx[base.kind[idx] != K_REVIEW].tolist():
        base.content[r] = _compose_other(base, r, pr, mentions)
    if mentions:
        row, order, aspect, pol, term = zip(*mentions)
        base.aspects.append(pl.DataFrame({
            "row": np.array(row, np.int64), "order": np.array(order, np.int64),
            "aspect": np.array(aspect, np.int16), "pol": np.array(pol, np.int8),
            "term": pl.Series(term, dtype=pl.String)}))


def _compose_other(base: BaseRows, r: int, pr: random.Random, mentions: list[tuple[int, int, int, int, str]]) -> str:
    """The text of a row that is not an English review; sets the row's sentiment, type, language and flags."""
    kind = base.kind[r]
    if kind == K_SHORT:
        text, base.sentiment[r], base.review_type[r], asp = compose_short(pr, int(base.sentiment[r]))
        mentions += [(r, o, a, p, term) for o, (a, term, p) in enumerate(asp)]
    elif kind == K_EMOJI:
        text = compose_emoji(pr, int(base.sentiment[r]))
        base.review_type[r] = RATING
        base.language[r] = None
    elif kind == K_FOREIGN:
        text, base.language[r], _, base.review_type[r] = compose_foreign(pr, int(base.sentiment[r]))
        base.flags["non_english"][r] = True
    else:
        text, with_url = compose_spam(pr)
        base.sentiment[r], base.review_type[r] = NEU, UX
        base.flags["spam"][r] = True
        base.flags["url"][r] = with_url
    return text
