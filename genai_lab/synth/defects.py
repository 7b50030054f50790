"""Injecting defects: overlays that rewrite an English review's text, near-duplicate variants, and invalid
field values. Each overlay leaves a text that the checks in `genai_lab.synth.checks` flag for its defect."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np

from genai_lab.synth.composition import EMOJI, BaseRows, choose, compose_spam, make_url
from genai_lab.synth.resources import by_sentiment, load_json
from genai_lab.synth.schema import POS, iso, utc_ts

_TEXT = load_json("text_defects.json")
_RX_BOUNDARY = re.compile(r"[.!?] ")  # a sentence end inside the text
# word -> the index of the letter an elongation repeats ("really" -> "reallllly")
_ELONGATION_LETTER: dict[str, int] = _TEXT["elongation_letter"]
_RX_ELONG_WORD = re.compile(r"\b(" + "|".join(sorted(_ELONGATION_LETTER, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_ELONGATED_SENTENCES = by_sentiment(_TEXT["elongated_sentences"])
_RX_REPEAT_WORD = re.compile(r"\b(" + "|".join(_TEXT["repeatable_words"]) + r")\b", re.IGNORECASE)
_REPEATED_SENTENCES = by_sentiment(_TEXT["repeated_sentences"])
_SYMBOL_RUNS: list[str] = _TEXT["symbol_runs"]
_CONTROL_CHARS = [chr(code) for code in _TEXT["control_codes"]]
_INVALID = load_json("invalid_values.json")
_CONTACT = load_json("contact_details.json")
# [start, end) of the dates that are too old: before the App Store opened
_BEFORE_APP_STORE = (utc_ts(datetime(1998, 1, 1, tzinfo=UTC)), utc_ts(datetime(2008, 7, 1, tzinfo=UTC)))
# overlays in the order they apply to a row, each with the rows it may touch ("plain": not decorated)
OVERLAY_POOLS = {"elong": "review", "repeat": "plain", "spam_append": "plain", "url": "plain", "email": "plain",
                 "phone": "plain", "html": "review", "mojibake": "review", "control": "review", "whitespace": "review"}


def make_email(pr: random.Random) -> str:
    f = choose(pr, _CONTACT["email_first"])
    last = choose(pr, _CONTACT["email_last"])
    sep = [".", "_", ""][pr.randrange(3)]
    num = str(pr.randrange(1, 999)) if pr.random() < 0.6 else ""
    return f"{f}{sep}{last}{num}@{choose(pr, _CONTACT['email_domains'])}"


def make_phone(pr: random.Random) -> str:
    """A phone number in one of the forms, where D is any digit and N a digit 2-9 (area codes and exchanges
    do not start with 0 or 1); no two neighbouring digit groups are equal."""
    while True:
        form = choose(pr, _CONTACT["phone_forms"])
        ph = re.sub(r"[DN]", lambda m: str(pr.randrange(10) if m.group(0) == "D" else pr.randrange(2, 10)), form)
        groups = re.findall(r"\d+", ph)
        if all(x != y for x, y in pairwise(groups)):
            return ph


# contact overlays: the sentences that carry the detail, their placeholder, and the detail's maker
_CONTACT_SENTENCES = {"url": ("url_sentences", "u", lambda pr: make_url(pr, _CONTACT["url_domains"])),
                      "email": ("email_sentences", "e", make_email),
                      "phone": ("phone_sentences", "p", make_phone)}


def elongate(pr: random.Random, text: str, S: int) -> str:
    ms = list(_RX_ELONG_WORD.finditer(text))
    if ms and pr.random() < 0.85:
        m = choose(pr, ms)
        w = m.group(0)
        k = _ELONGATION_LETTER[w.lower()]
        w2 = w[:k] + w[k] * pr.randrange(3, 7) + w[k + 1:]
        return text[:m.start()] + w2 + text[m.end():]
    lst = _ELONGATED_SENTENCES[S]
    return text + " " + choose(pr, lst)


def repeat(pr: random.Random, text: str, S: int) -> str:
    ms = list(_RX_REPEAT_WORD.finditer(text))
    if ms and pr.random() < 0.7:
        m = choose(pr, ms)
        w = m.group(0)
        rep = pr.randrange(3, 5)
        return text[:m.start()] + " ".join([w] + [w.lower()] * (rep - 1)) + text[m.end():]
    lst = _REPEATED_SENTENCES[S]
    return text + " " + choose(pr, lst)


def decorate(pr: random.Random, text: str) -> str:
    nonspace = sum(1 for c in text if not c.isspace())
    share = pr.uniform(0.42, 0.65)
    need = int(np.ceil(nonspace * share / (1 - share)))
    runs = []
    while need > 0:
        sym = choose(pr, _SYMBOL_RUNS)
        k = min(need, pr.randrange(3, 12))
        run = (sym * k)[: max(k, len(sym))]
        runs.append(run)
        need -= len(run)
    pre = [r for i, r in enumerate(runs) if i % 2 == 1]
    post = [r for i, r in enumerate(runs) if i % 2 == 0]
    out = text
    if pre:
        out = " ".join(pre) + " " + out
    if post:
        out = out + " " + " ".join(post)
    return out


def html_entities(pr: random.Random, text: str, app_short: str) -> str:
    ops = ["lt3", "quote_all"]
    if " and " in text:
        ops += ["amp", "amp"]
    if "'" in text:
        ops += ["apos", "apos"]
    if _RX_BOUNDARY.search(text):
        ops.append("nbsp")
    if app_short and re.search(r"\b" + re.escape(app_short) + r"\b", text):
        ops.append("quote_app")
    op = choose(pr, ops)
    if op == "amp":
        return text.replace(" and ", " &amp; ", 1)
    if op == "apos":
        return text.replace("'", ["&#39;", "&#8217;", "&apos;"][pr.randrange(3)])
    if op == "nbsp":
        ms = list(_RX_BOUNDARY.finditer(text))
        m = choose(pr, ms)
        return text[:m.start() + 1] + "&nbsp;" + text[m.end():]
    if op == "quote_app":
        return re.sub(r"\b" + re.escape(app_short) + r"\b", "&quot;" + app_short + "&quot;", text, count=1)
    if op == "lt3":
        return text + [" &lt;3", " &gt;_&lt;", " &lt;&lt;"][pr.randrange(3)]
    return "&quot;" + text + "&quot;"


# emoji whose UTF-8 bytes all decode in cp1252 and none to whitespace (0xA0 would become a no-break space)
_MOJIBAKE_EMOJI = [e for lst in EMOJI.values() for e in lst
               if all(b not in e.encode() for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xA0))]


def _garble(s: str) -> str:
    return s.encode("utf-8").decode("cp1252")


def mojibake(pr: random.Random, text: str) -> str:
    ops = ["emoji", "dots"]
    if "'" in text:
        ops += ["apos", "apos", "apos"]
    if ", " in text:
        ops.append("dash")
    if _RX_BOUNDARY.search(text):
        ops.append("dash2")
    op = choose(pr, ops)
    if op == "apos":
        return text.replace("'", _garble("\u2019"))
    if op == "dash":
        return text.replace(", ", " " + _garble("\u2014") + " ", 1)
    if op == "dash2":
        m = _RX_BOUNDARY.search(text)
        return text[:m.start()] + " " + _garble("\u2014") + " " + text[m.end():]
    if op == "dots":  # an ellipsis at a sentence end, never glued to the text's last word
        ms = list(_RX_BOUNDARY.finditer(text))
        if ms:
            m = ms[-1]
            return text[:m.start()] + _garble("\u2026") + text[m.start() + 1:]
        return text + " " + _garble("\u2026")
    return text + " " + _garble(choose(pr, _MOJIBAKE_EMOJI))


def control_chars(pr: random.Random, text: str) -> str:
    ch = choose(pr, _CONTROL_CHARS)
    ms = list(_RX_BOUNDARY.finditer(text))
    u = pr.random()
    if ms and u < 0.5:
        m = choose(pr, ms)
        return text[:m.start() + 1] + ch + text[m.start() + 1:]
    if u < 0.8:
        return text + ch
    return ch + text


def excess_whitespace(pr: random.Random, text: str) -> str:
    ms = list(_RX_BOUNDARY.finditer(text))
    ops = ["lead", "trail"]
    if ms:
        ops += ["double", "double", "tab", "newlines"]
    op = choose(pr, ops)
    if op == "lead":
        return [" ", "  ", "\n", " \t"][pr.randrange(4)] + text
    if op == "trail":
        return text + [" ", "  ", "\n", " \n", "\t"][pr.randrange(5)]
    m = choose(pr, ms)
    ins = {"double": ["  ", "   "][pr.randrange(2)], "tab": "\t", "newlines": "\n" * pr.randrange(3, 5)}[op]
    return text[:m.start() + 1] + ins + text[m.end():]


def near_variant(pr: random.Random, text: str, allow_lower: bool) -> tuple[str, bool]:
    """A copy that differs only in case, punctuation, whitespace or emoji. Returns (text, lowercased)."""
    ops = ["add_emoji"]
    if allow_lower and text != text.lower():
        ops += ["lower", "lower"]
    if text[-1:] in ".!?":
        ops += ["strip_end", "strip_end"]
    if text[-1:] == ".":
        ops.append("bang")
    if ", " in text:
        ops.append("commas")
    if ". " in text:
        ops.append("newline")
    last = text[-1:]
    if last and 0x1F000 <= ord(last) <= 0x1FAFF and text[:-1].endswith(" "):
        ops += ["drop_emoji", "drop_emoji"]
    op = choose(pr, ops)
    if op == "lower":
        return text.lower(), True
    if op == "strip_end":
        return text.rstrip(".!?"), False
    if op == "bang":
        return text[:-1] + "!", False
    if op == "commas":
        return text.replace(", ", " "), False
    if op == "newline":
        return text.replace(". ", ".\n", 1), False
    if op == "drop_emoji":
        return text[:-2], False
    return text + " " + choose(pr, EMOJI[POS]), False



def apply_overlays(base: BaseRows, overlays: dict[str, np.ndarray], pr: random.Random, app_short: list[str]) -> np.ndarray:
    """Rewrites every row an overlay (or the decoration of `base.special`) selected; returns that mask."""
    touched = base.special.copy()
    for selected in overlays.values():
        touched |= selected
    for r in np.flatnonzero(touched).tolist():
        chosen = {name for name, selected in overlays.items() if selected[r]}
        base.content[r] = _overlay_row(base, r, chosen, pr, app_short[base.app[r]])
    return touched


def _overlay_row(base: BaseRows, r: int, chosen: set[str], pr: random.Random, app_short: str) -> str:
    t = base.content[r]
    s_ = int(base.sentiment[r])
    flags = base.flags
    if "elong" in chosen:
        t = elongate(pr, t, s_)
    if "repeat" in chosen:
        t = repeat(pr, t, s_)
    if "spam_append" in chosen:
        sp, with_url = compose_spam(pr)
        t = t + " " + sp
        flags["spam"][r] = True
        flags["url"][r] |= with_url
    for name, (sentences, field, make) in _CONTACT_SENTENCES.items():
        if name in chosen:
            t = t + " " + choose(pr, _CONTACT[sentences]).format(**{field: make(pr)})
            flags[name][r] = True
    if base.special[r]:
        t = decorate(pr, t)
    if "html" in chosen:
        t = html_entities(pr, t, app_short)
    if "mojibake" in chosen:
        t = mojibake(pr, t)
        flags["mojibake"][r] = True
    if "control" in chosen:
        t = control_chars(pr, t)
    if "whitespace" in chosen:
        t = excess_whitespace(pr, t)
    return t


def invalid_rating(pr: random.Random) -> str | None:
    return choose(pr, _INVALID["rating"])


def invalid_category(pr: random.Random) -> str:
    return choose(pr, _INVALID["category"])


def invalid_date(pr: random.Random, end_ts: int) -> str:
    """Unparseable, before the App Store opened (2008-07-10), or at least two years after `end_ts` (now)."""
    v = pr.random()
    if v < 0.5:
        return choose(pr, _INVALID["date"])
    if v < 0.75:
        return iso(pr.randrange(_BEFORE_APP_STORE[0], _BEFORE_APP_STORE[1]))
    return iso(end_ts + pr.randrange(2 * 365 * 86400, 8 * 365 * 86400))
