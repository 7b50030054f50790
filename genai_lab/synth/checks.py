"""The mechanical defect checks, vectorised: the exact definitions the truth follows (see the package docstring)."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

RX_TRIPLE = re.compile(r"([^\W\d_])\1\1", re.IGNORECASE)
_RX_NOT_ALNUM = re.compile(r"[\W_]+")

_NARROW_SYM = r"[\p{S}#%&*_\[\]{}\\|~^--[\x{1F000}-\x{1FAFF}]]"
_ELONG_ASCII = "(?i)(?:" + "|".join(c * 3 for c in "abcdefghijklmnopqrstuvwxyz") + ")"
_WORD_RX = r"[\p{L}\p{N}]+"
_THREE_WORDS = r"[\p{L}\p{N}]+[^\p{L}\p{N}]+[\p{L}\p{N}]+[^\p{L}\p{N}]+[\p{L}\p{N}]"
_RX_CTRL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_RX_WS = r"  |\t|\A\s|\s\z|\n\n\n"
_RX_ENTITY = r"&(?:[A-Za-z]+|#[0-9]+|#[xX][0-9A-Fa-f]+);"
# URLs and e-mail addresses are not words: their letters never make an elongation ("www.")
_RX_URL_EMAIL = r"(?i)(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+"


def mechanical_flags(content: pl.Series, repeat_rows: np.ndarray | None = None) -> pl.DataFrame:
    """Text defects with a mechanical definition. `repeat_rows`: only these rows can contain repeated
    words (the others are known to be free of them); None checks every row."""
    n = len(content)
    c = pl.col("c")
    # one cheap pass over everything, the exact rules only where the pass finds a candidate
    pre = pl.DataFrame({"c": content}).select(
        has_word=c.str.contains(r"[\p{L}\p{N}]"),
        too_short=~c.str.contains(_THREE_WORDS),
        suspect=c.str.contains("|".join([_RX_CTRL, _RX_WS, _RX_ENTITY, _ELONG_ASCII.replace("(?i)", "(?i:") + ")",
                                         r"[^\x00-\x7f]", r"[$%&*#_=+<>|~^{}\[\]\\]"])),
    )
    out = {name: np.zeros(n, bool) for name in ("control_chars", "excess_whitespace", "html_entity",
                                                 "excessive_special_chars", "elongated_word")}
    sus = np.flatnonzero(pre["suspect"].to_numpy())
    if len(sus):
        sub = pl.DataFrame({"c": content.gather(sus), "w": pre["has_word"].gather(sus)}).select(
            control_chars=c.str.contains(_RX_CTRL),
            excess_whitespace=c.str.contains(_RX_WS),
            html_entity=c.str.contains(_RX_ENTITY),
            excessive_special_chars=pl.col("w") & (c.str.count_matches(_NARROW_SYM)
                                                   > 0.25 * (c.str.len_chars() - c.str.count_matches(r"\s"))),
            elongated_word=c.str.replace_all(_RX_URL_EMAIL, " ").str.contains(_ELONG_ASCII),
            nonascii=c.str.contains(r"[\p{L}--\x00-\x7f]"),
        )
        for name, flags in out.items():
            flags[sus] = sub[name].to_numpy()
        # non-ASCII letters (foreign scripts, mojibake) need a backreference: check those rows in Python
        na = sus[sub["nonascii"].to_numpy()]
        if len(na):
            scan = content.gather(na).str.replace_all(_RX_URL_EMAIL, " ").to_list()
            out["elongated_word"][na] |= np.array([bool(RX_TRIPLE.search(t)) for t in scan])
    has_word = pre["has_word"].to_numpy()
    rep = np.zeros(n, bool)
    if repeat_rows is None:
        rep = repeat_flags(content)
    elif len(repeat_rows):
        rep[repeat_rows] = repeat_flags(content.gather(repeat_rows))
    empty = np.zeros(n, bool)
    if (~has_word).any():
        nw = np.flatnonzero(~has_word)
        empty[nw] = content.gather(nw).str.contains(r"\S").to_numpy()
    return pl.DataFrame({**out, "too_short": pre["too_short"], "emoji_only": empty, "repeated_words": rep,
                         "has_word": has_word})


def repeat_flags(content: pl.Series, chunk: int = 250_000) -> np.ndarray:
    """A word 3+ times in a row, or a 2-4 word phrase immediately repeated (lowercase word sequence)."""
    n = len(content)
    out = np.zeros(n, bool)
    for st in range(0, n, chunk):
        part = content.slice(st, chunk)
        toks = part.str.to_lowercase().str.extract_all(_WORD_RX)
        lens = toks.list.len().fill_null(0).to_numpy().astype(np.int64)
        has = lens > 0
        if not has.any():
            continue
        h = toks.filter(pl.Series(has)).explode().hash(seed=11).to_numpy()
        rows = np.repeat(np.flatnonzero(has), lens[has])
        bad = np.zeros(len(part), bool)
        for k in (1, 2, 3, 4):
            if len(h) <= k:
                break
            eq = (h[:-k] == h[k:]) & (rows[:-k] == rows[k:])
            need = 2 if k == 1 else k  # k=1: three equal words in a row; k>1: k positions match at distance k
            span = len(eq) - need + 1
            if span <= 0:
                continue
            run = eq[:span].copy()
            for j in range(1, need):
                run &= eq[j:j + span]
            bad[rows[:span][run]] = True
        out[st:st + len(part)] = bad
    return out


def duplicate_flags(hashes: np.ndarray, has_word: np.ndarray, content: pl.Series) -> pl.DataFrame:
    """Rows in file order (= date order); `hashes`: `key_hash` of each row. See the package docstring."""
    n = len(content)
    exact = np.zeros(n, bool)
    near = np.zeros(n, bool)
    cand = np.flatnonzero(has_word)
    _, inv, cnt = np.unique(hashes[cand], return_inverse=True, return_counts=True)
    multi = cand[cnt[inv.reshape(-1)] > 1]
    texts = dict(zip(multi.tolist(), content.gather(multi).to_list()))
    groups: dict[tuple[int, str], list[int]] = {}
    for i, t in texts.items():  # confirm the key itself (not just its hash) within each hash group
        groups.setdefault((int(hashes[i]), _RX_NOT_ALNUM.sub("", t.lower())), []).append(i)
    for members in groups.values():
        members.sort()
        for j, i in enumerate(members):
            later = [texts[m] for m in members[j + 1:]]
            exact[i] = texts[i] in later
            near[i] = any(x != texts[i] for x in later)
    return pl.DataFrame({"exact_duplicate": exact, "near_duplicate": near})


def key_hash(app_ids: pl.Series, texts: pl.Series) -> np.ndarray:
    """Hash of (app, duplicate key); emoji-only texts (empty key) must be unique as written."""
    key = texts.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]", "")
    return pl.DataFrame({"a": app_ids, "k": key, "t": texts}).select(
        pl.struct("a", pl.when(pl.col("k") == "").then(pl.lit("\x00") + pl.col("t")).otherwise(pl.col("k")))
        .hash(seed=7)).to_series().to_numpy().copy()
